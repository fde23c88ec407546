package integration

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	clientfeatures "k8s.io/client-go/features"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/storage/watchcache"
)

type event struct {
	typ  watch.EventType
	name string
}

// nextEvents reads n events or fails after a deadline.
func nextEvents(t *testing.T, w watch.Interface, n int) []event {
	t.Helper()
	var got []event
	timeout := time.After(10 * time.Second)
	for len(got) < n {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("watch closed after %v", got)
			}
			if ev.Type == watch.Error {
				t.Fatalf("watch error event: %+v", ev.Object)
			}
			if ev.Type == watch.Bookmark {
				continue
			}
			got = append(got, event{ev.Type, ev.Object.(metav1.Object).GetName()})
		case <-timeout:
			t.Fatalf("timed out with events %v, want %d", got, n)
		}
	}
	return got
}

// watchCache is the watch cache configuration of the watch suite: a small
// event ring makes "too old" reachable with a few writes.
var watchCache = watchcache.Config{Capacity: 10}

func TestWatch(t *testing.T) {
	runWatchSuite(t, startServer(t, t.TempDir(), withCache(watchCache)))
}

// runWatchSuite is the watch suite every storage backend must pass; the
// server must run with the watchCache configuration.
func runWatchSuite(t *testing.T, ts *testServer) {
	c := ts.jsonClient

	t.Run("from list resourceVersion", func(t *testing.T) { testWatchFromList(t, c) })
	t.Run("label selector", func(t *testing.T) { testWatchSelector(t, c) })
	t.Run("resourceVersion 0", func(t *testing.T) { testWatchFromZero(t, c) })
	t.Run("expired", func(t *testing.T) { testWatchExpired(t, c) })
	t.Run("informer", func(t *testing.T) {
		for _, watchList := range []bool{false, true} {
			t.Run(fmt.Sprintf("WatchListClient=%v", watchList), func(t *testing.T) {
				testInformer(t, ts.config, watchList)
			})
		}
	})
}

func createNamespace(t *testing.T, c kubernetes.Interface, name string) {
	t.Helper()
	_, err := c.CoreV1().Namespaces().Create(testContext(t), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
}

func testWatchFromList(t *testing.T, c kubernetes.Interface) {
	ctx := testContext(t)
	createNamespace(t, c, "w-list")
	cms := c.CoreV1().ConfigMaps("w-list")
	for _, n := range []string{"a", "b"} {
		if _, err := cms.Create(ctx, configMap(n, nil), metav1.CreateOptions{}); err != nil {
			t.Fatalf("create: %v", err)
		}
	}
	l, err := cms.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: l.ResourceVersion})
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	defer w.Stop()
	if _, err := cms.Create(ctx, configMap("c", nil), metav1.CreateOptions{}); err != nil {
		t.Fatalf("create: %v", err)
	}
	if err := cms.Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	got := nextEvents(t, w, 2)
	want := []event{{watch.Added, "c"}, {watch.Deleted, "a"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("events = %v, want %v (no replay of a, b)", got, want)
	}
}

func testWatchSelector(t *testing.T, c kubernetes.Interface) {
	ctx := testContext(t)
	createNamespace(t, c, "w-sel")
	cms := c.CoreV1().ConfigMaps("w-sel")
	w, err := cms.Watch(ctx, metav1.ListOptions{LabelSelector: "role=front"})
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	defer w.Stop()
	cm, err := cms.Create(ctx, configMap("x", map[string]string{"role": "front"}), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if _, err := cms.Create(ctx, configMap("other", map[string]string{"role": "back"}), metav1.CreateOptions{}); err != nil {
		t.Fatalf("create: %v", err)
	}
	cm.Labels["role"] = "back"
	if cm, err = cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("relabel: %v", err)
	}
	cm.Labels["role"] = "front"
	if _, err = cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("relabel back: %v", err)
	}
	got := nextEvents(t, w, 3)
	want := []event{{watch.Added, "x"}, {watch.Deleted, "x"}, {watch.Added, "x"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("events = %v, want %v", got, want)
	}
}

func testWatchFromZero(t *testing.T, c kubernetes.Interface) {
	ctx := testContext(t)
	createNamespace(t, c, "w-zero")
	cms := c.CoreV1().ConfigMaps("w-zero")
	for _, n := range []string{"a", "b"} {
		if _, err := cms.Create(ctx, configMap(n, nil), metav1.CreateOptions{}); err != nil {
			t.Fatalf("create: %v", err)
		}
	}
	w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	defer w.Stop()
	got := nextEvents(t, w, 2)
	names := map[string]bool{}
	for _, ev := range got {
		if ev.typ != watch.Added {
			t.Errorf("initial event %v, want ADDED", ev)
		}
		names[ev.name] = true
	}
	if !names["a"] || !names["b"] {
		t.Errorf("initial events %v, want a and b", got)
	}
	if _, err := cms.Create(ctx, configMap("c", nil), metav1.CreateOptions{}); err != nil {
		t.Fatalf("create: %v", err)
	}
	if got := nextEvents(t, w, 1); got[0] != (event{watch.Added, "c"}) {
		t.Errorf("later event %v, want ADDED c", got)
	}
}

