package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func newTestRegistry(t *testing.T) (*httptest.Server, *Image, *Store) {
	t.Helper()
	s, _ := newTestStore(t)
	img := mustBuild(t, "served")
	ctx := context.Background()
	for _, name := range []string{"busybox:1", "busybox:2", "busybox:latest", "quay.io/team/tool:v1", "127.0.0.1:5000/local/app:dev"} {
		if err := s.Add(ctx, name, img); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(NewRegistry(nil, s))
	t.Cleanup(srv.Close)
	return srv, img, s
}

func TestRegistryManifests(t *testing.T) {
	srv, img, _ := newTestRegistry(t)
	manifest := img.Descriptor.Digest.String()
	tests := []struct {
		name string
		path string
	}{
		{"by tag", "/v2/library/busybox/manifests/1"},
		{"short docker hub name", "/v2/busybox/manifests/2"},
		{"by digest", "/v2/library/busybox/manifests/" + manifest},
		{"by digest in another repository", "/v2/nobody/else/manifests/" + manifest},
		{"mirror of docker hub", "/v2/library/busybox/manifests/latest?ns=docker.io"},
		{"mirror of legacy docker hub host", "/v2/library/busybox/manifests/latest?ns=index.docker.io"},
		{"mirror of quay", "/v2/team/tool/manifests/v1?ns=quay.io"},
		{"mirror of a registry with port", "/v2/local/app/manifests/dev?ns=127.0.0.1:5000"},
		{"host in path", "/v2/quay.io/team/tool/manifests/v1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, method := range []string{http.MethodGet, http.MethodHead} {
				resp, body := do(t, method, srv.URL+tc.path)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("%s: status %d: %s", method, resp.StatusCode, body)
				}
				h := resp.Header
				if h.Get("Content-Type") != ocispec.MediaTypeImageManifest ||
					h.Get("Docker-Content-Digest") != manifest ||
					h.Get("Content-Length") != strconv.Itoa(len(img.Manifest)) ||
					h.Get("Docker-Distribution-API-Version") != "registry/2.0" {
					t.Errorf("%s: headers %v", method, h)
				}
				want := img.Manifest
				if method == http.MethodHead {
					want = nil
				}
				if !bytes.Equal(body, want) {
					t.Errorf("%s: body %q", method, body)
				}
			}
		})
	}
}

func TestRegistryBlobs(t *testing.T) {
	srv, img, _ := newTestRegistry(t)
	for d, want := range img.Blobs {
		path := srv.URL + "/v2/library/busybox/blobs/" + d.String()
		resp, body := do(t, http.MethodGet, path)
		if resp.StatusCode != http.StatusOK || !bytes.Equal(body, want) {
			t.Fatalf("GET %s: status %d, %d bytes", d, resp.StatusCode, len(body))
		}
		if resp.Header.Get("Docker-Content-Digest") != d.String() || resp.Header.Get("Content-Type") != "application/octet-stream" {
			t.Errorf("GET %s: headers %v", d, resp.Header)
		}
		resp, body = do(t, http.MethodHead, path+"?ns=docker.io")
		if resp.StatusCode != http.StatusOK || len(body) != 0 || resp.Header.Get("Content-Length") != strconv.Itoa(len(want)) {
			t.Errorf("HEAD %s: status %d, length %s", d, resp.StatusCode, resp.Header.Get("Content-Length"))
		}
		// containerd resumes interrupted downloads with ranges.
		req, _ := http.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Range", "bytes=1-")
		resp, body = send(t, req)
		if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, want[1:]) {
			t.Errorf("range GET %s: status %d", d, resp.StatusCode)
		}
	}
}

