package garbagecollector

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	metafake "k8s.io/client-go/metadata/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"

	"github.com/skiff-sh/skiff/internal/controller"
)

var (
	podsGVR = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	rsGVR   = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}
	pvGVR   = schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumes"}
)

type objOpt func(*metav1.PartialObjectMetadata)

func ownedBy(kind, name, uid string, block bool) objOpt {
	apiVersion := "apps/v1"
	if kind == "Pod" {
		apiVersion = "v1"
	}
	return func(o *metav1.PartialObjectMetadata) {
		o.OwnerReferences = append(o.OwnerReferences, metav1.OwnerReference{
			APIVersion: apiVersion, Kind: kind, Name: name, UID: types.UID(uid), BlockOwnerDeletion: &block,
		})
	}
}

func deletingWith(finalizers ...string) objOpt {
	return func(o *metav1.PartialObjectMetadata) {
		now := metav1.Now()
		o.DeletionTimestamp = &now
		o.Finalizers = finalizers
	}
}

func pod(name string, opts ...objOpt) *metav1.PartialObjectMetadata {
	return object("v1", "Pod", name, opts...)
}

func replicaSet(name string, opts ...objOpt) *metav1.PartialObjectMetadata {
	return object("apps/v1", "ReplicaSet", name, opts...)
}

func object(apiVersion, kind, name string, opts ...objOpt) *metav1.PartialObjectMetadata {
	o := &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: apiVersion, Kind: kind},
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID(name + "-uid")},
	}
	for _, opt := range opts {
		opt(o)
	}
	return o
}

// harness runs a collector against a fake metadata client.
type harness struct {
	t        *testing.T
	client   *metafake.FakeMetadataClient
	recorder *record.FakeRecorder
}

func startCollector(t *testing.T, objs ...runtime.Object) *harness {
	t.Helper()
	h := newHarness(t, objs...)
	h.start()
	return h
}

// newHarness builds the fake client; reactors must be added before start.
func newHarness(t *testing.T, objs ...runtime.Object) *harness {
	t.Helper()
	scheme := metafake.NewTestScheme()
	if err := metav1.AddMetaToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, client: metafake.NewSimpleMetadataClient(scheme, objs...), recorder: record.NewFakeRecorder(100)}
}

func (h *harness) start() {
	t, client := h.t, h.client
	cc := controller.Context{Recorder: func(string) record.EventRecorder { return h.recorder }}
	gc, err := New(cc, Config{Metadata: client, Resources: []schema.GroupVersionResource{podsGVR, rsGVR, pvGVR}, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func (h *harness) get(gvr schema.GroupVersionResource, name string) *metav1.PartialObjectMetadata {
	h.t.Helper()
	obj, err := h.client.Resource(gvr).Namespace("ns").Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		h.t.Fatal(err)
	}
	return obj
}

func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 10*time.Millisecond, 5*time.Second, true,
		func(context.Context) (bool, error) { return cond(), nil })
	if err != nil {
		h.t.Fatalf("timed out waiting for %s", what)
	}
}

func (h *harness) waitGone(gvr schema.GroupVersionResource, names ...string) {
	h.t.Helper()
	for _, n := range names {
		h.waitFor(gvr.Resource+"/"+n+" to be deleted", func() bool { return h.get(gvr, n) == nil })
	}
}

func (h *harness) mustExist(gvr schema.GroupVersionResource, names ...string) {
	h.t.Helper()
	for _, n := range names {
		if h.get(gvr, n) == nil {
			h.t.Errorf("%s/%s was deleted, want it kept", gvr.Resource, n)
		}
	}
}

// deleted lists the names of objects the collector deleted, in order.
func (h *harness) deleted() []string {
	var names []string
	for _, a := range h.client.Actions() {
		if d, ok := a.(clienttesting.DeleteAction); ok && a.GetVerb() == "delete" {
			names = append(names, d.GetName())
		}
	}
	return names
}

func TestCollectorBackground(t *testing.T) {
	tests := []struct {
		name string
		objs []runtime.Object
		gone []string
		kept []string
		// wantOwners: pod name → owner UIDs left after the collector ran.
		wantOwners map[string][]string
	}{
		{
			name: "pods of a missing replicaset are deleted",
			objs: []runtime.Object{
				pod("a", ownedBy("ReplicaSet", "rs", "rs-uid", true)),
				pod("b", ownedBy("ReplicaSet", "rs", "rs-uid", false)),
			},
			gone: []string{"a", "b"},
		},
		{
			name: "an owner with the same name but another UID counts as gone",
			objs: []runtime.Object{
				replicaSet("rs"),
				pod("stale", ownedBy("ReplicaSet", "rs", "old-uid", true)),
				pod("current", ownedBy("ReplicaSet", "rs", "rs-uid", true)),
			},
			gone: []string{"stale"},
			kept: []string{"current"},
		},
		{
			name: "a dependent with a remaining owner only loses the dangling reference",
			objs: []runtime.Object{
				replicaSet("rs"),
				pod("shared", ownedBy("ReplicaSet", "gone", "gone-uid", false), ownedBy("ReplicaSet", "rs", "rs-uid", false)),
			},
			kept:       []string{"shared"},
			wantOwners: map[string][]string{"shared": {"rs-uid"}},
		},
		{
			name: "an owner of an unserved kind is never assumed gone",
			objs: []runtime.Object{
				pod("custom", func(o *metav1.PartialObjectMetadata) {
					o.OwnerReferences = []metav1.OwnerReference{{APIVersion: "example.com/v1", Kind: "Widget", Name: "w", UID: "w-uid"}}
				}),
				pod("orphan", ownedBy("ReplicaSet", "rs", "rs-uid", true)),
			},
			gone: []string{"orphan"},
			kept: []string{"custom"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := startCollector(t, tc.objs...)
			h.waitGone(podsGVR, tc.gone...)
			for name, want := range tc.wantOwners {
				h.waitFor("owner references of "+name, func() bool {
					p := h.get(podsGVR, name)
					if p == nil {
						return false
					}
					var got []string
					for _, o := range p.OwnerReferences {
						got = append(got, string(o.UID))
					}
					return slices.Equal(got, want)
				})
			}
			h.mustExist(podsGVR, tc.kept...)
		})
	}
}

