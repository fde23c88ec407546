package integration

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// etcdBinary is Debian's etcd-server, which scripts/deps.sh installs.
const etcdBinary = "/usr/bin/etcd"

// startExternalEtcd runs a one-member etcd cluster on loopback and returns
// its client URL; the process is killed by PID when the test ends.
func startExternalEtcd(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(etcdBinary); err != nil {
		t.Skipf("external etcd test needs %s (Debian package etcd-server): %v", etcdBinary, err)
	}
	dir := t.TempDir()
	client := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	peer := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	cmd := exec.Command(etcdBinary,
		"--name", "skiff-test", "--data-dir", filepath.Join(dir, "data"),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "skiff-test="+peer, "--log-level", "error")
	logFile, err := os.Create(filepath.Join(dir, "etcd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("start etcd: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logFile.Close()
	})
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(client + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return client
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logFile.Name())
			t.Fatalf("etcd not healthy after 30s: %v\n%s", err, log)
		}
	}
}

// TestExternalEtcd runs the API and watch suites against a server that keeps
// its state in an external etcd, as `--etcd-endpoints` does.
func TestExternalEtcd(t *testing.T) {
	t.Run("api", func(t *testing.T) {
		ts := startServer(t, t.TempDir(), withExternalEtcd([]string{startExternalEtcd(t)}))
		runAPISuite(t, ts)
	})
	t.Run("watch", func(t *testing.T) {
		ts := startServer(t, t.TempDir(), withCache(watchCache), withExternalEtcd([]string{startExternalEtcd(t)}))
		runWatchSuite(t, ts)
	})
	t.Run("restart keeps state", func(t *testing.T) {
		ts := startServer(t, t.TempDir(), withExternalEtcd([]string{startExternalEtcd(t)}))
		runRestartSuite(t, ts)
	})
}
