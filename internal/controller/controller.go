// Package controller holds what every controller of the controller manager
// shares: the Context the manager hands each one, the one method the
// manager calls, and the workers that drain a controller's queue.
// Controllers live in the sub-packages, one per controller.
package controller

import (
	"context"
	"log/slog"

	corev1 "k8s.io/api/core/v1"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
)

// Context is what the manager gives every controller. Controllers register
// their informers on Informers in their constructor; the manager starts the
// factory after all constructors ran and before any Run.
type Context struct {
	Log       *slog.Logger
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	// Recorder returns an event recorder that reports as component (for
	// example "deployment-controller" or "default-scheduler").
	Recorder func(component string) record.EventRecorder
	// Clock is the time source; tests inject a fake one.
	Clock clock.WithTicker
}

// Logger returns cc.Log, or a logger that discards when there is none.
func (cc Context) Logger() *slog.Logger {
	if cc.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return cc.Log
}

// EventRecorder returns the recorder for component, or one that discards
// events when cc has no Recorder.
func (cc Context) EventRecorder(component string) record.EventRecorder {
	if cc.Recorder == nil {
		// A FakeRecorder without a channel discards events.
		return &record.FakeRecorder{}
	}
	return cc.Recorder(component)
}

// NewQueue returns a controller's work queue of namespace/name keys, with
// the usual per-key back-off and overall rate limit, timed by cc.Clock (the
// real clock when nil).
func (cc Context) NewQueue(name string) workqueue.TypedRateLimitingInterface[string] {
	return workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: name, Clock: cc.Clock},
	)
}

// Controller is what the manager runs: Run blocks until ctx ends and returns
// an error only for a failure that should stop the manager.
type Controller interface {
	Run(ctx context.Context) error
}

// Enqueue adds obj's namespace/name key to q; for a deletion's tombstone,
// the key of the object it holds. An object without a key is logged and
// dropped: retrying cannot give it one.
func Enqueue(log *slog.Logger, q workqueue.TypedInterface[string], obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		log.Error("cannot key object", "err", err)
		return
	}
	q.Add(key)
}

// Deleted returns the object of an informer's delete notification, which is
// either the object itself or, when the watch missed the deletion, a
// tombstone holding its last known state.
func Deleted[T any](obj any) (T, bool) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	t, ok := obj.(T)
	return t, ok
}

// NodeReady tells whether the node's Ready condition is True.
func NodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
