// Package storage keeps API objects in etcd v3. It deals in encoded bytes and
// revisions; typed objects, defaulting and validation live above it in the
// registry. Every resourceVersion the API hands out is an etcd revision.
package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Sentinel errors. Callers match them with errors.Is; the registry turns them
// into API Status errors that name the resource.
var (
	ErrNotFound = errors.New("storage: not found")
	ErrExists   = errors.New("storage: already exists")
	ErrConflict = errors.New("storage: resource version conflict")
	// ErrExpired means the requested revision has been compacted away.
	ErrExpired = errors.New("storage: revision compacted")
	// ErrTooNew means the requested revision is ahead of the store.
	ErrTooNew = errors.New("storage: revision not yet reached")
	// ErrClaimTaken means a unique value the write claims is held already.
	ErrClaimTaken = errors.New("storage: claim already taken")
	// ErrGuardChanged means the key a write was guarded by has changed.
	ErrGuardChanged = errors.New("storage: guard changed")
)

// KeyValue is one stored object as read from etcd.
type KeyValue struct {
	Key   string
	Value []byte
	// ModRevision is the revision of the last write to the key; it is the
	// object's resourceVersion.
	ModRevision int64
}

// Store reads and writes encoded objects in etcd.
type Store struct {
	client  clientv3.KV
	watcher clientv3.Watcher
}

// New returns a Store that reads and writes through kv and watches through
// watcher; one etcd client is both. The clients stay owned by the caller.
func New(kv clientv3.KV, watcher clientv3.Watcher) *Store {
	return &Store{client: kv, watcher: watcher}
}

// Create writes value at key if the key does not exist and returns the new
// revision. Each claim is a key that must not exist either; it is created in
// the same transaction, pointing at key, so that unique values (cluster IPs,
// node ports) are taken atomically with the object that holds them.
func (s *Store) Create(ctx context.Context, key string, value []byte, claims ...string) (int64, error) {
	return s.CreateGuarded(ctx, key, value, Guard{}, claims...)
}

// Guard makes a write conditional on another key being unchanged: a
// namespaced object is created only while its namespace is still the one
// that was checked.
type Guard struct {
	Key         string
	ModRevision int64
}

// CreateGuarded is Create that also requires guard's key to be at its
// ModRevision (no guard when Key is empty).
func (s *Store) CreateGuarded(ctx context.Context, key string, value []byte, guard Guard, claims ...string) (int64, error) {
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(key), "=", 0)}
	if guard.Key != "" {
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(guard.Key), "=", guard.ModRevision))
	}
	ops := []clientv3.Op{clientv3.OpPut(key, string(value))}
	cmps, ops = withClaims(cmps, ops, key, claims)
	resp, err := s.client.Txn(ctx).If(cmps...).Then(ops...).Commit()
	if err != nil {
		return 0, fmt.Errorf("create %q: %w", key, interpret(err))
	}
	if !resp.Succeeded {
		if guard.Key != "" {
			g, err := s.client.Get(ctx, guard.Key, clientv3.WithKeysOnly())
			if err == nil && (len(g.Kvs) == 0 || g.Kvs[0].ModRevision != guard.ModRevision) {
				return 0, fmt.Errorf("create %q: %q: %w", key, guard.Key, ErrGuardChanged)
			}
		}
		return 0, s.whyFailed(ctx, key, claims, true)
	}
	return resp.Header.Revision, nil
}

// Update replaces the value at key if its ModRevision is still expected,
// taking claims and dropping releases in the same transaction.
func (s *Store) Update(ctx context.Context, key string, value []byte, expected int64, claims, releases []string) (int64, error) {
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", expected)}
	ops := []clientv3.Op{clientv3.OpPut(key, string(value))}
	cmps, ops = withClaims(cmps, ops, key, claims)
	for _, r := range releases {
		ops = append(ops, clientv3.OpDelete(r))
	}
	resp, err := s.client.Txn(ctx).If(cmps...).Then(ops...).Commit()
	if err != nil {
		return 0, fmt.Errorf("update %q: %w", key, interpret(err))
	}
	if !resp.Succeeded {
		return 0, s.whyFailed(ctx, key, claims, false)
	}
	return resp.Header.Revision, nil
}

