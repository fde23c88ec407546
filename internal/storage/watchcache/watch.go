package watchcache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/watch"

	"github.com/skiff-sh/skiff/internal/storage"
)

// ErrWatcherClosed is returned by Next once a watcher has been closed, by Stop
// or because it fell too far behind.
var ErrWatcherClosed = errors.New("watchcache: watcher closed")

// WatchRequest says where a watch starts and what it sees.
type WatchRequest struct {
	Predicate Predicate
	// Rev is the revision to start after. Zero means "now".
	Rev int64
	// Consistent makes a watch from "now" first wait until the cache holds
	// every write made before the call.
	Consistent bool
	// SendInitial starts the watch with a synthetic ADDED event for every
	// matching object at the start revision.
	SendInitial bool
}

// Watcher is one client's view of a cache's events.
type Watcher struct {
	cache *Cache
	pred  Predicate
	max   int
	// floor is the revision the watch starts after: events at or below it
	// are never delivered, even if the cache learns of them late.
	floor int64

	// initial holds the synthetic ADDED events of the starting state.
	initial []Event

	mu     sync.Mutex
	queue  []Event
	rev    int64 // every change up to rev has been offered to this watcher
	closed bool
	signal chan struct{}
	done   chan struct{}
}

// Watch registers a watcher. Initial events, if asked for, are queued before
// any live event, and the returned revision is the one the initial state was
// taken at.
func (c *Cache) Watch(ctx context.Context, req WatchRequest) (*Watcher, int64, error) {
	switch {
	case req.Rev > 0:
		if err := c.WaitFor(ctx, req.Rev); err != nil {
			return nil, 0, err
		}
	case req.Consistent:
		if _, err := c.WaitFresh(ctx); err != nil {
			return nil, 0, err
		}
	default:
		select {
		case <-c.readyc:
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		}
	}

	w := &Watcher{
		cache:  c,
		pred:   req.Predicate,
		max:    c.cfg.MaxWatcherBacklog,
		signal: make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	start := c.rev
	w.floor = start
	if req.Rev > 0 && !req.SendInitial {
		w.floor = req.Rev
	}
	if req.SendInitial {
		for _, o := range c.sortedLocked() {
			if w.pred.Matches(o) {
				w.initial = append(w.initial, Event{Type: watch.Added, Object: o, Rev: o.Rev})
			}
		}
	} else if req.Rev > 0 {
		if req.Rev < c.oldest {
			return nil, 0, fmt.Errorf("watch from %d, oldest available %d: %w", req.Rev, c.oldest, storage.ErrExpired)
		}
		for _, ev := range c.ring {
			if ev.Rev > req.Rev {
				w.offer(ev)
			}
		}
	}
	w.rev = start
	c.watchers[w] = struct{}{}
	return w, start, nil
}

func (c *Cache) sortedLocked() []*Object {
	out := make([]*Object, 0, len(c.objects))
	for _, o := range c.objects {
		out = append(out, o)
	}
	sortObjects(out)
	return out
}

// Initial returns the synthetic ADDED events of the starting state, once;
// they precede everything Next returns.
func (w *Watcher) Initial() []Event {
	evs := w.initial
	w.initial = nil
	return evs
}

// offer queues ev, seen through the watcher's predicate: an object that starts
// or stops matching is ADDED or DELETED for this watcher. Called with the
// cache locked.
func (w *Watcher) offer(ev Event) {
	if ev.Rev <= w.floor {
		return
	}
	prev := w.pred.Matches(ev.Prev)
	var out Event
	switch ev.Type {
	case watch.Deleted:
		if !prev {
			return
		}
		out = Event{Type: watch.Deleted, Object: ev.Object, Rev: ev.Rev}
	default:
		cur := w.pred.Matches(ev.Object)
		switch {
		case cur && prev:
			out = Event{Type: watch.Modified, Object: ev.Object, Rev: ev.Rev}
		case cur:
			out = Event{Type: watch.Added, Object: ev.Object, Rev: ev.Rev}
		case prev:
			last, err := w.cache.deletedAt(ev.Prev, ev.Rev)
			if err != nil {
				w.terminate()
				return
			}
			out = Event{Type: watch.Deleted, Object: last, Rev: ev.Rev}
		default:
			return
		}
	}
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	if len(w.queue) >= w.max {
		w.mu.Unlock()
		w.terminate()
		return
	}
	w.queue = append(w.queue, out)
	w.rev = ev.Rev
	w.mu.Unlock()
	w.wake()
}

// progress records that every change up to rev has been offered.
func (w *Watcher) progress(rev int64) {
	w.mu.Lock()
	if rev > w.rev {
		w.rev = rev
	}
	w.mu.Unlock()
	w.wake()
}

func (w *Watcher) wake() {
	select {
	case w.signal <- struct{}{}:
	default:
	}
}

// Next blocks until events are queued, progress is made or tick fires, and
// returns the events plus the revision up to which this watcher has seen
// everything (usable for a bookmark once the events are written). The bool
// reports that tick fired.
func (w *Watcher) Next(ctx context.Context, tick <-chan time.Time) ([]Event, int64, bool, error) {
	for {
		w.mu.Lock()
		if len(w.queue) > 0 {
			evs := w.queue
			w.queue = nil
			rev := w.rev
			w.mu.Unlock()
			return evs, rev, false, nil
		}
		closed, rev := w.closed, w.rev
		w.mu.Unlock()
		if closed {
			return nil, rev, false, ErrWatcherClosed
		}
		select {
		case <-w.signal:
			return nil, rev, false, nil
		case <-tick:
			return nil, rev, true, nil
		case <-w.done:
		case <-ctx.Done():
			return nil, rev, false, ctx.Err()
		}
	}
}

// Stop unregisters the watcher.
func (w *Watcher) Stop() {
	w.cache.mu.Lock()
	delete(w.cache.watchers, w)
	w.cache.mu.Unlock()
	w.terminate()
}

func (w *Watcher) terminate() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	w.closed = true
	w.queue = nil
	close(w.done)
}

func (c *Cache) closeAll() {
	c.mu.Lock()
	ws := c.watchers
	c.watchers = map[*Watcher]struct{}{}
	c.mu.Unlock()
	for w := range ws {
		w.terminate()
	}
}
