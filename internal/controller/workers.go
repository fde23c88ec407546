package controller

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// Workers drains a controller's queue: Run waits for the informers to
// sync, then hands each key to Sync from Count goroutines until ctx ends.
// A key whose sync fails goes back with the queue's back-off; one that
// succeeds has its back-off forgotten.
type Workers struct {
	// Name prefixes Run's errors, for example "endpoints".
	Name string
	// Log receives a line for every failed sync; nil discards them.
	Log   *slog.Logger
	Queue workqueue.TypedRateLimitingInterface[string]
	// Synced are the informers Sync reads from.
	Synced []cache.InformerSynced
	// Count is the number of keys synced in parallel (at least one).
	Count int
	// Prepare, when set, runs once the caches have synced and before the
	// first sync, for work that needs the caches but no key; its error
	// ends Run.
	Prepare func(ctx context.Context) error
	Sync    func(ctx context.Context, key string) error
	// Level picks the level a failed sync logs at (nil: warn), so that a
	// failure a controller expects can stay out of the way.
	Level func(err error) slog.Level
}

// Run blocks until ctx ends and shuts the queue down on return. It returns
// an error only when Prepare fails or the caches cannot sync while ctx is
// still live.
func (w Workers) Run(ctx context.Context) error {
	defer utilruntime.HandleCrash()
	defer w.Queue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), w.Synced...) {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("%s: caches did not sync", w.Name)
	}
	if w.Prepare != nil {
		if err := w.Prepare(ctx); err != nil {
			return err
		}
	}
	var workers sync.WaitGroup
	for range max(w.Count, 1) {
		workers.Go(func() { wait.UntilWithContext(ctx, w.work, time.Second) })
	}
	<-ctx.Done()
	// Shutting the queue down releases workers blocked in Get.
	w.Queue.ShutDown()
	workers.Wait()
	return nil
}

func (w Workers) work(ctx context.Context) {
	for w.next(ctx) {
	}
}

func (w Workers) next(ctx context.Context) bool {
	key, quit := w.Queue.Get()
	if quit {
		return false
	}
	defer w.Queue.Done(key)
	if err := w.Sync(ctx, key); err != nil {
		if w.Log != nil {
			level := slog.LevelWarn
			if w.Level != nil {
				level = w.Level(err)
			}
			w.Log.Log(ctx, level, "sync failed, retrying", "key", key, "err", err)
		}
		w.Queue.AddRateLimited(key)
		return true
	}
	w.Queue.Forget(key)
	return true
}
