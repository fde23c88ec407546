// Package nodeipam gives every Node a pod range (spec.podCIDR) from the
// cluster CIDR, as upstream's range allocator does: the node's agent builds
// its pod network from it, and other nodes route it to the node's address.
package nodeipam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/skiff-sh/skiff/internal/controller"
	"github.com/skiff-sh/skiff/internal/podnet"
)

// Config tunes the allocator.
type Config struct {
	// ClusterCIDR is the range node ranges are cut from. Required.
	ClusterCIDR *net.IPNet
	// NodeMaskSize is the prefix length of a node's range (24, 64 for
	// IPv6).
	NodeMaskSize int
}

// Controller allocates pod ranges to nodes.
type Controller struct {
	log      *slog.Logger
	client   kubernetes.Interface
	recorder record.EventRecorder
	nodes    corelisters.NodeLister
	synced   cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]

	// mu guards set and owner: the release on a node's deletion runs in an
	// informer handler, allocation in the worker.
	mu  sync.Mutex
	set *cidrSet
	// owner maps an allocated range to its node, so that a deleted node's
	// range is released only if it is still that node's.
	owner map[string]string
}

// New registers the allocator's informer on cc.Informers.
func New(cc controller.Context, cfg Config) (*Controller, error) {
	if cfg.ClusterCIDR == nil {
		return nil, errors.New("nodeipam: a cluster CIDR is required")
	}
	if cfg.NodeMaskSize == 0 {
		cfg.NodeMaskSize = 24
		if cfg.ClusterCIDR.IP.To4() == nil {
			cfg.NodeMaskSize = 64
		}
	}
	set, err := newCIDRSet(cfg.ClusterCIDR, cfg.NodeMaskSize)
	if err != nil {
		return nil, err
	}
	c := &Controller{
		log:      cc.Logger(),
		client:   cc.Client,
		recorder: cc.EventRecorder("cidrAllocator"),
		set:      set,
		owner:    make(map[string]string),
		queue:    cc.NewQueue("nodeipam"),
	}
	inf := cc.Informers.Core().V1().Nodes()
	c.nodes, c.synced = inf.Lister(), inf.Informer().HasSynced
	_, err = inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { c.enqueue(obj) },
		UpdateFunc: func(_, obj any) {
			if n := obj.(*corev1.Node); n.Spec.PodCIDR == "" {
				c.enqueue(n)
			}
		},
		DeleteFunc: func(obj any) {
			if n, ok := controller.Deleted[*corev1.Node](obj); ok {
				c.release(n)
				c.enqueueWaiting()
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("nodeipam: %w", err)
	}
	return c, nil
}

func (c *Controller) enqueue(obj any) {
	if n, ok := obj.(*corev1.Node); ok {
		c.queue.Add(n.Name)
	}
}

// Run marks the ranges nodes already have, then allocates for the others
// until ctx ends. Marking first keeps a restarted allocator from handing
// out a range a node holds.
func (c *Controller) Run(ctx context.Context) error {
	return controller.Workers{
		Name:    "nodeipam",
		Log:     c.log.With("controller", "nodeipam"),
		Queue:   c.queue,
		Synced:  []cache.InformerSynced{c.synced},
		Prepare: c.occupyExisting,
		// One worker: allocations are cheap and a single writer keeps the
		// order of nodes stable.
		Count: 1,
		Sync:  c.sync,
	}.Run(ctx)
}

// occupyExisting marks the ranges the nodes in the cache hold.
func (c *Controller) occupyExisting(context.Context) error {
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("nodeipam: list nodes: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range nodes {
		c.occupyLocked(n)
	}
	return nil
}

// sync gives the node a range if it has none.
func (c *Controller) sync(ctx context.Context, name string) error {
	node, err := c.nodes.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	c.mu.Lock()
	if node.Spec.PodCIDR != "" {
		c.occupyLocked(node)
		c.mu.Unlock()
		return nil
	}
	cidr, err := c.set.allocate()
	if err == nil {
		c.owner[cidr.String()] = name
	}
	c.mu.Unlock()
	if err != nil {
		c.recorder.Eventf(node, corev1.EventTypeNormal, "CIDRNotAvailable", "Node %s status is now: CIDRNotAvailable", name)
		// Retried with back-off: a node's deletion may free a range.
		return err
	}
	if err := c.patch(ctx, node, cidr); err != nil {
		c.mu.Lock()
		if c.owner[cidr.String()] == name {
			delete(c.owner, cidr.String())
			c.set.undo(cidr)
		}
		c.mu.Unlock()
		return err
	}
	c.log.Info("nodeipam: allocated", "node", name, "podCIDR", cidr)
	return nil
}

// patch sets the node's range. It carries no resourceVersion: a node is
// written often while it starts (its status), and a conflict would cost a
// retry each time. A node that got a range another way meanwhile is safe,
// as the API refuses to change a pod range once set.
func (c *Controller) patch(ctx context.Context, node *corev1.Node, cidr *net.IPNet) error {
	body, err := json.Marshal(map[string]any{
		"spec": map[string]any{"podCIDR": cidr.String(), "podCIDRs": []string{cidr.String()}},
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err = c.client.CoreV1().Nodes().Patch(ctx, node.Name, types.StrategicMergePatchType, body, metav1.PatchOptions{})
	if err != nil {
		return fmt.Errorf("nodeipam: set pod CIDR of node %s: %w", node.Name, err)
	}
	return nil
}

// enqueueWaiting retries the nodes still without a range at once, rather
// than after their back-off, since a range was just freed.
func (c *Controller) enqueueWaiting() {
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return
	}
	for _, n := range nodes {
		if n.Spec.PodCIDR == "" {
			c.queue.Add(n.Name)
		}
	}
}

// occupyLocked records the ranges a node already holds.
func (c *Controller) occupyLocked(node *corev1.Node) {
	for _, s := range podnet.NodeCIDRs(node) {
		_, cidr, err := net.ParseCIDR(s)
		if err != nil {
			continue
		}
		if c.set.occupy(cidr) {
			c.owner[cidr.String()] = node.Name
		}
	}
}

func (c *Controller) release(node *corev1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range podnet.NodeCIDRs(node) {
		if _, cidr, err := net.ParseCIDR(s); err == nil {
			c.releaseLocked(cidr, node.Name)
		}
	}
}

func (c *Controller) releaseLocked(cidr *net.IPNet, node string) {
	if c.owner[cidr.String()] != node {
		return
	}
	delete(c.owner, cidr.String())
	c.set.release(cidr)
}
