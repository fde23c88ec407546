package integration

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/controller/nodelifecycle"
	"github.com/skiff-sh/skiff/internal/server"
	"github.com/skiff-sh/skiff/internal/sim"
)

// TestNodeFailure stops one simulated node's heartbeats: the node turns
// Unknown and is tainted, its pods are evicted once their tolerations run
// out, and their ReplicaSet recreates them on the healthy nodes.
func TestNodeFailure(t *testing.T) {
	ts := startServer(t, t.TempDir(), withControllerConfig(server.ControllerConfig{
		NodeLifecycle: nodelifecycle.Config{NodeMonitorPeriod: 200 * time.Millisecond, NodeMonitorGracePeriod: 2 * time.Second},
	}))
	s := startSim(t, ts, sim.Config{Nodes: 3, HeartbeatInterval: 200 * time.Millisecond})
	c := ts.client
	ctx := testContext(t)

	rs := replicaSet("web", 6)
	seconds := int64(1)
	for _, key := range []string{corev1.TaintNodeUnreachable, corev1.TaintNodeNotReady} {
		rs.Spec.Template.Spec.Tolerations = append(rs.Spec.Template.Spec.Tolerations, corev1.Toleration{
			Key: key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &seconds,
		})
	}
	if _, err := c.AppsV1().ReplicaSets("default").Create(ctx, rs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	running := func(skip string) int {
		n := 0
		for _, p := range podsOf(t, c, "default", "set=web") {
			if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil && p.Spec.NodeName != skip {
				n++
			}
		}
		return n
	}
	eventually(t, 20*time.Second, "6 pods running", func() (bool, error) { return running("") == 6, nil })

	// The failed node is the one with the most pods, so the test sees real evictions.
	perNode := map[string]int{}
	for _, p := range podsOf(t, c, "default", "set=web") {
		perNode[p.Spec.NodeName]++
	}
	victim := ""
	for n, k := range perNode {
		if victim == "" || k > perNode[victim] {
			victim = n
		}
	}
	s.Fail(victim)

	eventually(t, 20*time.Second, victim+" tainted unreachable", func() (bool, error) {
		node, err := c.CoreV1().Nodes().Get(ctx, victim, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, taint := range node.Spec.Taints {
			if taint.Key == corev1.TaintNodeUnreachable && taint.Effect == corev1.TaintEffectNoExecute {
				return true, nil
			}
		}
		return false, nil
	})
	eventually(t, 30*time.Second, "6 pods running on healthy nodes", func() (bool, error) { return running(victim) == 6, nil })
}
