package podgc

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/skiff-sh/skiff/internal/controller"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newController(t *testing.T, cfg Config, objs ...runtime.Object) (*Controller, *fake.Clientset, *clocktesting.FakeClock) {
	t.Helper()
	client := fake.NewClientset(objs...)
	clk := clocktesting.NewFakeClock(epoch)
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(controller.Context{Client: client, Informers: factory, Clock: clk}, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		cancel()
		factory.Shutdown()
	})
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		t.Fatal("caches did not sync")
	}
	return c, client, clk
}

type podOpt func(*corev1.Pod)

func pod(name string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func on(node string) podOpt { return func(p *corev1.Pod) { p.Spec.NodeName = node } }

func phase(ph corev1.PodPhase) podOpt { return func(p *corev1.Pod) { p.Status.Phase = ph } }

func created(d time.Duration) podOpt {
	return func(p *corev1.Pod) { p.CreationTimestamp = metav1.NewTime(epoch.Add(d)) }
}

func terminating() podOpt {
	return func(p *corev1.Pod) {
		now := metav1.NewTime(epoch)
		p.DeletionTimestamp = &now
	}
}

func node(name string, ready bool, taints ...corev1.Taint) *corev1.Node {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.NodeSpec{Taints: taints},
		Status:     corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status}}},
	}
}

var outOfServiceTaint = corev1.Taint{Key: corev1.TaintNodeOutOfService, Effect: corev1.TaintEffectNoExecute}

func TestGC(t *testing.T) {
	cases := []struct {
		name     string
		cfg      Config
		objs     []runtime.Object
		wantGone []string
		wantKept []string
	}{
		{
			name:     "orphaned after quarantine",
			objs:     []runtime.Object{node("here", true), pod("orphan", on("gone")), pod("fine", on("here"))},
			wantGone: []string{"orphan"},
			wantKept: []string{"fine"},
		},
		{
			name: "oldest terminated beyond threshold",
			cfg:  Config{TerminatedPodThreshold: 2},
			objs: []runtime.Object{
				node("here", true),
				pod("done-3", on("here"), phase(corev1.PodSucceeded), created(3*time.Second)),
				pod("done-1", on("here"), phase(corev1.PodFailed), created(1*time.Second)),
				pod("done-2", on("here"), phase(corev1.PodSucceeded), created(2*time.Second)),
				pod("done-0", on("here"), phase(corev1.PodSucceeded), created(0)),
				pod("running", on("here"), created(-time.Hour)),
			},
			wantGone: []string{"done-0", "done-1"},
			wantKept: []string{"done-2", "done-3", "running"},
		},
		{
			name:     "threshold disabled",
			cfg:      Config{TerminatedPodThreshold: -1},
			objs:     []runtime.Object{node("here", true), pod("done", on("here"), phase(corev1.PodSucceeded))},
			wantKept: []string{"done"},
		},
		{
			name:     "unscheduled terminating",
			objs:     []runtime.Object{pod("pending", terminating()), pod("waiting")},
			wantGone: []string{"pending"},
			wantKept: []string{"waiting"},
		},
		{
			name: "terminating on out-of-service node",
			objs: []runtime.Object{
				node("oos", false, outOfServiceTaint), node("down", false), node("oos-ready", true, outOfServiceTaint),
				pod("stuck", on("oos"), terminating()),
				pod("waits-for-kubelet", on("down"), terminating()),
				pod("kubelet-finishes", on("oos-ready"), terminating()),
			},
			wantGone: []string{"stuck"},
			wantKept: []string{"waits-for-kubelet", "kubelet-finishes"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, client, clk := newController(t, tc.cfg, tc.objs...)
			ctx := context.Background()
			c.gc(ctx)
			clk.Step(DefaultOrphanQuarantine + time.Second)
			c.gc(ctx)
			for _, name := range tc.wantGone {
				if _, err := client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
					t.Errorf("pod %s not deleted (err %v)", name, err)
				}
			}
			for _, name := range tc.wantKept {
				if _, err := client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{}); err != nil {
					t.Errorf("pod %s: %v", name, err)
				}
			}
		})
	}
}

func TestOrphanQuarantine(t *testing.T) {
	c, client, clk := newController(t, Config{}, pod("p", on("late")))
	ctx := context.Background()
	c.gc(ctx)
	clk.Step(20 * time.Second)
	c.gc(ctx)
	if _, err := client.CoreV1().Pods("default").Get(ctx, "p", metav1.GetOptions{}); err != nil {
		t.Fatalf("pod deleted inside quarantine: %v", err)
	}
	// The node registers, but the cache has not seen it yet: the live
	// read must save the pod.
	if _, err := client.CoreV1().Nodes().Create(ctx, node("late", true), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	clk.Step(30 * time.Second)
	c.gc(ctx)
	if _, err := client.CoreV1().Pods("default").Get(ctx, "p", metav1.GetOptions{}); err != nil {
		t.Fatalf("pod of a registered node deleted: %v", err)
	}
}

func TestOrphanMarkedFailed(t *testing.T) {
	c, client, clk := newController(t, Config{}, pod("p", on("gone")))
	ctx := context.Background()
	var sawFailed bool
	client.PrependReactor("update", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if u, ok := a.(k8stesting.UpdateAction); ok && u.GetSubresource() == "status" {
			p := u.GetObject().(*corev1.Pod)
			sawFailed = p.Status.Phase == corev1.PodFailed && len(p.Status.Conditions) == 1 &&
				p.Status.Conditions[0].Reason == "DeletionByPodGC"
		}
		return false, nil, nil
	})
	c.gc(ctx)
	clk.Step(time.Minute)
	c.gc(ctx)
	if !sawFailed {
		t.Error("orphan not marked Failed with a DisruptionTarget condition before deletion")
	}
}

func TestRun(t *testing.T) {
	c, client, clk := newController(t, Config{}, pod("p", on("gone")))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := client.CoreV1().Pods("default").Get(ctx, "p", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		clk.Step(DefaultInterval)
		return false, nil
	})
	if err != nil {
		t.Fatalf("orphan never collected: %v", err)
	}
}