func TestCollectorOwnerDeletedWhileRunning(t *testing.T) {
	h := startCollector(t,
		replicaSet("rs"),
		pod("a", ownedBy("ReplicaSet", "rs", "rs-uid", true)),
		pod("b", ownedBy("ReplicaSet", "rs", "rs-uid", true)),
		pod("unowned"),
	)
	h.mustExist(podsGVR, "a", "b")
	if err := h.client.Resource(rsGVR).Namespace("ns").Delete(context.Background(), "rs", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.waitGone(podsGVR, "a", "b")
	h.mustExist(podsGVR, "unowned")
}

func TestCollectorForeground(t *testing.T) {
	h := startCollector(t,
		replicaSet("rs", deletingWith(metav1.FinalizerDeleteDependents)),
		pod("blocking", ownedBy("ReplicaSet", "rs", "rs-uid", true)),
		pod("other", ownedBy("ReplicaSet", "rs", "rs-uid", false)),
	)
	h.waitFor("finalizer removal", func() bool {
		rs := h.get(rsGVR, "rs")
		return rs != nil && len(rs.Finalizers) == 0
	})
	if h.get(podsGVR, "blocking") != nil {
		t.Fatal("owner released while its blocking dependent exists")
	}
	if got := h.deleted(); !slices.Contains(got, "blocking") {
		t.Fatalf("deleted = %v, want the blocking pod deleted", got)
	}
}

func TestCollectorForegroundWaitsForGracefulDependent(t *testing.T) {
	h := newHarness(t,
		replicaSet("rs", deletingWith(metav1.FinalizerDeleteDependents)),
		pod("slow", ownedBy("ReplicaSet", "rs", "rs-uid", true)),
	)
	// Pods go away gracefully: a delete only marks them.
	h.client.PrependReactor("delete", "pods", func(a clienttesting.Action) (bool, runtime.Object, error) {
		d := a.(clienttesting.DeleteAction)
		p := pod(d.GetName(), ownedBy("ReplicaSet", "rs", "rs-uid", true), deletingWith())
		return true, nil, h.client.Tracker().Update(podsGVR, p, "ns")
	})
	h.start()
	h.waitFor("the dependent to be marked for deletion", func() bool {
		p := h.get(podsGVR, "slow")
		return p != nil && p.DeletionTimestamp != nil
	})
	if rs := h.get(rsGVR, "rs"); !slices.Contains(rs.Finalizers, metav1.FinalizerDeleteDependents) {
		t.Fatalf("owner finalizers = %v while its dependent is terminating", rs.Finalizers)
	}
	if err := h.client.Tracker().Delete(podsGVR, "ns", "slow"); err != nil {
		t.Fatal(err)
	}
	h.waitFor("finalizer removal", func() bool {
		rs := h.get(rsGVR, "rs")
		return rs != nil && len(rs.Finalizers) == 0
	})
}

func TestCollectorOrphan(t *testing.T) {
	h := startCollector(t,
		replicaSet("rs", deletingWith(metav1.FinalizerOrphanDependents, "example.com/keep")),
		replicaSet("other"),
		pod("a", ownedBy("ReplicaSet", "rs", "rs-uid", true)),
		pod("b", ownedBy("ReplicaSet", "rs", "rs-uid", false), ownedBy("ReplicaSet", "other", "other-uid", false)),
	)
	h.waitFor("orphan finalizer removal", func() bool {
		rs := h.get(rsGVR, "rs")
		return rs != nil && slices.Equal(rs.Finalizers, []string{"example.com/keep"})
	})
	a := h.get(podsGVR, "a")
	if a == nil || len(a.OwnerReferences) != 0 {
		t.Fatalf("pod a = %+v, want kept without owner references", a)
	}
	h.waitFor("pod b to keep only its other owner", func() bool {
		b := h.get(podsGVR, "b")
		return b != nil && len(b.OwnerReferences) == 1 && b.OwnerReferences[0].UID == "other-uid"
	})
}

func TestCollectorClusterScopedDependentOfNamespacedOwner(t *testing.T) {
	pv := object("v1", "PersistentVolume", "pv", ownedBy("Pod", "p", "p-uid", false))
	pv.Namespace = ""
	h := startCollector(t, pod("p"), pv)
	h.waitFor("the persistent volume to be deleted", func() bool {
		_, err := h.client.Resource(pvGVR).Get(context.Background(), "pv", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
	select {
	case e := <-h.recorder.Events:
		if !strings.HasPrefix(e, "Warning OwnerRefInvalidNamespace ") {
			t.Errorf("event = %q, want an OwnerRefInvalidNamespace warning", e)
		}
	case <-time.After(5 * time.Second):
		t.Error("no event recorded")
	}
}

func TestNewRejectsUnknownResource(t *testing.T) {
	_, err := New(controller.Context{}, Config{
		Metadata:  metafake.NewSimpleMetadataClient(metafake.NewTestScheme()),
		Resources: []schema.GroupVersionResource{{Group: "example.com", Version: "v1", Resource: "widgets"}},
	})
	if err == nil {
		t.Fatal("New accepted a resource with no known kind")
	}
}
