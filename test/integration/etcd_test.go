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
// its client URL; the process is killed by PID when the test ends. A port
// that another test took between freePort and etcd's bind makes etcd exit;
// it is then started again on other ports.
func startExternalEtcd(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(etcdBinary); err != nil {
		t.Skipf("external etcd test needs %s (Debian package etcd-server): %v", etcdBinary, err)
	}
	for attempt := 1; ; attempt++ {
		client, exited, log := runEtcd(t)
		if err := waitHealthy(client, exited); err == nil {
			return client
		} else if attempt == 3 {
			out, _ := os.ReadFile(log)
			t.Fatalf("etcd not healthy: %v\n%s", err, out)
		}
	}
}

// runEtcd starts etcd on fresh ports; exited is closed when it exits.
func runEtcd(t *testing.T) (client string, exited <-chan struct{}, log string) {
	dir := t.TempDir()
	client = fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
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
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		logFile.Close()
	})
	return client, done, logFile.Name()
}

// waitHealthy polls etcd's health endpoint until it answers, etcd exits or
// 30 s pass.
func waitHealthy(client string, exited <-chan struct{}) error {
	deadline := time.After(30 * time.Second)
	for {
		resp, err := http.Get(client + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("etcd exited: %v", err)
		case <-deadline:
			return fmt.Errorf("not healthy after 30s: %v", err)
		case <-time.After(50 * time.Millisecond):
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
