// Package podgc deletes pods nobody else will, as upstream's pod garbage
// collector does: pods bound to nodes that no longer exist, terminated pods
// beyond a threshold (oldest first), terminating pods that were never
// scheduled, and terminating pods on out-of-service nodes.
package podgc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/controller"
)

// Config tunes the collector. Zero values take the defaults noted.
type Config struct {
	// Interval is how often pods are collected (20s).
	Interval time.Duration
	// TerminatedPodThreshold is how many Succeeded or Failed pods may
	// exist before the oldest are deleted (12500); negative disables it.
	TerminatedPodThreshold int
	// OrphanQuarantine is how long a pod's node must stay missing before
	// the pod is deleted, so a node being re-registered is not mistaken
	// for a deleted one (40s).
	OrphanQuarantine time.Duration
	// Workers bounds the deletions in flight (20).
	Workers int
}

// Defaults for the zero values of Config.
const (
	DefaultInterval               = 20 * time.Second
	DefaultTerminatedPodThreshold = 12500
	DefaultOrphanQuarantine       = 40 * time.Second
	DefaultWorkers                = 20
)

func (c *Config) applyDefaults() {
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	if c.TerminatedPodThreshold == 0 {
		c.TerminatedPodThreshold = DefaultTerminatedPodThreshold
	}
	if c.OrphanQuarantine <= 0 {
		c.OrphanQuarantine = DefaultOrphanQuarantine
	}
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
}

// Controller is the pod garbage collector.
type Controller struct {
	log    *slog.Logger
	client kubernetes.Interface
	clock  clock.WithTicker
	cfg    Config

	pods   corelisters.PodLister
	nodes  corelisters.NodeLister
	synced []cache.InformerSynced

	// missingSince is when each missing node was first noticed; only the
	// gc pass touches it, the mutex keeps direct calls in tests honest.
	mu           sync.Mutex
	missingSince map[string]time.Time
}

// New registers the collector's informers on cc.Informers.
func New(cc controller.Context, cfg Config) (*Controller, error) {
	if cc.Client == nil || cc.Informers == nil {
		return nil, errors.New("podgc: client and informers are required")
	}
	cfg.applyDefaults()
	c := &Controller{
		log:          cc.Log,
		client:       cc.Client,
		clock:        cc.Clock,
		cfg:          cfg,
		missingSince: make(map[string]time.Time),
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.clock == nil {
		c.clock = clock.RealClock{}
	}
	podInf := cc.Informers.Core().V1().Pods()
	nodeInf := cc.Informers.Core().V1().Nodes()
	c.pods, c.nodes = podInf.Lister(), nodeInf.Lister()
	c.synced = []cache.InformerSynced{podInf.Informer().HasSynced, nodeInf.Informer().HasSynced}
	return c, nil
}

// Run collects every Interval until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		if ctx.Err() != nil {
			return nil
		}
		return errors.New("podgc: caches did not sync")
	}
	ticker := c.clock.NewTicker(c.cfg.Interval)
	defer ticker.Stop()
	for {
		c.gc(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C():
		}
	}
}

// gc is one collection pass over the cached pods and nodes.
func (c *Controller) gc(ctx context.Context) {
	pods, err := c.pods.List(labels.Everything())
	if err != nil {
		c.log.Error("podgc: list pods", "err", err)
		return
	}
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		c.log.Error("podgc: list nodes", "err", err)
		return
	}
	byName := make(map[string]*corev1.Node, len(nodes))
	for _, n := range nodes {
		byName[n.Name] = n
	}
	if c.cfg.TerminatedPodThreshold > 0 {
		c.deleteAll(ctx, "terminated", excessTerminated(pods, c.cfg.TerminatedPodThreshold), nil)
	}
	c.deleteAll(ctx, "terminating on out-of-service node", terminatingOutOfService(pods, byName),
		&disruption{reason: "DeletionByPodGC", message: "PodGC: node is out-of-service"})
	c.deleteAll(ctx, "orphaned", c.orphaned(ctx, pods, byName),
		&disruption{reason: "DeletionByPodGC", message: "PodGC: node no longer exists"})
	c.deleteAll(ctx, "unscheduled terminating", unscheduledTerminating(pods), nil)
}

