// Package endpointtest is the test bed the endpoint controllers' tests
// share: a fake clientset that stamps objects as a server would, the
// informers a controller registers on it, and builders for the Service
// "web" and the pods and nodes behind it. Only tests import it.
package endpointtest

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/controller"
)

// Env is one test's fake cluster. Tests call the controller's sync
// directly, after the caches caught up, so every step is deterministic.
type Env struct {
	Ctx       context.Context
	Client    *fake.Clientset
	Recorder  *record.FakeRecorder
	Informers informers.SharedInformerFactory

	t     *testing.T
	sync  func(ctx context.Context, key string) error
	kinds []kind
	seq   atomic.Int64

	watchMu sync.Mutex
	watched map[string]bool
}

// kind is a resource the controller under test reads through an informer.
type kind struct {
	gvr   schema.GroupVersionResource
	gvk   schema.GroupVersionKind
	store cache.Store
}

// New returns an Env holding objs. Its context and informers stop with the
// test.
func New(t *testing.T, objs ...runtime.Object) *Env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e := &Env{Ctx: ctx, Client: fake.NewClientset(objs...), Recorder: record.NewFakeRecorder(100), t: t,
		watched: map[string]bool{}}
	// The fake tracker generates no names, UIDs or resourceVersions; the
	// controllers and the cache checks below rely on all three.
	stamp := func(create bool) clienttesting.ReactionFunc {
		return func(a clienttesting.Action) (bool, runtime.Object, error) {
			withObject, ok := a.(interface{ GetObject() runtime.Object })
			if !ok {
				return false, nil, nil
			}
			m, err := meta.Accessor(withObject.GetObject())
			if err != nil {
				return false, nil, nil
			}
			n := e.seq.Add(1)
			if create && m.GetName() == "" && m.GetGenerateName() != "" {
				m.SetName(fmt.Sprintf("%s%05d", m.GetGenerateName(), n))
			}
			if create && m.GetUID() == "" {
				m.SetUID(types.UID(fmt.Sprintf("uid-%d", n)))
			}
			m.SetResourceVersion(fmt.Sprint(n))
			return false, nil, nil
		}
	}
	e.Client.PrependReactor("create", "*", stamp(true))
	e.Client.PrependReactor("update", "*", stamp(false))
	// The fake cannot replay a deletion made between an informer's list
	// and its watch; recording the watches lets Start return only after.
	e.Client.PrependWatchReactor("*", func(a clienttesting.Action) (bool, watch.Interface, error) {
		var opts metav1.ListOptions
		if wa, ok := a.(clienttesting.WatchActionImpl); ok {
			opts = wa.ListOptions
		}
		w, err := e.Client.Tracker().Watch(a.GetResource(), a.GetNamespace(), opts)
		if err != nil {
			return false, nil, err
		}
		e.watchMu.Lock()
		e.watched[a.GetResource().Resource] = true
		e.watchMu.Unlock()
		return true, w, nil
	})
	e.Informers = informers.NewSharedInformerFactory(e.Client, 0)
	t.Cleanup(func() {
		cancel()
		e.Informers.Shutdown()
	})
	return e
}

// Context is what the controller under test is built with; its workqueue
// runs on clk, which must be a real clock for a test that runs workers and
// needs their retries to fire.
func (e *Env) Context(clk clock.WithTicker) controller.Context {
	return controller.Context{
		Client:    e.Client,
		Informers: e.Informers,
		Recorder:  func(string) record.EventRecorder { return e.Recorder },
		Clock:     clk,
	}
}