func TestRegistryErrors(t *testing.T) {
	srv, img, s := newTestRegistry(t)
	var layer digest.Digest
	for d := range img.Blobs {
		layer = d
		break
	}
	// An image removed from the store leaves its blobs unreachable.
	gone := mustBuild(t, "gone")
	if err := s.Add(context.Background(), "gone", gone); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("gone"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		method string
		path   string
		status int
		code   string
	}{
		{"unknown tag", "GET", "/v2/library/busybox/manifests/nope", 404, codeManifestUnknown},
		{"unknown repository", "GET", "/v2/library/nothing/manifests/latest", 404, codeManifestUnknown},
		{"tag under the wrong ns", "GET", "/v2/library/busybox/manifests/1?ns=quay.io", 404, codeManifestUnknown},
		{"unknown manifest digest", "GET", "/v2/library/busybox/manifests/" + digest.FromString("x").String(), 404, codeManifestUnknown},
		{"layer as manifest", "GET", "/v2/library/busybox/manifests/" + layer.String(), 404, codeManifestUnknown},
		{"removed manifest", "GET", "/v2/gone/manifests/" + gone.Descriptor.Digest.String(), 404, codeManifestUnknown},
		{"unknown blob", "GET", "/v2/library/busybox/blobs/" + digest.FromString("x").String(), 404, codeBlobUnknown},
		{"unknown blob HEAD", "HEAD", "/v2/library/busybox/blobs/" + digest.FromString("x").String(), 404, ""},
		{"unreachable blob", "GET", "/v2/library/busybox/blobs/" + gone.Descriptor.Digest.String(), 404, codeBlobUnknown},
		{"bad digest", "GET", "/v2/library/busybox/blobs/sha256:xyz", 400, codeDigestInvalid},
		{"bad name", "GET", "/v2/Library/BusyBox/manifests/1", 400, codeNameInvalid},
		{"tags of unknown repository", "GET", "/v2/library/nothing/tags/list", 404, codeNameUnknown},
		{"push manifest", "PUT", "/v2/library/busybox/manifests/1", 405, codeUnsupported},
		{"start upload", "POST", "/v2/library/busybox/blobs/uploads/", 405, codeUnsupported},
		{"delete", "DELETE", "/v2/library/busybox/manifests/1", 405, codeUnsupported},
		{"unknown endpoint", "GET", "/v2/library/busybox/nothing", 404, codeUnsupported},
		{"outside /v2", "GET", "/v1/_ping", 404, codeUnsupported},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := do(t, tc.method, srv.URL+tc.path)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if tc.code == "" {
				return
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var e struct {
				Errors []struct {
					Code    string `json:"code"`
					Message string `json:"message"`
				} `json:"errors"`
			}
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("error body %q: %v", body, err)
			}
			if len(e.Errors) != 1 || e.Errors[0].Code != tc.code || e.Errors[0].Message == "" {
				t.Errorf("errors = %+v, want code %s", e.Errors, tc.code)
			}
		})
	}
}

func TestRegistryBase(t *testing.T) {
	srv, _, _ := newTestRegistry(t)
	for _, p := range []string{"/v2/", "/v2"} {
		resp, _ := do(t, http.MethodGet, srv.URL+p)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Docker-Distribution-API-Version") != "registry/2.0" {
			t.Errorf("GET %s: status %d, headers %v", p, resp.StatusCode, resp.Header)
		}
	}
}

func TestRegistryTags(t *testing.T) {
	srv, _, _ := newTestRegistry(t)
	tests := []struct {
		path     string
		wantTags []string
		wantLink string
	}{
		{"/v2/library/busybox/tags/list", []string{"1", "2", "latest"}, ""},
		{"/v2/busybox/tags/list?ns=docker.io", []string{"1", "2", "latest"}, ""},
		{"/v2/team/tool/tags/list?ns=quay.io", []string{"v1"}, ""},
		{"/v2/library/busybox/tags/list?n=2", []string{"1", "2"}, `</v2/library/busybox/tags/list?last=2&n=2>; rel="next"`},
		{"/v2/library/busybox/tags/list?n=2&last=2", []string{"latest"}, ""},
		{"/v2/library/busybox/tags/list?last=1", []string{"2", "latest"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			resp, body := do(t, http.MethodGet, srv.URL+tc.path)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			var got struct {
				Name string   `json:"name"`
				Tags []string `json:"tags"`
			}
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantTags, got.Tags); diff != "" {
				t.Errorf("tags (-want +got):\n%s", diff)
			}
			if got.Name == "" || strings.Contains(got.Name, "?") {
				t.Errorf("name %q", got.Name)
			}
			if link := resp.Header.Get("Link"); link != tc.wantLink {
				t.Errorf("Link %q, want %q", link, tc.wantLink)
			}
		})
	}
}

func do(t *testing.T, method, url string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return send(t, req)
}

func send(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}
