package deployment

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/skiff-sh/skiff/internal/controller"
)

const ns = "default"

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// harness runs the controller against a fake clientset and drives syncs by
// hand, standing in for the ReplicaSet controller by writing RS status.
type harness struct {
	t        *testing.T
	ctx      context.Context
	client   *fake.Clientset
	clock    *clocktesting.FakeClock
	recorder *record.FakeRecorder
	factory  informers.SharedInformerFactory
	dc       *Controller

	mu      sync.Mutex
	created int
	rv      int
}

func newHarness(t *testing.T, objs ...runtime.Object) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	h := &harness{
		t:        t,
		ctx:      ctx,
		client:   fake.NewClientset(objs...),
		clock:    clocktesting.NewFakeClock(epoch),
		recorder: record.NewFakeRecorder(1000),
	}
	// The fake tracker sets neither UIDs nor creation times; the
	// controller orders and identifies ReplicaSets by them.
	h.client.PrependReactor("create", "replicasets", func(a k8stesting.Action) (bool, runtime.Object, error) {
		rs := a.(k8stesting.CreateAction).GetObject().(*appsv1.ReplicaSet)
		h.mu.Lock()
		h.created++
		n := h.created
		h.mu.Unlock()
		if rs.UID == "" {
			rs.UID = types.UID(fmt.Sprintf("rs-uid-%d", n))
		}
		if rs.CreationTimestamp.IsZero() {
			rs.CreationTimestamp = metav1.NewTime(epoch.Add(time.Duration(n) * time.Minute))
		}
		return false, nil, nil
	})
	// Nor resource versions, which informers and waitCaches rely on.
	h.client.PrependReactor("*", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		// Creates and updates both carry the object they write.
		w, ok := a.(interface{ GetObject() runtime.Object })
		if !ok {
			return false, nil, nil
		}
		obj := w.GetObject()
		if m, err := meta.Accessor(obj); err == nil {
			h.mu.Lock()
			h.rv++
			m.SetResourceVersion(strconv.Itoa(h.rv))
			h.mu.Unlock()
		}
		return false, nil, nil
	})
	// Nor does it reject stale writes as a real API server does; the
	// controller must cope with conflicts, so the tests enforce them.
	h.client.PrependReactor("update", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		ua := a.(k8stesting.UpdateAction)
		m, err := meta.Accessor(ua.GetObject())
		if err != nil || m.GetResourceVersion() == "" {
			return false, nil, nil
		}
		stored, err := h.client.Tracker().Get(a.GetResource(), a.GetNamespace(), m.GetName())
		if err != nil {
			return false, nil, nil
		}
		sm, _ := meta.Accessor(stored)
		if sm.GetResourceVersion() != m.GetResourceVersion() {
			return true, nil, apierrors.NewConflict(a.GetResource().GroupResource(), m.GetName(),
				fmt.Errorf("resource version %s is stale", m.GetResourceVersion()))
		}
		return false, nil, nil
	})
	h.factory = informers.NewSharedInformerFactory(h.client, 0)
	dc, err := New(controller.Context{
		Client:    h.client,
		Informers: h.factory,
		Recorder:  func(string) record.EventRecorder { return h.recorder },
		Clock:     h.clock,
	}, Config{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.dc = dc
	h.factory.Start(ctx.Done())
	t.Cleanup(func() {
		cancel()
		h.factory.Shutdown()
	})
	for typ, ok := range h.factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			t.Fatalf("cache for %v did not sync", typ)
		}
	}
	return h
}

// newDeployment builds a Deployment as the API server would store it,
// defaults included.
func newDeployment(name string, replicas int32, image string) *appsv1.Deployment {
	surge, unavail := intstr.FromString("25%"), intstr.FromString("25%")
	limit, deadline := int32(10), int32(600)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: ns, UID: types.UID("d-uid-" + name), Generation: 1,
			CreationTimestamp: metav1.NewTime(epoch),
		},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}},
			},
			Strategy: appsv1.DeploymentStrategy{
				Type:          appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &surge, MaxUnavailable: &unavail},
			},
			RevisionHistoryLimit:    &limit,
			ProgressDeadlineSeconds: &deadline,
		},
	}
}