// Start starts the informers the controller registered and returns once
// every one has synced and is watching. Sync and MustSync call sync.
func (e *Env) Start(sync func(ctx context.Context, key string) error) {
	e.t.Helper()
	e.sync = sync
	e.Informers.Start(e.Ctx.Done())
	for typ, ok := range e.Informers.WaitForCacheSync(e.Ctx.Done()) {
		if !ok {
			e.t.Fatalf("cache for %v did not sync", typ)
		}
		gvr, gvk, err := kindOf(reflect.New(typ.Elem()).Interface().(runtime.Object))
		if err != nil {
			e.t.Fatal(err)
		}
		inf, err := e.Informers.ForResource(gvr)
		if err != nil {
			e.t.Fatal(err)
		}
		e.kinds = append(e.kinds, kind{gvr: gvr, gvk: gvk, store: inf.Informer().GetStore()})
	}
	err := wait.PollUntilContextTimeout(e.Ctx, time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		e.watchMu.Lock()
		defer e.watchMu.Unlock()
		for _, k := range e.kinds {
			if !e.watched[k.gvr.Resource] {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		e.t.Fatalf("informers never started watching: %v", err)
	}
}

// Sync runs one sync of the Service (or Endpoints) "web" once the caches
// hold the fake's objects.
func (e *Env) Sync() error {
	e.t.Helper()
	e.WaitCaches()
	return e.sync(e.Ctx, Namespace+"/web")
}

// MustSync syncs and fails the test on error.
func (e *Env) MustSync() {
	e.t.Helper()
	if err := e.Sync(); err != nil {
		e.t.Fatalf("sync: %v", err)
	}
}

// WaitCaches waits until every cache the controller reads matches the
// fake's objects, names and resourceVersions alike.
func (e *Env) WaitCaches() {
	e.t.Helper()
	err := wait.PollUntilContextTimeout(e.Ctx, 2*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		for _, k := range e.kinds {
			if !maps.Equal(e.stored(k), versions(k.store.List())) {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		e.t.Fatalf("caches did not catch up: %v", err)
	}
}

// stored returns namespace/name -> resourceVersion of what the fake holds,
// read from its tracker so no action is recorded.
func (e *Env) stored(k kind) map[string]string {
	e.t.Helper()
	list, err := e.Client.Tracker().List(k.gvr, k.gvk, "")
	if err != nil {
		e.t.Fatalf("list %s: %v", k.gvr.Resource, err)
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		e.t.Fatalf("extract %s: %v", k.gvr.Resource, err)
	}
	return versions(items)
}

func versions[T any](objs []T) map[string]string {
	out := make(map[string]string, len(objs))
	for _, o := range objs {
		if m, err := meta.Accessor(o); err == nil {
			out[m.GetNamespace()+"/"+m.GetName()] = m.GetResourceVersion()
		}
	}
	return out
}

// Poll waits until ok holds, and fails the test naming what never came.
func (e *Env) Poll(what string, ok func() bool) {
	e.t.Helper()
	err := wait.PollUntilContextTimeout(e.Ctx, 5*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return ok(), nil
	})
	if err != nil {
		e.t.Fatalf("never reached: %s", what)
	}
}

// Run runs a controller's Run in the background. The returned stop ends
// it and fails the test if it returned an error.
func (e *Env) Run(run func(ctx context.Context) error) (stop func()) {
	ctx, cancel := context.WithCancel(e.Ctx)
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	return func() {
		e.t.Helper()
		cancel()
		if err := <-done; err != nil {
			e.t.Errorf("Run returned %v", err)
		}
	}
}

// Endpoints returns the stored Endpoints "web", or nil.
func (e *Env) Endpoints() *corev1.Endpoints {
	e.t.Helper()
	obj, err := e.Client.Tracker().Get(corev1.SchemeGroupVersion.WithResource("endpoints"), Namespace, "web")
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		e.t.Fatalf("get endpoints: %v", err)
	}
	return obj.(*corev1.Endpoints)
}

// Slices returns the stored EndpointSlices sorted by name.
func (e *Env) Slices() []discoveryv1.EndpointSlice {
	e.t.Helper()
	list, err := e.Client.Tracker().List(discoveryv1.SchemeGroupVersion.WithResource("endpointslices"),
		discoveryv1.SchemeGroupVersion.WithKind("EndpointSlice"), Namespace)
	if err != nil {
		e.t.Fatalf("list slices: %v", err)
	}
	items := list.(*discoveryv1.EndpointSliceList).Items
	slices.SortFunc(items, func(a, b discoveryv1.EndpointSlice) int { return cmp.Compare(a.Name, b.Name) })
	return items
}

// Writes counts the writes to resource (for example "endpointslices")
// since the last call, and clears the fake's record of actions.
func (e *Env) Writes(resource string) (created, updated, deleted int) {
	for _, a := range e.Client.Actions() {
		if a.GetResource().Resource != resource {
			continue
		}
		switch a.GetVerb() {
		case "create":
			created++
		case "update":
			updated++
		case "delete":
			deleted++
		}
	}
	e.Client.ClearActions()
	return created, updated, deleted
}

// Create stores obj in the fake directly, recording no action.
func (e *Env) Create(obj runtime.Object) {
	e.t.Helper()
	gvr, m := e.resourceOf(obj)
	if err := e.Client.Tracker().Create(gvr, obj, m.GetNamespace()); err != nil {
		e.t.Fatalf("create %s: %v", m.GetName(), err)
	}
}

// Update replaces a stored object, bumping its resourceVersion as a
// server would.
func (e *Env) Update(obj runtime.Object) {
	e.t.Helper()
	gvr, m := e.resourceOf(obj)
	m.SetResourceVersion(fmt.Sprint(e.seq.Add(1)))
	if err := e.Client.Tracker().Update(gvr, obj, m.GetNamespace()); err != nil {
		e.t.Fatalf("update %s: %v", m.GetName(), err)
	}
}

// Delete removes a stored object, recording no action.
func (e *Env) Delete(obj runtime.Object) {
	e.t.Helper()
	gvr, m := e.resourceOf(obj)
	if err := e.Client.Tracker().Delete(gvr, m.GetNamespace(), m.GetName()); err != nil {
		e.t.Fatalf("delete %s: %v", m.GetName(), err)
	}
}

func (e *Env) resourceOf(obj runtime.Object) (schema.GroupVersionResource, metav1.Object) {
	e.t.Helper()
	gvr, _, err := kindOf(obj)
	if err != nil {
		e.t.Fatal(err)
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		e.t.Fatal(err)
	}
	return gvr, m
}

// kindOf names the resource and kind of the objects an Env serves.
func kindOf(obj runtime.Object) (schema.GroupVersionResource, schema.GroupVersionKind, error) {
	var gv schema.GroupVersion
	var resource, kind string
	switch obj.(type) {
	case *corev1.Pod:
		gv, resource, kind = corev1.SchemeGroupVersion, "pods", "Pod"
	case *corev1.Service:
		gv, resource, kind = corev1.SchemeGroupVersion, "services", "Service"
	case *corev1.Endpoints:
		gv, resource, kind = corev1.SchemeGroupVersion, "endpoints", "Endpoints"
	case *corev1.Node:
		gv, resource, kind = corev1.SchemeGroupVersion, "nodes", "Node"
	case *discoveryv1.EndpointSlice:
		gv, resource, kind = discoveryv1.SchemeGroupVersion, "endpointslices", "EndpointSlice"
	default:
		return schema.GroupVersionResource{}, schema.GroupVersionKind{}, fmt.Errorf("endpointtest: no resource for %T", obj)
	}
	return gv.WithResource(resource), gv.WithKind(kind), nil
}
