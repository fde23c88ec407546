package nodelifecycle

import (
	"context"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/skiff-sh/skiff/internal/controller"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type harness struct {
	client   *fake.Clientset
	clk      *clocktesting.FakeClock
	c        *Controller
	recorder *record.FakeRecorder
}

func newHarness(t *testing.T, objs ...runtime.Object) *harness {
	t.Helper()
	h := &harness{
		client:   fake.NewClientset(objs...),
		clk:      clocktesting.NewFakeClock(epoch),
		recorder: record.NewFakeRecorder(100),
	}
	factory := informers.NewSharedInformerFactory(h.client, 0)
	c, err := New(controller.Context{
		Client:    h.client,
		Informers: factory,
		Recorder:  func(string) record.EventRecorder { return h.recorder },
		Clock:     h.clk,
	}, Config{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.c = c
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		cancel()
		factory.Shutdown()
	})
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		t.Fatal("caches did not sync")
	}
	return h
}

// run starts the controller's Run loop for the rest of the test.
func (h *harness) run(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// eventually polls cond, stepping the fake clock by step between tries.
func (h *harness) eventually(t *testing.T, step time.Duration, what string, cond func(context.Context) bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 10*time.Millisecond, 10*time.Second, true,
		func(ctx context.Context) (bool, error) {
			if cond(ctx) {
				return true, nil
			}
			h.clk.Step(step)
			return false, nil
		})
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func readyNode(name string) *corev1.Node {
	hb := metav1.NewTime(epoch)
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: hb, LastTransitionTime: hb},
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, LastHeartbeatTime: hb, LastTransitionTime: hb},
		}},
	}
}

func lease(name string, renew time.Time) *coordinationv1.Lease {
	rt := metav1.NewMicroTime(renew)
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: leaseNamespace},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: &name, RenewTime: &rt},
	}
}

func runningPod(name, node string, tols ...corev1.Toleration) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)},
		Spec:       corev1.PodSpec{NodeName: node, Tolerations: tols},
		Status: corev1.PodStatus{
			Phase:      corev1.PodRunning,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
		},
	}
}

func (h *harness) node(ctx context.Context, t *testing.T, name string) *corev1.Node {
	t.Helper()
	n, err := h.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func hasTaint(n *corev1.Node, key string, effect corev1.TaintEffect) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == key && t.Effect == effect {
			return true
		}
	}
	return false
}

func readyOf(n *corev1.Node) corev1.ConditionStatus {
	if c := condition(n, corev1.NodeReady); c != nil {
		return c.Status
	}
	return ""
}

func TestMonitorNodeHealth(t *testing.T) {
	noReady := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}}
	cases := []struct {
		name       string
		node       *corev1.Node
		step       time.Duration
		renew      bool // renew the lease halfway through
		wantReady  corev1.ConditionStatus
		wantReason string
	}{
		{"silent past grace is unknown", readyNode("n"), 41 * time.Second, false, corev1.ConditionUnknown, "NodeStatusUnknown"},
		{"silent within grace stays ready", readyNode("n"), 39 * time.Second, false, corev1.ConditionTrue, "KubeletReady"},
		{"renewed lease keeps it ready", readyNode("n"), 41 * time.Second, true, corev1.ConditionTrue, "KubeletReady"},
		{"never reported within startup grace", noReady, 41 * time.Second, false, "", ""},
		{"never reported past startup grace", noReady, 61 * time.Second, false, corev1.ConditionUnknown, "NodeStatusNeverUpdated"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.node, lease("n", epoch))
			ctx := context.Background()
			h.c.monitorNodeHealth(ctx)
			if tc.renew {
				h.clk.Step(20 * time.Second)
				if _, err := h.client.CoordinationV1().Leases(leaseNamespace).Update(ctx, lease("n", h.clk.Now()), metav1.UpdateOptions{}); err != nil {
					t.Fatal(err)
				}
				waitFor(t, func() bool {
					l, err := h.c.leases.Leases(leaseNamespace).Get("n")
					return err == nil && l.Spec.RenewTime.Time.Equal(h.clk.Now())
				})
				h.c.monitorNodeHealth(ctx)
				h.clk.Step(tc.step - 20*time.Second)
			} else {
				h.clk.Step(tc.step)
			}
			h.c.monitorNodeHealth(ctx)
			n := h.node(ctx, t, "n")
			if got := readyOf(n); got != tc.wantReady {
				t.Fatalf("Ready = %q, want %q", got, tc.wantReady)
			}
			if c := condition(n, corev1.NodeReady); c != nil && c.Reason != tc.wantReason {
				t.Errorf("reason = %q, want %q", c.Reason, tc.wantReason)
			}
			if tc.wantReady == corev1.ConditionUnknown {
				if mp := condition(n, corev1.NodeMemoryPressure); mp == nil || mp.Status != corev1.ConditionUnknown {
					t.Errorf("MemoryPressure = %+v, want Unknown", mp)
				}
			}
		})
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 5*time.Millisecond, 5*time.Second, true,
		func(context.Context) (bool, error) { return cond(), nil })
	if err != nil {
		t.Fatal("informer did not catch up")
	}
}

