// Package e2e runs real pods: a server with its in-process agent, containerd
// and runc from the machine, and images built from Debian's busybox-static.
// The tests need root and skip with the reason when the machine cannot run
// them; CI runs them.
package e2e

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/internal/agent"
	"github.com/skiff-sh/skiff/internal/kubelet"
	"github.com/skiff-sh/skiff/internal/oci"
	"github.com/skiff-sh/skiff/internal/server"
	"github.com/skiff-sh/skiff/internal/storage/storagetest"
)

// The ranges of the test cluster: away from a default skiff install's, so
// that the tests can run on a machine that has one.
const (
	clusterCIDR = "10.199.0.0/16"
	serviceCIDR = "10.198.0.0/16"
)

// requireNode skips unless the machine can run real pods.
func requireNode(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run containerd and set up the pod network")
	}
	for _, bin := range []string{"containerd", "runc", "ip", "nft", "nsenter"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("needs %s: %v", bin, err)
		}
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("needs /bin/busybox (Debian's busybox-static) to build test images")
	}
}

type cluster struct {
	dir        string
	kubeconfig string
	client     kubernetes.Interface
	images     *oci.Store
	cfg        server.Config
	stop       func() error
}

// startCluster runs a one-node cluster until the test ends, with images
// stored before the node starts. Its cleanup deletes every pod, so that
// the kubelet stops their containers, then stops the server and removes
// what the node left on the machine.
func startCluster(t *testing.T, images map[string]*oci.Image) *cluster {
	t.Helper()
	return startClusterWith(t, images, nil)
}

// startClusterWith is startCluster with a chance to change the server's
// configuration before it starts.
func startClusterWith(t testing.TB, images map[string]*oci.Image, configure func(*cluster)) *cluster {
	t.Helper()
	dir := t.TempDir()
	store, err := oci.NewStore(filepath.Join(dir, "images"))
	if err != nil {
		t.Fatal(err)
	}
	for name, img := range images {
		if err := store.Add(context.Background(), name, img); err != nil {
			t.Fatal(err)
		}
	}
	c := &cluster{dir: dir, images: store, cfg: server.Config{
		DataDir:        dir,
		HTTPSPort:      storagetest.FreePort(t),
		EtcdClientPort: storagetest.FreePort(t),
		EtcdPeerPort:   storagetest.FreePort(t),
		ClusterCIDR:    clusterCIDR,
		ServiceCIDR:    serviceCIDR,
		Agent: &agent.Config{
			NodeName:    "e2e-node",
			NodeIP:      net.ParseIP("127.0.0.1"),
			Images:      store,
			KubeletPort: storagetest.FreePort(t),
			Kubelet:     kubelet.Config{BackoffInitial: time.Second, BackoffMax: 4 * time.Second},
		},
	}}
	if configure != nil {
		configure(c)
	}
	c.start(t)
	t.Cleanup(func() {
		start := time.Now()
		defer func() { t.Logf("cleanup took %v", time.Since(start).Round(time.Millisecond)) }()
		c.deleteAllPods(t)
		if err := c.stop(); err != nil {
			t.Errorf("server: %v", err)
		}
		cleanupNode(t, dir)
	})
	return c
}

