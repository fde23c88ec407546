// Package sim runs simulated nodes: it registers Node objects, keeps their
// Leases and status fresh and plays the kubelet's part for pods bound to them
// (Running, Succeeded, final deletion), all through the public API. It plays
// the role kwok or kubemark's hollow nodes play upstream: nothing is ever run
// and no address it hands out is ever contacted.
package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
)

// Config describes the simulated nodes. Zero values take the defaults noted.
type Config struct {
	// Nodes is how many nodes to simulate.
	Nodes int
	// NamePrefix prefixes each node's index ("sim-node-").
	NamePrefix string
	// CPU, Memory, Pods and EphemeralStorage are each node's capacity, as
	// resource quantities ("32", "256Gi", "110", "1Ti").
	CPU, Memory, Pods, EphemeralStorage string
	// Labels are added to every node besides the well-known ones.
	Labels map[string]string
	// HeartbeatInterval is how often each node renews its Lease (10s).
	HeartbeatInterval time.Duration
	// StatusInterval is how often each node reports its status even when
	// nothing changed, like the kubelet's nodeStatusReportFrequency (1m).
	StatusInterval time.Duration
	// CompletionDelay is how long a pod whose restartPolicy is not Always
	// runs before it Succeeds (1s).
	CompletionDelay time.Duration
	// Concurrency bounds the API calls in flight (32).
	Concurrency int
	// Clock is the time source (the real clock); tests inject a fake one.
	Clock clock.WithTicker
}

// Defaults for the zero values of Config.
const (
	DefaultNamePrefix        = "sim-node-"
	DefaultHeartbeatInterval = 10 * time.Second
	DefaultStatusInterval    = time.Minute
	DefaultCompletionDelay   = time.Second
	DefaultConcurrency       = 32
)

// Fixed facts every simulated node reports.
const (
	leaseNamespace       = "kube-node-lease"
	leaseDurationSeconds = 40
	kubeletVersion       = "v1.37.0-skiff-sim"
	runtimeVersion       = "sim://1.0"
	instanceType         = "sim"
	nodeNameIndex        = "sim.skiff.sh/nodeName"
)

func (c *Config) applyDefaults() {
	if c.NamePrefix == "" {
		c.NamePrefix = DefaultNamePrefix
	}
	if c.CPU == "" {
		c.CPU = "32"
	}
	if c.Memory == "" {
		c.Memory = "256Gi"
	}
	if c.Pods == "" {
		c.Pods = "110"
	}
	if c.EphemeralStorage == "" {
		c.EphemeralStorage = "1Ti"
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.StatusInterval <= 0 {
		c.StatusInterval = DefaultStatusInterval
	}
	if c.CompletionDelay <= 0 {
		c.CompletionDelay = DefaultCompletionDelay
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.Clock == nil {
		c.Clock = clock.RealClock{}
	}
}

// capacity is the parsed form of the Config quantities.
type capacity struct {
	cpu, memory, pods, storage resource.Quantity
}

func parseCapacity(c Config) (capacity, error) {
	var out capacity
	for _, q := range []struct {
		name, value string
		dst         *resource.Quantity
	}{
		{"cpu", c.CPU, &out.cpu},
		{"memory", c.Memory, &out.memory},
		{"pods", c.Pods, &out.pods},
		{"ephemeral-storage", c.EphemeralStorage, &out.storage},
	} {
		v, err := resource.ParseQuantity(q.value)
		if err != nil {
			return capacity{}, fmt.Errorf("sim: %s %q: %w", q.name, q.value, err)
		}
		*q.dst = v
	}
	return out, nil
}

// simNode is one simulated node. Its identity is fixed at New; failed flips
// with Fail/Recover; mu guards the node UID, the cached Lease and the pod
// IP counter.
type simNode struct {
	name   string
	index  int
	hostIP string
	failed atomic.Bool
	// reregister lets the next status report create the Node again if it
	// was deleted; only Recover sets it, since a kubelet registers once.
	reregister atomic.Bool

	mu     sync.Mutex
	uid    types.UID // the Node object's, to own the Lease
	lease  *coordinationv1.Lease
	nextIP int
}

// itemKind says what a queued item asks a worker to do.
type itemKind int

const (
	renewLease itemKind = iota
	reportStatus
	syncPod
)

type item struct {
	kind itemKind
	key  string // node name, or namespace/name for pods
}

// Sim runs the simulated nodes.
type Sim struct {
	log    *slog.Logger
	client kubernetes.Interface
	cfg    Config
	clock  clock.WithTicker
	cap    capacity

	// nodes and names are fixed at New, so handlers read them unlocked.
	nodes map[string]*simNode
	names []string

	factory     informers.SharedInformerFactory
	podInformer cache.SharedIndexInformer
	pods        corelisters.PodLister
	nodeLister  corelisters.NodeLister
	nodeSynced  cache.InformerSynced
	queue       workqueue.TypedRateLimitingInterface[item]

	// started records when this sim first saw a pod running, since the
	// API's startTime only keeps whole seconds.
	startedMu sync.Mutex
	started   map[types.UID]time.Time

	ready chan struct{}
}

// New validates cfg and prepares the simulated nodes; nothing touches the
// API until Run.
func New(log *slog.Logger, client kubernetes.Interface, cfg Config) (*Sim, error) {
	if client == nil {
		return nil, errors.New("sim: nil client")
	}
	if cfg.Nodes < 0 {
		return nil, fmt.Errorf("sim: negative node count %d", cfg.Nodes)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg.applyDefaults()
	capa, err := parseCapacity(cfg)
	if err != nil {
		return nil, err
	}
	s := &Sim{
		log:     log,
		client:  client,
		cfg:     cfg,
		clock:   cfg.Clock,
		cap:     capa,
		nodes:   make(map[string]*simNode, cfg.Nodes),
		names:   make([]string, 0, cfg.Nodes),
		started: make(map[types.UID]time.Time),
		ready:   make(chan struct{}),
	}
	for i := range cfg.Nodes {
		name := fmt.Sprintf("%s%d", cfg.NamePrefix, i)
		s.nodes[name] = &simNode{name: name, index: i, hostIP: hostIP(i)}
		s.names = append(s.names, name)
	}
	s.queue = workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.DefaultTypedControllerRateLimiter[item](),
		workqueue.TypedRateLimitingQueueConfig[item]{Name: "sim", Clock: cfg.Clock},
	)
	if err := s.setupInformers(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Sim) setupInformers() error {
	s.factory = informers.NewSharedInformerFactory(s.client, 0)
	podInf := s.factory.Core().V1().Pods()
	s.podInformer = podInf.Informer()
	s.pods = podInf.Lister()
	if err := s.podInformer.AddIndexers(cache.Indexers{nodeNameIndex: podNodeName}); err != nil {
		return fmt.Errorf("sim: pod indexer: %w", err)
	}
	if _, err := s.podInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    s.onPod,
		UpdateFunc: func(_, obj any) { s.onPod(obj) },
		DeleteFunc: s.onPodDelete,
	}); err != nil {
		return fmt.Errorf("sim: pod handler: %w", err)
	}
	nodeInf := s.factory.Core().V1().Nodes()
	s.nodeLister = nodeInf.Lister()
	s.nodeSynced = nodeInf.Informer().HasSynced
	if _, err := nodeInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    s.onNode,
		UpdateFunc: func(_, obj any) { s.onNode(obj) },
	}); err != nil {
		return fmt.Errorf("sim: node handler: %w", err)
	}
	return nil
}