func isTerminated(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// excessTerminated returns the oldest terminated pods beyond threshold.
func excessTerminated(pods []*corev1.Pod, threshold int) []*corev1.Pod {
	var terminated []*corev1.Pod
	for _, p := range pods {
		if isTerminated(p) {
			terminated = append(terminated, p)
		}
	}
	excess := len(terminated) - threshold
	if excess <= 0 {
		return nil
	}
	sort.SliceStable(terminated, func(i, j int) bool {
		a, b := terminated[i].CreationTimestamp, terminated[j].CreationTimestamp
		if a.Equal(&b) {
			return terminated[i].Namespace+"/"+terminated[i].Name < terminated[j].Namespace+"/"+terminated[j].Name
		}
		return a.Before(&b)
	})
	return terminated[:excess]
}

// terminatingOutOfService returns terminating pods whose node is not ready
// and was declared out of service: nothing will ever finish them there.
func terminatingOutOfService(pods []*corev1.Pod, nodes map[string]*corev1.Node) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range pods {
		if p.DeletionTimestamp == nil || p.Spec.NodeName == "" {
			continue
		}
		if n, ok := nodes[p.Spec.NodeName]; ok && !controller.NodeReady(n) && outOfService(n) {
			out = append(out, p)
		}
	}
	return out
}

func unscheduledTerminating(pods []*corev1.Pod) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range pods {
		if p.DeletionTimestamp != nil && p.Spec.NodeName == "" {
			out = append(out, p)
		}
	}
	return out
}

func outOfService(n *corev1.Node) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == corev1.TaintNodeOutOfService && t.Effect == corev1.TaintEffectNoExecute {
			return true
		}
	}
	return false
}

// orphaned returns pods bound to nodes missing for longer than the
// quarantine, confirmed missing with a live read, since the cache may lag
// behind a node's registration.
func (c *Controller) orphaned(ctx context.Context, pods []*corev1.Pod, nodes map[string]*corev1.Node) []*corev1.Pod {
	byNode := map[string][]*corev1.Pod{}
	for _, p := range pods {
		if p.Spec.NodeName == "" {
			continue
		}
		if _, ok := nodes[p.Spec.NodeName]; !ok {
			byNode[p.Spec.NodeName] = append(byNode[p.Spec.NodeName], p)
		}
	}
	now := c.clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for name := range c.missingSince {
		if _, still := byNode[name]; !still {
			delete(c.missingSince, name)
		}
	}
	var out []*corev1.Pod
	for name, ps := range byNode {
		since, seen := c.missingSince[name]
		if !seen {
			c.missingSince[name] = now
			continue
		}
		if now.Sub(since) < c.cfg.OrphanQuarantine {
			continue
		}
		_, err := c.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			out = append(out, ps...)
		case err == nil:
			delete(c.missingSince, name)
		default:
			c.log.Warn("podgc: check node", "node", name, "err", err)
		}
	}
	return out
}

// disruption is the DisruptionTarget condition a collected pod gets.
type disruption struct {
	reason, message string
}

// deleteAll force-deletes pods in parallel, logging failures: the next
// pass retries whatever is left.
func (c *Controller) deleteAll(ctx context.Context, why string, pods []*corev1.Pod, d *disruption) {
	if len(pods) == 0 {
		return
	}
	c.log.Info("podgc: deleting pods", "why", why, "count", len(pods))
	workqueue.ParallelizeUntil(ctx, c.cfg.Workers, len(pods), func(i int) {
		if err := c.forceDelete(ctx, pods[i], d); err != nil {
			c.log.Warn("podgc: delete pod", "why", why, "err", err)
		}
	})
}

// forceDelete marks a pod that was still running Failed (with a
// DisruptionTarget condition saying why) and deletes it with no grace.
func (c *Controller) forceDelete(ctx context.Context, pod *corev1.Pod, d *disruption) error {
	if d != nil && !isTerminated(pod) {
		updated := pod.DeepCopy()
		updated.Status.Phase = corev1.PodFailed
		updated.Status.Conditions = append(updated.Status.Conditions, corev1.PodCondition{
			Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
			Reason: d.reason, Message: d.message, LastTransitionTime: metav1.NewTime(c.clock.Now()),
		})
		_, err := c.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("mark pod %s/%s failed: %w", pod.Namespace, pod.Name, err)
		}
	}
	grace := int64(0)
	uid := pod.UID
	err := c.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: &grace,
		Preconditions:      &metav1.Preconditions{UID: &uid},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}
