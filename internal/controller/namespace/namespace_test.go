package namespace

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	kubefake "k8s.io/client-go/kubernetes/fake"
	metafake "k8s.io/client-go/metadata/fake"
	clienttesting "k8s.io/client-go/testing"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/skiff-sh/skiff/internal/controller"
)

var (
	podsGVR       = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	configMapsGVR = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	// fakeListKind is the list kind the fake metadata client registers.
	fakeListKind = schema.GroupVersionKind{Group: "fake-metadata-client-group", Version: "v1"}
)

func namespaceObj(name string, deleting bool, finalizers ...corev1.FinalizerName) *corev1.Namespace {
	ns := &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID(name + "-uid")},
		Spec:       corev1.NamespaceSpec{Finalizers: finalizers},
		Status:     corev1.NamespaceStatus{Phase: corev1.NamespaceActive},
	}
	if deleting {
		now := metav1.Now()
		ns.DeletionTimestamp = &now
	}
	return ns
}

func content(apiVersion, kind, namespace, name string) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: apiVersion, Kind: kind},
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, UID: types.UID(namespace + "-" + name)},
	}
}

type harness struct {
	t     *testing.T
	kube  *kubefake.Clientset
	meta  *metafake.FakeMetadataClient
	clock *testingclock.FakeClock
}

func newHarness(t *testing.T, namespaces []runtime.Object, objs ...runtime.Object) *harness {
	t.Helper()
	scheme := metafake.NewTestScheme()
	if err := metav1.AddMetaToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	h := &harness{
		t:     t,
		kube:  kubefake.NewClientset(namespaces...),
		meta:  metafake.NewSimpleMetadataClient(scheme, objs...),
		clock: testingclock.NewFakeClock(time.Now()),
	}
	// The fake metadata client has no deletecollection; do what the server
	// does.
	tracker := h.meta.Tracker()
	h.meta.PrependReactor("delete-collection", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
		list, err := tracker.List(a.GetResource(), fakeListKind, a.GetNamespace())
		if err != nil {
			return true, nil, err
		}
		for _, item := range list.(*metav1.List).Items {
			m := item.Object.(*metav1.PartialObjectMetadata)
			if err := tracker.Delete(a.GetResource(), m.Namespace, m.Name); err != nil {
				return true, nil, err
			}
		}
		return true, nil, nil
	})
	return h
}

func (h *harness) start() {
	t := h.t
	factory := informers.NewSharedInformerFactory(h.kube, 0)
	cc := controller.Context{Client: h.kube, Informers: factory, Clock: h.clock}
	c, err := New(cc, Config{Metadata: h.meta, Resources: []schema.GroupVersionResource{podsGVR, configMapsGVR}, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	factory.Start(ctx.Done())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		factory.Shutdown()
	})
}

// waitFor polls cond, moving the fake clock so delayed rechecks fire.
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 10*time.Millisecond, 5*time.Second, true,
		func(context.Context) (bool, error) {
			if cond() {
				return true, nil
			}
			h.clock.Step(time.Second)
			return false, nil
		})
	if err != nil {
		h.t.Fatalf("timed out waiting for %s", what)
	}
}

func (h *harness) namespace(name string) *corev1.Namespace {
	h.t.Helper()
	ns, err := h.kube.CoreV1().Namespaces().Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		h.t.Fatal(err)
	}
	return ns
}

func (h *harness) names(gvr schema.GroupVersionResource, namespace string) []string {
	h.t.Helper()
	list, err := h.meta.Resource(gvr).Namespace(namespace).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, item := range list.Items {
		out = append(out, item.Name)
	}
	return out
}

func (h *harness) kubeVerbs(subresource string) int {
	n := 0
	for _, a := range h.kube.Actions() {
		if a.GetResource().Resource == "namespaces" && a.GetSubresource() == subresource && a.GetVerb() != "get" && a.GetVerb() != "list" && a.GetVerb() != "watch" {
			n++
		}
	}
	return n
}

func TestNamespaceDeletion(t *testing.T) {
	tests := []struct {
		name       string
		namespace  *corev1.Namespace
		noCollect  bool // configmaps refuse deletecollection
		wantGone   bool
		wantFinals []corev1.FinalizerName
	}{
		{
			name:      "content is deleted, the namespace finalized and deleted",
			namespace: namespaceObj("doomed", true, corev1.FinalizerKubernetes),
			wantGone:  true,
		},
		{
			name:      "items are deleted one by one without deletecollection",
			namespace: namespaceObj("doomed", true, corev1.FinalizerKubernetes),
			noCollect: true,
			wantGone:  true,
		},
		{
			name:       "another finalizer keeps the namespace",
			namespace:  namespaceObj("doomed", true, corev1.FinalizerKubernetes, "example.com/hold"),
			wantFinals: []corev1.FinalizerName{"example.com/hold"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, []runtime.Object{tc.namespace, namespaceObj("other", false)},
				content("v1", "Pod", "doomed", "p1"),
				content("v1", "ConfigMap", "doomed", "c1"),
				content("v1", "ConfigMap", "doomed", "c2"),
				content("v1", "ConfigMap", "other", "keep"),
			)
			if tc.noCollect {
				h.meta.PrependReactor("delete-collection", "configmaps", func(clienttesting.Action) (bool, runtime.Object, error) {
					return true, nil, apierrors.NewMethodNotSupported(configMapsGVR.GroupResource(), "deletecollection")
				})
			}
			h.start()
			h.waitFor("content deletion", func() bool {
				return len(h.names(podsGVR, "doomed")) == 0 && len(h.names(configMapsGVR, "doomed")) == 0
			})
			if tc.wantGone {
				h.waitFor("namespace deletion", func() bool { return h.namespace("doomed") == nil })
			} else {
				h.waitFor("finalize", func() bool {
					ns := h.namespace("doomed")
					return ns != nil && slices.Equal(ns.Spec.Finalizers, tc.wantFinals)
				})
			}
			if h.kubeVerbs("finalize") == 0 {
				t.Error("the finalize subresource was never called")
			}
			if got := h.names(configMapsGVR, "other"); !slices.Equal(got, []string{"keep"}) {
				t.Errorf("other namespace content = %v, want it untouched", got)
			}
			if h.namespace("other") == nil {
				t.Error("a namespace not being deleted was deleted")
			}
		})
	}
}

