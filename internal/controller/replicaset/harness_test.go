package replicaset

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/skiff-sh/skiff/internal/controller"
)

const ns = "default"

var (
	t0       = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	appLabel = map[string]string{"app": "web"}
)

type kind string

const (
	kindRS kind = "ReplicaSet"
	kindRC kind = "ReplicationController"
)

// harness runs one controller over a fake clientset and a fake clock; tests
// call sync directly so every step is deterministic.
type harness struct {
	t       *testing.T
	ctx     context.Context
	kind    kind
	client  *fake.Clientset
	clock   *clocktesting.FakeClock
	rec     *record.FakeRecorder
	c       *Controller
	created atomic.Int32
}

func newHarness(t *testing.T, k kind, objs ...runtime.Object) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, ctx: ctx, kind: k, client: fake.NewClientset(objs...),
		clock: clocktesting.NewFakeClock(t0), rec: record.NewFakeRecorder(1000)}
	// The fake tracker neither generates names nor assigns UIDs.
	h.client.PrependReactor("create", "pods", func(a clienttesting.Action) (bool, runtime.Object, error) {
		pod := a.(clienttesting.CreateAction).GetObject().(*corev1.Pod)
		n := h.created.Add(1)
		if pod.Name == "" {
			pod.Name = fmt.Sprintf("%s%05d", pod.GenerateName, n)
		}
		if pod.UID == "" {
			pod.UID = types.UID(fmt.Sprintf("uid-created-%d", n))
		}
		return false, nil, nil
	})
	factory := informers.NewSharedInformerFactory(h.client, 0)
	cc := controller.Context{
		Client:    h.client,
		Informers: factory,
		Recorder:  func(string) record.EventRecorder { return h.rec },
		Clock:     h.clock,
	}
	var err error
	if k == kindRS {
		h.c, err = New(cc, Config{})
	} else {
		h.c, err = NewReplicationManager(cc, Config{})
	}
	if err != nil {
		cancel()
		t.Fatalf("new controller: %v", err)
	}
	factory.Start(ctx.Done())
	// Shutdown waits for the informers, which stop only once ctx ends.
	t.Cleanup(func() {
		cancel()
		factory.Shutdown()
	})
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			t.Fatalf("cache for %v did not sync", typ)
		}
	}
	return h
}

// sync runs one sync of the set "web" once the caches hold the client's view.
func (h *harness) sync() error {
	h.t.Helper()
	h.waitCaches()
	return h.c.sync(h.ctx, ns+"/web")
}

// waitCaches waits until the pod cache matches the client's pods.
func (h *harness) waitCaches() {
	h.t.Helper()
	err := wait.PollUntilContextTimeout(h.ctx, 5*time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) {
		want, err := h.client.Tracker().List(corev1.SchemeGroupVersion.WithResource("pods"),
			corev1.SchemeGroupVersion.WithKind("Pod"), ns)
		if err != nil {
			return false, err
		}
		cached, err := h.c.pods.Pods(ns).List(labels.Everything())
		if err != nil {
			return false, err
		}
		wantPods := want.(*corev1.PodList).Items
		if len(cached) != len(wantPods) {
			return false, nil
		}
		byName := map[string]string{}
		for _, p := range cached {
			byName[p.Name] = p.ResourceVersion
		}
		for _, p := range wantPods {
			if rv, ok := byName[p.Name]; !ok || rv != p.ResourceVersion {
				return false, nil
			}
		}
		return h.setCached(), nil
	})
	if err != nil {
		h.t.Fatalf("caches did not catch up: %v", err)
	}
}

func (h *harness) setCached() bool {
	_, err := h.c.sets.get(ns, "web")
	return err == nil
}

func (h *harness) pods() []corev1.Pod {
	h.t.Helper()
	list, err := h.client.CoreV1().Pods(ns).List(h.ctx, metav1.ListOptions{})
	if err != nil {
		h.t.Fatalf("list pods: %v", err)
	}
	return list.Items
}

