package registry

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/skiff-sh/skiff/internal/storage"
	"github.com/skiff-sh/skiff/internal/storage/watchcache"
)

// Config is what the registry needs to know about the cluster.
type Config struct {
	ServiceCIDR   *net.IPNet
	NodePortRange PortRange
	// APIServerPort is the port the kubernetes Service points at.
	APIServerPort int
	Cache         watchcache.Config
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Registry holds a Store for every served resource.
type Registry struct {
	log    *slog.Logger
	cfg    Config
	stores map[schema.GroupVersionResource]*Store
	order  []*Store
}

// New builds the stores of the built-in resources over kv.
func New(log *slog.Logger, kv *storage.Store, scheme *runtime.Scheme, cfg Config) (*Registry, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ServiceCIDR == nil {
		return nil, fmt.Errorf("registry: service CIDR is required")
	}
	r := &Registry{log: log, cfg: cfg, stores: map[schema.GroupVersionResource]*Store{}}
	for _, res := range Builtin() {
		gvk := res.GVK()
		if !scheme.Recognizes(gvk) {
			return nil, fmt.Errorf("registry: scheme does not know %v", gvk)
		}
		res.New = newFunc(scheme, gvk)
		res.NewList = newFunc(scheme, gvk.GroupVersion().WithKind(gvk.Kind+"List"))
		if res.Singular == "" {
			res.Singular = strings.ToLower(res.Kind)
		}
		group := res.GVR.Group
		if group == "" {
			group = "core"
		}
		s := &Store{
			res:    res,
			prefix: "/skiff/" + group + "/" + res.GVR.Resource + "/",
			kv:     kv,
			codec:  codec{gvk: gvk, new: res.New},
			ns:     r,
			now:    cfg.Now,
		}
		if res.GVR == corev1.SchemeGroupVersion.WithResource("services") {
			s.hooks.alloc = &serviceAllocator{claims: kv, cidr: cfg.ServiceCIDR, nodePorts: cfg.NodePortRange}
		}
		if !res.ViewOf.Empty() {
			base, ok := r.stores[res.ViewOf]
			if !ok {
				return nil, fmt.Errorf("registry: %v is a view of unknown %v", res.GVR, res.ViewOf)
			}
			s.prefix, s.cache, s.hooks = base.prefix, base.cache, base.hooks
			s.view = &view{base: base, conv: res.Conversion}
		} else {
			s.cache = watchcache.New(log, kv, s.prefix, s.codec, s.attrs, cfg.Cache)
		}
		r.stores[res.GVR] = s
		r.order = append(r.order, s)
	}
	r.stores[corev1.SchemeGroupVersion.WithResource("pods")].hooks.pods = &podAdmission{
		priorityClasses: r.stores[schedulingv1.SchemeGroupVersion.WithResource("priorityclasses")],
	}
	return r, nil
}

func newFunc(scheme *runtime.Scheme, gvk schema.GroupVersionKind) func() runtime.Object {
	return func() runtime.Object {
		obj, err := scheme.New(gvk)
		if err != nil {
			panic(fmt.Sprintf("registry: %v was recognized at start: %v", gvk, err))
		}
		return obj
	}
}

// Stores returns every store, in discovery order.
func (r *Registry) Stores() []*Store { return r.order }

// Store returns the store of a resource.
func (r *Registry) Store(gvr schema.GroupVersionResource) (*Store, bool) {
	s, ok := r.stores[gvr]
	return s, ok
}

// Run fills and follows every watch cache until ctx ends.
func (r *Registry) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, s := range r.order {
		if s.view == nil {
			g.Go(func() error { return s.cache.Run(ctx) })
		}
	}
	return g.Wait()
}

// WaitReady blocks until every cache is filled.
func (r *Registry) WaitReady(ctx context.Context) error {
	for _, s := range r.order {
		select {
		case <-s.cache.Ready():
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Bootstrap creates what a cluster has from the start: the system namespaces
// and the kubernetes Service. Existing objects are left alone.
func (r *Registry) Bootstrap(ctx context.Context) error {
	nsStore := r.stores[corev1.SchemeGroupVersion.WithResource("namespaces")]
	for _, name := range []string{metav1.NamespaceDefault, metav1.NamespaceSystem, metav1.NamespacePublic, corev1.NamespaceNodeLease} {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if _, err := nsStore.Create(ctx, "", ns, WriteOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create namespace %s: %w", name, err)
		}
	}
	pcStore := r.stores[schedulingv1.SchemeGroupVersion.WithResource("priorityclasses")]
	for _, pc := range systemPriorityClasses {
		if _, err := pcStore.Create(ctx, "", pc.DeepCopy(), WriteOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create priority class %s: %w", pc.Name, err)
		}
	}
	svcStore := r.stores[corev1.SchemeGroupVersion.WithResource("services")]
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name:      "kubernetes",
			Namespace: metav1.NamespaceDefault,
			Labels:    map[string]string{"component": "apiserver", "provider": "kubernetes"},
		},
		Spec: corev1.ServiceSpec{
			ClusterIP: FirstServiceIP(r.cfg.ServiceCIDR).String(),
			Ports: []corev1.ServicePort{{
				Name: "https", Protocol: corev1.ProtocolTCP, Port: 443,
				TargetPort: intstr.FromInt32(int32(r.cfg.APIServerPort)),
			}},
		},
	}
	// Allocation would refuse the address the existing Service holds, so look
	// before creating.
	if _, err := svcStore.Get(ctx, metav1.NamespaceDefault, svc.Name, ""); !apierrors.IsNotFound(err) {
		return err
	}
	if _, err := svcStore.Create(ctx, metav1.NamespaceDefault, svc, WriteOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create kubernetes service: %w", err)
	}
	return nil
}

// checkNamespace refuses creation in a namespace that does not exist or is
// being deleted, and returns a guard on the namespace's key: the create
// commits only if the namespace is still the version checked here, so a
// namespace deleted an instant ago cannot receive new content even when the
// check was answered from the cache. fresh reads etcd instead of the cache.
func (r *Registry) checkNamespace(ctx context.Context, name string, gr schema.GroupResource, objName string, fresh bool) (storage.Guard, error) {
	s := r.stores[corev1.SchemeGroupVersion.WithResource("namespaces")]
	key := s.key("", name)
	o, _, ok := s.cache.Get(key)
	if fresh || !ok {
		var err error
		if o, err = s.Get(ctx, "", name, ""); err != nil {
			return storage.Guard{}, err
		}
	}
	ns := o.Obj.(*corev1.Namespace)
	if ns.Status.Phase == corev1.NamespaceTerminating || ns.DeletionTimestamp != nil {
		return storage.Guard{}, apierrors.NewForbidden(gr, objName,
			fmt.Errorf("unable to create new content in namespace %s because it is being terminated", name))
	}
	return storage.Guard{Key: key, ModRevision: o.Rev}, nil
}
