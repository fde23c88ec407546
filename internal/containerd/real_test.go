package containerd

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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
	s, err := New(testLogger(t), Config{DataDir: dir, SandboxImage: "skiff.local/pause:test", StopTimeout: 10 * time.Second})
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
				requests = append(requests, name+" "+r.URL.Path+" "+r.Header.Get("X-Skiff-Test"))
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
					Server:  Endpoint{URL: server.URL, Header: map[string][]string{"X-Skiff-Test": {"s"}}},
					Mirrors: []Endpoint{{URL: mirror.URL, Header: map[string][]string{"X-Skiff-Test": {"m"}}}},
				}
			},
			want: []string{"mirror /v2/skiff/probe/manifests/v1 m", "server /v2/skiff/probe/manifests/v1 s"},
		}, {
			name:  "server only",
			hosts: func() Hosts { return Hosts{Server: Endpoint{URL: server.URL}} },
			want:  []string{"server /v2/skiff/probe/manifests/v1 "},
		}, {
			name:  "_default serves registries without a file",
			file:  "_default",
			hosts: func() Hosts { return Hosts{Mirrors: []Endpoint{{URL: mirror.URL}}} },
			want:  []string{"mirror /v2/skiff/probe/manifests/v1 "},
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
