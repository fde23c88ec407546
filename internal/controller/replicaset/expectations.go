package replicaset

import (
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// expectationsTTL bounds how long a sync waits for the informer to report its
// own writes; after it a lost watch event cannot stall a set for good.
const expectationsTTL = 5 * time.Minute

// expectations remembers, per set key, the pod creations and deletions a sync
// issued that the pod informer has not reported yet. While any are
// outstanding the cache is known to be stale and a sync must not act on it.
type expectations struct {
	clock clock.PassiveClock

	mu    sync.Mutex
	bySet map[string]*expectation
}

type expectation struct {
	adds int
	// dels holds the keys of pods whose deletion is awaited; tracking keys
	// instead of a count keeps a pod observed twice (marked terminating, then
	// gone) from being counted twice.
	dels map[string]struct{}
	at   time.Time
}

func newExpectations(c clock.PassiveClock) *expectations {
	return &expectations{clock: c, bySet: map[string]*expectation{}}
}

// satisfied reports whether a sync of key may trust the cache: nothing is
// outstanding, nothing was ever recorded, or the record expired.
func (e *expectations) satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	exp, ok := e.bySet[key]
	if !ok {
		return true
	}
	if exp.adds <= 0 && len(exp.dels) == 0 {
		return true
	}
	return e.clock.Since(exp.at) > expectationsTTL
}

// expectCreations replaces key's record with n awaited creations.
func (e *expectations) expectCreations(key string, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.bySet[key] = &expectation{adds: n, at: e.clock.Now()}
}

// expectDeletions replaces key's record with the given awaited pod deletions.
func (e *expectations) expectDeletions(key string, podKeys []string) {
	dels := make(map[string]struct{}, len(podKeys))
	for _, k := range podKeys {
		dels[k] = struct{}{}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.bySet[key] = &expectation{dels: dels, at: e.clock.Now()}
}

// creationObserved lowers key's awaited creations by one.
func (e *expectations) creationObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if exp, ok := e.bySet[key]; ok {
		exp.adds--
	}
}

// deletionObserved marks podKey's deletion as seen for key.
func (e *expectations) deletionObserved(key, podKey string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if exp, ok := e.bySet[key]; ok {
		delete(exp.dels, podKey)
	}
}

// forget drops key's record, for a set that no longer exists.
func (e *expectations) forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.bySet, key)
}
