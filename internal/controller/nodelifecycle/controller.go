// Package nodelifecycle watches node health the way upstream's node
// lifecycle controller does: a node whose kubelet stopped renewing its Lease
// and posting status is marked Unknown, nodes are tainted by their
// conditions, and pods that do not tolerate a node's NoExecute taints are
// evicted (upstream's taint-eviction-controller).
package nodelifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/client-go/kubernetes"
	coordinationlisters "k8s.io/client-go/listers/coordination/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/controller"
)

// Config tunes the controller. Zero values take the defaults noted, which
// are upstream's.
type Config struct {
	// NodeMonitorPeriod is how often node health is checked (5s).
	NodeMonitorPeriod time.Duration
	// NodeMonitorGracePeriod is how long a node may go without renewing
	// its Lease or posting status before it is marked Unknown (40s).
	NodeMonitorGracePeriod time.Duration
	// NodeStartupGracePeriod replaces NodeMonitorGracePeriod for a node
	// that never posted a Ready condition (60s).
	NodeStartupGracePeriod time.Duration
	// Workers is the number of workers for each of the node and pod
	// queues (4).
	Workers int
}

// Defaults for the zero values of Config.
const (
	DefaultNodeMonitorPeriod      = 5 * time.Second
	DefaultNodeMonitorGracePeriod = 40 * time.Second
	DefaultNodeStartupGracePeriod = 60 * time.Second
	DefaultWorkers                = 4
)

const (
	leaseNamespace = "kube-node-lease"
	nodeNameIndex  = "nodelifecycle.skiff.sh/nodeName"
)

func (c *Config) applyDefaults() {
	if c.NodeMonitorPeriod <= 0 {
		c.NodeMonitorPeriod = DefaultNodeMonitorPeriod
	}
	if c.NodeMonitorGracePeriod <= 0 {
		c.NodeMonitorGracePeriod = DefaultNodeMonitorGracePeriod
	}
	if c.NodeStartupGracePeriod <= 0 {
		c.NodeStartupGracePeriod = DefaultNodeStartupGracePeriod
	}
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
}

// Controller is the node lifecycle controller.
type Controller struct {
	log          *slog.Logger
	client       kubernetes.Interface
	clock        clock.WithTicker
	cfg          Config
	nodeRecorder record.EventRecorder
	podRecorder  record.EventRecorder

	nodes      corelisters.NodeLister
	leases     coordinationlisters.LeaseLister
	pods       corelisters.PodLister
	podIndexer cache.Indexer
	synced     []cache.InformerSynced

	// nodeQueue feeds taint and pod-readiness updates; podQueue feeds
	// NoExecute evictions.
	nodeQueue workqueue.TypedRateLimitingInterface[string]
	podQueue  workqueue.TypedRateLimitingInterface[string]

	// health is the controller's own view of when each node was last
	// heard from, by its own clock so skewed node clocks do not matter.
	healthMu sync.Mutex
	health   map[string]*nodeHealth
}

