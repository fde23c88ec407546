// Package namespace finishes the deletion of namespaces, as the upstream
// namespace controller does: once a namespace is terminating it deletes
// everything in it (pods first), reports progress in status conditions,
// then removes the "kubernetes" finalizer and deletes the namespace.
package namespace

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/controller"
)

// Config tunes the controller. Zero values get defaults.
type Config struct {
	// Metadata is the metadata-only client used to delete and list content.
	Metadata metadata.Interface
	// Resources are the namespaced resources whose content is deleted.
	Resources []schema.GroupVersionResource
	// Workers is the number of namespaces handled at once (default 10, as
	// upstream).
	Workers int
	// MaxRecheckDelay caps the wait before looking again at content that is
	// still going away (default 2s). Upstream waits half the estimated time
	// left; a small cluster's content usually goes much faster.
	MaxRecheckDelay time.Duration
}

// Controller is the namespace controller.
type Controller struct {
	log       *slog.Logger
	client    kubernetes.Interface
	meta      metadata.Interface
	resources []schema.GroupVersionResource
	clock     clock.PassiveClock
	workers   int
	maxDelay  time.Duration

	lister corelisters.NamespaceLister
	synced cache.InformerSynced
	queue  workqueue.TypedRateLimitingInterface[string]

	// noDeleteCollection remembers resources that refused deletecollection,
	// so later passes delete their items one by one straight away.
	mu                 sync.Mutex
	noDeleteCollection map[schema.GroupVersionResource]bool
}

// New builds the controller and registers its namespace informer.
func New(cc controller.Context, cfg Config) (*Controller, error) {
	if cfg.Metadata == nil {
		return nil, errors.New("namespace: Config.Metadata is required")
	}
	if cc.Client == nil || cc.Informers == nil {
		return nil, errors.New("namespace: Context.Client and Context.Informers are required")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 10
	}
	if cfg.MaxRecheckDelay <= 0 {
		cfg.MaxRecheckDelay = 2 * time.Second
	}
	log := cc.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var clk clock.WithTicker = clock.RealClock{}
	if cc.Clock != nil {
		clk = cc.Clock
	}
	inf := cc.Informers.Core().V1().Namespaces()
	c := &Controller{
		log:       log.With("controller", "namespace"),
		client:    cc.Client,
		meta:      cfg.Metadata,
		resources: cfg.Resources,
		clock:     clk,
		workers:   cfg.Workers,
		maxDelay:  cfg.MaxRecheckDelay,
		lister:    inf.Lister(),
		synced:    inf.Informer().HasSynced,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "namespace", Clock: clk}),
		noDeleteCollection: map[schema.GroupVersionResource]bool{},
	}
	_, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
	})
	if err != nil {
		return nil, fmt.Errorf("namespace: register handler: %w", err)
	}
	return c, nil
}

// enqueue queues namespaces that are being deleted; nothing else concerns
// this controller.
func (c *Controller) enqueue(obj any) {
	ns, ok := obj.(*corev1.Namespace)
	if !ok || ns.DeletionTimestamp == nil {
		return
	}
	c.queue.Add(ns.Name)
}

// Run waits for the namespace cache and runs the workers until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer func() {
		c.queue.ShutDown()
		wg.Wait()
	}()
	c.log.Info("starting")
	if !cache.WaitForCacheSync(ctx.Done(), c.synced) {
		return nil
	}
	for range c.workers {
		wg.Go(func() { c.runWorker(ctx) })
	}
	<-ctx.Done()
	c.log.Info("stopping")
	return nil
}

func (c *Controller) runWorker(ctx context.Context) {
	for {
		name, quit := c.queue.Get()
		if quit {
			return
		}
		c.handle(ctx, name, c.sync(ctx, name))
		c.queue.Done(name)
	}
}

// handle requeues a namespace as its sync result asks.
func (c *Controller) handle(ctx context.Context, name string, err error) {
	var remaining *contentRemainingError
	switch {
	case err == nil:
		c.queue.Forget(name)
	case errors.As(err, &remaining):
		c.queue.Forget(name)
		c.queue.AddAfter(name, c.recheckDelay(remaining.estimate))
	default:
		if ctx.Err() == nil {
			c.log.Error("sync failed", "namespace", name, "err", err)
		}
		c.queue.AddRateLimited(name)
	}
}

// recheckDelay is upstream's half-the-estimate-plus-one-second, capped.
func (c *Controller) recheckDelay(estimateSeconds int64) time.Duration {
	d := time.Duration(estimateSeconds/2+1) * time.Second
	return min(d, c.maxDelay)
}

// sync advances the deletion of one namespace.
func (c *Controller) sync(ctx context.Context, name string) error {
	cached, err := c.lister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("namespace %q: %w", name, err)
	}
	if cached.DeletionTimestamp == nil {
		return nil
	}
	return c.finishDeletion(ctx, name)
}