func (h *harness) status() setStatus {
	h.t.Helper()
	var v *view
	if h.kind == kindRS {
		rs, err := h.client.AppsV1().ReplicaSets(ns).Get(h.ctx, "web", metav1.GetOptions{})
		if err != nil {
			h.t.Fatalf("get rs: %v", err)
		}
		v = rsView(rs)
	} else {
		rc, err := h.client.CoreV1().ReplicationControllers(ns).Get(h.ctx, "web", metav1.GetOptions{})
		if err != nil {
			h.t.Fatalf("get rc: %v", err)
		}
		v = rcView(rc)
	}
	return v.status
}

// events drains the recorded events.
func (h *harness) events() []string {
	var out []string
	for {
		select {
		case e := <-h.rec.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func (h *harness) countActions(verb, resource string) int {
	n := 0
	for _, a := range h.client.Actions() {
		if a.GetVerb() == verb && a.GetResource().Resource == resource && a.GetSubresource() == "" {
			n++
		}
	}
	return n
}

const setUID = types.UID("uid-web")

func template() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{
			Labels:      map[string]string{"app": "web", "tier": "front"},
			Annotations: map[string]string{"note": "from-template"},
			Finalizers:  []string{"example.com/keep"},
		},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
	}
}

// newSet returns the set "web" of kind k selecting app=web.
func newSet(k kind, replicas, minReady int32) runtime.Object {
	meta := metav1.ObjectMeta{Name: "web", Namespace: ns, UID: setUID, Generation: 4}
	tmpl := template()
	if k == kindRS {
		return &appsv1.ReplicaSet{ObjectMeta: meta, Spec: appsv1.ReplicaSetSpec{
			Replicas: &replicas, MinReadySeconds: minReady,
			Selector: &metav1.LabelSelector{MatchLabels: appLabel}, Template: tmpl,
		}}
	}
	return &corev1.ReplicationController{ObjectMeta: meta, Spec: corev1.ReplicationControllerSpec{
		Replicas: &replicas, MinReadySeconds: minReady, Selector: appLabel, Template: &tmpl,
	}}
}

func ownerRef(k kind) metav1.OwnerReference {
	t, f := true, true
	if k == kindRS {
		return metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web", UID: setUID, Controller: &t, BlockOwnerDeletion: &f}
	}
	return metav1.OwnerReference{APIVersion: "v1", Kind: "ReplicationController", Name: "web", UID: setUID, Controller: &t, BlockOwnerDeletion: &f}
}

// podOpt shapes a test pod.
type podOpt func(*corev1.Pod)

func newPod(name string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID("uid-" + name),
			Labels: map[string]string{"app": "web", "tier": "front"}, CreationTimestamp: metav1.NewTime(t0.Add(-time.Hour))},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func ownedBy(k kind) podOpt {
	return func(p *corev1.Pod) { p.OwnerReferences = []metav1.OwnerReference{ownerRef(k)} }
}

func onNode(n string) podOpt { return func(p *corev1.Pod) { p.Spec.NodeName = n } }

func phase(ph corev1.PodPhase) podOpt { return func(p *corev1.Pod) { p.Status.Phase = ph } }

func withLabels(l map[string]string) podOpt { return func(p *corev1.Pod) { p.Labels = l } }

func ready(at time.Time) podOpt {
	return func(p *corev1.Pod) {
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{
			Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(at)})
	}
}

func restarts(n int32) podOpt {
	return func(p *corev1.Pod) {
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", RestartCount: n}}
	}
}

func terminating() podOpt {
	return func(p *corev1.Pod) {
		ts := metav1.NewTime(t0)
		p.DeletionTimestamp = &ts
		p.Finalizers = []string{"example.com/keep"}
	}
}

func annotated(k, v string) podOpt {
	return func(p *corev1.Pod) { p.Annotations = map[string]string{k: v} }
}