func withCondition(n *corev1.Node, t corev1.NodeConditionType, s corev1.ConditionStatus) *corev1.Node {
	n = n.DeepCopy()
	if i := conditionIndex(n.Status.Conditions, t); i >= 0 {
		n.Status.Conditions[i].Status = s
	} else {
		n.Status.Conditions = append(n.Status.Conditions, corev1.NodeCondition{Type: t, Status: s})
	}
	return n
}

func TestReconcileTaints(t *testing.T) {
	now := metav1.NewTime(epoch.Add(time.Hour))
	earlier := metav1.NewTime(epoch)
	unreachable := withCondition(readyNode("n"), corev1.NodeReady, corev1.ConditionUnknown)
	alreadyTainted := unreachable.DeepCopy()
	alreadyTainted.Spec.Taints = []corev1.Taint{
		{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &earlier},
		{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule},
	}
	recovered := readyNode("n")
	recovered.Spec.Taints = append([]corev1.Taint{{Key: "user", Value: "x", Effect: corev1.TaintEffectNoExecute}}, alreadyTainted.Spec.Taints...)
	cordoned := readyNode("n")
	cordoned.Spec.Unschedulable = true

	cases := []struct {
		name        string
		node        *corev1.Node
		want        []string // key:effect
		wantChanged bool
	}{
		{"ready untainted", readyNode("n"), nil, false},
		{"unknown", unreachable, []string{"node.kubernetes.io/unreachable:NoSchedule", "node.kubernetes.io/unreachable:NoExecute"}, true},
		{"not ready", withCondition(readyNode("n"), corev1.NodeReady, corev1.ConditionFalse), []string{"node.kubernetes.io/not-ready:NoSchedule", "node.kubernetes.io/not-ready:NoExecute"}, true},
		{"already tainted", alreadyTainted, []string{"node.kubernetes.io/unreachable:NoExecute", "node.kubernetes.io/unreachable:NoSchedule"}, false},
		{"recovered keeps user taint", recovered, []string{"user:NoExecute"}, true},
		{"memory pressure", withCondition(readyNode("n"), corev1.NodeMemoryPressure, corev1.ConditionTrue), []string{"node.kubernetes.io/memory-pressure:NoSchedule"}, true},
		{"cordoned", cordoned, []string{"node.kubernetes.io/unschedulable:NoSchedule"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, changed := reconcileTaints(tc.node, now)
			if changed != tc.wantChanged {
				t.Errorf("changed = %v, want %v", changed, tc.wantChanged)
			}
			var keys []string
			for _, tt := range got {
				keys = append(keys, tt.Key+":"+string(tt.Effect))
				if tt.Effect == corev1.TaintEffectNoExecute && tt.Key != "user" && tt.TimeAdded == nil {
					t.Errorf("NoExecute taint %s without TimeAdded", tt.Key)
				}
				if tc.name == "already tainted" && tt.TimeAdded != nil && !tt.TimeAdded.Equal(&earlier) {
					t.Errorf("TimeAdded moved to %v", tt.TimeAdded)
				}
			}
			if strings.Join(keys, ",") != strings.Join(tc.want, ",") {
				t.Errorf("taints = %v, want %v", keys, tc.want)
			}
		})
	}
}

func seconds(s int64) *int64 { return &s }

