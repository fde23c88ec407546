package containerd

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// TestRealContainerd runs the machine's containerd under the supervisor: it
// must answer CRI, pull through the hosts.toml that WriteHosts writes, and be
// gone, with nothing left mounted, once the context ends. All registry
// traffic stays on 127.0.0.1.
func TestRealContainerd(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run containerd")
	}
	if _, err := exec.LookPath("containerd"); err != nil {
		t.Skip("needs containerd on PATH")
	}
	dir := t.TempDir()
	basic, token := newAuthRegistry(t, "basic"), newAuthRegistry(t, "token")
	s, err := New(testLogger(t), Config{
		DataDir: dir, SandboxImage: "skiff.local/pause:test", StopTimeout: 10 * time.Second,
		RegistryAuth: map[string]RegistryAuth{
			basic.host(): {Username: "skiff", Password: "s3cret"},
			token.host(): {IdentityToken: "refresh-1"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	stop, done := startRun(t, s)
	waitReady(t, s, done, 20*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := Dial(ctx, s.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	runtime := runtimeapi.NewRuntimeServiceClient(conn)
	v, err := runtime.Version(ctx, &runtimeapi.VersionRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if v.RuntimeName != "containerd" || v.RuntimeApiVersion != "v1" {
		t.Fatalf("Version = %+v, want containerd over CRI v1", v)
	}
	if _, err := runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{}); err != nil {
		t.Fatalf("ListPodSandbox: %v", err)
	}

	t.Run("pull follows hosts.toml", func(t *testing.T) {
		images := runtimeapi.NewImageServiceClient(conn)
		var mu sync.Mutex
		var requests []string
		registry := func(name string) *httptest.Server {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				requests = append(requests, name+" "+r.URL.Path)
				mu.Unlock()
				http.NotFound(w, r)
			}))
			t.Cleanup(srv.Close)
			return srv
		}
		mirror, server := registry("mirror"), registry("server")
		// The image names registries on closed loopback ports: should a file
		// be ignored, containerd's fallback fails there and touches nothing.
		closedHost := func() string {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			l.Close()
			return l.Addr().String()
		}

		cases := []struct {
			name  string
			file  string // the hosts.toml directory; default the image's registry
			hosts func() Hosts
			want  []string
		}{{
			name: "mirror first, then server",
			hosts: func() Hosts {
				return Hosts{
					Server:  Endpoint{URL: server.URL},
					Mirrors: []Endpoint{{URL: mirror.URL}},
				}
			},
			want: []string{"mirror /v2/skiff/probe/manifests/v1", "server /v2/skiff/probe/manifests/v1"},
		}, {
			name:  "server only",
			hosts: func() Hosts { return Hosts{Server: Endpoint{URL: server.URL}} },
			want:  []string{"server /v2/skiff/probe/manifests/v1"},
		}, {
			name:  "_default serves registries without a file",
			file:  "_default",
			hosts: func() Hosts { return Hosts{Mirrors: []Endpoint{{URL: mirror.URL}}} },
			want:  []string{"mirror /v2/skiff/probe/manifests/v1"},
		}}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				host := closedHost()
				file := tc.file
				if file == "" {
					file = host
				}
				if err := WriteHosts(s.cfg.RegistryConfigDir, file, tc.hosts()); err != nil {
					t.Fatal(err)
				}
				mu.Lock()
				requests = nil
				mu.Unlock()
				image := host + "/skiff/probe:v1"
				if _, err := images.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: image}}); err == nil {
					t.Fatalf("pull of %s succeeded from registries that answer 404", image)
				}
				mu.Lock()
				got := distinct(requests)
				mu.Unlock()
				if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
					t.Fatalf("registry requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
				}
			})
		}
	})

	// Credentials from the configuration answer each registry's challenge:
	// Basic with user and password, and a bearer token that the registry's
	// token service gives for the identity token.
	t.Run("pull authenticates with configured credentials", func(t *testing.T) {
		images := runtimeapi.NewImageServiceClient(conn)
		for _, reg := range []*authRegistry{basic, token} {
			if err := WriteHosts(s.cfg.RegistryConfigDir, reg.host(), Hosts{Server: Endpoint{URL: reg.URL}}); err != nil {
				t.Fatal(err)
			}
			image := reg.host() + "/skiff/probe:v1"
			if _, err := images.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: image}}); err == nil {
				t.Fatalf("pull of %s succeeded from a registry that answers 404", image)
			}
			if !reg.authorized.Load() {
				t.Errorf("%s registry: no authorized request; it saw:\n%s", reg.kind, strings.Join(reg.seen(), "\n"))
			}
		}
	})

	configPath := filepath.Join(dir, "config.toml")
	pids := processesWithArg(t, configPath)
	if len(pids) != 1 {
		t.Fatalf("containerd processes with %s: %v, want one", configPath, pids)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
	if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pids[0]))); !os.IsNotExist(err) {
		t.Fatalf("containerd pid %d still exists after Run returned", pids[0])
	}
	if left := mountsUnder(t, dir); len(left) > 0 {
		t.Fatalf("mounts left under %s: %v", dir, left)
	}
}

// distinct drops consecutive repeats: a resolver may try one URL twice (HEAD,
// then GET), and only the order of hosts matters here.
func distinct(in []string) []string {
	var out []string
	for _, s := range in {
		if len(out) == 0 || out[len(out)-1] != s {
			out = append(out, s)
		}
	}
	return out
}

func mountsUnder(t *testing.T, dir string) []string {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && (fields[4] == dir || strings.HasPrefix(fields[4], dir+"/")) {
			out = append(out, fields[4])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// authRegistry is a registry on loopback that answers every request without
// the right credentials with a challenge, and every authorized one with 404.
// kind "basic" wants Basic skiff:s3cret; kind "token" wants a bearer token
// from its token service, which gives one for the refresh token refresh-1.
type authRegistry struct {
	*httptest.Server
	kind       string
	authorized atomic.Bool

	mu       sync.Mutex
	requests []string
}

func newAuthRegistry(t *testing.T, kind string) *authRegistry {
	r := &authRegistry{kind: kind}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

func (r *authRegistry) host() string { return strings.TrimPrefix(r.URL, "http://") }

func (r *authRegistry) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.requests)
}

const accessToken = "access-1"

func (r *authRegistry) serve(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.requests = append(r.requests, req.Method+" "+req.URL.Path+" "+req.Header.Get("Authorization"))
	r.mu.Unlock()
	if req.URL.Path == "/token" {
		// The OAuth2 refresh-token grant, as containerd posts it when its
		// credentials are an identity token.
		if req.Method != http.MethodPost || req.ParseForm() != nil ||
			req.PostForm.Get("grant_type") != "refresh_token" || req.PostForm.Get("refresh_token") != "refresh-1" {
			http.Error(w, "bad grant", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":%q,"expires_in":300}`, accessToken)
		return
	}
	want, challenge := "Basic "+base64.StdEncoding.EncodeToString([]byte("skiff:s3cret")), `Basic realm="skiff-test"`
	if r.kind == "token" {
		want, challenge = "Bearer "+accessToken, fmt.Sprintf(`Bearer realm="%s/token",service="skiff-test"`, r.URL)
	}
	if req.Header.Get("Authorization") != want {
		w.Header().Set("WWW-Authenticate", challenge)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	r.authorized.Store(true)
	http.NotFound(w, req)
}