// Delete removes key if its ModRevision is still expected, dropping releases
// with it, and returns the revision of the deletion.
func (s *Store) Delete(ctx context.Context, key string, expected int64, releases ...string) (int64, error) {
	ops := []clientv3.Op{clientv3.OpDelete(key)}
	for _, r := range releases {
		ops = append(ops, clientv3.OpDelete(r))
	}
	resp, err := s.client.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", expected)).
		Then(ops...).
		Commit()
	if err != nil {
		return 0, fmt.Errorf("delete %q: %w", key, interpret(err))
	}
	if !resp.Succeeded {
		return 0, s.whyFailed(ctx, key, nil, false)
	}
	return resp.Header.Revision, nil
}

func withClaims(cmps []clientv3.Cmp, ops []clientv3.Op, owner string, claims []string) ([]clientv3.Cmp, []clientv3.Op) {
	for _, c := range claims {
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(c), "=", 0))
		ops = append(ops, clientv3.OpPut(c, owner))
	}
	return cmps, ops
}

// whyFailed tells which comparison of a failed transaction did not hold.
func (s *Store) whyFailed(ctx context.Context, key string, claims []string, create bool) error {
	resp, err := s.client.Get(ctx, key, clientv3.WithKeysOnly())
	if err != nil {
		return fmt.Errorf("write %q: %w", key, interpret(err))
	}
	exists := len(resp.Kvs) > 0
	switch {
	case create && exists:
		return fmt.Errorf("create %q: %w", key, ErrExists)
	case !create && !exists:
		return fmt.Errorf("write %q: %w", key, ErrNotFound)
	case create || len(claims) > 0:
		for _, c := range claims {
			r, err := s.client.Get(ctx, c, clientv3.WithKeysOnly())
			if err == nil && len(r.Kvs) > 0 {
				return fmt.Errorf("write %q: claim %q: %w", key, c, ErrClaimTaken)
			}
		}
	}
	return fmt.Errorf("write %q: %w", key, ErrConflict)
}

// Claimed reports whether a claim key is held.
func (s *Store) Claimed(ctx context.Context, claim string) (bool, error) {
	resp, err := s.client.Get(ctx, claim, clientv3.WithCountOnly())
	if err != nil {
		return false, fmt.Errorf("read claim %q: %w", claim, interpret(err))
	}
	return resp.Count > 0, nil
}

// Claims lists the held claims under prefix.
func (s *Store) Claims(ctx context.Context, prefix string) ([]string, error) {
	resp, err := s.client.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, fmt.Errorf("list claims %q: %w", prefix, interpret(err))
	}
	out := make([]string, len(resp.Kvs))
	for i, kv := range resp.Kvs {
		out[i] = string(kv.Key)
	}
	return out, nil
}

// Get reads one key with a linearizable read.
func (s *Store) Get(ctx context.Context, key string) (KeyValue, error) {
	resp, err := s.client.Get(ctx, key)
	if err != nil {
		return KeyValue{}, fmt.Errorf("get %q: %w", key, interpret(err))
	}
	if len(resp.Kvs) == 0 {
		return KeyValue{}, fmt.Errorf("get %q: %w", key, ErrNotFound)
	}
	kv := resp.Kvs[0]
	return KeyValue{Key: string(kv.Key), Value: kv.Value, ModRevision: kv.ModRevision}, nil
}

