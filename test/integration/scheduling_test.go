package integration

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/internal/sim"
)

func testPod(name string, cpu string, mutate ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "c", Image: "busybox",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}},
		}}},
	}
	for _, m := range mutate {
		m(p)
	}
	return p
}

func createPod(t *testing.T, c kubernetes.Interface, ns string, p *corev1.Pod) {
	t.Helper()
	if _, err := c.CoreV1().Pods(ns).Create(testContext(t), p, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod %s: %v", p.Name, err)
	}
}

func nodeOf(t *testing.T, c kubernetes.Interface, ns, name string) string {
	t.Helper()
	var node string
	eventually(t, 20*time.Second, "pod "+name+" scheduled", func() (bool, error) {
		p, err := c.CoreV1().Pods(ns).Get(testContext(t), name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		node = p.Spec.NodeName
		return node != "", nil
	})
	return node
}

// unschedulableMessage waits for the scheduler's verdict on a pending pod.
func unschedulableMessage(t *testing.T, c kubernetes.Interface, ns, name string) string {
	t.Helper()
	var msg string
	eventually(t, 20*time.Second, "pod "+name+" marked unschedulable", func() (bool, error) {
		p, err := c.CoreV1().Pods(ns).Get(testContext(t), name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse && cond.Reason == corev1.PodReasonUnschedulable {
				msg = cond.Message
				return true, nil
			}
		}
		return false, nil
	})
	return msg
}

// TestScheduling places pods on three simulated nodes of 2 CPUs each.
func TestScheduling(t *testing.T) {
	ts := startServer(t, t.TempDir(), withControllers())
	startSim(t, ts, sim.Config{Nodes: 3, CPU: "2", HeartbeatInterval: time.Second})
	c := ts.client
	ctx := testContext(t)

	t.Run("insufficient cpu", func(t *testing.T) {
		createPod(t, c, "default", testPod("huge", "3"))
		msg := unschedulableMessage(t, c, "default", "huge")
		if !strings.HasPrefix(msg, "0/3 nodes are available: 3 Insufficient cpu.") {
			t.Errorf("message = %q", msg)
		}
	})

	t.Run("taints and tolerations", func(t *testing.T) {
		node, err := c.CoreV1().Nodes().Get(ctx, "sim-node-0", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		node.Spec.Taints = append(node.Spec.Taints, corev1.Taint{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule})
		if _, err := c.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		pinned := func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"kubernetes.io/hostname": "sim-node-0"} }
		createPod(t, c, "default", testPod("untolerating", "100m", pinned))
		msg := unschedulableMessage(t, c, "default", "untolerating")
		if !strings.Contains(msg, "1 node(s) had untolerated taint {dedicated: db}") || !strings.Contains(msg, "2 node(s) didn't match Pod's node affinity/selector") {
			t.Errorf("message = %q", msg)
		}
		createPod(t, c, "default", testPod("tolerating", "100m", pinned, func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "db", Effect: corev1.TaintEffectNoSchedule}}
		}))
		if n := nodeOf(t, c, "default", "tolerating"); n != "sim-node-0" {
			t.Errorf("tolerating pod on %s, want sim-node-0", n)
		}
	})

	t.Run("required anti-affinity spreads replicas", func(t *testing.T) {
		anti := func(p *corev1.Pod) {
			p.Labels = map[string]string{"role": "spread"}
			p.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists}}
			p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
					LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"role": "spread"}},
					TopologyKey:   "kubernetes.io/hostname",
				}},
			}}
		}
		nodes := map[string]bool{}
		for _, name := range []string{"a1", "a2", "a3"} {
			createPod(t, c, "default", testPod(name, "10m", anti))
			nodes[nodeOf(t, c, "default", name)] = true
		}
		if len(nodes) != 3 {
			t.Errorf("anti-affine pods share nodes: %v", nodes)
		}
		createPod(t, c, "default", testPod("a4", "10m", anti))
		if msg := unschedulableMessage(t, c, "default", "a4"); !strings.Contains(msg, "3 node(s) didn't") || !strings.Contains(msg, "anti-affinity rules") {
			t.Errorf("message = %q", msg)
		}
	})

	t.Run("topology spread", func(t *testing.T) {
		spread := func(p *corev1.Pod) {
			p.Labels = map[string]string{"role": "even"}
			p.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists}}
			p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{
				MaxSkew: 1, TopologyKey: "kubernetes.io/hostname", WhenUnsatisfiable: corev1.DoNotSchedule,
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"role": "even"}},
			}}
		}
		count := map[string]int{}
		for _, name := range []string{"s1", "s2", "s3", "s4", "s5", "s6"} {
			createPod(t, c, "default", testPod(name, "10m", spread))
			count[nodeOf(t, c, "default", name)]++
		}
		for n, k := range count {
			if k != 2 {
				t.Errorf("node %s has %d pods, want 2 each: %v", n, k, count)
			}
		}
	})

	t.Run("preemption", func(t *testing.T) {
		for _, pc := range []schedulingv1.PriorityClass{
			{ObjectMeta: metav1.ObjectMeta{Name: "low"}, Value: 10},
			{ObjectMeta: metav1.ObjectMeta{Name: "high"}, Value: 1000},
		} {
			if _, err := c.SchedulingV1().PriorityClasses().Create(ctx, &pc, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		low := func(p *corev1.Pod) {
			p.Spec.PriorityClassName = "low"
			p.Spec.NodeSelector = map[string]string{"kubernetes.io/hostname": "sim-node-1"}
		}
		createPod(t, c, "default", testPod("filler", "1500m", low))
		nodeOf(t, c, "default", "filler")
		createPod(t, c, "default", testPod("vip", "1500m", func(p *corev1.Pod) {
			p.Spec.PriorityClassName = "high"
			p.Spec.NodeSelector = map[string]string{"kubernetes.io/hostname": "sim-node-1"}
		}))
		if n := nodeOf(t, c, "default", "vip"); n != "sim-node-1" {
			t.Errorf("vip on %s, want sim-node-1", n)
		}
		if _, err := c.CoreV1().Pods("default").Get(ctx, "filler", metav1.GetOptions{}); err == nil {
			t.Errorf("the low-priority pod was not preempted")
		}
	})
}
