package watchcache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/skiff-sh/skiff/internal/storage"
)

// Config tunes a Cache.
type Config struct {
	// Capacity is how many recent events the cache keeps at least for
	// watches that start from an older revision (it keeps up to twice as
	// many). Older starting points get ErrExpired.
	Capacity int
	// FreshnessTimeout bounds how long a read waits for the cache to reach a
	// requested revision before it is answered with ErrTooNew.
	FreshnessTimeout time.Duration
	// MaxWatcherBacklog is how many undelivered events a watcher may hold
	// before it is closed as too slow; the client then re-watches.
	MaxWatcherBacklog int
}

func (c *Config) applyDefaults() {
	if c.Capacity <= 0 {
		c.Capacity = 4096
	}
	if c.FreshnessTimeout <= 0 {
		c.FreshnessTimeout = 3 * time.Second
	}
	if c.MaxWatcherBacklog <= 0 {
		c.MaxWatcherBacklog = 100000
	}
}

// Source is what the cache needs of the store.
type Source interface {
	List(ctx context.Context, prefix, from string, rev int64, limit int64) ([]storage.KeyValue, int64, bool, error)
	Revision(ctx context.Context) (int64, error)
	Watch(ctx context.Context, prefix string, from int64) clientv3.WatchChan
	Unchanged(ctx context.Context, prefix string, since int64, count int) (int64, bool, error)
}

// Cache mirrors every object under one key prefix.
type Cache struct {
	log    *slog.Logger
	src    Source
	prefix string
	codec  Codec
	attrs  AttrFunc
	cfg    Config

	mu      sync.RWMutex
	objects map[string]*Object
	// ring holds the most recent events, oldest first, at most cfg.Capacity.
	ring []Event
	// oldest is the revision from which the ring is complete: every change
	// after it is in the ring.
	oldest   int64
	rev      int64
	watchers map[*Watcher]struct{}
	ready    bool
	// advanced is closed and replaced whenever rev moves, waking readers that
	// wait for a revision.
	advanced chan struct{}

	readyc chan struct{}
}

// New returns a cache of the objects under prefix. Run fills it.
func New(log *slog.Logger, src Source, prefix string, codec Codec, attrs AttrFunc, cfg Config) *Cache {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg.applyDefaults()
	return &Cache{
		log:      log.With("prefix", prefix),
		src:      src,
		prefix:   prefix,
		codec:    codec,
		attrs:    attrs,
		cfg:      cfg,
		objects:  map[string]*Object{},
		watchers: map[*Watcher]struct{}{},
		advanced: make(chan struct{}),
		readyc:   make(chan struct{}),
	}
}

// Ready is closed once the cache holds a complete copy.
func (c *Cache) Ready() <-chan struct{} { return c.readyc }

// Revision is the revision the cache is known to be complete at.
func (c *Cache) Revision() int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.rev
}

// Run lists the prefix, then follows it with one watch until ctx ends. If the
// watch falls behind compaction, the cache re-lists and closes all watchers so
// that they re-establish from a revision that still exists.
func (c *Cache) Run(ctx context.Context) error {
	for {
		rev, err := c.load(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			c.log.Warn("watch cache list failed, retrying", "err", err)
			if !sleep(ctx, time.Second) {
				return nil
			}
			continue
		}
		err = c.follow(ctx, rev)
		if ctx.Err() != nil {
			c.closeAll()
			return nil
		}
		c.log.Info("watch cache restarting", "reason", err)
	}
}

// load replaces the cache contents with a fresh list.
func (c *Cache) load(ctx context.Context) (int64, error) {
	objects := map[string]*Object{}
	var rev int64
	from := ""
	for {
		kvs, r, more, err := c.src.List(ctx, c.prefix, from, rev, 10000)
		if err != nil {
			return 0, err
		}
		rev = r
		for _, kv := range kvs {
			o, err := c.decode(kv.Key, kv.Value, kv.ModRevision)
			if err != nil {
				c.log.Error("skipping undecodable object", "key", kv.Key, "err", err)
				continue
			}
			objects[kv.Key] = o
		}
		if !more || len(kvs) == 0 {
			break
		}
		from = kvs[len(kvs)-1].Key + "\x00"
	}
	c.mu.Lock()
	c.objects = objects
	c.ring = nil
	c.oldest = rev
	stale := c.watchers
	c.watchers = map[*Watcher]struct{}{}
	c.setRevLocked(rev)
	if !c.ready {
		c.ready = true
		close(c.readyc)
	}
	c.mu.Unlock()
	for w := range stale {
		w.terminate()
	}
	return rev, nil
}

func (c *Cache) follow(ctx context.Context, rev int64) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for resp := range c.src.Watch(wctx, c.prefix, rev+1) {
		if resp.CompactRevision != 0 {
			return fmt.Errorf("watch compacted at %d", resp.CompactRevision)
		}
		if err := resp.Err(); err != nil {
			return fmt.Errorf("watch: %w", err)
		}
		c.apply(resp.Events)
	}
	return errors.New("watch channel closed")
}

func (c *Cache) decode(key string, value []byte, rev int64) (*Object, error) {
	obj, err := c.codec.Decode(value, rev)
	if err != nil {
		return nil, err
	}
	l, f := c.attrs(obj)
	return &Object{Key: key, Obj: obj, Rev: rev, Labels: l, Fields: f, Stored: value}, nil
}