// Ready is closed once every node is registered and the caches are synced.
func (s *Sim) Ready() <-chan struct{} { return s.ready }

// NodeNames lists the simulated nodes in index order.
func (s *Sim) NodeNames() []string { return append([]string(nil), s.names...) }

// Run registers the nodes, then heartbeats and plays the kubelet for their
// pods until ctx ends.
func (s *Sim) Run(ctx context.Context) error {
	defer s.queue.ShutDown()
	if err := s.registerAll(ctx); err != nil {
		return err
	}
	s.factory.Start(ctx.Done())
	defer s.factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), s.podInformer.HasSynced, s.nodeSynced) {
		if ctx.Err() != nil {
			return nil
		}
		return errors.New("sim: caches did not sync")
	}
	// The ticker exists before Ready so a fake clock stepped after Ready
	// always reaches it and counts from before the step.
	start := s.clock.Now()
	ticker := s.clock.NewTicker(tickPeriod(min(s.cfg.HeartbeatInterval, s.cfg.StatusInterval), len(s.names)))
	defer ticker.Stop()
	s.log.Info("simulated nodes registered", "nodes", len(s.names))
	close(s.ready)

	var wg sync.WaitGroup
	for range s.cfg.Concurrency {
		wg.Go(func() {
			for s.processNext(ctx) {
			}
		})
	}
	s.heartbeat(ctx, ticker, start)
	s.queue.ShutDown()
	wg.Wait()
	return nil
}

// Fail makes node stop heartbeating and reporting, as if its kubelet died;
// its pods are left as they are.
func (s *Sim) Fail(node string) {
	if sn, ok := s.nodes[node]; ok {
		sn.failed.Store(true)
		s.log.Info("simulated node failed", "node", node)
	}
}

// Recover brings a failed node back: it heartbeats and reports Ready again
// at once, registers again if its Node was deleted, and picks up pods bound
// to it meanwhile.
func (s *Sim) Recover(node string) {
	sn, ok := s.nodes[node]
	if !ok {
		return
	}
	sn.reregister.Store(true)
	sn.failed.Store(false)
	s.log.Info("simulated node recovered", "node", node)
	s.queue.Add(item{kind: renewLease, key: node})
	s.queue.Add(item{kind: reportStatus, key: node})
	objs, err := s.podInformer.GetIndexer().ByIndex(nodeNameIndex, node)
	if err != nil {
		s.log.Error("list pods of recovered node", "node", node, "err", err)
		return
	}
	for _, obj := range objs {
		if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
			s.queue.Add(item{kind: syncPod, key: key})
		}
	}
}

// live returns the simulated node called name unless it is unknown or failed.
func (s *Sim) live(name string) (*simNode, bool) {
	sn, ok := s.nodes[name]
	if !ok || sn.failed.Load() {
		return nil, false
	}
	return sn, true
}

func (s *Sim) processNext(ctx context.Context) bool {
	it, shutdown := s.queue.Get()
	if shutdown {
		return false
	}
	defer s.queue.Done(it)
	var err error
	switch it.kind {
	case renewLease:
		err = s.renewLease(ctx, it.key)
	case reportStatus:
		err = s.reportStatus(ctx, it.key)
	case syncPod:
		err = s.syncPod(ctx, it.key)
	}
	if err != nil && ctx.Err() == nil {
		s.log.Debug("sim sync failed, retrying", "kind", it.kind, "key", it.key, "err", err)
		s.queue.AddRateLimited(it)
		return true
	}
	s.queue.Forget(it)
	return true
}
