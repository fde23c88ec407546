// Package clusterdns publishes the cluster's DNS service. Every node's
// agent answers DNS on the gateway address of its pod bridge (the first
// address of its pod range); this controller keeps the kube-dns Service at
// its well-known address and an EndpointSlice listing those addresses, one
// per node. The Service's internalTrafficPolicy is Local, so that each node's
// proxy sends its pods' queries to the node's own server.
package clusterdns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller"
	"github.com/skiff-sh/skiff/internal/podnet"
)

// Names of the DNS service, as upstream's kube-dns and CoreDNS add-ons use
// them: clients and tools look for kube-system/kube-dns.
const (
	Namespace   = metav1.NamespaceSystem
	ServiceName = "kube-dns"
)

// Config locates the service.
type Config struct {
	// ServiceIP is the Service's cluster IP, by convention the tenth
	// address of the service range. Required.
	ServiceIP net.IP
}

// Controller keeps the DNS Service and its EndpointSlice.
type Controller struct {
	log      *slog.Logger
	client   kubernetes.Interface
	cfg      Config
	nodes    corelisters.NodeLister
	services corelisters.ServiceLister
	slices   discoverylisters.EndpointSliceLister
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
}

// New registers the controller's informers on cc.Informers.
func New(cc controller.Context, cfg Config) (*Controller, error) {
	if cfg.ServiceIP == nil {
		return nil, errors.New("clusterdns: a service IP is required")
	}
	c := &Controller{
		log:    cc.Logger(),
		client: cc.Client,
		cfg:    cfg,
		queue:  cc.NewQueue("clusterdns"),
	}
	nodeInf := cc.Informers.Core().V1().Nodes()
	svcInf := cc.Informers.Core().V1().Services()
	sliceInf := cc.Informers.Discovery().V1().EndpointSlices()
	c.nodes, c.services, c.slices = nodeInf.Lister(), svcInf.Lister(), sliceInf.Lister()
	c.synced = []cache.InformerSynced{nodeInf.Informer().HasSynced, svcInf.Informer().HasSynced, sliceInf.Informer().HasSynced}
	always := func(any) { c.queue.Add(ServiceName) }
	ours := func(obj any) {
		if m, err := metaOf(obj); err == nil && m.GetNamespace() == Namespace && (m.GetName() == ServiceName || strings.HasPrefix(m.GetName(), slicePrefix)) {
			c.queue.Add(ServiceName)
		}
	}
	for inf, h := range map[cache.SharedIndexInformer]func(any){
		nodeInf.Informer(): always, svcInf.Informer(): ours, sliceInf.Informer(): ours,
	} {
		_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    h,
			UpdateFunc: func(_, cur any) { h(cur) },
			DeleteFunc: func(obj any) {
				if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
					obj = tomb.Obj
				}
				h(obj)
			},
		})
		if err != nil {
			return nil, fmt.Errorf("clusterdns: %w", err)
		}
	}
	return c, nil
}

func metaOf(obj any) (metav1.Object, error) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("clusterdns: unexpected %T", obj)
	}
	return m, nil
}

// Run keeps the service until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	return controller.Workers{
		Name:   "clusterdns",
		Log:    c.log.With("controller", "clusterdns"),
		Queue:  c.queue,
		Synced: c.synced,
		// The first sync creates the Service even when no informer event
		// asks for one.
		Prepare: func(context.Context) error {
			c.queue.Add(ServiceName)
			return nil
		},
		Sync: c.sync,
	}.Run(ctx)
}

// sync keeps the Service and its slice; every key means the same.
func (c *Controller) sync(ctx context.Context, _ string) error {
	svc, err := c.ensureService(ctx)
	if err != nil || svc == nil {
		return err
	}
	return c.ensureSlices(ctx, svc)
}

var dnsPorts = []struct {
	name  string
	proto corev1.Protocol
}{{"dns", corev1.ProtocolUDP}, {"dns-tcp", corev1.ProtocolTCP}}

func serviceLabels() map[string]string {
	return map[string]string{
		"k8s-app":                       ServiceName,
		"kubernetes.io/cluster-service": "true",
		"kubernetes.io/name":            "CoreDNS",
	}
}

// ensureService creates the Service when it is missing and returns it
// once the cache has it. A Service that exists is left as it is: a user
// who changed it meant to.
func (c *Controller) ensureService(ctx context.Context) (*corev1.Service, error) {
	if svc, err := c.services.Services(Namespace).Get(ServiceName); err == nil {
		return svc, nil
	} else if !apierrors.IsNotFound(err) {
		return nil, err
	}
	local := corev1.ServiceInternalTrafficPolicyLocal
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: ServiceName, Labels: serviceLabels()},
		Spec: corev1.ServiceSpec{
			ClusterIP:             c.cfg.ServiceIP.String(),
			ClusterIPs:            []string{c.cfg.ServiceIP.String()},
			InternalTrafficPolicy: &local,
		},
	}
	for _, p := range dnsPorts {
		svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{Name: p.name, Protocol: p.proto, Port: 53})
	}
	// The slice follows when the informer brings the created Service (its
	// uid is the slice's owner).
	_, err := c.client.CoreV1().Services(Namespace).Create(ctx, svc, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("clusterdns: create service: %w", err)
	}
	return nil, nil
}

