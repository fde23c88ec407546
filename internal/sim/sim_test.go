package sim

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// startSim runs a sim over a fake clientset and waits until it is ready.
func startSim(t *testing.T, cfg Config, objs ...runtime.Object) (*Sim, *fake.Clientset, *clocktesting.FakeClock) {
	t.Helper()
	return startSimWith(t, fake.NewClientset(objs...), cfg)
}

func startSimWith(t *testing.T, client *fake.Clientset, cfg Config) (*Sim, *fake.Clientset, *clocktesting.FakeClock) {
	t.Helper()
	clk := clocktesting.NewFakeClock(epoch)
	cfg.Clock = clk
	s, err := New(nil, client, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-s.Ready():
	case err := <-done:
		t.Fatalf("Run ended early: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("sim not ready")
	}
	return s, client, clk
}

// eventually polls cond, stepping the fake clock by step between tries so
// timers armed at any moment still fire.
func eventually(t *testing.T, clk *clocktesting.FakeClock, step time.Duration, cond func(context.Context) (bool, error)) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 10*time.Millisecond, 10*time.Second, true,
		func(ctx context.Context) (bool, error) {
			ok, err := cond(ctx)
			if !ok && err == nil && step > 0 {
				clk.Step(step)
			}
			return ok, err
		})
	if err != nil {
		t.Fatalf("condition not met: %v", err)
	}
}

func TestRegister(t *testing.T) {
	_, client, _ := startSim(t, Config{Nodes: 3, Labels: map[string]string{"team": "a"}})
	ctx := context.Background()
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes.Items) != 3 {
		t.Fatalf("got %d nodes, want 3", len(nodes.Items))
	}
	node, err := client.CoreV1().Nodes().Get(ctx, "sim-node-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name string
		got  string
		want string
	}{
		{"label team", node.Labels["team"], "a"},
		{"hostname label", node.Labels[corev1.LabelHostname], "sim-node-1"},
		{"instance type", node.Labels[corev1.LabelInstanceTypeStable], "sim"},
		{"cpu", node.Status.Capacity.Cpu().String(), "32"},
		{"memory", node.Status.Allocatable.Memory().String(), "256Gi"},
		{"pods", node.Status.Capacity.Pods().String(), "110"},
		{"ready", string(readyStatus(node)), "True"},
		{"kubelet", node.Status.NodeInfo.KubeletVersion, kubeletVersion},
		{"runtime", node.Status.NodeInfo.ContainerRuntimeVersion, runtimeVersion},
		{"address", node.Status.Addresses[0].Address, "127.0.1.2"},
	}
	for _, tc := range checks {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
	lease, err := client.CoordinationV1().Leases(leaseNamespace).Get(ctx, "sim-node-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *lease.Spec.HolderIdentity != "sim-node-1" || *lease.Spec.LeaseDurationSeconds != 40 || lease.Spec.RenewTime == nil {
		t.Errorf("lease spec = %+v", lease.Spec)
	}
}

func TestAdoptExistingNode(t *testing.T) {
	old := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "sim-node-0", Labels: map[string]string{"keep": "me"}},
		Spec:       corev1.NodeSpec{Taints: []corev1.Taint{{Key: "k", Effect: corev1.TaintEffectNoSchedule}}},
	}
	_, client, _ := startSim(t, Config{Nodes: 1}, old)
	node, err := client.CoreV1().Nodes().Get(context.Background(), "sim-node-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if node.Labels["keep"] != "me" || node.Labels[corev1.LabelOSStable] != "linux" || len(node.Spec.Taints) != 1 {
		t.Errorf("adopted node = %+v", node.ObjectMeta)
	}
	if readyStatus(node) != corev1.ConditionTrue {
		t.Errorf("adopted node not ready")
	}
}

