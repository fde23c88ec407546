// Package deployment is the Deployment controller: it rolls a Deployment's
// pod template out through ReplicaSets (RollingUpdate or Recreate), keeps
// the revision history kubectl rollout history and undo read, and reports
// the status and conditions kubectl rollout status waits on.
package deployment

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/controller"
)

// controllerKind is the owner kind written into ReplicaSets' controller
// references.
var controllerKind = appsv1.SchemeGroupVersion.WithKind("Deployment")

// maxRetries is how often a failing key is retried before it is dropped
// until the next event touches it.
const maxRetries = 15

// Config tunes the controller; zero values mean defaults.
type Config struct {
	// Workers is the number of Deployments synced in parallel (default 5).
	Workers int
}

// Controller reconciles Deployments with their ReplicaSets.
type Controller struct {
	log      *slog.Logger
	client   kubernetes.Interface
	recorder record.EventRecorder
	clock    clock.WithTicker
	workers  int

	dLister   appslisters.DeploymentLister
	rsLister  appslisters.ReplicaSetLister
	podLister corelisters.PodLister
	synced    []cache.InformerSynced

	queue workqueue.TypedRateLimitingInterface[string]
}

// New builds the controller and registers its handlers on cc.Informers.
func New(cc controller.Context, cfg Config) (*Controller, error) {
	if cc.Client == nil || cc.Informers == nil {
		return nil, fmt.Errorf("deployment controller: client and informers are required")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 5
	}
	dc := &Controller{
		log:     cc.Log,
		client:  cc.Client,
		clock:   cc.Clock,
		workers: cfg.Workers,
	}
	if dc.log == nil {
		dc.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if dc.clock == nil {
		dc.clock = clock.RealClock{}
	}
	if cc.Recorder != nil {
		dc.recorder = cc.Recorder("deployment-controller")
	}
	if dc.recorder == nil {
		dc.recorder = &record.FakeRecorder{}
	}
	dc.queue = workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "deployment", Clock: dc.clock},
	)

	dInf := cc.Informers.Apps().V1().Deployments()
	rsInf := cc.Informers.Apps().V1().ReplicaSets()
	podInf := cc.Informers.Core().V1().Pods()
	handlers := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandlerFuncs
	}{
		{dInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    dc.enqueueObject,
			UpdateFunc: func(_, cur any) { dc.enqueueObject(cur) },
			DeleteFunc: dc.enqueueObject,
		}},
		{rsInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    dc.addReplicaSet,
			UpdateFunc: dc.updateReplicaSet,
			DeleteFunc: dc.deleteReplicaSet,
		}},
		{podInf.Informer(), cache.ResourceEventHandlerFuncs{
			DeleteFunc: dc.deletePod,
		}},
	}
	for _, h := range handlers {
		if _, err := h.inf.AddEventHandler(h.h); err != nil {
			return nil, fmt.Errorf("deployment controller: add event handler: %w", err)
		}
	}
	dc.dLister = dInf.Lister()
	dc.rsLister = rsInf.Lister()
	dc.podLister = podInf.Lister()
	dc.synced = []cache.InformerSynced{dInf.Informer().HasSynced, rsInf.Informer().HasSynced, podInf.Informer().HasSynced}
	return dc, nil
}

// Run waits for the caches, runs the workers and blocks until ctx ends.
func (dc *Controller) Run(ctx context.Context) error {
	defer utilruntime.HandleCrash()
	defer dc.queue.ShutDown()
	dc.log.Info("starting deployment controller", "workers", dc.workers)
	if !cache.WaitForCacheSync(ctx.Done(), dc.synced...) {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("deployment controller: caches did not sync")
	}
	for range dc.workers {
		go wait.UntilWithContext(ctx, dc.worker, time.Second)
	}
	<-ctx.Done()
	dc.log.Info("stopping deployment controller")
	return nil
}

func (dc *Controller) worker(ctx context.Context) {
	for dc.processNext(ctx) {
	}
}

func (dc *Controller) processNext(ctx context.Context) bool {
	key, quit := dc.queue.Get()
	if quit {
		return false
	}
	defer dc.queue.Done(key)
	err := dc.syncDeployment(ctx, key)
	switch {
	case err == nil || apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		dc.queue.Forget(key)
	case dc.queue.NumRequeues(key) < maxRetries:
		dc.log.Debug("requeue deployment", "key", key, "err", err)
		dc.queue.AddRateLimited(key)
	default:
		dc.log.Warn("dropping deployment out of the queue", "key", key, "err", err)
		dc.queue.Forget(key)
	}
	return true
}

