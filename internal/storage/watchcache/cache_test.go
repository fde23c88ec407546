package watchcache_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/skiff-sh/skiff/internal/storage"
	"github.com/skiff-sh/skiff/internal/storage/storagetest"
	"github.com/skiff-sh/skiff/internal/storage/watchcache"
)

const prefix = "/test/configmaps/"

type cmCodec struct{}

func (cmCodec) Decode(data []byte, rev int64) (runtime.Object, error) {
	cm := &corev1.ConfigMap{}
	if err := json.Unmarshal(data, cm); err != nil {
		return nil, err
	}
	cm.ResourceVersion = strconv.FormatInt(rev, 10)
	return cm, nil
}

func attrs(obj runtime.Object) (labels.Set, fields.Set) {
	cm := obj.(*corev1.ConfigMap)
	return cm.Labels, fields.Set{"metadata.name": cm.Name}
}

type fixture struct {
	kv    *storage.Store
	cache *watchcache.Cache
}

func newFixture(t testing.TB, cfg watchcache.Config) *fixture {
	t.Helper()
	client := storagetest.Etcd(t)
	kv := storage.New(client, client)
	c := watchcache.New(nil, kv, prefix, cmCodec{}, attrs, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = c.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	<-c.Ready()
	return &fixture{kv: kv, cache: c}
}

func (f *fixture) put(t testing.TB, name string, lbls map[string]string) int64 {
	t.Helper()
	b, _ := json.Marshal(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbls}})
	key := prefix + name
	cur, err := f.kv.Get(context.Background(), key)
	if errors.Is(err, storage.ErrNotFound) {
		rev, err := f.kv.Create(context.Background(), key, b)
		if err != nil {
			t.Fatal(err)
		}
		return rev
	}
	rev, err := f.kv.Update(context.Background(), key, b, cur.ModRevision, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

func next(t *testing.T, w *watchcache.Watcher) []watchcache.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		evs, _, _, err := w.Next(ctx, nil)
		if err != nil {
			t.Fatalf("next: %v", err)
		}
		if len(evs) > 0 {
			return evs
		}
	}
}

func TestConsistentListSeesPriorWrites(t *testing.T) {
	f := newFixture(t, watchcache.Config{})
	for i := range 5 {
		f.put(t, fmt.Sprintf("cm-%d", i), nil)
	}
	res, err := f.cache.List(context.Background(), watchcache.ListRequest{Consistent: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Items) != 5 {
		t.Fatalf("got %d items, want 5", len(res.Items))
	}
}

func TestPagination(t *testing.T) {
	f := newFixture(t, watchcache.Config{})
	for i := range 25 {
		f.put(t, fmt.Sprintf("cm-%02d", i), nil)
	}
	var names []string
	req := watchcache.ListRequest{Consistent: true, Limit: 10}
	for {
		res, err := f.cache.List(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range res.Items {
			names = append(names, o.Obj.(*corev1.ConfigMap).Name)
		}
		if res.Continue == "" {
			break
		}
		// A write between pages must not show in the later pages: they are
		// served at the first page's revision.
		f.put(t, "cm-99", nil)
		req = watchcache.ListRequest{Limit: 10, Continue: res.Continue}
	}
	if len(names) != 25 {
		t.Fatalf("got %d names over the pages, want 25: %v", len(names), names)
	}
	if _, err := f.cache.List(context.Background(), watchcache.ListRequest{Continue: "bogus"}); !errors.Is(err, watchcache.ErrBadContinue) {
		t.Fatalf("bogus continue: got %v, want ErrBadContinue", err)
	}
}

func TestWatchFromRevisionReplaysNothingOlder(t *testing.T) {
	f := newFixture(t, watchcache.Config{})
	f.put(t, "old", nil)
	rev := f.put(t, "old", map[string]string{"v": "2"})
	w, _, err := f.cache.Watch(context.Background(), watchcache.WatchRequest{Rev: rev})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	f.put(t, "new", nil)
	evs := next(t, w)
	if len(evs) != 1 || evs[0].Type != watch.Added || evs[0].Object.Obj.(*corev1.ConfigMap).Name != "new" {
		t.Fatalf("got %+v, want one ADDED for new", evs)
	}
}

func TestWatchSelectorTransitions(t *testing.T) {
	f := newFixture(t, watchcache.Config{})
	sel := labels.SelectorFromSet(labels.Set{"app": "web"})
	w, _, err := f.cache.Watch(context.Background(), watchcache.WatchRequest{Predicate: watchcache.Predicate{Label: sel}, Consistent: true, SendInitial: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	tests := []struct {
		name   string
		labels map[string]string
		want   watch.EventType
	}{
		{"starts matching", map[string]string{"app": "web"}, watch.Added},
		{"still matches", map[string]string{"app": "web", "x": "y"}, watch.Modified},
		{"stops matching", map[string]string{"app": "db"}, watch.Deleted},
	}
	f.put(t, "cm", nil) // not matching: no event
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rev := f.put(t, "cm", tc.labels)
			evs := next(t, w)
			if len(evs) != 1 || evs[0].Type != tc.want {
				t.Fatalf("got %+v, want one %s", evs, tc.want)
			}
			if got := evs[0].Object.Obj.(*corev1.ConfigMap).ResourceVersion; got != strconv.FormatInt(rev, 10) {
				t.Fatalf("event resourceVersion %s, want %d", got, rev)
			}
		})
	}
}

func TestWatchFromEvictedRevisionExpires(t *testing.T) {
	f := newFixture(t, watchcache.Config{Capacity: 4})
	first := f.put(t, "cm", nil)
	for i := range 10 {
		f.put(t, "cm", map[string]string{"i": strconv.Itoa(i)})
	}
	if _, err := f.cache.WaitFresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, _, err := f.cache.Watch(context.Background(), watchcache.WatchRequest{Rev: first})
	if !errors.Is(err, storage.ErrExpired) {
		t.Fatalf("got %v, want ErrExpired", err)
	}
}

func TestInitialEventsThenLive(t *testing.T) {
	f := newFixture(t, watchcache.Config{})
	f.put(t, "a", nil)
	f.put(t, "b", nil)
	w, start, err := f.cache.Watch(context.Background(), watchcache.WatchRequest{Consistent: true, SendInitial: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if got := len(w.Initial()); got != 2 {
		t.Fatalf("initial events: got %d, want 2", got)
	}
	rev := f.put(t, "c", nil)
	evs := next(t, w)
	if len(evs) != 1 || evs[0].Rev != rev || rev <= start {
		t.Fatalf("got %+v (start %d), want the ADDED of c at %d", evs, start, rev)
	}
}
