package oci

import (
	"errors"
	"strings"
	"testing"
)

func TestParseReference(t *testing.T) {
	const hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	tests := []struct {
		in      string
		want    string
		name    string
		wantErr string
	}{
		{in: "httpd", want: "docker.io/library/httpd:latest", name: "docker.io/library/httpd"},
		{in: "httpd:2.4", want: "docker.io/library/httpd:2.4", name: "docker.io/library/httpd"},
		{in: "foo/bar:1", want: "docker.io/foo/bar:1", name: "docker.io/foo/bar"},
		{in: "docker.io/httpd", want: "docker.io/library/httpd:latest", name: "docker.io/library/httpd"},
		{in: "index.docker.io/library/httpd", want: "docker.io/library/httpd:latest", name: "docker.io/library/httpd"},
		{in: "quay.io/x/y", want: "quay.io/x/y:latest", name: "quay.io/x/y"},
		{in: "quay.io/y", want: "quay.io/y:latest", name: "quay.io/y"},
		{in: "localhost/y:dev", want: "localhost/y:dev", name: "localhost/y"},
		{in: "localhost:5000/y", want: "localhost:5000/y:latest", name: "localhost:5000/y"},
		{in: "127.0.0.1:5000/x/y@sha256:" + hex, want: "127.0.0.1:5000/x/y@sha256:" + hex, name: "127.0.0.1:5000/x/y"},
		{in: "x/y:1@sha256:" + hex, want: "docker.io/x/y:1@sha256:" + hex, name: "docker.io/x/y"},
		{in: "Registry.Example/x", want: "Registry.Example/x:latest", name: "Registry.Example/x"},
		{in: "[::1]:5000/x", want: "[::1]:5000/x:latest", name: "[::1]:5000/x"},
		{in: "a.b/c__d/e-f.g:Tag_1.0", want: "a.b/c__d/e-f.g:Tag_1.0", name: "a.b/c__d/e-f.g"},

		{in: "", wantErr: "empty"},
		{in: "Httpd", wantErr: "must be lowercase"},
		{in: "foo/Bar", wantErr: "must be lowercase"},
		{in: "quay.io/X/y", wantErr: "must be lowercase"},
		{in: hex, wantErr: "image ID"},
		{in: "httpd@sha256:abc", wantErr: "invalid digest"},
		{in: "httpd@md5:" + hex[:32], wantErr: "invalid digest"},
		{in: "httpd@sha512:" + hex + hex, wantErr: "unsupported digest algorithm"},
		{in: "httpd:", wantErr: "invalid tag"},
		{in: "httpd:-x", wantErr: "invalid tag"},
		{in: "httpd:" + strings.Repeat("a", 129), wantErr: "invalid tag"},
		{in: "quay.io/", wantErr: "empty repository path"},
		{in: "foo//bar", wantErr: "invalid repository path component"},
		{in: "foo/bar/", wantErr: "invalid repository path component"},
		{in: "foo_/bar", wantErr: "invalid repository path component"},
		{in: "-bad.host/x", wantErr: "invalid registry host"},
		{in: "x/" + strings.Repeat("a", 250), wantErr: "longer than 255"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			ref, err := ParseReference(tc.in)
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("ParseReference(%q) = %v, want error containing %q", tc.in, ref, tc.wantErr)
				}
				if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseReference(%q) error = %v, want ErrInvalid containing %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseReference(%q): %v", tc.in, err)
			}
			if got := ref.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
			if got := ref.Name(); got != tc.name {
				t.Errorf("Name() = %q, want %q", got, tc.name)
			}
			// The normalized form is a fixed point.
			again, err := ParseReference(ref.String())
			if err != nil || again != ref {
				t.Errorf("ParseReference(%q) = %+v, %v; want %+v", ref.String(), again, err, ref)
			}
		})
	}
}