// enqueueObject queues a Deployment (or its tombstone) by key.
func (dc *Controller) enqueueObject(obj any) { controller.Enqueue(dc.log, dc.queue, obj) }

func (dc *Controller) enqueueAfter(d *appsv1.Deployment, after time.Duration) {
	key, err := cache.MetaNamespaceKeyFunc(d)
	if err != nil {
		return
	}
	dc.queue.AddAfter(key, after)
}

func (dc *Controller) enqueueRateLimited(d *appsv1.Deployment) {
	key, err := cache.MetaNamespaceKeyFunc(d)
	if err != nil {
		return
	}
	dc.queue.AddRateLimited(key)
}

// addReplicaSet wakes the owner of a new ReplicaSet, or every Deployment
// that could adopt an orphan.
func (dc *Controller) addReplicaSet(obj any) {
	rs, ok := obj.(*appsv1.ReplicaSet)
	if !ok {
		return
	}
	if rs.DeletionTimestamp != nil {
		dc.deleteReplicaSet(rs)
		return
	}
	if ref := metav1.GetControllerOf(rs); ref != nil {
		if d := dc.resolveControllerRef(rs.Namespace, ref); d != nil {
			dc.enqueueObject(d)
		}
		return
	}
	for _, d := range dc.deploymentsForReplicaSet(rs) {
		dc.enqueueObject(d)
	}
}

// updateReplicaSet wakes the old and new owners; an orphan whose labels or
// owner changed may now match other Deployments.
func (dc *Controller) updateReplicaSet(oldObj, curObj any) {
	old, ok1 := oldObj.(*appsv1.ReplicaSet)
	cur, ok2 := curObj.(*appsv1.ReplicaSet)
	if !ok1 || !ok2 || cur.ResourceVersion == old.ResourceVersion {
		return
	}
	curRef, oldRef := metav1.GetControllerOf(cur), metav1.GetControllerOf(old)
	refChanged := !reflect.DeepEqual(curRef, oldRef)
	if refChanged && oldRef != nil {
		if d := dc.resolveControllerRef(old.Namespace, oldRef); d != nil {
			dc.enqueueObject(d)
		}
	}
	if curRef != nil {
		if d := dc.resolveControllerRef(cur.Namespace, curRef); d != nil {
			dc.enqueueObject(d)
		}
		return
	}
	if refChanged || !reflect.DeepEqual(cur.Labels, old.Labels) {
		for _, d := range dc.deploymentsForReplicaSet(cur) {
			dc.enqueueObject(d)
		}
	}
}

func (dc *Controller) deleteReplicaSet(obj any) {
	rs, ok := controller.Deleted[*appsv1.ReplicaSet](obj)
	if !ok {
		return
	}
	if ref := metav1.GetControllerOf(rs); ref != nil {
		if d := dc.resolveControllerRef(rs.Namespace, ref); d != nil {
			dc.enqueueObject(d)
		}
	}
}

// deletePod matters only to Recreate, which waits for the old pods to be
// gone before it starts the new ReplicaSet.
func (dc *Controller) deletePod(obj any) {
	pod, ok := controller.Deleted[*corev1.Pod](obj)
	if !ok {
		return
	}
	ref := metav1.GetControllerOf(pod)
	if ref == nil || ref.Kind != "ReplicaSet" {
		return
	}
	rs, err := dc.rsLister.ReplicaSets(pod.Namespace).Get(ref.Name)
	if err != nil || rs.UID != ref.UID {
		return
	}
	rsRef := metav1.GetControllerOf(rs)
	if rsRef == nil {
		return
	}
	d := dc.resolveControllerRef(rs.Namespace, rsRef)
	if d != nil && d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		dc.enqueueObject(d)
	}
}

// resolveControllerRef returns the Deployment a controller reference names,
// or nil when it names something else or a Deployment since replaced.
func (dc *Controller) resolveControllerRef(ns string, ref *metav1.OwnerReference) *appsv1.Deployment {
	if ref.Kind != controllerKind.Kind {
		return nil
	}
	d, err := dc.dLister.Deployments(ns).Get(ref.Name)
	if err != nil || d.UID != ref.UID {
		return nil
	}
	return d
}

// deploymentsForReplicaSet lists the Deployments whose selector matches rs.
func (dc *Controller) deploymentsForReplicaSet(rs *appsv1.ReplicaSet) []*appsv1.Deployment {
	if len(rs.Labels) == 0 {
		return nil
	}
	ds, err := dc.dLister.Deployments(rs.Namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	var out []*appsv1.Deployment
	for _, d := range ds {
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(rs.Labels)) {
			continue
		}
		out = append(out, d)
	}
	return out
}