func leaseRenewTime(ctx context.Context, t *testing.T, client *fake.Clientset, name string) time.Time {
	t.Helper()
	l, err := client.CoordinationV1().Leases(leaseNamespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return l.Spec.RenewTime.Time
}

func TestHeartbeatAndFail(t *testing.T) {
	s, client, clk := startSim(t, Config{Nodes: 4, HeartbeatInterval: 10 * time.Second})
	s.Fail("sim-node-2")
	ctx := context.Background()
	// Every live node renews past the start; the failed one never does.
	eventually(t, clk, 10*time.Second, func(ctx context.Context) (bool, error) {
		for _, n := range []string{"sim-node-0", "sim-node-1", "sim-node-3"} {
			if !leaseRenewTime(ctx, t, client, n).After(epoch.Add(15 * time.Second)) {
				return false, nil
			}
		}
		return true, nil
	})
	if got := leaseRenewTime(ctx, t, client, "sim-node-2"); !got.Equal(epoch) {
		t.Errorf("failed node renewed its lease at %v", got)
	}

	s.Recover("sim-node-2")
	eventually(t, clk, 0, func(ctx context.Context) (bool, error) {
		return leaseRenewTime(ctx, t, client, "sim-node-2").After(epoch), nil
	})
}

// TestReportsReadyAgain checks that a live node marked Unknown by someone
// else reports Ready at once, like a kubelet that was only slow.
func TestReportsReadyAgain(t *testing.T) {
	_, client, clk := startSim(t, Config{Nodes: 1})
	ctx := context.Background()
	node, err := client.CoreV1().Nodes().Get(ctx, "sim-node-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range node.Status.Conditions {
		node.Status.Conditions[i].Status = corev1.ConditionUnknown
	}
	if _, err := client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, clk, 0, func(ctx context.Context) (bool, error) {
		n, err := client.CoreV1().Nodes().Get(ctx, "sim-node-0", metav1.GetOptions{})
		return err == nil && readyStatus(n) == corev1.ConditionTrue, err
	})
}

func TestDeletedNodeStaysGoneUntilRecover(t *testing.T) {
	s, client, clk := startSim(t, Config{Nodes: 1, StatusInterval: time.Minute})
	ctx := context.Background()
	if err := client.CoreV1().Nodes().Delete(ctx, "sim-node-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, clk, 0, func(context.Context) (bool, error) {
		_, err := s.nodeLister.Get("sim-node-0")
		return apierrors.IsNotFound(err), nil
	})
	// Two status rounds pass without the node coming back.
	clk.Step(time.Minute)
	clk.Step(time.Minute)
	if _, err := client.CoreV1().Nodes().Get(ctx, "sim-node-0", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("deleted node came back on its own (err %v)", err)
	}
	s.Recover("sim-node-0")
	eventually(t, clk, 0, func(ctx context.Context) (bool, error) {
		n, err := client.CoreV1().Nodes().Get(ctx, "sim-node-0", metav1.GetOptions{})
		return err == nil && readyStatus(n) == corev1.ConditionTrue, nil
	})
}

func testPod(name, node string, policy corev1.RestartPolicy) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)},
		Spec: corev1.PodSpec{
			NodeName:      node,
			RestartPolicy: policy,
			Containers:    []corev1.Container{{Name: "c", Image: "busybox"}},
		},
		Status: corev1.PodStatus{Phase: corev1.PodPending},
	}
}

func getPod(ctx context.Context, client *fake.Clientset, name string) (*corev1.Pod, error) {
	return client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
}

func podCondition(pod *corev1.Pod, t corev1.PodConditionType) corev1.ConditionStatus {
	for _, c := range pod.Status.Conditions {
		if c.Type == t {
			return c.Status
		}
	}
	return ""
}

func TestPods(t *testing.T) {
	terminating := testPod("terminating", "sim-node-0", corev1.RestartPolicyAlways)
	now := metav1.NewTime(epoch)
	terminating.DeletionTimestamp = &now
	terminating.Finalizers = nil

	cases := []struct {
		name string
		pod  *corev1.Pod
		step time.Duration
		done func(*corev1.Pod, error) bool
	}{
		{
			name: "always runs and is ready",
			pod:  testPod("web", "sim-node-0", corev1.RestartPolicyAlways),
			done: func(p *corev1.Pod, err error) bool {
				return err == nil && p.Status.Phase == corev1.PodRunning &&
					podCondition(p, corev1.PodReady) == corev1.ConditionTrue &&
					p.Status.PodIP != "" && p.Status.HostIP == "127.0.1.1" &&
					len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].Ready &&
					p.Status.ContainerStatuses[0].State.Running != nil
			},
		},
		{
			name: "never succeeds after the completion delay",
			pod:  testPod("job", "sim-node-1", corev1.RestartPolicyNever),
			step: time.Second,
			done: func(p *corev1.Pod, err error) bool {
				if err != nil || p.Status.Phase != corev1.PodSucceeded || len(p.Status.ContainerStatuses) != 1 {
					return false
				}
				term := p.Status.ContainerStatuses[0].State.Terminated
				return term != nil && term.ExitCode == 0 && term.Reason == "Completed"
			},
		},
		{
			name: "terminating pod is deleted",
			pod:  terminating,
			done: func(_ *corev1.Pod, err error) bool { return apierrors.IsNotFound(err) },
		},
		{
			name: "pod on another node is ignored",
			pod:  testPod("elsewhere", "real-node", corev1.RestartPolicyAlways),
			done: func(p *corev1.Pod, err error) bool { return err == nil && p.Status.Phase == corev1.PodPending },
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, client, clk := startSim(t, Config{Nodes: 2})
			ctx := context.Background()
			if _, err := client.CoreV1().Pods("default").Create(ctx, tc.pod, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			eventually(t, clk, tc.step, func(ctx context.Context) (bool, error) {
				return tc.done(getPod(ctx, client, tc.pod.Name)), nil
			})
		})
	}
}