// slicePrefix names the EndpointSlices the controller writes:
// kube-dns-nodes-0, -1, ..., each with up to maxPerSlice nodes.
const slicePrefix = ServiceName + "-nodes-"

// maxPerSlice is the endpoints per slice, the endpointslice controller's
// default: a node's change rewrites one small slice, and a large cluster
// stays within the API's 1,000 per slice.
const maxPerSlice = 100

// ManagedBy marks the slices as this controller's, so that the
// endpointslice controller leaves them alone.
const ManagedBy = "clusterdns.skiff.sh"

// ensureSlices lists every node's DNS address in the Service's
// EndpointSlices, ready while the node is.
func (c *Controller) ensureSlices(ctx context.Context, svc *corev1.Service) error {
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return err
	}
	slices.SortFunc(nodes, func(a, b *corev1.Node) int { return strings.Compare(a.Name, b.Name) })
	var eps []discoveryv1.Endpoint
	for _, n := range nodes {
		ip := podnet.NodeGateway(n)
		if ip == nil || ip.To4() == nil {
			continue
		}
		ready := controller.NodeReady(n)
		eps = append(eps, discoveryv1.Endpoint{
			Addresses: []string{ip.String()},
			Conditions: discoveryv1.EndpointConditions{
				Ready: ptr.To(ready), Serving: ptr.To(ready), Terminating: ptr.To(false),
			},
			NodeName: ptr.To(n.Name),
		})
	}
	chunks := 0
	for start := 0; start < len(eps) || start == 0; start += maxPerSlice {
		end := min(start+maxPerSlice, len(eps))
		if err := c.ensureSlice(ctx, svc, slicePrefix+strconv.Itoa(chunks), eps[start:end]); err != nil {
			return err
		}
		chunks++
	}
	// Slices beyond the ones needed now, after nodes left.
	existing, err := c.slices.EndpointSlices(Namespace).List(labels.SelectorFromSet(labels.Set{discoveryv1.LabelManagedBy: ManagedBy}))
	if err != nil {
		return err
	}
	for _, sl := range existing {
		i, err := strconv.Atoi(strings.TrimPrefix(sl.Name, slicePrefix))
		if err == nil && i < chunks {
			continue
		}
		if err := c.client.DiscoveryV1().EndpointSlices(Namespace).Delete(ctx, sl.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("clusterdns: delete endpoint slice %s: %w", sl.Name, err)
		}
	}
	return nil
}

// ensureSlice makes the named slice hold eps.
func (c *Controller) ensureSlice(ctx context.Context, svc *corev1.Service, name string, eps []discoveryv1.Endpoint) error {
	want := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: Namespace,
			Name:      name,
			Labels: map[string]string{
				discoveryv1.LabelServiceName: ServiceName,
				discoveryv1.LabelManagedBy:   ManagedBy,
			},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(svc, corev1.SchemeGroupVersion.WithKind("Service"))},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   eps,
	}
	for _, p := range dnsPorts {
		want.Ports = append(want.Ports, discoveryv1.EndpointPort{Name: ptr.To(p.name), Protocol: ptr.To(p.proto), Port: ptr.To[int32](53)})
	}

	cur, err := c.slices.EndpointSlices(Namespace).Get(name)
	if apierrors.IsNotFound(err) {
		if _, err := c.client.DiscoveryV1().EndpointSlices(Namespace).Create(ctx, want, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("clusterdns: create endpoint slice %s: %w", name, err)
		}
		return nil
	}
	if err != nil {
		return err
	}
	if apiequality.Semantic.DeepEqual(cur.Endpoints, want.Endpoints) && apiequality.Semantic.DeepEqual(cur.Ports, want.Ports) &&
		apiequality.Semantic.DeepEqual(cur.Labels, want.Labels) && apiequality.Semantic.DeepEqual(cur.OwnerReferences, want.OwnerReferences) {
		return nil
	}
	updated := cur.DeepCopy()
	updated.Labels, updated.OwnerReferences = want.Labels, want.OwnerReferences
	updated.Endpoints, updated.Ports = want.Endpoints, want.Ports
	if _, err := c.client.DiscoveryV1().EndpointSlices(Namespace).Update(ctx, updated, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("clusterdns: update endpoint slice %s: %w", name, err)
	}
	return nil
}