// waitCaches blocks until the informers reflect every stored Deployment,
// ReplicaSet and Pod, so a sync sees the effect of the previous one.
func (h *harness) waitCaches() {
	h.t.Helper()
	err := wait.PollUntilContextTimeout(h.ctx, time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) {
		return h.cachesCurrent()
	})
	if err != nil {
		h.t.Fatalf("informers did not catch up: %v", err)
	}
}

func (h *harness) cachesCurrent() (bool, error) {
	ds, err := h.client.AppsV1().Deployments(ns).List(h.ctx, metav1.ListOptions{})
	if err != nil {
		return false, err
	}
	rss, err := h.client.AppsV1().ReplicaSets(ns).List(h.ctx, metav1.ListOptions{})
	if err != nil {
		return false, err
	}
	pods, err := h.client.CoreV1().Pods(ns).List(h.ctx, metav1.ListOptions{})
	if err != nil {
		return false, err
	}
	cachedD, _ := h.factory.Apps().V1().Deployments().Lister().List(labels.Everything())
	cachedRS, _ := h.factory.Apps().V1().ReplicaSets().Lister().List(labels.Everything())
	cachedPods, _ := h.factory.Core().V1().Pods().Lister().List(labels.Everything())
	want := map[string]string{}
	for _, d := range ds.Items {
		want["d/"+d.Name] = d.ResourceVersion
	}
	for _, rs := range rss.Items {
		want["rs/"+rs.Name] = rs.ResourceVersion
	}
	for _, p := range pods.Items {
		want["pod/"+p.Name] = p.ResourceVersion
	}
	got := map[string]string{}
	for _, d := range cachedD {
		got["d/"+d.Name] = d.ResourceVersion
	}
	for _, rs := range cachedRS {
		got["rs/"+rs.Name] = rs.ResourceVersion
	}
	for _, p := range cachedPods {
		got["pod/"+p.Name] = p.ResourceVersion
	}
	if len(got) != len(want) {
		return false, nil
	}
	for k, v := range want {
		if got[k] != v {
			return false, nil
		}
	}
	return true, nil
}

// sync runs one reconcile of the Deployment on fresh caches.
func (h *harness) sync(name string) error {
	h.t.Helper()
	h.waitCaches()
	return h.dc.syncDeployment(h.ctx, ns+"/"+name)
}

func (h *harness) mustSync(name string) {
	h.t.Helper()
	if err := h.sync(name); err != nil {
		h.t.Fatalf("sync %s: %v", name, err)
	}
	h.waitCaches()
}

func (h *harness) create(d *appsv1.Deployment) {
	h.t.Helper()
	if _, err := h.client.AppsV1().Deployments(ns).Create(h.ctx, d, metav1.CreateOptions{}); err != nil {
		h.t.Fatalf("create deployment: %v", err)
	}
}

func (h *harness) deployment(name string) *appsv1.Deployment {
	h.t.Helper()
	d, err := h.client.AppsV1().Deployments(ns).Get(h.ctx, name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatalf("get deployment: %v", err)
	}
	return d
}

// edit changes a Deployment as a user would; a spec change bumps the
// generation as the API server does.
func (h *harness) edit(name string, mutate func(*appsv1.Deployment)) {
	h.t.Helper()
	d := h.deployment(name)
	before := d.Spec.DeepCopy()
	mutate(d)
	if !equalSpec(before, &d.Spec) {
		d.Generation++
	}
	if _, err := h.client.AppsV1().Deployments(ns).Update(h.ctx, d, metav1.UpdateOptions{}); err != nil {
		h.t.Fatalf("update deployment: %v", err)
	}
}

func equalSpec(a, b *appsv1.DeploymentSpec) bool {
	return apiequality.Semantic.DeepEqual(a, b)
}