func TestRestoresPodReadiness(t *testing.T) {
	_, client, clk := startSim(t, Config{Nodes: 1})
	ctx := context.Background()
	if _, err := client.CoreV1().Pods("default").Create(ctx, testPod("p", "sim-node-0", corev1.RestartPolicyAlways), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var running *corev1.Pod
	eventually(t, clk, 0, func(ctx context.Context) (bool, error) {
		p, err := getPod(ctx, client, "p")
		running = p
		return err == nil && p.Status.Phase == corev1.PodRunning, err
	})
	notReady := running.DeepCopy()
	for i := range notReady.Status.Conditions {
		if notReady.Status.Conditions[i].Type == corev1.PodReady {
			notReady.Status.Conditions[i].Status = corev1.ConditionFalse
		}
	}
	if _, err := client.CoreV1().Pods("default").UpdateStatus(ctx, notReady, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, clk, 0, func(ctx context.Context) (bool, error) {
		p, err := getPod(ctx, client, "p")
		return err == nil && podReady(p) && p.Status.PodIP == running.Status.PodIP, err
	})
}

func TestPodsOnFailedNodeLeftAlone(t *testing.T) {
	s, client, clk := startSim(t, Config{Nodes: 1})
	s.Fail("sim-node-0")
	ctx := context.Background()
	if _, err := client.CoreV1().Pods("default").Create(ctx, testPod("p", "sim-node-0", corev1.RestartPolicyAlways), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Wait until the sim's informer saw the pod, then give it a chance.
	eventually(t, clk, 0, func(context.Context) (bool, error) {
		_, err := s.pods.Pods("default").Get("p")
		return err == nil, nil
	})
	clk.Step(time.Minute)
	if p, err := getPod(ctx, client, "p"); err != nil || p.Status.Phase != corev1.PodPending {
		t.Fatalf("pod on failed node changed: %v %v", p.Status.Phase, err)
	}
	s.Recover("sim-node-0")
	eventually(t, clk, 0, func(ctx context.Context) (bool, error) {
		p, err := getPod(ctx, client, "p")
		return err == nil && p.Status.Phase == corev1.PodRunning, err
	})
}

func TestSpread(t *testing.T) {
	cases := []struct {
		name  string
		n     int
		steps []time.Duration // elapsed since start at each call
		want  []int           // how many nodes each call hands out
	}{
		{"even spacing", 10, []time.Duration{time.Second, 5 * time.Second, 10 * time.Second}, []int{1, 4, 5}},
		{"full round at once", 10, []time.Duration{10 * time.Second}, []int{10}},
		{"far behind gives each once", 10, []time.Duration{35 * time.Second, 36 * time.Second}, []int{10, 6}},
		{"no nodes", 0, []time.Duration{time.Minute}, []int{0}},
		{"second round", 4, []time.Duration{10 * time.Second, 15 * time.Second, 20 * time.Second}, []int{4, 2, 2}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sp := &spread{n: tc.n, interval: 10 * time.Second, start: epoch}
			for i, d := range tc.steps {
				if got := len(sp.due(epoch.Add(d))); got != tc.want[i] {
					t.Errorf("call %d at %v: got %d due, want %d", i, d, got, tc.want[i])
				}
			}
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
	}{
		{"negative nodes", Config{Nodes: -1}},
		{"bad cpu", Config{Nodes: 1, CPU: "lots"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(nil, fake.NewClientset(), tc.cfg); err == nil {
				t.Error("New accepted a bad config")
			}
		})
	}
}

// TestManyNodes registers 5,000 nodes and runs one heartbeat round over the
// fake clientset; it checks completeness, not speed.
func TestManyNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("5,000 nodes: skipped in -short")
	}
	const n = 5000
	start := time.Now()
	// The simple clientset skips server-side-apply bookkeeping, which
	// would dominate a test of this size. Status reports are kept out of
	// the round: the fake watch buffers only 100 events.
	_, client, clk := startSimWith(t, fake.NewSimpleClientset(), Config{Nodes: n, Concurrency: 64, StatusInterval: time.Hour})
	t.Logf("registered %d nodes in %v", n, time.Since(start))
	start = time.Now()
	last := fmt.Sprintf("sim-node-%d", n-1)
	eventually(t, clk, 10*time.Second, func(ctx context.Context) (bool, error) {
		return leaseRenewTime(ctx, t, client, last).After(epoch) &&
			leaseRenewTime(ctx, t, client, "sim-node-0").After(epoch), nil
	})
	t.Logf("heartbeat round in %v", time.Since(start))
}
