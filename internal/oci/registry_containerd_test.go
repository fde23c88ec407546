package oci

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestContainerdInterop checks the two contracts with a real containerd:
// `ctr images import` names an image from WriteLayout's annotations, and a
// pull of docker.io/library/busybox:1 with this registry as docker.io's
// mirror is answered by the registry. Needs root and the containerd and
// ctr binaries; containerd runs throwaway, with its own root, state and
// socket, and no CRI plugin.
func TestContainerdInterop(t *testing.T) {
	if testing.Short() {
		t.Skip("starts containerd; skipped in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to run containerd")
	}
	containerd, err1 := exec.LookPath("containerd")
	ctr, err2 := exec.LookPath("ctr")
	if err1 != nil || err2 != nil {
		t.Skip("needs the containerd and ctr binaries")
	}

	s, _ := newTestStore(t)
	img := mustBuild(t, "pulled by containerd")
	if err := s.Add(context.Background(), "busybox:1", img); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []string
	reg := NewRegistry(nil, s)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.RequestURI())
		mu.Unlock()
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()

	tmp := t.TempDir()
	sock := filepath.Join(tmp, "containerd.sock")
	config := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = %q
`, filepath.Join(tmp, "root"), filepath.Join(tmp, "state"), sock)
	// The upstream is a closed local port, so a failing mirror can never
	// send the pull off this machine.
	hosts := fmt.Sprintf(`server = "http://127.0.0.1:1"
[host.%q]
  capabilities = ["pull", "resolve"]
`, srv.URL)
	writeFile(t, filepath.Join(tmp, "config.toml"), config)
	writeFile(t, filepath.Join(tmp, "hosts", "docker.io", "hosts.toml"), hosts)

	daemon := exec.Command(containerd, "--config", filepath.Join(tmp, "config.toml"))
	var daemonLog strings.Builder
	daemon.Stdout, daemon.Stderr = &daemonLog, &daemonLog
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = daemon.Process.Kill()
		_ = daemon.Wait()
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	run := func(args ...string) (string, error) {
		out, err := exec.CommandContext(ctx, ctr, append([]string{"--address", sock, "--namespace", "skiff-test"}, args...)...).CombinedOutput()
		return string(out), err
	}
	for {
		if _, err := run("version"); err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("containerd did not start:\n%s", daemonLog.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	layout := filepath.Join(tmp, "layout.tar")
	f, err := os.Create(layout)
	if err != nil {
		t.Fatal(err)
	}
	// An image sharing no blob with img, so that the pull below has to
	// fetch every blob.
	pause, err := Build(Config{Entrypoint: []string{"/pause"}}, []File{{Path: "/pause", Mode: 0o755, Data: []byte("pause")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := pause.WriteLayout(f, "example.com/skiff/pause:1"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if out, err := run("images", "import", "--no-unpack", layout); err != nil {
		t.Fatalf("ctr images import: %v\n%s", err, out)
	}

	if out, err := run("content", "fetch", "--hosts-dir", filepath.Join(tmp, "hosts"), "docker.io/library/busybox:1"); err != nil {
		t.Fatalf("ctr content fetch: %v\n%s", err, out)
	}
	out, err := run("images", "ls")
	if err != nil {
		t.Fatalf("ctr images ls: %v\n%s", err, out)
	}
	for name, want := range map[string]*Image{"example.com/skiff/pause:1": pause, "docker.io/library/busybox:1": img} {
		if !containsLine(out, name, want.Descriptor.Digest.String()) {
			t.Errorf("containerd images:\n%s\nwant %s at %s", out, name, want.Descriptor.Digest)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	// Resolve, manifest, config and two layers, all through the mirror.
	if len(seen) != 5 || !strings.Contains(seen[0], "/v2/library/busybox/manifests/1?ns=docker.io") {
		t.Errorf("registry saw %q, want five requests, the mirror's resolve first", seen)
	}
}

func containsLine(out string, words ...string) bool {
	for _, line := range strings.Split(out, "\n") {
		fields := strings.Fields(line)
		found := 0
		for _, w := range words {
			for _, f := range fields {
				if f == w {
					found++
					break
				}
			}
		}
		if found == len(words) {
			return true
		}
	}
	return false
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