// start runs the server and waits for its node.
func (c *cluster) start(t testing.TB) {
	t.Helper()
	srv, err := server.New(nil, c.cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	c.stop = func() error {
		cancel()
		return <-done
	}
	select {
	case <-srv.Ready():
	case err := <-done:
		t.Fatalf("server exited: %v", err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", srv.KubeconfigPath())
	if err != nil {
		t.Fatal(err)
	}
	c.kubeconfig, c.client = srv.KubeconfigPath(), kubernetes.NewForConfigOrDie(cfg)
	start := time.Now()
	select {
	case <-srv.Settled():
	case <-time.After(60 * time.Second):
		t.Fatal("server's node not ready after 60 s")
	case err := <-done:
		t.Fatalf("server exited: %v", err)
	}
	t.Logf("node ready %v after the server", time.Since(start).Round(time.Millisecond))
	// Settled means the node has said it is Ready.
	n, err := c.client.CoreV1().Nodes().Get(context.Background(), c.cfg.Agent.NodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !nodeReady(n) {
		t.Fatalf("server settled with node %s not Ready: %+v", n.Name, n.Status.Conditions)
	}
}

// restart stops the server, with its node, and starts it again on the same
// data dir: the pods' containers keep running in between.
func (c *cluster) restart(t *testing.T) {
	t.Helper()
	if err := c.stop(); err != nil {
		t.Fatalf("server: %v", err)
	}
	c.start(t)
}

func (c *cluster) waitNodeReady(t testing.TB, name string) {
	t.Helper()
	waitNodeReady(t, c.client, name)
}

func waitNodeReady(t testing.TB, client kubernetes.Interface, name string) {
	t.Helper()
	eventually(t, 60*time.Second, "node "+name+" Ready", func() bool {
		n, err := client.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
		return err == nil && nodeReady(n)
	})
}

func nodeReady(n *corev1.Node) bool {
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}

func (c *cluster) deleteAllPods(t testing.TB) { deleteAllPods(t, c.client) }

// deleteAllPods deletes the test's workloads and waits until the kubelet
// has stopped their containers and removed the pods: stopping a node before
// that would leave their sandboxes, network namespaces included, behind.
func deleteAllPods(t testing.TB, client kubernetes.Interface) {
	ctx := context.Background()
	nss, err := client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	// The controllers go first, keeping their pods, so that nothing
	// replaces the pods deleted next; the pods get a second's grace, as the
	// test images' PID 1 ignores SIGTERM and would hold on for the default
	// 30 s.
	orphan := metav1.DeletePropagationOrphan
	for _, ns := range nss.Items {
		_ = client.AppsV1().Deployments(ns.Name).DeleteCollection(ctx, metav1.DeleteOptions{PropagationPolicy: &orphan}, metav1.ListOptions{})
		_ = client.AppsV1().ReplicaSets(ns.Name).DeleteCollection(ctx, metav1.DeleteOptions{PropagationPolicy: &orphan}, metav1.ListOptions{})
	}
	for _, ns := range nss.Items {
		deletePods(t, client, ns.Name, metav1.ListOptions{})
	}
	waitPodsGone(t, client, "", metav1.ListOptions{})
}

// deletePods deletes the pods sel selects in namespace with a second's
// grace.
func deletePods(t testing.TB, client kubernetes.Interface, namespace string, sel metav1.ListOptions) {
	grace := int64(1)
	if err := client.CoreV1().Pods(namespace).DeleteCollection(context.Background(), metav1.DeleteOptions{GracePeriodSeconds: &grace}, sel); err != nil {
		t.Errorf("delete pods: %v", err)
	}
}

// waitPodsGone waits up to 90 s until no pod sel selects in namespace ("":
// all) is left.
func waitPodsGone(t testing.TB, client kubernetes.Interface, namespace string, sel metav1.ListOptions) {
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if pods, err := client.CoreV1().Pods(namespace).List(context.Background(), sel); err == nil && len(pods.Items) == 0 {
			return
		}
	}
	t.Errorf("pods %q still present after 90s", sel.LabelSelector)
}

// cleanupNode removes what a node leaves on the machine once its server
// has stopped: shims still running from the data dir, mounts under it, the
// pod bridge (and the service route through it), the unreachable route,
// routes to other nodes, and the nftables tables. A clean stop removes the
// proxy's table itself; a test that failed may not have stopped cleanly.
func cleanupNode(t testing.TB, dir string) {
	stopLeftovers(t, dir)
	for _, args := range [][]string{
		{"link", "del", "skiff0"},
		{"route", "del", "unreachable", clusterCIDR},
		{"route", "flush", "root", clusterCIDR, "proto", "201"},
	} {
		_ = exec.Command("ip", args...).Run()
	}
	for _, table := range []string{"skiff-nat", "skiff-proxy"} {
		_ = exec.Command("nft", "delete", "table", "ip", table).Run()
	}
}

// stopLeftovers kills the processes still running from dir (containerd
// shims outlive their node on purpose) and unmounts what is mounted below it.
func stopLeftovers(t testing.TB, dir string) {
	for _, pid := range processesMentioning(dir) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	unmountUnder(t, dir)
}

// processesMentioning lists processes whose command line contains s.
func processesMentioning(s string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid := 0
		for _, c := range e.Name() {
			if c < '0' || c > '9' {
				pid = -1
				break
			}
			pid = pid*10 + int(c-'0')
		}
		if pid <= 0 || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(cmdline), s) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// unmountUnder unmounts every mount point below dir, deepest first.
func unmountUnder(t testing.TB, dir string) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var points []string
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) > 4 && strings.HasPrefix(fields[4], dir+"/") {
			points = append(points, fields[4])
		}
	}
	for i := len(points) - 1; i >= 0; i-- {
		if err := syscall.Unmount(points[i], syscall.MNT_DETACH); err != nil {
			t.Logf("cleanup: unmount %s: %v", points[i], err)
		}
	}
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
