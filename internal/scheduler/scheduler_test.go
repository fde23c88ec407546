package scheduler

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/controller"
)

// harness runs a Scheduler against a fake clientset whose pods/binding
// subresource sets spec.nodeName, as the real API server does.
type harness struct {
	client   *fake.Clientset
	recorder *record.FakeRecorder
	mu       sync.Mutex
	events   []string
}

func startScheduler(t *testing.T, objs ...runtime.Object) *harness {
	t.Helper()
	h := &harness{client: fake.NewClientset(objs...), recorder: record.NewFakeRecorder(1000)}
	h.client.PrependReactor("create", "pods", h.bindReactor)
	factory := informers.NewSharedInformerFactory(h.client, 0)
	s, err := New(controller.Context{
		Client:    h.client,
		Informers: factory,
		Recorder:  func(string) record.EventRecorder { return h.recorder },
		Clock:     clock.RealClock{},
	}, Config{InitialBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	factory.Start(ctx.Done())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	go h.collectEvents(ctx)
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		factory.Shutdown()
	})
	return h
}

var podsGVR = corev1.SchemeGroupVersion.WithResource("pods")

func (h *harness) bindReactor(action k8stesting.Action) (bool, runtime.Object, error) {
	ca, ok := action.(k8stesting.CreateAction)
	if !ok || ca.GetSubresource() != "binding" {
		return false, nil, nil
	}
	b := ca.GetObject().(*corev1.Binding)
	obj, err := h.client.Tracker().Get(podsGVR, b.Namespace, b.Name)
	if err != nil {
		return true, nil, err
	}
	p := obj.(*corev1.Pod).DeepCopy()
	if p.Spec.NodeName != "" {
		return true, nil, apierrors.NewConflict(podsGVR.GroupResource(), p.Name, nil)
	}
	p.Spec.NodeName = b.Target.Name
	return true, b, h.client.Tracker().Update(podsGVR, p, p.Namespace)
}

func (h *harness) collectEvents(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-h.recorder.Events:
			h.mu.Lock()
			h.events = append(h.events, e)
			h.mu.Unlock()
		}
	}
}

func (h *harness) hasEvent(substr string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range h.events {
		if strings.Contains(e, substr) {
			return true
		}
	}
	return false
}

func (h *harness) waitPod(t *testing.T, name string, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	var last *corev1.Pod
	err := wait.PollUntilContextTimeout(context.Background(), 5*time.Millisecond, 5*time.Second, true, func(ctx context.Context) (bool, error) {
		p, err := h.client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = p
		return cond(p), nil
	})
	if err != nil {
		t.Fatalf("pod %s: condition not met; last %+v", name, last)
	}
	return last
}

func (h *harness) waitEvent(t *testing.T, substr string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 5*time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) {
		return h.hasEvent(substr), nil
	})
	if err != nil {
		t.Fatalf("no event containing %q; have %v", substr, h.events)
	}
}

func bound(p *corev1.Pod) bool { return p.Spec.NodeName != "" }

func TestSchedulerBindsPods(t *testing.T) {
	h := startScheduler(t, node("n1", "2", "4Gi"), node("n2", "2", "4Gi"),
		pod("a", "1", ""), pod("b", "1", ""), pod("c", "1", ""), pod("d", "1", ""),
		pod("other", "", "", func(p *corev1.Pod) { p.Spec.SchedulerName = "someone-else" }))
	perNode := map[string]int{}
	for _, name := range []string{"a", "b", "c", "d"} {
		p := h.waitPod(t, name, bound)
		perNode[p.Spec.NodeName]++
	}
	if perNode["n1"] != 2 || perNode["n2"] != 2 {
		t.Fatalf("placement %v, want 2 per node", perNode)
	}
	h.waitEvent(t, "Normal Scheduled Successfully assigned default/a to ")
	p, err := h.client.CoreV1().Pods("default").Get(context.Background(), "other", metav1.GetOptions{})
	if err != nil || p.Spec.NodeName != "" {
		t.Fatalf("pod for another scheduler was bound: %v %v", p.Spec.NodeName, err)
	}
}

func TestSchedulerUnschedulableThenNodeAdded(t *testing.T) {
	h := startScheduler(t, node("small", "1", "4Gi"), pod("big", "3", ""))
	want := "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
	p := h.waitPod(t, "big", func(p *corev1.Pod) bool { return len(p.Status.Conditions) > 0 })
	c := p.Status.Conditions[0]
	if c.Type != corev1.PodScheduled || c.Status != corev1.ConditionFalse || c.Reason != corev1.PodReasonUnschedulable || c.Message != want {
		t.Fatalf("condition %+v", c)
	}
	h.waitEvent(t, "Warning FailedScheduling "+want)

	if _, err := h.client.CoreV1().Nodes().Create(context.Background(), node("large", "4", "4Gi"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if p := h.waitPod(t, "big", bound); p.Spec.NodeName != "large" {
		t.Fatalf("bound to %s", p.Spec.NodeName)
	}
}

func TestSchedulerSchedulingGates(t *testing.T) {
	gated := pod("gated", "", "", func(p *corev1.Pod) {
		p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/wait"}}
	})
	h := startScheduler(t, node("n1", "2", "4Gi"), gated, pod("marker", "", ""))
	h.waitPod(t, "marker", bound)
	p, err := h.client.CoreV1().Pods("default").Get(context.Background(), "gated", metav1.GetOptions{})
	if err != nil || bound(p) {
		t.Fatalf("gated pod: %v bound=%v", err, err == nil && bound(p))
	}
	p.Spec.SchedulingGates = nil
	if _, err := h.client.CoreV1().Pods("default").Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.waitPod(t, "gated", bound)
}

func TestSchedulerPodDeletionFreesRoom(t *testing.T) {
	h := startScheduler(t, node("n1", "2", "4Gi"), pod("running", "2", "", onNode("n1")), pod("waiting", "1", ""))
	h.waitPod(t, "waiting", func(p *corev1.Pod) bool { return len(p.Status.Conditions) > 0 })
	if err := h.client.CoreV1().Pods("default").Delete(context.Background(), "running", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.waitPod(t, "waiting", bound)
}

func TestSchedulerPreemption(t *testing.T) {
	h := startScheduler(t, node("n1", "2", "4Gi"),
		pod("victim", "2", "", onNode("n1"), priority(1)),
		pod("vip", "1", "", priority(1000)))
	p := h.waitPod(t, "vip", bound)
	if p.Spec.NodeName != "n1" {
		t.Fatalf("bound to %s", p.Spec.NodeName)
	}
	if _, err := h.client.CoreV1().Pods("default").Get(context.Background(), "victim", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("victim still present: %v", err)
	}
	h.waitEvent(t, "Normal Preempted Preempted by pod uid-vip on node n1")
}

func TestSchedulerBindFailureRetries(t *testing.T) {
	h := startScheduler(t, node("n1", "2", "4Gi"))
	var once sync.Once
	h.client.PrependReactor("create", "pods", func(action k8stesting.Action) (bool, runtime.Object, error) {
		ca, ok := action.(k8stesting.CreateAction)
		if !ok || ca.GetSubresource() != "binding" {
			return false, nil, nil
		}
		failed := false
		once.Do(func() { failed = true })
		if failed {
			return true, nil, apierrors.NewInternalError(errors.New("etcd hiccup"))
		}
		return false, nil, nil
	})
	if _, err := h.client.CoreV1().Pods("default").Create(context.Background(), pod("p", "1", ""), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.waitPod(t, "p", bound)
	h.waitEvent(t, "Warning FailedScheduling Binding rejected")
}