func TestNamespacePodsGoFirst(t *testing.T) {
	h := newHarness(t, []runtime.Object{namespaceObj("doomed", true, corev1.FinalizerKubernetes)},
		content("v1", "Pod", "doomed", "slow"),
		content("v1", "ConfigMap", "doomed", "c1"),
	)
	// Pods terminate gracefully: deletion only marks them.
	tracker := h.meta.Tracker()
	h.meta.PrependReactor("delete-collection", "pods", func(a clienttesting.Action) (bool, runtime.Object, error) {
		p := content("v1", "Pod", "doomed", "slow")
		ts := metav1.NewTime(h.clock.Now().Add(30 * time.Second))
		p.DeletionTimestamp = &ts
		return true, nil, tracker.Update(podsGVR, p, "doomed")
	})
	h.start()
	h.waitFor("the remaining-content condition", func() bool {
		ns := h.namespace("doomed")
		for _, c := range ns.Status.Conditions {
			if c.Type == corev1.NamespaceContentRemaining && c.Status == corev1.ConditionTrue {
				return c.Message == "Some resources are remaining: pods. has 1 resource instances"
			}
		}
		return false
	})
	if ns := h.namespace("doomed"); ns.Status.Phase != corev1.NamespaceTerminating {
		t.Errorf("phase = %q, want Terminating", ns.Status.Phase)
	}
	if got := h.names(configMapsGVR, "doomed"); len(got) != 1 {
		t.Fatalf("configmaps = %v while pods remain, want them untouched", got)
	}
	if h.kubeVerbs("finalize") != 0 {
		t.Fatal("namespace finalized while pods remain")
	}
	if err := tracker.Delete(podsGVR, "doomed", "slow"); err != nil {
		t.Fatal(err)
	}
	h.waitFor("namespace deletion", func() bool { return h.namespace("doomed") == nil })
	if got := h.names(configMapsGVR, "doomed"); len(got) != 0 {
		t.Errorf("configmaps = %v after the namespace went, want none", got)
	}
}

func TestProblemConditions(t *testing.T) {
	tests := []struct {
		name    string
		results []resourceResult
		want    map[corev1.NamespaceConditionType]string // type → message of true conditions
	}{
		{
			name:    "nothing left",
			results: []resourceResult{{gvr: podsGVR}},
			want:    map[corev1.NamespaceConditionType]string{},
		},
		{
			name: "content and finalizers remain",
			results: []resourceResult{
				{gvr: podsGVR, remaining: 2},
				{gvr: schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, remaining: 1, finalizers: map[string]int{"example.com/f": 1}},
			},
			want: map[corev1.NamespaceConditionType]string{
				corev1.NamespaceContentRemaining:    "Some resources are remaining: deployments.apps has 1 resource instances, pods. has 2 resource instances",
				corev1.NamespaceFinalizersRemaining: "Some content in the namespace has finalizers remaining: example.com/f in 1 resource instances",
			},
		},
		{
			name:    "a failed resource",
			results: []resourceResult{{gvr: podsGVR, err: errString("failed to delete pods: boom")}},
			want: map[corev1.NamespaceConditionType]string{
				corev1.NamespaceDeletionContentFailure: "Failed to delete all resource types, 1 remaining: failed to delete pods: boom",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var status corev1.NamespaceStatus
			now := metav1.Now()
			if !mergeConditions(&status, problemConditions(tc.results), now) {
				t.Fatal("first merge reported no change")
			}
			if len(status.Conditions) != len(conditionTypes) {
				t.Fatalf("conditions = %d, want %d", len(status.Conditions), len(conditionTypes))
			}
			for _, c := range status.Conditions {
				msg, bad := tc.want[c.Type]
				switch {
				case bad && (c.Status != corev1.ConditionTrue || c.Message != msg):
					t.Errorf("%s = %s %q, want True %q", c.Type, c.Status, c.Message, msg)
				case !bad && (c.Status != corev1.ConditionFalse || c.Message != healthy[c.Type][1]):
					t.Errorf("%s = %s %q, want False %q", c.Type, c.Status, c.Message, healthy[c.Type][1])
				}
			}
			if mergeConditions(&status, problemConditions(tc.results), now) {
				t.Error("merging the same results again reported a change")
			}
		})
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func TestRecheckDelay(t *testing.T) {
	c := &Controller{maxDelay: 5 * time.Second}
	tests := []struct {
		estimate int64
		want     time.Duration
	}{
		{estimate: 1, want: time.Second},
		{estimate: 4, want: 3 * time.Second},
		{estimate: 30, want: 5 * time.Second},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("estimate %ds", tc.estimate), func(t *testing.T) {
			if got := c.recheckDelay(tc.estimate); got != tc.want {
				t.Errorf("recheckDelay(%d) = %v, want %v", tc.estimate, got, tc.want)
			}
		})
	}
}
