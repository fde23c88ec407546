package controller

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// newTestQueue retries a failed key at once, so that no test waits on a
// back-off.
func newTestQueue() workqueue.TypedRateLimitingInterface[string] {
	return workqueue.NewTypedRateLimitingQueue(workqueue.NewTypedItemExponentialFailureRateLimiter[string](0, 0))
}

func synced() bool { return true }

func TestWorkersRetryFailedSyncs(t *testing.T) {
	errExpected := errors.New("expected")
	var logs bytes.Buffer
	queue := newTestQueue()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// Each key fails once, "quiet" with an error the controller expects.
	var mu sync.Mutex
	calls := map[string]int{}
	pending := map[string]bool{"loud": true, "quiet": true}
	w := Workers{
		Name:   "test",
		Log:    slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Queue:  queue,
		Synced: []cache.InformerSynced{synced},
		Count:  2,
		Sync: func(_ context.Context, key string) error {
			mu.Lock()
			defer mu.Unlock()
			calls[key]++
			switch {
			case calls[key] > 1:
				delete(pending, key)
				if len(pending) == 0 {
					cancel()
				}
				return nil
			case key == "quiet":
				return errExpected
			default:
				return errors.New("unexpected")
			}
		},
		Level: func(err error) slog.Level {
			if errors.Is(err, errExpected) {
				return slog.LevelDebug
			}
			return slog.LevelWarn
		},
	}
	queue.Add("loud")
	queue.Add("quiet")
	if err := w.Run(ctx); err != nil {
		t.Fatalf("Run = %v, want nil once ctx ends", err)
	}
	if calls["loud"] != 2 || calls["quiet"] != 2 {
		t.Errorf("syncs = %v, want two of each key", calls)
	}
	for _, key := range []string{"loud", "quiet"} {
		if n := queue.NumRequeues(key); n != 0 {
			t.Errorf("%s still has %d requeues after a successful sync", key, n)
		}
	}
	for _, want := range []string{"level=WARN msg=\"sync failed, retrying\" key=loud", "level=DEBUG msg=\"sync failed, retrying\" key=quiet"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, logs.String())
		}
	}
	if !queue.ShuttingDown() {
		t.Error("queue not shut down after Run")
	}
}

func TestWorkersPrepare(t *testing.T) {
	errPrepare := errors.New("prepare failed")
	tests := []struct {
		name    string
		err     error
		wantErr error
	}{
		{name: "runs before the first sync"},
		{name: "its error ends Run", err: errPrepare, wantErr: errPrepare},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			queue := newTestQueue()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var prepared bool
			var got []string
			w := Workers{
				Name:   "test",
				Queue:  queue,
				Synced: []cache.InformerSynced{synced},
				Prepare: func(context.Context) error {
					prepared = true
					queue.Add("from-prepare")
					return tc.err
				},
				Sync: func(_ context.Context, key string) error {
					if !prepared {
						t.Errorf("sync of %s before Prepare", key)
					}
					got = append(got, key)
					cancel()
					return nil
				},
			}
			if err := w.Run(ctx); !errors.Is(err, tc.wantErr) {
				t.Fatalf("Run = %v, want %v", err, tc.wantErr)
			}
			want := 1
			if tc.err != nil {
				want = 0
			}
			if len(got) != want {
				t.Errorf("synced %v, want %d key(s)", got, want)
			}
			if !queue.ShuttingDown() {
				t.Error("queue not shut down after Run")
			}
		})
	}
}

func TestWorkersStopWhileCachesSync(t *testing.T) {
	queue := newTestQueue()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w := Workers{
		Name:   "test",
		Queue:  queue,
		Synced: []cache.InformerSynced{func() bool { return false }},
		Sync: func(context.Context, string) error {
			t.Error("sync before the caches synced")
			return nil
		},
	}
	queue.Add("a")
	if err := w.Run(ctx); err != nil {
		t.Errorf("Run = %v, want nil when ctx ends first", err)
	}
	if !queue.ShuttingDown() {
		t.Error("queue not shut down after Run")
	}
}