// deletedAt returns o's last state stamped with the deletion's revision, as
// watchers expect a DELETED object to carry.
func (c *Cache) deletedAt(o *Object, rev int64) (*Object, error) {
	obj := o.Obj.DeepCopyObject()
	if err := setRevision(obj, rev); err != nil {
		return nil, err
	}
	return &Object{Key: o.Key, Obj: obj, Rev: rev, Labels: o.Labels, Fields: o.Fields}, nil
}

func (c *Cache) apply(events []*clientv3.Event) {
	// Decoding happens outside the lock: readers never wait on it.
	decoded := make([]Event, 0, len(events))
	for _, ev := range events {
		key := string(ev.Kv.Key)
		rev := ev.Kv.ModRevision
		switch ev.Type {
		case mvccpb.PUT:
			o, err := c.decode(key, ev.Kv.Value, rev)
			if err != nil {
				c.log.Error("skipping undecodable object", "key", key, "err", err)
				continue
			}
			// ADDED or MODIFIED is decided against the cache below.
			decoded = append(decoded, Event{Type: watch.Modified, Object: o, Rev: rev})
		case mvccpb.DELETE:
			decoded = append(decoded, Event{Type: watch.Deleted, Object: &Object{Key: key, Rev: rev}, Rev: rev})
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ev := range decoded {
		prev := c.objects[ev.Object.Key]
		ev.Prev = prev
		switch ev.Type {
		case watch.Deleted:
			if prev == nil {
				continue
			}
			o, err := c.deletedAt(prev, ev.Rev)
			if err != nil {
				c.log.Error("encode deleted object", "key", prev.Key, "err", err)
				continue
			}
			ev.Object = o
			delete(c.objects, prev.Key)
		default:
			if prev == nil {
				ev.Type = watch.Added
			} else {
				ev.Type = watch.Modified
			}
			c.objects[ev.Object.Key] = ev.Object
		}
		c.appendRingLocked(ev)
		for w := range c.watchers {
			w.offer(ev)
		}
	}
	if len(events) == 0 {
		return
	}
	rev := events[len(events)-1].Kv.ModRevision
	if rev > c.rev {
		c.setRevLocked(rev)
		for w := range c.watchers {
			w.progress(rev)
		}
	}
}

func (c *Cache) appendRingLocked(ev Event) {
	// The ring may hold up to twice its capacity and is then cut back to the
	// newest Capacity events in one copy: trimming on every append would copy
	// the whole ring per event.
	if len(c.ring) >= 2*c.cfg.Capacity {
		drop := len(c.ring) - c.cfg.Capacity
		c.oldest = c.ring[drop-1].Rev
		c.ring = append(c.ring[:0:0], c.ring[drop:]...)
	}
	c.ring = append(c.ring, ev)
}

func (c *Cache) setRevLocked(rev int64) {
	c.rev = rev
	close(c.advanced)
	c.advanced = make(chan struct{})
}

// WaitFor blocks until the cache has seen revision rev. A quiet resource
// has no event to bring the cache there, so the cache asks etcd whether
// anything under its prefix changed since its revision; if not, it is
// current at etcd's revision.
func (c *Cache) WaitFor(ctx context.Context, rev int64) error {
	deadline := time.NewTimer(c.cfg.FreshnessTimeout)
	defer deadline.Stop()
	var recheck <-chan time.Time
	for {
		c.mu.RLock()
		cur, count, advanced, ready := c.rev, len(c.objects), c.advanced, c.ready
		c.mu.RUnlock()
		if ready && cur >= rev {
			return nil
		}
		if ready && recheck == nil {
			if err := c.catchUp(ctx, cur, count); err != nil {
				return err
			}
			recheck = time.After(freshnessRecheck)
			continue
		}
		select {
		case <-advanced:
		case <-c.readyc:
		case <-recheck:
			recheck = nil
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("waiting for revision %d (cache at %d): %w", rev, cur, storage.ErrTooNew)
		}
	}
}

// freshnessRecheck is how long a reader waits for events before it asks etcd
// again whether the cache is current.
const freshnessRecheck = 50 * time.Millisecond

// catchUp moves the cache's revision to etcd's when nothing under the prefix
// changed since cur, when the cache held count objects.
func (c *Cache) catchUp(ctx context.Context, cur int64, count int) error {
	rev, same, err := c.src.Unchanged(ctx, c.prefix, cur, count)
	if err != nil || !same {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rev == cur && rev > cur {
		c.setRevLocked(rev)
		for w := range c.watchers {
			w.progress(rev)
		}
	}
	return nil
}

// WaitFresh waits until the cache holds everything written before the call:
// the read-your-writes guarantee of a consistent read.
func (c *Cache) WaitFresh(ctx context.Context) (int64, error) {
	rev, err := c.src.Revision(ctx)
	if err != nil {
		return 0, err
	}
	return rev, c.WaitFor(ctx, rev)
}

// Get returns the cached object at key.
func (c *Cache) Get(key string) (*Object, int64, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	o, ok := c.objects[key]
	return o, c.rev, ok
}

// snapshot returns the matching objects in key order and the revision they
// are complete at.
func (c *Cache) snapshot(p Predicate, after string) ([]*Object, int64) {
	c.mu.RLock()
	out := make([]*Object, 0, len(c.objects))
	for k, o := range c.objects {
		if after != "" && k <= after {
			continue
		}
		if p.Matches(o) {
			out = append(out, o)
		}
	}
	rev := c.rev
	c.mu.RUnlock()
	sortObjects(out)
	return out, rev
}

func setRevision(obj runtime.Object, rev int64) error {
	a, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	a.SetResourceVersion(fmt.Sprint(rev))
	return nil
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