// New registers the controller's informers on cc.Informers.
func New(cc controller.Context, cfg Config) (*Controller, error) {
	if cc.Client == nil || cc.Informers == nil {
		return nil, errors.New("nodelifecycle: client and informers are required")
	}
	cfg.applyDefaults()
	c := &Controller{
		log:          cc.Log,
		client:       cc.Client,
		clock:        cc.Clock,
		cfg:          cfg,
		nodeRecorder: recorder(cc, "node-controller"),
		podRecorder:  recorder(cc, "taint-eviction-controller"),
		health:       make(map[string]*nodeHealth),
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.clock == nil {
		c.clock = clock.RealClock{}
	}
	c.nodeQueue = workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "nodelifecycle-node", Clock: c.clock},
	)
	c.podQueue = workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "nodelifecycle-pod", Clock: c.clock},
	)

	nodeInf := cc.Informers.Core().V1().Nodes()
	leaseInf := cc.Informers.Coordination().V1().Leases()
	podInf := cc.Informers.Core().V1().Pods()
	c.nodes, c.leases, c.pods = nodeInf.Lister(), leaseInf.Lister(), podInf.Lister()
	if err := podInf.Informer().AddIndexers(cache.Indexers{nodeNameIndex: podNodeName}); err != nil {
		return nil, fmt.Errorf("nodelifecycle: pod indexer: %w", err)
	}
	c.podIndexer = podInf.Informer().GetIndexer()
	if _, err := nodeInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.onNode(nil, obj) },
		UpdateFunc: c.onNode,
	}); err != nil {
		return nil, fmt.Errorf("nodelifecycle: node handler: %w", err)
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.onPod,
		UpdateFunc: func(_, obj any) { c.onPod(obj) },
	}); err != nil {
		return nil, fmt.Errorf("nodelifecycle: pod handler: %w", err)
	}
	c.synced = []cache.InformerSynced{
		nodeInf.Informer().HasSynced, leaseInf.Informer().HasSynced, podInf.Informer().HasSynced,
	}
	return c, nil
}

func recorder(cc controller.Context, component string) record.EventRecorder {
	if cc.Recorder == nil {
		// A FakeRecorder without a channel drops every event.
		return &record.FakeRecorder{}
	}
	return cc.Recorder(component)
}

func podNodeName(obj any) ([]string, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Spec.NodeName == "" {
		return nil, nil
	}
	return []string{pod.Spec.NodeName}, nil
}

// onNode queues the node for tainting and, when its taints changed, its
// pods for eviction checks.
func (c *Controller) onNode(oldObj, obj any) {
	node, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	c.nodeQueue.Add(node.Name)
	if old, ok := oldObj.(*corev1.Node); ok && equality.Semantic.DeepEqual(old.Spec.Taints, node.Spec.Taints) {
		return
	}
	c.queuePodsOn(node.Name)
}

func (c *Controller) onPod(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Spec.NodeName == "" || pod.DeletionTimestamp != nil {
		return
	}
	if key, err := cache.MetaNamespaceKeyFunc(pod); err == nil {
		c.podQueue.Add(key)
	}
}

func (c *Controller) queuePodsOn(node string) {
	objs, err := c.podIndexer.ByIndex(nodeNameIndex, node)
	if err != nil {
		c.log.Error("list pods on node", "node", node, "err", err)
		return
	}
	for _, obj := range objs {
		c.onPod(obj)
	}
}

// Run waits for the caches, then monitors node health and runs the
// workers until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.nodeQueue.ShutDown()
	defer c.podQueue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		if ctx.Err() != nil {
			return nil
		}
		return errors.New("nodelifecycle: caches did not sync")
	}
	var wg sync.WaitGroup
	for range c.cfg.Workers {
		wg.Go(func() { runQueue(ctx, c.log, c.nodeQueue, c.syncNode) })
		wg.Go(func() { runQueue(ctx, c.log, c.podQueue, c.syncPod) })
	}
	ticker := c.clock.NewTicker(c.cfg.NodeMonitorPeriod)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			c.nodeQueue.ShutDown()
			c.podQueue.ShutDown()
			wg.Wait()
			return nil
		case <-ticker.C():
			c.monitorNodeHealth(ctx)
		}
	}
}

// runQueue feeds keys to sync until the queue shuts down, retrying failures
// with backoff.
func runQueue(ctx context.Context, log *slog.Logger, q workqueue.TypedRateLimitingInterface[string], sync func(context.Context, string) error) {
	for {
		key, shutdown := q.Get()
		if shutdown {
			return
		}
		if err := sync(ctx, key); err != nil && ctx.Err() == nil {
			log.Debug("nodelifecycle sync failed, retrying", "key", key, "err", err)
			q.AddRateLimited(key)
		} else {
			q.Forget(key)
		}
		q.Done(key)
	}
}
