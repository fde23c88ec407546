// Package endpointslicemirroring copies the user-written Endpoints of
// Services without a selector into EndpointSlices, as upstream's
// endpointslicemirroring controller does, so that consumers of slices (the
// proxy, DNS) see those Services too. Each subset becomes one slice per
// address family, with at most MaxEndpointsPerSubset addresses. Endpoints
// labelled endpointslice.kubernetes.io/skip-mirror=true, leader-election
// locks and Endpoints the endpoints controller wrote are not mirrored; like
// upstream, no Service is special-cased (the API server marks its own
// Endpoints with the skip label when it writes them).
package endpointslicemirroring

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/skiff-sh/skiff/internal/controller"
	"github.com/skiff-sh/skiff/internal/controller/endpointutil"
)

const (
	// ManagedBy is the endpointslice.kubernetes.io/managed-by value of the
	// slices this controller owns.
	ManagedBy = "endpointslicemirroring-controller.k8s.io"

	component = "endpoint-slice-mirroring-controller"

	defaultWorkers               = 5
	defaultMaxEndpointsPerSubset = 1000
)

// Config tunes the controller; zero values take upstream's defaults.
type Config struct {
	// Workers is the number of Endpoints synced in parallel (default 5).
	Workers int
	// MaxEndpointsPerSubset caps the addresses mirrored from one subset,
	// which keeps one subset to one slice per family (default 1000).
	MaxEndpointsPerSubset int
}

func (c Config) withDefaults() Config {
	if c.Workers <= 0 {
		c.Workers = defaultWorkers
	}
	if c.MaxEndpointsPerSubset <= 0 {
		c.MaxEndpointsPerSubset = defaultMaxEndpointsPerSubset
	}
	return c
}

// Controller mirrors the Endpoints of selector-less Services.
type Controller struct {
	log       *slog.Logger
	client    kubernetes.Interface
	services  corelisters.ServiceLister
	endpoints corelisters.EndpointsLister
	slices    discoverylisters.EndpointSliceLister
	synced    []cache.InformerSynced
	queue     workqueue.TypedRateLimitingInterface[string]
	tracker   *endpointutil.SliceTracker
	recorder  record.EventRecorder
	cfg       Config
}

// New returns the mirroring controller, registered on cc.Informers.
func New(cc controller.Context, cfg Config) (*Controller, error) {
	if cc.Client == nil || cc.Informers == nil {
		return nil, errors.New("endpointslicemirroring: context needs a client and an informer factory")
	}
	svcInformer := cc.Informers.Core().V1().Services()
	epInformer := cc.Informers.Core().V1().Endpoints()
	sliceInformer := cc.Informers.Discovery().V1().EndpointSlices()
	c := &Controller{
		log:       cc.Logger().With("controller", component),
		client:    cc.Client,
		services:  svcInformer.Lister(),
		endpoints: epInformer.Lister(),
		slices:    sliceInformer.Lister(),
		queue:     cc.NewQueue(component),
		tracker:   endpointutil.NewSliceTracker(),
		recorder:  cc.EventRecorder(component),
		cfg:       cfg.withDefaults(),
	}
	svcReg, err := svcInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.serviceAdded,
		UpdateFunc: c.serviceUpdated,
		DeleteFunc: c.serviceAdded,
	})
	if err != nil {
		return nil, fmt.Errorf("endpointslicemirroring: watch services: %w", err)
	}
	epReg, err := epInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.endpointsAdded,
		UpdateFunc: c.endpointsUpdated,
		DeleteFunc: c.endpointsAdded,
	})
	if err != nil {
		return nil, fmt.Errorf("endpointslicemirroring: watch endpoints: %w", err)
	}
	// Mirrored slices changed by others wake their Endpoints, which puts
	// them back.
	sliceReg, err := sliceInformer.Informer().AddEventHandler(
		endpointutil.SliceHandlers(c.tracker, ManagedBy, c.queue, 0))
	if err != nil {
		return nil, fmt.Errorf("endpointslicemirroring: watch endpointslices: %w", err)
	}
	c.synced = []cache.InformerSynced{svcReg.HasSynced, epReg.HasSynced, sliceReg.HasSynced}
	return c, nil
}

// Run waits for the caches, runs the workers and blocks until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	return controller.Workers{
		Name:   "endpointslicemirroring",
		Log:    c.log,
		Queue:  c.queue,
		Synced: c.synced,
		Count:  c.cfg.Workers,
		Sync:   c.sync,
		Level:  endpointutil.SyncErrorLevel,
	}.Run(ctx)
}

func (c *Controller) enqueue(obj any) { controller.Enqueue(c.log, c.queue, obj) }

// serviceAdded also serves deletions: a selector-less Service coming or
// going starts or stops the mirroring of its Endpoints.
func (c *Controller) serviceAdded(obj any) {
	if svc, ok := controller.Deleted[*corev1.Service](obj); ok && !hasSelector(svc) {
		c.enqueue(obj)
	}
}

func (c *Controller) serviceUpdated(oldObj, curObj any) {
	old, ok1 := oldObj.(*corev1.Service)
	cur, ok2 := curObj.(*corev1.Service)
	if ok1 && ok2 && hasSelector(old) != hasSelector(cur) {
		c.enqueue(cur)
	}
}

// endpointsAdded also serves deletions.
func (c *Controller) endpointsAdded(obj any) {
	if ep, ok := controller.Deleted[*corev1.Endpoints](obj); ok && shouldMirror(ep) {
		c.enqueue(obj)
	}
}

func (c *Controller) endpointsUpdated(oldObj, curObj any) {
	old, ok1 := oldObj.(*corev1.Endpoints)
	cur, ok2 := curObj.(*corev1.Endpoints)
	// Either side mirrored: a skip label added removes the slices.
	if ok1 && ok2 && (shouldMirror(old) || shouldMirror(cur)) {
		c.enqueue(cur)
	}
}

// hasSelector reports a Service whose endpoints are not its user's to
// write: with a selector they come from its pods (none at all for an
// ExternalName alias), as upstream has it.
func hasSelector(svc *corev1.Service) bool { return len(svc.Spec.Selector) > 0 }

// shouldMirror reports whether an Endpoints object may be mirrored at all.
// One the endpoints controller wrote describes pods whose slices the
// endpointslice controller keeps; if its Service lost its selector, it is
// stale and about to be deleted.
func shouldMirror(ep *corev1.Endpoints) bool {
	if ep.Labels[discoveryv1.LabelSkipMirror] == "true" || endpointutil.IsControllerEndpoints(ep) {
		return false
	}
	_, leader := ep.Annotations[resourcelock.LeaderElectionRecordAnnotationKey]
	return !leader
}
