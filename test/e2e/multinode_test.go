package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/internal/oci"
)

// A second machine for the tests: a network namespace joined to this one
// by a veth pair on a /30 that only the test uses.
const (
	netnsName = "skiff-e2e-n2"
	hostVeth  = "skiff-e2e-h"
	nsVeth    = "skiff-e2e-n"
	hostAddr  = "10.197.0.1"
	nsAddr    = "10.197.0.2"
)

// newMachine creates the namespace and its link, and removes both when the
// test ends (deleting the namespace deletes everything in it).
func newMachine(t *testing.T) {
	t.Helper()
	_ = exec.Command("ip", "netns", "del", netnsName).Run() // a crashed run's leftover
	steps := [][]string{
		{"netns", "add", netnsName},
		{"link", "add", hostVeth, "type", "veth", "peer", "name", nsVeth},
		{"link", "set", nsVeth, "netns", netnsName},
		{"addr", "add", hostAddr + "/30", "dev", hostVeth},
		{"link", "set", hostVeth, "up"},
		{"-n", netnsName, "addr", "add", nsAddr + "/30", "dev", nsVeth},
		{"-n", netnsName, "link", "set", nsVeth, "up"},
		{"-n", netnsName, "link", "set", "lo", "up"},
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", netnsName).Run() })
	for _, s := range steps {
		if out, err := exec.Command("ip", s...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(s, " "), err, out)
		}
	}
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
	newMachine(t)
	c := startClusterWith(t, map[string]*oci.Image{busyboxRef: busyboxImage(t)}, func(c *cluster) {
		c.cfg.BindAddress = hostAddr
	})

	// The busybox image is only in the server's store: node 2 pulls it from
	// the server's built-in registry.
	agentDir := t.TempDir()
	logPath := filepath.Join(t.TempDir(), "agent.log")
	// nsenter enters the network namespace only: `ip netns exec` would also
	// remount /sys and hide the cgroup hierarchy runc needs.
	startAgent := func() *exec.Cmd {
		agent := exec.Command("nsenter", "--net=/run/netns/"+netnsName, bin, "agent",
			"--server", "https://"+hostAddr+":"+strconv.Itoa(c.cfg.HTTPSPort),
			"--token-file", filepath.Join(c.dir, "join-token"),
			"--data-dir", agentDir, "--node-name", "e2e-node-2", "--node-ip", nsAddr,
			"--pod-cidr", "10.199.1.0/24", "--cluster-cidr", clusterCIDR, "--service-cidr", serviceCIDR)
		logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		agent.Stdout, agent.Stderr = logFile, logFile
		if err := agent.Start(); err != nil {
			t.Fatal(err)
		}
		logFile.Close()
		return agent
	}
	agent := startAgent()
	t.Cleanup(func() {
		// This runs before the cluster's own cleanup: the agent must still
		// be there to stop its pods' containers.
		if t.Failed() {
			t.Logf("events of pod remote:\n%s", c.events(t, "remote"))
		}
		c.deleteAllPods(t)
		_ = agent.Process.Signal(syscall.SIGTERM)
		_ = agent.Wait()
		stopLeftovers(t, agentDir)
		if t.Failed() {
			out, _ := os.ReadFile(logPath)
			t.Logf("agent log:\n%s", out)
		}
	})
	c.waitNodeReady(t, "e2e-node-2")

	pod := shPod("remote", "echo hello from node 2; sleep 3600")
	pod.Spec.NodeName = "e2e-node-2"
	c.create(t, pod)
	p := c.waitPod(t, "remote", "Running", running)
	if !strings.HasPrefix(p.Status.PodIP, "10.199.1.") || p.Status.HostIP != nsAddr {
		t.Errorf("pod IP %s on host %s, want one in 10.199.1.0/24 on %s", p.Status.PodIP, p.Status.HostIP, nsAddr)
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
	if err := agent.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = agent.Wait()
	agent = startAgent()
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
