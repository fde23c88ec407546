package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/internal/oci"
	"github.com/skiff-sh/skiff/internal/server"
	"github.com/skiff-sh/skiff/internal/storage/storagetest"
)

// BenchmarkPodStartup measures pod startup as upstream's figure in issue 4
// was measured: create to Running seen through a watch, local image. The
// node is a separate `skiff agent` process, so that its RSS is the agent's
// alone (containerd is its child, not counted). SKIFF_BENCH_SERIAL (default
// 50) pods are created one per second, then SKIFF_BENCH_BURST (default 30)
// at once.
func BenchmarkPodStartup(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	serial, burst := envInt("SKIFF_BENCH_SERIAL", 50), envInt("SKIFF_BENCH_BURST", 30)
	dir := b.TempDir()
	bin := filepath.Join(dir, "skiff")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/skiff-sh/skiff/cmd/skiff").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		b.Skip("needs /bin/busybox")
	}
	img, err := oci.Busybox(bb, []string{"sh", "sleep"}, oci.Config{Cmd: []string{"sh"}})
	if err != nil {
		b.Fatal(err)
	}
	agentDir := filepath.Join(dir, "agent")
	store, err := oci.NewStore(filepath.Join(agentDir, "images"))
	if err != nil {
		b.Fatal(err)
	}
	if err := store.Add(context.Background(), busyboxRef, img); err != nil {
		b.Fatal(err)
	}

	srv, err := server.New(nil, server.Config{
		DataDir: filepath.Join(dir, "server"), HTTPSPort: storagetest.FreePort(b),
		EtcdClientPort: storagetest.FreePort(b), EtcdPeerPort: storagetest.FreePort(b),
		ClusterCIDR: clusterCIDR, ServiceCIDR: serviceCIDR,
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	<-srv.Ready()
	cfg, err := clientcmd.BuildConfigFromFlags("", srv.KubeconfigPath())
	if err != nil {
		b.Fatal(err)
	}
	client := kubernetes.NewForConfigOrDie(cfg)

	agent := exec.Command(bin, "agent", "--kubeconfig", srv.KubeconfigPath(), "--data-dir", agentDir,
		"--node-name", "bench-node", "--node-ip", "127.0.0.1",
		"--cluster-cidr", clusterCIDR, "--service-cidr", serviceCIDR, "--log-level", envStr("SKIFF_BENCH_AGENT_LOG", "warn"))
	agent.Stderr = os.Stderr
	if err := agent.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		deleteAllPods(b, client)
		_ = agent.Process.Signal(os.Interrupt)
		_ = agent.Wait()
		cancel()
		<-done
		cleanupNode(b, dir)
	})
	waitNodeReady(b, client, "bench-node")

	for b.Loop() {
		w := startWatch(b, client)
		lat := make([]time.Duration, 0, serial)
		for i := range serial {
			created := createBenchPod(b, client, fmt.Sprintf("serial-%d", i))
			lat = append(lat, w.runningAfter(b, fmt.Sprintf("serial-%d", i), created))
			if wait := time.Until(created.Add(time.Second)); wait > 0 {
				time.Sleep(wait)
			}
		}
		slices.Sort(lat)
		b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
		b.ReportMetric(ms(lat[len(lat)*9/10]), "p90-ms")
		b.ReportMetric(ms(lat[(len(lat)*99)/100]), "p99-ms")

		start := time.Now()
		var wg sync.WaitGroup
		for i := range burst {
			wg.Go(func() { createBenchPod(b, client, fmt.Sprintf("burst-%d", i)) })
		}
		wg.Wait()
		for i := range burst {
			w.runningAfter(b, fmt.Sprintf("burst-%d", i), start)
		}
		b.ReportMetric(time.Since(start).Seconds(), "burst-s")
		b.ReportMetric(float64(procStatus(agent.Process.Pid, "VmRSS"))/(1<<20), "agent-rss-MiB")
		b.ReportMetric(float64(procStatus(agent.Process.Pid, "RssAnon"))/(1<<20), "agent-anon-MiB")
		w.stop()
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

func createBenchPod(b *testing.B, client kubernetes.Interface, name string) time.Time {
	pod := shPod(name, "sleep 3600")
	created := time.Now()
	if _, err := client.CoreV1().Pods("default").Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		b.Error(err)
	}
	return created
}

// runningWatch records when each pod is first seen Running.
type runningWatch struct {
	mu      sync.Mutex
	seen    map[string]time.Time
	changed chan struct{}
	stop    func()
}

func startWatch(b *testing.B, client kubernetes.Interface) *runningWatch {
	w, err := client.CoreV1().Pods("default").Watch(context.Background(), metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	rw := &runningWatch{seen: map[string]time.Time{}, changed: make(chan struct{}, 1), stop: w.Stop}
	go func() {
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok || ev.Type == watch.Deleted || !running(p) {
				continue
			}
			rw.mu.Lock()
			if _, ok := rw.seen[p.Name]; !ok {
				rw.seen[p.Name] = time.Now()
			}
			rw.mu.Unlock()
			select {
			case rw.changed <- struct{}{}:
			default:
			}
		}
	}()
	return rw
}

func (rw *runningWatch) runningAfter(b *testing.B, name string, since time.Time) time.Duration {
	deadline := time.After(60 * time.Second)
	for {
		rw.mu.Lock()
		at, ok := rw.seen[name]
		rw.mu.Unlock()
		if ok {
			return at.Sub(since)
		}
		select {
		case <-rw.changed:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			b.Fatalf("pod %s not Running after 60s", name)
		}
	}
}

// procStatus reads a size field of /proc/PID/status (VmRSS, RssAnon...) in
// bytes.
func procStatus(pid int, field string) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func envStr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
