// Package garbagecollector deletes objects whose owners are gone, and carries
// out foreground and orphan deletion of owners, as the upstream garbage
// collector does: metadata-only informers feed an owner→dependents graph,
// and workers verify every decision against the live API before acting.
package garbagecollector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/skiff-sh/skiff/internal/controller"
)

const component = "garbage-collector-controller"

// Config tunes the collector. Zero values get defaults.
type Config struct {
	// Metadata is the metadata-only client used to watch, read, patch and
	// delete every watched resource.
	Metadata metadata.Interface
	// Resources are the resources to watch; every one must be a kind Skiff
	// serves.
	Resources []schema.GroupVersionResource
	// Workers is the number of workers per queue (default 20, as upstream).
	Workers int
}

// Controller is the garbage collector.
type Controller struct {
	log      *slog.Logger
	meta     metadata.Interface
	resolver *resolver
	recorder record.EventRecorder
	workers  int

	factory metadatainformer.SharedInformerFactory
	synced  []cache.InformerSynced

	graph *graph
	// changes serialises graph updates: informer handlers only add to it.
	changes         workqueue.TypedInterface[*change]
	attemptToDelete workqueue.TypedRateLimitingInterface[objectRef]
	attemptToOrphan workqueue.TypedRateLimitingInterface[objectRef]
}

// New builds the collector and registers its metadata informers. It starts
// its own informer factory in Run, since cc.Informers holds typed informers.
func New(cc controller.Context, cfg Config) (*Controller, error) {
	if cfg.Metadata == nil {
		return nil, errors.New("garbagecollector: Config.Metadata is required")
	}
	res, err := newResolver(cfg.Resources)
	if err != nil {
		return nil, err
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 20
	}
	log := cc.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var rec record.EventRecorder = &record.FakeRecorder{}
	if cc.Recorder != nil {
		rec = cc.Recorder(component)
	}
	queueCfg := func(name string) workqueue.TypedRateLimitingQueueConfig[objectRef] {
		return workqueue.TypedRateLimitingQueueConfig[objectRef]{Name: name, Clock: cc.Clock}
	}
	c := &Controller{
		log:      log.With("controller", "garbagecollector"),
		meta:     cfg.Metadata,
		resolver: res,
		recorder: rec,
		workers:  cfg.Workers,
		factory:  metadatainformer.NewSharedInformerFactory(cfg.Metadata, 0),
		changes:  workqueue.NewTyped[*change](),
		attemptToDelete: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[objectRef](), queueCfg("garbage_collector_attempt_to_delete")),
		attemptToOrphan: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[objectRef](), queueCfg("garbage_collector_attempt_to_orphan")),
	}
	c.graph = newGraph(c.ownerRef)
	for _, gvr := range cfg.Resources {
		if err := c.watch(res.byResource[gvr]); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// watch registers the informer of one resource; its handlers only queue
// graph changes.
func (c *Controller) watch(info resourceInfo) error {
	inf := c.factory.ForResource(info.gvr).Informer()
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.observe(info, obj, changeUpsert) },
		UpdateFunc: func(_, obj any) { c.observe(info, obj, changeUpsert) },
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			c.observe(info, obj, changeDelete)
		},
	})
	if err != nil {
		return fmt.Errorf("garbagecollector: watch %s: %w", info.gvr, err)
	}
	c.synced = append(c.synced, inf.HasSynced)
	return nil
}

func (c *Controller) observe(info resourceInfo, obj any, typ changeType) {
	m, err := meta.Accessor(obj)
	if err != nil {
		c.log.Error("unexpected informer object", "resource", info.gvr.String(), "type", fmt.Sprintf("%T", obj))
		return
	}
	c.changes.Add(&change{
		typ: typ,
		ref: objectRef{
			APIVersion: info.apiVersion(),
			Kind:       info.kind,
			Namespace:  m.GetNamespace(),
			Name:       m.GetName(),
			UID:        m.GetUID(),
		},
		owners:     m.GetOwnerReferences(),
		deleting:   m.GetDeletionTimestamp() != nil,
		finalizers: m.GetFinalizers(),
	})
}

// ownerRef gives an owner's coordinates as named by a dependent: a namespaced
// owner lives in the dependent's namespace.
func (c *Controller) ownerRef(dep objectRef, o metav1.OwnerReference) objectRef {
	ref := objectRef{APIVersion: o.APIVersion, Kind: o.Kind, Name: o.Name, UID: o.UID}
	info, err := c.resolver.forKind(o.APIVersion, o.Kind)
	if err != nil || info.namespaced {
		ref.Namespace = dep.Namespace
	}
	return ref
}

// Run starts the informers, waits for them to sync, and runs the graph
// builder and the workers until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer func() {
		c.changes.ShutDown()
		c.attemptToDelete.ShutDown()
		c.attemptToOrphan.ShutDown()
		wg.Wait()
		c.factory.Shutdown()
	}()
	c.factory.Start(ctx.Done())
	c.log.Info("starting")
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return nil
	}
	wg.Go(c.processChanges)
	for range c.workers {
		wg.Go(func() { c.runQueue(ctx, c.attemptToDelete, c.attemptToDeleteItem) })
		wg.Go(func() { c.runQueue(ctx, c.attemptToOrphan, c.attemptToOrphanItem) })
	}
	<-ctx.Done()
	c.log.Info("stopping")
	return nil
}

// processChanges applies graph changes one at a time, in arrival order.
func (c *Controller) processChanges() {
	for {
		ch, quit := c.changes.Get()
		if quit {
			return
		}
		eff := c.graph.apply(ch)
		for _, r := range eff.attemptToDelete {
			c.attemptToDelete.Add(r)
		}
		for _, r := range eff.attemptToOrphan {
			c.attemptToOrphan.Add(r)
		}
		c.changes.Done(ch)
	}
}

// errRequeue asks for the item to be processed again later without it
// being a failure worth logging.
var errRequeue = errors.New("garbagecollector: requeue")

func (c *Controller) runQueue(ctx context.Context, q workqueue.TypedRateLimitingInterface[objectRef], process func(context.Context, objectRef) error) {
	for {
		ref, quit := q.Get()
		if quit {
			return
		}
		err := process(ctx, ref)
		switch {
		case err == nil:
			q.Forget(ref)
		case errors.Is(err, errUnknownKind):
			c.log.Info("skipping object of unknown kind", "object", ref.String(), "err", err)
			q.Forget(ref)
		case errors.Is(err, errRequeue):
			q.AddRateLimited(ref)
		default:
			if ctx.Err() == nil {
				c.log.Error("sync failed", "object", ref.String(), "err", err)
			}
			q.AddRateLimited(ref)
		}
		q.Done(ref)
	}
}
