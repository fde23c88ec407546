// Package replicaset keeps the pods of ReplicaSets (apps/v1) and
// ReplicationControllers (core/v1) at their desired count, as upstream's
// replicaset and replication controllers do. One engine serves both kinds
// through a small backend adapter per kind.
package replicaset

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/controller"
	"github.com/skiff-sh/skiff/internal/controller/podutil"
)

const (
	defaultWorkers = 5
	// defaultBurstReplicas caps the pods one sync creates or deletes, so a
	// huge scale step is spread over several syncs as upstream does.
	defaultBurstReplicas = 500
)

// Config tunes a controller; zero values take upstream's defaults.
type Config struct {
	// Workers is the number of sets synced in parallel (default 5).
	Workers int
	// BurstReplicas caps creations or deletions per sync (default 500).
	BurstReplicas int
}

func (c Config) withDefaults() Config {
	if c.Workers <= 0 {
		c.Workers = defaultWorkers
	}
	if c.BurstReplicas <= 0 {
		c.BurstReplicas = defaultBurstReplicas
	}
	return c
}

// Controller reconciles one kind of replica set.
type Controller struct {
	log      *slog.Logger
	client   kubernetes.Interface
	sets     backend
	pods     corelisters.PodLister
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
	exp      *expectations
	recorder record.EventRecorder
	clock    clock.WithTicker
	cfg      Config
}

// New returns the ReplicaSet controller, registered on cc.Informers.
func New(cc controller.Context, cfg Config) (*Controller, error) {
	if cc.Client == nil || cc.Informers == nil {
		return nil, errors.New("replicaset: context needs a client and an informer factory")
	}
	sets := newReplicaSets(cc.Client.AppsV1(), cc.Informers.Apps().V1().ReplicaSets())
	return newController(cc, cfg, sets, "replicaset-controller")
}

// NewReplicationManager returns the ReplicationController controller,
// registered on cc.Informers; it runs the same engine as New.
func NewReplicationManager(cc controller.Context, cfg Config) (*Controller, error) {
	if cc.Client == nil || cc.Informers == nil {
		return nil, errors.New("replicationcontroller: context needs a client and an informer factory")
	}
	sets := newReplicationControllers(cc.Client.CoreV1(), cc.Informers.Core().V1().ReplicationControllers())
	return newController(cc, cfg, sets, "replication-controller")
}

func newController(cc controller.Context, cfg Config, sets backend, component string) (*Controller, error) {
	log := cc.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	clk := cc.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	// A FakeRecorder without a channel discards events: a manager that
	// wires no recorder gets a working controller, just a silent one.
	var recorder record.EventRecorder = &record.FakeRecorder{}
	if cc.Recorder != nil {
		recorder = cc.Recorder(component)
	}
	podInformer := cc.Informers.Core().V1().Pods()
	c := &Controller{
		log:    log.With("controller", component),
		client: cc.Client,
		sets:   sets,
		pods:   podInformer.Lister(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: component, Clock: clk},
		),
		exp:      newExpectations(clk),
		recorder: recorder,
		clock:    clk,
		cfg:      cfg.withDefaults(),
	}
	setReg, err := sets.informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueObject,
		UpdateFunc: func(_, cur any) { c.enqueueObject(cur) },
		DeleteFunc: c.setDeleted,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: watch %s: %w", component, sets.gvk().Kind, err)
	}
	podReg, err := podInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.podAdded,
		UpdateFunc: c.podUpdated,
		DeleteFunc: c.podDeleted,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: watch pods: %w", component, err)
	}
	c.synced = []cache.InformerSynced{setReg.HasSynced, podReg.HasSynced}
	return c, nil
}

// Run waits for the caches, runs the workers and blocks until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer utilruntime.HandleCrash()
	defer c.queue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("%s: caches did not sync", c.sets.gvk().Kind)
	}
	var workers sync.WaitGroup
	for range c.cfg.Workers {
		workers.Go(func() { wait.UntilWithContext(ctx, c.worker, time.Second) })
	}
	<-ctx.Done()
	// Shutting the queue down releases workers blocked in Get.
	c.queue.ShutDown()
	workers.Wait()
	return nil
}

func (c *Controller) worker(ctx context.Context) {
	for c.processNext(ctx) {
	}
}

