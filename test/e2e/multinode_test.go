package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/internal/oci"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The test network: a bridge on this machine that holds the server's
// address, and machines plugged into it, each a network namespace with a
// veth pair, on a /24 that only the tests use.
const (
	lanBridge = "skiff-e2e-br"
	hostAddr  = "10.197.0.1"
	lanPrefix = "10.197.0."
)

// machine is one of the test network's namespaces.
type machine struct {
	netns, addr string
}

// newLAN creates the bridge and n machines (addresses .2 up), and removes
// them all when the test ends (deleting a namespace deletes everything in
// it; deleting the bridge, the routes through it).
func newLAN(t *testing.T, n int) []machine {
	t.Helper()
	var machines []machine
	for i := range n {
		machines = append(machines, machine{netns: fmt.Sprintf("skiff-e2e-n%d", i+2), addr: fmt.Sprintf("%s%d", lanPrefix, i+2)})
	}
	remove := func() {
		for _, m := range machines {
			_ = exec.Command("ip", "netns", "del", m.netns).Run()
		}
		_ = exec.Command("ip", "link", "del", lanBridge).Run()
	}
	remove() // a crashed run's leftovers
	t.Cleanup(remove)
	steps := [][]string{
		{"link", "add", lanBridge, "type", "bridge"},
		{"addr", "add", hostAddr + "/24", "dev", lanBridge},
		{"link", "set", lanBridge, "up"},
	}
	for i, m := range machines {
		hostEnd := fmt.Sprintf("skiff-e2e-h%d", i+2)
		steps = append(steps,
			[]string{"netns", "add", m.netns},
			[]string{"link", "add", hostEnd, "type", "veth", "peer", "name", "eth0", "netns", m.netns},
			[]string{"link", "set", hostEnd, "master", lanBridge, "up"},
			[]string{"-n", m.netns, "addr", "add", m.addr + "/24", "dev", "eth0"},
			[]string{"-n", m.netns, "link", "set", "eth0", "up"},
			[]string{"-n", m.netns, "link", "set", "lo", "up"},
		)
	}
	for _, s := range steps {
		if out, err := exec.Command("ip", s...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(s, " "), err, out)
		}
	}
	return machines
}

// in runs a command inside the machine's network namespace. nsenter
// enters the network namespace only: `ip netns exec` would also remount
// /sys and hide the cgroup hierarchy runc needs.
func (m machine) in(name string, args ...string) *exec.Cmd {
	return exec.Command("nsenter", append([]string{"--net=/run/netns/" + m.netns, name}, args...)...)
}

// remoteAgent is a `skiff agent` process on a machine.
type remoteAgent struct {
	name, dir, log string
	start          func() *exec.Cmd
	cmd            *exec.Cmd
}

// joinAgent starts an agent on m that joins c with the server's token, and
// stops it when the test ends, after deleting every pod so that it stops
// their containers first.
func joinAgent(t *testing.T, c *cluster, bin string, m machine, name string, extra ...string) *remoteAgent {
	t.Helper()
	a := &remoteAgent{name: name, dir: t.TempDir(), log: filepath.Join(t.TempDir(), "agent.log")}
	a.start = func() *exec.Cmd {
		args := append([]string{"agent",
			"--server", "https://" + hostAddr + ":" + strconv.Itoa(c.cfg.HTTPSPort),
			"--token-file", filepath.Join(c.dir, "join-token"),
			"--data-dir", a.dir, "--node-name", name, "--node-ip", m.addr,
			"--cluster-cidr", clusterCIDR, "--service-cidr", serviceCIDR}, extra...)
		cmd := m.in(bin, args...)
		logFile, err := os.OpenFile(a.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = logFile, logFile
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		logFile.Close()
		return cmd
	}
	a.cmd = a.start()
	t.Cleanup(func() {
		// This runs before the cluster's own cleanup: the agent must still
		// be there to stop its pods' containers.
		c.deleteAllPods(t)
		a.stop()
		stopLeftovers(t, a.dir)
		if t.Failed() {
			out, _ := os.ReadFile(a.log)
			t.Logf("log of agent %s:\n%s", name, out)
		}
	})
	return a
}

// stop stops the agent as a service manager would, with SIGTERM.
func (a *remoteAgent) stop() {
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	_ = a.cmd.Wait()
}

func (a *remoteAgent) restart() {
	a.stop()
	a.cmd = a.start()
}

// buildSkiff builds the binary once per test run.
func buildSkiff(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "skiff")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/skiff-sh/skiff/cmd/skiff").CombinedOutput(); err != nil {
		t.Fatalf("build skiff: %v\n%s", err, out)
	}
	return bin
}

// A second node, in its own network namespace with its own containerd,
// joins with the server's token, pulls its pod's image from the server's
// built-in registry and runs the pod, which logs and exec reach;
// restarted, it keeps its credentials and leaves the pod's container alone.
func TestSecondNodeJoins(t *testing.T) {
	requireNode(t)
	bin := buildSkiff(t)
	m := newLAN(t, 1)[0]
	c := startClusterWith(t, map[string]*oci.Image{busyboxRef: busyboxImage(t)}, func(c *cluster) {
		c.cfg.BindAddress = hostAddr
	})

	// The busybox image is only in the server's store: node 2 pulls it from
	// the server's built-in registry.
	agent := joinAgent(t, c, bin, m, "e2e-node-2")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("events of pod remote:\n%s", c.events(t, "remote"))
		}
	})
	c.waitNodeReady(t, "e2e-node-2")

	pod := shPod("remote", "echo hello from node 2; sleep 3600")
	pod.Spec.NodeName = "e2e-node-2"
	c.create(t, pod)
	p := c.waitPod(t, "remote", "Running", running)
	node2, err := c.client.CoreV1().Nodes().Get(context.Background(), "e2e-node-2", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, podCIDR, err := net.ParseCIDR(node2.Spec.PodCIDR)
	if err != nil || !podCIDR.Contains(net.ParseIP(p.Status.PodIP)) || p.Status.HostIP != m.addr {
		t.Errorf("pod IP %s on host %s, want one in the node's pod CIDR %q on %s", p.Status.PodIP, p.Status.HostIP, node2.Spec.PodCIDR, m.addr)
	}
	if got := kubectl(t, c, "exec", "remote", "--", "hostname"); got != "remote" {
		t.Errorf("kubectl exec on node 2: %q", got)
	}
	eventually(t, 10*time.Second, "kubectl logs from node 2", func() bool {
		out, err := kubectlErr(c, "logs", "remote")
		return err == nil && strings.Contains(out, "hello from node 2")
	})
	nodes := kubectl(t, c, "get", "nodes")
	if !strings.Contains(nodes, "e2e-node-2   Ready") {
		t.Errorf("kubectl get nodes:\n%s", nodes)
	}

	// The agent restarts with the credentials it saved and adopts its pod.
	agent.restart()
	time.Sleep(3 * time.Second) // relists and syncs of the adopted pod
	after := c.waitPod(t, "remote", "Running after the agent's restart", running)
	b, a := p.Status.ContainerStatuses[0], after.Status.ContainerStatuses[0]
	if a.ContainerID != b.ContainerID || a.RestartCount != 0 {
		t.Errorf("after the agent's restart: container %s (was %s), restarts %d", a.ContainerID, b.ContainerID, a.RestartCount)
	}
	if got := kubectl(t, c, "exec", "remote", "--", "hostname"); got != "remote" {
		t.Errorf("kubectl exec after the agent's restart: %q", got)
	}
}
