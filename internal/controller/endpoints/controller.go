// Package endpoints keeps the legacy core/v1 Endpoints object of every
// Service with a selector, as upstream's endpoint controller does: one
// object named as the Service, ready and not-ready addresses grouped into
// subsets by the ports they serve, at most 1000 addresses, labelled
// endpoints.kubernetes.io/managed-by=endpoint-controller. Terminating pods
// are dropped unless the Service publishes not-ready addresses.
//
// The controller deletes only the Endpoints it labelled, once their
// Service is gone or selects no pods any more. Upstream deletes any
// Endpoints whose Service is gone; here the ones users wrote for
// selector-less Services are never touched, not even then.
package endpoints

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/skiff-sh/skiff/internal/controller"
	"github.com/skiff-sh/skiff/internal/controller/endpointutil"
)

const (
	component      = "endpoint-controller"
	defaultWorkers = 5
)

// Config tunes the controller; zero values take upstream's defaults.
type Config struct {
	// Workers is the number of Services synced in parallel (default 5).
	Workers int
	// BatchPeriod delays the syncs that pod changes trigger, so that a
	// burst of pod updates makes one write (default 0: sync at once).
	BatchPeriod time.Duration
}

func (c Config) withDefaults() Config {
	if c.Workers <= 0 {
		c.Workers = defaultWorkers
	}
	if c.BatchPeriod < 0 {
		c.BatchPeriod = 0
	}
	return c
}

// Controller keeps the Endpoints of selector-based Services.
type Controller struct {
	log       *slog.Logger
	client    kubernetes.Interface
	services  corelisters.ServiceLister
	pods      corelisters.PodLister
	endpoints corelisters.EndpointsLister
	synced    []cache.InformerSynced
	queue     workqueue.TypedRateLimitingInterface[string]
	stale     *staleTracker
	triggers  *endpointutil.TriggerTimes
	recorder  record.EventRecorder
	cfg       Config
}

// New returns the Endpoints controller, registered on cc.Informers.
func New(cc controller.Context, cfg Config) (*Controller, error) {
	if cc.Client == nil || cc.Informers == nil {
		return nil, errors.New("endpoints: context needs a client and an informer factory")
	}
	svcInformer := cc.Informers.Core().V1().Services()
	podInformer := cc.Informers.Core().V1().Pods()
	epInformer := cc.Informers.Core().V1().Endpoints()
	c := &Controller{
		log:       cc.Logger().With("controller", component),
		client:    cc.Client,
		services:  svcInformer.Lister(),
		pods:      podInformer.Lister(),
		endpoints: epInformer.Lister(),
		queue:     cc.NewQueue(component),
		stale:     newStaleTracker(),
		triggers:  endpointutil.NewTriggerTimes(),
		recorder:  cc.EventRecorder(component),
		cfg:       cfg.withDefaults(),
	}
	svcReg, err := svcInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, cur any) { c.enqueue(cur) },
		DeleteFunc: c.enqueue,
	})
	if err != nil {
		return nil, fmt.Errorf("endpoints: watch services: %w", err)
	}
	podReg, err := podInformer.Informer().AddEventHandler(
		endpointutil.PodHandlers(c.log, c.services, c.queue, c.cfg.BatchPeriod))
	if err != nil {
		return nil, fmt.Errorf("endpoints: watch pods: %w", err)
	}
	epReg, err := epInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		// An object of this controller's appearing checks that its Service
		// still exists: the Service may have gone before the cache showed
		// the object, and its deletion then found nothing to delete.
		AddFunc: c.endpointsAdded,
		// A deleted Endpoints object of a selector-based Service is put back.
		DeleteFunc: c.enqueue,
	})
	if err != nil {
		return nil, fmt.Errorf("endpoints: watch endpoints: %w", err)
	}
	c.synced = []cache.InformerSynced{svcReg.HasSynced, podReg.HasSynced, epReg.HasSynced}
	return c, nil
}

// Run waits for the caches, queues the Endpoints left without a Service
// while the controller was away, runs the workers and blocks until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	return controller.Workers{
		Name:   "endpoints",
		Log:    c.log,
		Queue:  c.queue,
		Synced: c.synced,
		Count:  c.cfg.Workers,
		Prepare: func(context.Context) error {
			c.queueLeftovers()
			return nil
		},
		Sync:  c.sync,
		Level: endpointutil.SyncErrorLevel,
	}.Run(ctx)
}

// queueLeftovers queues every Endpoints object of this controller once: a
// sync finds those whose Service went while no controller watched, and
// deletes them.
func (c *Controller) queueLeftovers() {
	own, err := c.endpoints.List(labels.SelectorFromValidatedSet(labels.Set{
		endpointutil.LabelEndpointsManagedBy: endpointutil.EndpointsControllerName,
	}))
	if err != nil {
		c.log.Error("cannot list endpoints; leftovers stay until the next start", "err", err)
		return
	}
	for _, ep := range own {
		c.queue.Add(ep.Namespace + "/" + ep.Name)
	}
}

func (c *Controller) endpointsAdded(obj any) {
	if ep, ok := obj.(*corev1.Endpoints); ok && endpointutil.IsControllerEndpoints(ep) {
		c.enqueue(ep)
	}
}

func (c *Controller) enqueue(obj any) { controller.Enqueue(c.log, c.queue, obj) }

// staleTracker remembers the resourceVersion each write replaced: while the
// cache still shows it, the cache predates the write and a sync would act
// on old state.
type staleTracker struct {
	mu       sync.Mutex
	replaced map[string]string
}

func newStaleTracker() *staleTracker { return &staleTracker{replaced: map[string]string{}} }

func (s *staleTracker) wrote(key, replacedRV, newRV string) {
	if replacedRV == "" || replacedRV == newRV {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replaced[key] = replacedRV
}

// isStale reports whether cached predates this controller's last write,
// and forgets the write once the cache has moved past it.
func (s *staleTracker) isStale(key string, cached *corev1.Endpoints) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	rv, ok := s.replaced[key]
	if !ok {
		return false
	}
	if cached.ResourceVersion == rv {
		return true
	}
	delete(s.replaced, key)
	return false
}

func (s *staleTracker) forget(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.replaced, key)
}
