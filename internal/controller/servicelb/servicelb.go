// Package servicelb is the cluster's built-in load balancer: a Service of
// type LoadBalancer gets the addresses of the Ready nodes as its ingress,
// and every node's proxy answers on them as it does on its NodePorts. No
// extra pods or cloud are involved, as with k3s's ServiceLB.
package servicelb

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/skiff-sh/skiff/internal/controller"
)

// Controller keeps LoadBalancer services' status.loadBalancer.ingress.
type Controller struct {
	log      *slog.Logger
	client   kubernetes.Interface
	services corelisters.ServiceLister
	nodes    corelisters.NodeLister
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
}

// New registers the controller's informers on cc.Informers.
func New(cc controller.Context) (*Controller, error) {
	c := &Controller{
		log:    cc.Logger(),
		client: cc.Client,
		queue:  cc.NewQueue("servicelb"),
	}
	svcInf := cc.Informers.Core().V1().Services()
	nodeInf := cc.Informers.Core().V1().Nodes()
	c.services, c.nodes = svcInf.Lister(), nodeInf.Lister()
	c.synced = []cache.InformerSynced{svcInf.Informer().HasSynced, nodeInf.Informer().HasSynced}
	_, err := svcInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
	})
	if err != nil {
		return nil, fmt.Errorf("servicelb: %w", err)
	}
	// Any node change may change the address list; the per-service sync
	// compares before it writes, so a Lease-driven status update costs a
	// comparison per LoadBalancer service.
	_, err = nodeInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { c.enqueueAll() },
		UpdateFunc: func(old, cur any) {
			if nodeAddresses(old.(*corev1.Node)) != nodeAddresses(cur.(*corev1.Node)) {
				c.enqueueAll()
			}
		},
		DeleteFunc: func(any) { c.enqueueAll() },
	})
	if err != nil {
		return nil, fmt.Errorf("servicelb: %w", err)
	}
	return c, nil
}

func (c *Controller) enqueue(obj any) { controller.Enqueue(c.log, c.queue, obj) }

func (c *Controller) enqueueAll() {
	svcs, err := c.services.List(labels.Everything())
	if err != nil {
		return
	}
	for _, s := range svcs {
		if ours(s) || len(s.Status.LoadBalancer.Ingress) > 0 {
			c.enqueue(s)
		}
	}
}

// Run syncs services until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	return controller.Workers{
		Name:   "servicelb",
		Log:    c.log.With("controller", "servicelb"),
		Queue:  c.queue,
		Synced: c.synced,
		Sync:   c.sync,
	}.Run(ctx)
}

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	svc, err := c.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var want []corev1.LoadBalancerIngress
	if ours(svc) {
		if want, err = c.ingress(); err != nil {
			return err
		}
	} else if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
		return nil // another load balancer's service
	}
	if equalIngress(svc.Status.LoadBalancer.Ingress, want) {
		return nil
	}
	svc = svc.DeepCopy()
	svc.Status.LoadBalancer.Ingress = want
	if _, err := c.client.CoreV1().Services(ns).UpdateStatus(ctx, svc, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("servicelb: update status of %s: %w", key, err)
	}
	return nil
}

// ingress lists the InternalIPs of the Ready nodes; with none Ready, of
// all nodes, so that a service keeps its addresses through a restart of
// every node.
func (c *Controller) ingress() ([]corev1.LoadBalancerIngress, error) {
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	var ready, all []string
	for _, n := range nodes {
		ip := internalIP(n)
		if ip == "" {
			continue
		}
		all = append(all, ip)
		if controller.NodeReady(n) && !n.Spec.Unschedulable {
			ready = append(ready, ip)
		}
	}
	ips := ready
	if len(ips) == 0 {
		ips = all
	}
	slices.Sort(ips)
	ips = slices.Compact(ips)
	out := make([]corev1.LoadBalancerIngress, len(ips))
	vip := corev1.LoadBalancerIPModeVIP
	for i, ip := range ips {
		out[i] = corev1.LoadBalancerIngress{IP: ip, IPMode: &vip}
	}
	return out, nil
}

// ours is a LoadBalancer service that names no other implementation.
func ours(s *corev1.Service) bool {
	return s.Spec.Type == corev1.ServiceTypeLoadBalancer && s.Spec.LoadBalancerClass == nil
}

func equalIngress(a, b []corev1.LoadBalancerIngress) bool {
	return slices.EqualFunc(a, b, func(x, y corev1.LoadBalancerIngress) bool {
		return x.IP == y.IP && x.Hostname == y.Hostname && (x.IPMode == nil) == (y.IPMode == nil) &&
			(x.IPMode == nil || *x.IPMode == *y.IPMode)
	})
}

func internalIP(n *corev1.Node) string {
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			return a.Address
		}
	}
	return ""
}

// nodeAddresses is what of a node the ingress depends on.
func nodeAddresses(n *corev1.Node) string {
	return fmt.Sprintf("%s/%t/%t", internalIP(n), controller.NodeReady(n), n.Spec.Unschedulable)
}
