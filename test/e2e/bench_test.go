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
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
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
// 50) pods are created one per second; then SKIFF_BENCH_BURST (default 30)
// at once beside them, through the kubelet and then through raw CRI; and
// the burst once more through the kubelet once every pod is gone.
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
	// A node runs a binary read from its disk. The linker's freshly
	// written pages lie in the page cache in a layout that changes from
	// build to build, and the kernel maps the pages around each one a
	// process touches: the agent's RSS then varies by 20 MB between
	// otherwise equal runs.
	if err := dropPageCache(bin); err != nil {
		b.Fatal(err)
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
	// All 30 pods of the burst are created at once: client-go's default
	// limit (5 requests/s after a burst of 10) would spread their creation
	// over four seconds and measure itself.
	cfg.QPS, cfg.Burst = 1000, 1000
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
			created := createBenchPod(b, client, fmt.Sprintf("serial-%d", i), false)
			lat = append(lat, w.runningAfter(b, fmt.Sprintf("serial-%d", i), created))
			if wait := time.Until(created.Add(time.Second)); wait > 0 {
				time.Sleep(wait)
			}
		}
		slices.Sort(lat)
		b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
		b.ReportMetric(ms(lat[len(lat)*9/10]), "p90-ms")
		b.ReportMetric(ms(lat[(len(lat)*99)/100]), "p99-ms")

		// CPU of the burst by part: this process (API server, etcd,
		// scheduler, controllers and the benchmark's client), the agent,
		// and the runtime (containerd and the shims under the agent's data
		// dir, with the runc and CNI runs they waited for).
		serverCPU, agentCPU, runtimeCPU := cpuTime(os.Getpid()), cpuTime(agent.Process.Pid), cpuOf(agentDir)
		start := time.Now()
		b.ReportMetric(startBurst(b, client, w, "burst-", burst).Seconds(), "burst-s")
		b.ReportMetric(w.lastBound("burst-").Sub(start).Seconds(), "burst-bound-s")
		b.ReportMetric((cpuTime(os.Getpid()) - serverCPU).Seconds(), "burst-cpu-server-s")
		b.ReportMetric((cpuTime(agent.Process.Pid) - agentCPU).Seconds(), "burst-cpu-agent-s")
		b.ReportMetric((cpuOf(agentDir) - runtimeCPU).Seconds(), "burst-cpu-runtime-s")
		b.ReportMetric(float64(procStatus(agent.Process.Pid, "VmRSS"))/(1<<20), "agent-rss-MiB")
		b.ReportMetric(float64(procStatus(agent.Process.Pid, "RssAnon"))/(1<<20), "agent-anon-MiB")

		// The same burst through CRI alone, with the agent paused so that
		// its kubelet neither helps nor interferes: the runtime's floor.
		// The serial pods stay, as they did for the kubelet's burst: the
		// runtime starts pods more slowly beside 50 others than on an
		// empty node.
		deleteBurst(b, client)
		if err := agent.Process.Signal(syscall.SIGSTOP); err != nil {
			b.Fatal(err)
		}
		rawCPU := cpuOf(agentDir)
		raw := rawCRIBurst(b, "unix://"+filepath.Join(agentDir, "containerd", "containerd.sock"), filepath.Join(dir, "raw-logs"), burst)
		b.ReportMetric((cpuOf(agentDir) - rawCPU).Seconds(), "raw-cri-cpu-runtime-s")
		if err := agent.Process.Signal(syscall.SIGCONT); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(raw.Seconds(), "raw-cri-burst-s")

		// The burst once more, on the node emptied of every pod.
		deleteAllPods(b, client)
		b.ReportMetric(startBurst(b, client, w, "empty-", burst).Seconds(), "burst-empty-s")
		w.stop()
	}
}

// startBurst creates n pods named prefix-N at once and returns how long
// it took until all were seen Running.
func startBurst(b *testing.B, client kubernetes.Interface, w *runningWatch, prefix string, n int) time.Duration {
	start := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { createBenchPod(b, client, fmt.Sprintf("%s%d", prefix, i), true) })
	}
	wg.Wait()
	for i := range n {
		w.runningAfter(b, fmt.Sprintf("%s%d", prefix, i), start)
	}
	return time.Since(start)
}

// deleteBurst deletes the bursts' pods and waits until they are gone.
func deleteBurst(b *testing.B, client kubernetes.Interface) {
	sel := metav1.ListOptions{LabelSelector: "bench=burst"}
	deletePods(b, client, "default", sel)
	waitPodsGone(b, client, "default", sel)
}

// dropPageCache writes path's pages to disk and drops them from the page
// cache, so that the next reader reads the file from disk.
func dropPageCache(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return fmt.Errorf("drop %s from the page cache: %w", path, err)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

func createBenchPod(b *testing.B, client kubernetes.Interface, name string, burst bool) time.Time {
	pod := shPod(name, "sleep 3600")
	if burst {
		pod.Labels = map[string]string{"bench": "burst"}
	}
	created := time.Now()
	if _, err := client.CoreV1().Pods("default").Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		b.Error(err)
	}
	return created
}

// runningWatch records when each pod is first seen bound to a node and
// first seen Running.
type runningWatch struct {
	mu      sync.Mutex
	bound   map[string]time.Time
	seen    map[string]time.Time
	changed chan struct{}
	stop    func()
}

func startWatch(b *testing.B, client kubernetes.Interface) *runningWatch {
	w, err := client.CoreV1().Pods("default").Watch(context.Background(), metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	rw := &runningWatch{bound: map[string]time.Time{}, seen: map[string]time.Time{}, changed: make(chan struct{}, 1), stop: w.Stop}
	go func() {
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok || ev.Type == watch.Deleted {
				continue
			}
			rw.mu.Lock()
			if _, ok := rw.bound[p.Name]; !ok && p.Spec.NodeName != "" {
				rw.bound[p.Name] = time.Now()
			}
			rw.mu.Unlock()
			if !running(p) {
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

// lastBound is when the last pod whose name has the prefix was seen bound.
func (rw *runningWatch) lastBound(prefix string) time.Time {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	var last time.Time
	for name, at := range rw.bound {
		if strings.HasPrefix(name, prefix) && at.After(last) {
			last = at
		}
	}
	return last
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

// cpuTime is the CPU time a process and its reaped children used: the
// runtime's short-lived helpers (runc, CNI plugins) count toward the shim
// or containerd that waited for them.
func cpuTime(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command name, which may hold spaces, start at
	// the state (field 3); utime, stime, cutime and cstime are 14 to 17.
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	var ticks int64
	for _, f := range fields[11:15] {
		n, _ := strconv.ParseInt(f, 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ
}

// cpuOf sums cpuTime over the processes whose command line mentions s.
func cpuOf(s string) time.Duration {
	var total time.Duration
	for _, pid := range processesMentioning(s) {
		total += cpuTime(pid)
	}
	return total
}