func (c *Controller) processNext(ctx context.Context) bool {
	key, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(key)
	if err := c.sync(ctx, key); err != nil {
		c.log.Info("sync failed, retrying", "key", key, "err", err)
		c.queue.AddRateLimited(key)
		return true
	}
	c.queue.Forget(key)
	return true
}

// enqueueObject queues a set by its namespace/name key.
func (c *Controller) enqueueObject(obj any) { controller.Enqueue(c.log, c.queue, obj) }

func (c *Controller) setDeleted(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		c.log.Error("cannot key object", "err", err)
		return
	}
	c.exp.forget(key)
	c.queue.Add(key)
}

// podAdded credits the owner's awaited creation, or wakes every set that
// might adopt an orphan.
func (c *Controller) podAdded(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if pod.DeletionTimestamp != nil {
		// A pod already terminating when first seen counts as deleted.
		c.podDeleted(pod)
		return
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		if v := c.resolveOwner(pod.Namespace, ref); v != nil {
			key := setKey(v)
			c.exp.creationObserved(key)
			c.queue.Add(key)
		}
		return
	}
	c.enqueueMatching(pod)
}

func (c *Controller) podUpdated(oldObj, curObj any) {
	old, ok1 := oldObj.(*corev1.Pod)
	cur, ok2 := curObj.(*corev1.Pod)
	if !ok1 || !ok2 || old.ResourceVersion == cur.ResourceVersion {
		return
	}
	labelsChanged := !mapsEqual(old.Labels, cur.Labels)
	if cur.DeletionTimestamp != nil {
		// Acting on the terminating mark rather than the final delete lets
		// the owner replace the pod while it shuts down.
		c.podDeleted(cur)
		if labelsChanged {
			c.podDeleted(old)
		}
		return
	}
	curRef, oldRef := metav1.GetControllerOf(cur), metav1.GetControllerOf(old)
	refChanged := !refsEqual(curRef, oldRef)
	if refChanged && oldRef != nil {
		if v := c.resolveOwner(old.Namespace, oldRef); v != nil {
			c.queue.Add(setKey(v))
		}
	}
	if curRef != nil {
		v := c.resolveOwner(cur.Namespace, curRef)
		if v == nil {
			return
		}
		c.queue.Add(setKey(v))
		if v.minReadySeconds > 0 && !podutil.IsPodReady(old) && podutil.IsPodReady(cur) {
			// Re-count availability once minReadySeconds have passed.
			c.queue.AddAfter(setKey(v), time.Duration(v.minReadySeconds)*time.Second+time.Second)
		}
		return
	}
	if labelsChanged || refChanged {
		c.enqueueMatching(cur)
	}
}

func (c *Controller) podDeleted(obj any) {
	pod, ok := controller.Deleted[*corev1.Pod](obj)
	if !ok {
		return
	}
	ref := metav1.GetControllerOf(pod)
	if ref == nil {
		return
	}
	v := c.resolveOwner(pod.Namespace, ref)
	if v == nil {
		return
	}
	key := setKey(v)
	c.exp.deletionObserved(key, podKey(pod))
	c.queue.Add(key)
}

// resolveOwner returns the cached set a controller reference points at, or
// nil when it names another kind or a set since replaced under the same name.
func (c *Controller) resolveOwner(namespace string, ref *metav1.OwnerReference) *view {
	gvk := c.sets.gvk()
	if ref.Kind != gvk.Kind || ref.APIVersion != gvk.GroupVersion().String() {
		return nil
	}
	v, err := c.sets.get(namespace, ref.Name)
	if err != nil || v.meta.GetUID() != ref.UID {
		return nil
	}
	return v
}

// enqueueMatching queues every set whose selector selects the orphan pod.
func (c *Controller) enqueueMatching(pod *corev1.Pod) {
	sets, err := c.sets.list(pod.Namespace)
	if err != nil {
		c.log.Error("cannot list sets for orphan pod", "pod", podKey(pod), "err", err)
		return
	}
	for _, v := range sets {
		if v.matches(pod.Labels) {
			c.queue.Add(setKey(v))
		}
	}
}

func setKey(v *view) string { return v.meta.GetNamespace() + "/" + v.meta.GetName() }

func podKey(p *corev1.Pod) string { return p.Namespace + "/" + p.Name }

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, va := range a {
		if vb, ok := b[k]; !ok || va != vb {
			return false
		}
	}
	return true
}

func refsEqual(a, b *metav1.OwnerReference) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.UID == b.UID
}
