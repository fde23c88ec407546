// Package scheduler assigns unbound pods to nodes. Its core, Schedule and
// Preempt over a Snapshot, is pure; the Scheduler around it keeps the
// Snapshot current from informers, queues pending pods with backoff, and
// commits decisions through the pods/binding subresource asynchronously,
// assuming each placement in the Snapshot before the bind returns.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/controller"
)

// DefaultSchedulerName is the spec.schedulerName this scheduler serves; an
// empty schedulerName means the same.
const DefaultSchedulerName = corev1.DefaultSchedulerName

// Config tunes the Scheduler; zero values take the defaults.
type Config struct {
	// SchedulerName selects the pods to schedule; default
	// "default-scheduler".
	SchedulerName string
	// BindWorkers is how many bindings (and status writes) run at once;
	// default 16.
	BindWorkers int
	// PercentageOfNodesToScore: see Options; 0 is adaptive.
	PercentageOfNodesToScore int32
	// InitialBackoff and MaxBackoff bound the per-pod retry backoff;
	// defaults 1s and 10s.
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	// MaxUnschedulableDuration is how long an unschedulable pod waits for
	// a cluster event before it is retried anyway; default 5m.
	MaxUnschedulableDuration time.Duration
}

func (c *Config) applyDefaults() {
	if c.SchedulerName == "" {
		c.SchedulerName = DefaultSchedulerName
	}
	if c.BindWorkers <= 0 {
		c.BindWorkers = 16
	}
	if c.InitialBackoff <= 0 {
		c.InitialBackoff = time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 10 * time.Second
	}
	if c.MaxBackoff < c.InitialBackoff {
		c.MaxBackoff = c.InitialBackoff
	}
	if c.MaxUnschedulableDuration <= 0 {
		c.MaxUnschedulableDuration = 5 * time.Minute
	}
}

// Scheduler is the running scheduler.
type Scheduler struct {
	cfg      Config
	log      *slog.Logger
	client   kubernetes.Interface
	recorder record.EventRecorder
	clock    clock.Clock
	pods     corelisters.PodLister
	synced   []cache.InformerSynced

	queue *schedulingQueue
	// mu guards snap: informer handlers write it, the scheduling loop
	// reads it and applies its own assumptions.
	mu   sync.Mutex
	snap *Snapshot

	jobs chan func(context.Context)
}

// New builds a Scheduler and registers its informer handlers on
// cc.Informers.
func New(cc controller.Context, cfg Config) (*Scheduler, error) {
	if cc.Client == nil || cc.Informers == nil {
		return nil, errors.New("scheduler: client and informers are required")
	}
	cfg.applyDefaults()
	s := &Scheduler{
		cfg:    cfg,
		log:    cc.Log,
		client: cc.Client,
		clock:  cc.Clock,
		snap:   NewSnapshot(),
		jobs:   make(chan func(context.Context), 4*cfg.BindWorkers),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.clock == nil {
		s.clock = clock.RealClock{}
	}
	if cc.Recorder != nil {
		s.recorder = cc.Recorder(cfg.SchedulerName)
	}
	if s.recorder == nil {
		s.recorder = &record.FakeRecorder{}
	}
	s.queue = newSchedulingQueue(s.clock, cfg.InitialBackoff, cfg.MaxBackoff, cfg.MaxUnschedulableDuration)

	podInf := cc.Informers.Core().V1().Pods()
	nodeInf := cc.Informers.Core().V1().Nodes()
	nsInf := cc.Informers.Core().V1().Namespaces()
	s.pods = podInf.Lister()
	handlers := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{podInf.Informer(), cache.ResourceEventHandlerFuncs{AddFunc: s.onPodAdd, UpdateFunc: s.onPodUpdate, DeleteFunc: s.onPodDelete}},
		{nodeInf.Informer(), cache.ResourceEventHandlerFuncs{AddFunc: s.onNodeAdd, UpdateFunc: s.onNodeUpdate, DeleteFunc: s.onNodeDelete}},
		{nsInf.Informer(), cache.ResourceEventHandlerFuncs{AddFunc: s.onNamespace, UpdateFunc: func(_, n any) { s.onNamespace(n) }, DeleteFunc: s.onNamespaceDelete}},
	}
	for _, h := range handlers {
		reg, err := h.inf.AddEventHandler(h.h)
		if err != nil {
			return nil, fmt.Errorf("scheduler: add event handler: %w", err)
		}
		s.synced = append(s.synced, reg.HasSynced)
	}
	return s, nil
}

// Run waits for the caches, then schedules pods until ctx ends.
func (s *Scheduler) Run(ctx context.Context) error {
	if !cache.WaitForCacheSync(ctx.Done(), s.synced...) {
		if ctx.Err() != nil {
			return nil
		}
		return errors.New("scheduler: caches did not sync")
	}
	s.log.Info("scheduler started", "name", s.cfg.SchedulerName, "bindWorkers", s.cfg.BindWorkers)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.queue.runFlusher(ctx)
	}()
	for range s.cfg.BindWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.runJobs(ctx)
		}()
	}
	for {
		qp, ok := s.queue.Pop(ctx)
		if !ok {
			break
		}
		s.scheduleOne(ctx, qp)
	}
	wg.Wait()
	return nil
}

func (s *Scheduler) runJobs(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case job := <-s.jobs:
			job(ctx)
		}
	}
}

// submit hands an API write to the worker pool; when the pool is behind,
// the scheduling loop waits, which bounds the assumed-but-unbound pods.
func (s *Scheduler) submit(ctx context.Context, job func(context.Context)) {
	select {
	case s.jobs <- job:
	case <-ctx.Done():
	}
}

// responsible reports whether this scheduler should place pod.
func (s *Scheduler) responsible(pod *corev1.Pod) bool {
	name := pod.Spec.SchedulerName
	if name == "" {
		name = DefaultSchedulerName
	}
	return name == s.cfg.SchedulerName
}

func podKey(pod *corev1.Pod) string { return pod.Namespace + "/" + pod.Name }

func isTerminal(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}
