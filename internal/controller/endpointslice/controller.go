// Package endpointslice publishes the pods a Service selects as
// discovery.k8s.io/v1 EndpointSlices, as upstream's endpointslice controller
// does: one group of slices per address family and per set of resolved
// ports, at most MaxEndpointsPerSlice endpoints each, rewritten only where
// they changed. Terminating pods stay in the slices (not ready, serving as
// their readiness says) so that proxies can drain them. Services without a
// selector get no slices here; the mirroring controller copies their
// user-written Endpoints instead.
package endpointslice

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/skiff-sh/skiff/internal/controller"
	"github.com/skiff-sh/skiff/internal/controller/endpointutil"
)

const (
	// ManagedBy is the endpointslice.kubernetes.io/managed-by value of the
	// slices this controller owns.
	ManagedBy = "endpointslice-controller.k8s.io"

	component = "endpoint-slice-controller"

	defaultWorkers              = 5
	defaultMaxEndpointsPerSlice = 100
	// apiMaxEndpointsPerSlice is the most endpoints the API accepts in one
	// slice.
	apiMaxEndpointsPerSlice = 1000

	// sliceChangeDelay batches the syncs that changes to slices trigger,
	// as upstream does: a Service's slices often change together.
	sliceChangeDelay = time.Second
)

// Config tunes the controller; zero values take upstream's defaults.
type Config struct {
	// Workers is the number of Services synced in parallel (default 5).
	Workers int
	// MaxEndpointsPerSlice caps the endpoints of one slice (default 100,
	// at most 1000).
	MaxEndpointsPerSlice int
	// BatchPeriod delays the syncs that pod changes trigger, so that a
	// burst of pod updates makes one write (default 0: sync at once).
	BatchPeriod time.Duration
}

func (c Config) withDefaults() Config {
	if c.Workers <= 0 {
		c.Workers = defaultWorkers
	}
	if c.MaxEndpointsPerSlice <= 0 {
		c.MaxEndpointsPerSlice = defaultMaxEndpointsPerSlice
	}
	c.MaxEndpointsPerSlice = min(c.MaxEndpointsPerSlice, apiMaxEndpointsPerSlice)
	if c.BatchPeriod < 0 {
		c.BatchPeriod = 0
	}
	return c
}

// Controller keeps the EndpointSlices of selector-based Services.
type Controller struct {
	log      *slog.Logger
	client   kubernetes.Interface
	services corelisters.ServiceLister
	pods     corelisters.PodLister
	nodes    corelisters.NodeLister
	slices   discoverylisters.EndpointSliceLister
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
	tracker  *endpointutil.SliceTracker
	triggers *endpointutil.TriggerTimes
	recorder record.EventRecorder
	cfg      Config
}

// New returns the EndpointSlice controller, registered on cc.Informers.
func New(cc controller.Context, cfg Config) (*Controller, error) {
	if cc.Client == nil || cc.Informers == nil {
		return nil, errors.New("endpointslice: context needs a client and an informer factory")
	}
	svcInformer := cc.Informers.Core().V1().Services()
	podInformer := cc.Informers.Core().V1().Pods()
	nodeInformer := cc.Informers.Core().V1().Nodes()
	sliceInformer := cc.Informers.Discovery().V1().EndpointSlices()
	c := &Controller{
		log:      cc.Logger().With("controller", component),
		client:   cc.Client,
		services: svcInformer.Lister(),
		pods:     podInformer.Lister(),
		nodes:    nodeInformer.Lister(),
		slices:   sliceInformer.Lister(),
		queue:    cc.NewQueue(component),
		tracker:  endpointutil.NewSliceTracker(),
		triggers: endpointutil.NewTriggerTimes(),
		recorder: cc.EventRecorder(component),
		cfg:      cfg.withDefaults(),
	}
	svcReg, err := svcInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueService,
		UpdateFunc: func(_, cur any) { c.enqueueService(cur) },
		DeleteFunc: c.enqueueService,
	})
	if err != nil {
		return nil, fmt.Errorf("endpointslice: watch services: %w", err)
	}
	podReg, err := podInformer.Informer().AddEventHandler(
		endpointutil.PodHandlers(c.log, c.services, c.queue, c.cfg.BatchPeriod))
	if err != nil {
		return nil, fmt.Errorf("endpointslice: watch pods: %w", err)
	}
	// Slices changed by others wake their Service, which puts them back.
	sliceReg, err := sliceInformer.Informer().AddEventHandler(
		endpointutil.SliceHandlers(c.tracker, ManagedBy, c.queue, sliceChangeDelay))
	if err != nil {
		return nil, fmt.Errorf("endpointslice: watch endpointslices: %w", err)
	}
	// Nodes are only read, for their zone; no handler needed.
	nodeSynced := nodeInformer.Informer().HasSynced
	c.synced = []cache.InformerSynced{svcReg.HasSynced, podReg.HasSynced, sliceReg.HasSynced, nodeSynced}
	return c, nil
}

// Run waits for the caches, runs the workers and blocks until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	return controller.Workers{
		Name:   "endpointslice",
		Log:    c.log,
		Queue:  c.queue,
		Synced: c.synced,
		Count:  c.cfg.Workers,
		Sync:   c.sync,
		Level:  endpointutil.SyncErrorLevel,
	}.Run(ctx)
}

func (c *Controller) enqueueService(obj any) { controller.Enqueue(c.log, c.queue, obj) }
