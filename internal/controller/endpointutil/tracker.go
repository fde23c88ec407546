package endpointutil

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"

	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
)

// ErrStaleCache reports that the informer cache does not yet hold a
// controller's own earlier writes; the sync is retried once it does, rather
// than acting on a view that would create or delete a slice twice.
var ErrStaleCache = errors.New("endpointutil: informer cache is behind this controller's writes")

// SyncErrorLevel is the level an endpoint controller logs a failed sync at:
// info, but debug for ErrStaleCache, which is expected right after the
// controller's own writes.
func SyncErrorLevel(err error) slog.Level {
	if errors.Is(err, ErrStaleCache) {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// SliceTracker remembers, per owner key (the Service's or Endpoints'
// namespace/name), the EndpointSlice writes a controller made, so that it
// can tell its own writes echoing back through the informer from changes
// made by others, and a cache that lags its writes from one that does not.
// It compares resourceVersions only for equality, never for order.
type SliceTracker struct {
	mu     sync.Mutex
	owners map[string]map[types.UID]sliceWrite
}

type sliceWrite struct {
	// written is the resourceVersion the server returned for the write.
	written string
	// replaced is the resourceVersion the write replaced; seeing it in the
	// cache means the cache predates the write. Empty for a creation.
	replaced string
	deleted  bool
}

// NewSliceTracker returns an empty tracker.
func NewSliceTracker() *SliceTracker {
	return &SliceTracker{owners: map[string]map[types.UID]sliceWrite{}}
}

// Written records a create (replacedRV empty) or an update of the slice
// that replaced the version replacedRV; s is what the server returned.
func (t *SliceTracker) Written(key string, s *discoveryv1.EndpointSlice, replacedRV string) {
	if replacedRV == s.ResourceVersion {
		// A write the server found to change nothing keeps its version;
		// remembering it as replaced would call the cache stale forever.
		replacedRV = ""
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.owner(key)[s.UID] = sliceWrite{written: s.ResourceVersion, replaced: replacedRV}
}

// Deleting records that the controller deleted the slice.
func (t *SliceTracker) Deleting(key string, s *discoveryv1.EndpointSlice) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.owner(key)[s.UID] = sliceWrite{deleted: true}
}

// Stale reports whether the cached slices of an owner predate the
// controller's writes: a slice it deleted is still there, a slice it updated
// is still at the replaced version, or a slice it wrote is missing.
func (t *SliceTracker) Stale(key string, cached []*discoveryv1.EndpointSlice) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	writes := t.owners[key]
	if len(writes) == 0 {
		return false
	}
	seen := make(map[types.UID]bool, len(cached))
	for _, s := range cached {
		seen[s.UID] = true
		w, ok := writes[s.UID]
		if ok && (w.deleted || (w.replaced != "" && s.ResourceVersion == w.replaced)) {
			return true
		}
	}
	for uid, w := range writes {
		if !w.deleted && !seen[uid] {
			return true
		}
	}
	return false
}

// LiveSlices returns the cached slices that managedBy keeps for the owner
// namespace/name, leaving out those being deleted: counting them would keep
// a controller from replacing them. It fails with ErrStaleCache while the
// cache predates the writes recorded for the owner.
func (t *SliceTracker) LiveSlices(lister discoverylisters.EndpointSliceLister, managedBy, namespace, name string) ([]*discoveryv1.EndpointSlice, error) {
	cached, err := lister.EndpointSlices(namespace).List(labels.SelectorFromValidatedSet(labels.Set{
		discoveryv1.LabelServiceName: name,
		discoveryv1.LabelManagedBy:   managedBy,
	}))
	if err != nil {
		return nil, fmt.Errorf("list endpointslices: %w", err)
	}
	if t.Stale(namespace+"/"+name, cached) {
		return nil, ErrStaleCache
	}
	live := make([]*discoveryv1.EndpointSlice, 0, len(cached))
	for _, s := range cached {
		if s.DeletionTimestamp == nil {
			live = append(live, s)
		}
	}
	return live, nil
}

// ShouldSync reports whether an added or updated slice needs its owner
// synced: true unless it is exactly the controller's own last write.
func (t *SliceTracker) ShouldSync(key string, s *discoveryv1.EndpointSlice) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	w, ok := t.owners[key][s.UID]
	return !ok || w.deleted || w.written != s.ResourceVersion
}

// Deleted forgets a slice the informer saw deleted and reports whether the
// owner needs a sync: true unless the controller deleted the slice itself.
func (t *SliceTracker) Deleted(key string, s *discoveryv1.EndpointSlice) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	writes := t.owners[key]
	w, ok := writes[s.UID]
	if !ok {
		return true
	}
	delete(writes, s.UID)
	if len(writes) == 0 {
		delete(t.owners, key)
	}
	return !w.deleted
}

func (t *SliceTracker) owner(key string) map[types.UID]sliceWrite {
	m, ok := t.owners[key]
	if !ok {
		m = map[types.UID]sliceWrite{}
		t.owners[key] = m
	}
	return m
}