func TestEvictionTime(t *testing.T) {
	added := metav1.NewTime(epoch)
	now := epoch.Add(10 * time.Second)
	unreachable := corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &added}
	tolerate := func(key string, secs *int64) corev1.Toleration {
		return corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: secs}
	}
	cases := []struct {
		name      string
		tols      []corev1.Toleration
		taints    []corev1.Taint
		wantAt    time.Time
		wantEvict bool
	}{
		{"no toleration evicts now", nil, []corev1.Taint{unreachable}, now, true},
		{"other key evicts now", []corev1.Toleration{tolerate("other", nil)}, []corev1.Taint{unreachable}, now, true},
		{"forever", []corev1.Toleration{tolerate(corev1.TaintNodeUnreachable, nil)}, []corev1.Taint{unreachable}, time.Time{}, false},
		{"limited from time added", []corev1.Toleration{tolerate(corev1.TaintNodeUnreachable, seconds(300))}, []corev1.Taint{unreachable}, epoch.Add(300 * time.Second), true},
		{"shortest wins", []corev1.Toleration{tolerate(corev1.TaintNodeUnreachable, seconds(300)), tolerate("", seconds(60))}, []corev1.Taint{unreachable}, epoch.Add(60 * time.Second), true},
		{"one untolerated taint of two", []corev1.Toleration{tolerate(corev1.TaintNodeUnreachable, nil)},
			[]corev1.Taint{unreachable, {Key: "x", Effect: corev1.TaintEffectNoExecute}}, now, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			at, evict := evictionTime(tc.tols, tc.taints, now)
			if evict != tc.wantEvict || !at.Equal(tc.wantAt) {
				t.Errorf("got (%v, %v), want (%v, %v)", at, evict, tc.wantAt, tc.wantEvict)
			}
		})
	}
}

// TestNodeFailureAndRecovery drives the whole controller: a node goes
// silent, is tainted, its pods are evicted according to their tolerations,
// and the taints go once it reports Ready again.
func TestNodeFailureAndRecovery(t *testing.T) {
	tol := func(secs *int64) corev1.Toleration {
		return corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: secs}
	}
	h := newHarness(t,
		readyNode("n"), lease("n", epoch),
		runningPod("plain", "n"),
		runningPod("tolerating", "n", tol(seconds(300))),
		runningPod("forever", "n", tol(nil)),
	)
	h.run(t)
	ctx := context.Background()
	podGone := func(name string) bool {
		_, err := h.client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	}

	h.eventually(t, 5*time.Second, "node tainted unreachable", func(ctx context.Context) bool {
		n := h.node(ctx, t, "n")
		return readyOf(n) == corev1.ConditionUnknown &&
			hasTaint(n, corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute) &&
			hasTaint(n, corev1.TaintNodeUnreachable, corev1.TaintEffectNoSchedule)
	})
	h.eventually(t, 0, "untolerating pod evicted", func(context.Context) bool { return podGone("plain") })
	if podGone("tolerating") {
		t.Fatal("tolerating pod evicted before its tolerationSeconds")
	}
	h.eventually(t, 0, "tolerating pod marked not ready", func(ctx context.Context) bool {
		p, err := h.client.CoreV1().Pods("default").Get(ctx, "tolerating", metav1.GetOptions{})
		return err == nil && p.Status.Conditions[podConditionIndex(p, corev1.PodReady)].Status == corev1.ConditionFalse
	})
	h.eventually(t, 30*time.Second, "tolerating pod evicted", func(context.Context) bool { return podGone("tolerating") })
	if podGone("forever") {
		t.Fatal("pod tolerating forever was evicted")
	}
	if !sawEvent(h.recorder, "TaintManagerEviction Marking for deletion Pod default/plain") {
		t.Error("no TaintManagerEviction event")
	}

	// The kubelet comes back: lease renewed and Ready posted.
	if _, err := h.client.CoordinationV1().Leases(leaseNamespace).Update(ctx, lease("n", h.clk.Now()), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	n := h.node(ctx, t, "n")
	back := readyNode("n")
	back.ResourceVersion = n.ResourceVersion
	back.Spec = n.Spec
	back.Status.Conditions[0].LastHeartbeatTime = metav1.NewTime(h.clk.Now())
	if _, err := h.client.CoreV1().Nodes().UpdateStatus(ctx, back, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually(t, 0, "taints removed", func(ctx context.Context) bool {
		n := h.node(ctx, t, "n")
		return len(n.Spec.Taints) == 0 && readyOf(n) == corev1.ConditionTrue
	})
}

func sawEvent(r *record.FakeRecorder, want string) bool {
	for {
		select {
		case e := <-r.Events:
			if strings.Contains(e, want) {
				return true
			}
		default:
			return false
		}
	}
}