// replicaSets returns the Deployment's ReplicaSets, oldest revision first.
func (h *harness) replicaSets() []*appsv1.ReplicaSet {
	h.t.Helper()
	list, err := h.client.AppsV1().ReplicaSets(ns).List(h.ctx, metav1.ListOptions{})
	if err != nil {
		h.t.Fatalf("list replica sets: %v", err)
	}
	out := make([]*appsv1.ReplicaSet, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, &list.Items[i])
	}
	sort.Sort(byRevision(out))
	return out
}

// rsByImage finds the ReplicaSet running image.
func (h *harness) rsByImage(image string) *appsv1.ReplicaSet {
	h.t.Helper()
	for _, rs := range h.replicaSets() {
		if rs.Spec.Template.Spec.Containers[0].Image == image {
			return rs
		}
	}
	return nil
}

// setRSStatus plays the ReplicaSet controller: it reports replicas pods of
// which available are available (and ready).
func (h *harness) setRSStatus(rs *appsv1.ReplicaSet, replicas, available int32) {
	h.t.Helper()
	cur, err := h.client.AppsV1().ReplicaSets(ns).Get(h.ctx, rs.Name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatalf("get replica set: %v", err)
	}
	cur.Status = appsv1.ReplicaSetStatus{
		Replicas: replicas, ReadyReplicas: available, AvailableReplicas: available,
		FullyLabeledReplicas: replicas, ObservedGeneration: cur.Generation,
	}
	if _, err := h.client.AppsV1().ReplicaSets(ns).UpdateStatus(h.ctx, cur, metav1.UpdateOptions{}); err != nil {
		h.t.Fatalf("update replica set status: %v", err)
	}
}

// settle makes every ReplicaSet's pods exist and be available.
func (h *harness) settle() {
	h.t.Helper()
	for _, rs := range h.replicaSets() {
		if rs.Status.Replicas != *rs.Spec.Replicas || rs.Status.AvailableReplicas != *rs.Spec.Replicas {
			h.setRSStatus(rs, *rs.Spec.Replicas, *rs.Spec.Replicas)
		}
	}
	h.waitCaches()
}

// rollOut syncs and settles until the Deployment is complete.
func (h *harness) rollOut(name string) {
	h.t.Helper()
	for range 50 {
		h.mustSync(name)
		d := h.deployment(name)
		if rolloutDone(d) {
			return
		}
		h.settle()
	}
	h.t.Fatalf("rollout of %s did not complete: %+v", name, h.deployment(name).Status)
}

// rolloutDone mirrors kubectl rollout status for Deployments.
func rolloutDone(d *appsv1.Deployment) bool {
	st := d.Status
	return d.Generation <= st.ObservedGeneration && st.UpdatedReplicas == *d.Spec.Replicas &&
		st.Replicas == st.UpdatedReplicas && st.AvailableReplicas == st.UpdatedReplicas
}

// events drains the recorded events.
func (h *harness) events() []string {
	var out []string
	for {
		select {
		case e := <-h.recorder.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func hasEvent(events []string, substr string) bool {
	for _, e := range events {
		if strings.Contains(e, substr) {
			return true
		}
	}
	return false
}

func setImage(image string) func(*appsv1.Deployment) {
	return func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = image }
}

// TestHarnessRejectsStaleWrites guards the harness itself: without conflict
// checks the rollout tests would hide lost updates.
func TestHarnessRejectsStaleWrites(t *testing.T) {
	h := newHarness(t)
	h.create(newDeployment("web", 1, "img:1"))
	d := h.deployment("web")
	if _, err := h.client.AppsV1().Deployments(ns).Update(h.ctx, d.DeepCopy(), metav1.UpdateOptions{}); err != nil {
		t.Fatalf("first update: %v", err)
	}
	_, err := h.client.AppsV1().Deployments(ns).Update(h.ctx, d, metav1.UpdateOptions{})
	if !apierrors.IsConflict(err) {
		t.Errorf("stale update error = %v, want conflict", err)
	}
}