func testWatchExpired(t *testing.T, c kubernetes.Interface) {
	ctx := testContext(t)
	createNamespace(t, c, "w-old")
	cms := c.CoreV1().ConfigMaps("w-old")
	first, err := cms.Create(ctx, configMap("churn", nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	cur := first
	for i := range 30 {
		cur.Data["k"] = fmt.Sprint(i)
		if cur, err = cms.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
	}
	w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: first.ResourceVersion})
	if err != nil {
		// Answering the watch request itself with 410 is also upstream behaviour.
		wantStatus(t, err, http.StatusGone)
		return
	}
	defer w.Stop()
	select {
	case ev, ok := <-w.ResultChan():
		if !ok {
			t.Fatalf("watch closed without an error event")
		}
		st, isStatus := ev.Object.(*metav1.Status)
		if ev.Type != watch.Error || !isStatus || st.Code != http.StatusGone {
			t.Fatalf("first event %s %+v, want ERROR with 410", ev.Type, ev.Object)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no event for an expired resourceVersion")
	}
}

// watchListGates overrides client-go's WatchListClient gate and keeps the
// rest as they were.
type watchListGates struct {
	base clientfeatures.Gates
	on   bool
}

func (g watchListGates) Enabled(f clientfeatures.Feature) bool {
	if f == clientfeatures.WatchListClient {
		return g.on
	}
	return g.base.Enabled(f)
}

// requestLog records the query of every request a client makes.
type requestLog struct {
	mu      sync.Mutex
	queries []string
	next    http.RoundTripper
}

func (l *requestLog) RoundTrip(r *http.Request) (*http.Response, error) {
	l.mu.Lock()
	l.queries = append(l.queries, r.URL.Path+"?"+r.URL.RawQuery)
	l.mu.Unlock()
	return l.next.RoundTrip(r)
}

func (l *requestLog) sawInitialEventsWatch() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, q := range l.queries {
		if strings.Contains(q, "sendInitialEvents=true") {
			return true
		}
	}
	return false
}

func testInformer(t *testing.T, base *rest.Config, watchList bool) {
	// client-go reads the gate when a reflector is built, so swapping it for
	// the informer's construction is enough; tests in this package are serial.
	prev := clientfeatures.FeatureGates()
	clientfeatures.ReplaceFeatureGates(watchListGates{base: prev, on: watchList})
	t.Cleanup(func() { clientfeatures.ReplaceFeatureGates(prev) })

	reqs := &requestLog{}
	cfg := rest.CopyConfig(base)
	cfg.ContentType = "application/json"
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { reqs.next = rt; return reqs }
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("clientset: %v", err)
	}
	nsName := fmt.Sprintf("w-inf-%v", watchList)
	createNamespace(t, c, nsName)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cms := c.CoreV1().ConfigMaps(nsName)
	if _, err := cms.Create(ctx, configMap("pre", nil), metav1.CreateOptions{}); err != nil {
		t.Fatalf("create: %v", err)
	}

	factory := informers.NewSharedInformerFactoryWithOptions(c, 0, informers.WithNamespace(nsName))
	inf := factory.Core().V1().ConfigMaps().Informer()
	events := make(chan event, 100)
	_, err = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { events <- event{watch.Added, o.(metav1.Object).GetName()} },
		UpdateFunc: func(_, o any) { events <- event{watch.Modified, o.(metav1.Object).GetName()} },
		DeleteFunc: func(o any) {
			if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
				o = d.Obj
			}
			events <- event{watch.Deleted, o.(metav1.Object).GetName()}
		},
	})
	if err != nil {
		t.Fatalf("add handler: %v", err)
	}
	stop := make(chan struct{})
	factory.Start(stop)
	// Shutdown waits for the informers, so they must be stopped first.
	defer factory.Shutdown()
	defer close(stop)
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		t.Fatalf("informer did not sync")
	}
	expect := func(want event) {
		t.Helper()
		select {
		case got := <-events:
			if got != want {
				t.Fatalf("informer event %v, want %v", got, want)
			}
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %v", want)
		}
	}
	expect(event{watch.Added, "pre"})
	cm, err := cms.Create(ctx, configMap("live", nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	expect(event{watch.Added, "live"})
	cm.Data["k"] = "changed"
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update: %v", err)
	}
	expect(event{watch.Modified, "live"})
	if err := cms.Delete(ctx, "live", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	expect(event{watch.Deleted, "live"})
	if watchList && !reqs.sawInitialEventsWatch() {
		t.Errorf("WatchListClient on, but the reflector never opened a sendInitialEvents watch (fell back to list)")
	}
}