// List reads up to limit keys under prefix starting at from (inclusive), at
// revision rev (0 means the latest). It returns the revision the read was
// served at and whether more keys follow.
func (s *Store) List(ctx context.Context, prefix, from string, rev int64, limit int64) ([]KeyValue, int64, bool, error) {
	if from == "" {
		from = prefix
	}
	opts := []clientv3.OpOption{clientv3.WithRange(clientv3.GetPrefixRangeEnd(prefix)), clientv3.WithLimit(limit)}
	if rev > 0 {
		opts = append(opts, clientv3.WithRev(rev))
	}
	resp, err := s.client.Get(ctx, from, opts...)
	if err != nil {
		return nil, 0, false, fmt.Errorf("list %q at %d: %w", prefix, rev, interpret(err))
	}
	out := make([]KeyValue, len(resp.Kvs))
	for i, kv := range resp.Kvs {
		out[i] = KeyValue{Key: string(kv.Key), Value: kv.Value, ModRevision: kv.ModRevision}
	}
	return out, resp.Header.Revision, resp.More, nil
}

// Revision returns the store's current revision with a linearizable read.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	// Any key works; a count-only read of a key that never exists is cheapest.
	resp, err := s.client.Get(ctx, "/skiff-revision-probe", clientv3.WithCountOnly())
	if err != nil {
		return 0, fmt.Errorf("read revision: %w", interpret(err))
	}
	return resp.Header.Revision, nil
}

// Watch streams changes under prefix after revision from. The returned channel
// closes when ctx ends or the watch fails; a compaction shows as a response
// with CompactRevision set.
func (s *Store) Watch(ctx context.Context, prefix string, from int64) clientv3.WatchChan {
	return s.watcher.Watch(clientv3.WithRequireLeader(ctx), prefix, clientv3.WithPrefix(), clientv3.WithRev(from))
}

// Unchanged reports whether nothing under prefix has changed since revision
// since, given that count keys existed then, and the revision that was
// checked. A key written after since shows by its ModRevision and a deleted
// key by the count, so together they prove that the state at the returned
// revision equals the state at since — without relying on etcd's watch
// progress notifications, which etcd before 3.4.25 and 3.5.8 could send
// ahead of the events they vouch for.
func (s *Store) Unchanged(ctx context.Context, prefix string, since int64, count int) (int64, bool, error) {
	all, err := s.client.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return 0, false, fmt.Errorf("count %q: %w", prefix, interpret(err))
	}
	rev := all.Header.Revision
	if all.Count != int64(count) {
		return rev, false, nil
	}
	// etcd applies revision filters after counting, so a count-only read
	// would count every key: ask for the (normally no) keys themselves.
	changed, err := s.client.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly(),
		clientv3.WithRev(rev), clientv3.WithMinModRev(since+1))
	if err != nil {
		return 0, false, fmt.Errorf("list changes under %q: %w", prefix, interpret(err))
	}
	return rev, len(changed.Kvs) == 0, nil
}

// Compact discards history older than rev. Several servers may compact the
// same store; a revision already compacted is not an error.
func (s *Store) Compact(ctx context.Context, rev int64) error {
	_, err := s.client.Compact(ctx, rev)
	if err != nil && !errors.Is(err, rpctypes.ErrCompacted) {
		return fmt.Errorf("compact to %d: %w", rev, interpret(err))
	}
	return nil
}

// RunCompactor compacts the store every interval to the revision seen one
// interval earlier, so watchers always have at least one interval of history.
// It blocks until ctx ends.
func (s *Store) RunCompactor(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	var last int64
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		rev, err := s.Revision(ctx)
		if err != nil {
			continue // etcd unavailable for a moment; try at the next tick
		}
		if last > 0 {
			_ = s.Compact(ctx, last)
		}
		last = rev
	}
}

func interpret(err error) error {
	if errors.Is(err, rpctypes.ErrCompacted) || errors.Is(err, rpctypes.ErrGRPCCompacted) {
		return fmt.Errorf("%w: %v", ErrExpired, err)
	}
	if errors.Is(err, rpctypes.ErrFutureRev) || errors.Is(err, rpctypes.ErrGRPCFutureRev) {
		return fmt.Errorf("%w: %v", ErrTooNew, err)
	}
	return err
}
