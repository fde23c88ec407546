package dns

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

const (
	indexByIP      = "ip"
	indexByService = "service"
)

// index is what the resolver reads: Services, EndpointSlices and Namespaces
// from informer caches, indexed by address and by owning service. Namespaces
// are watched only to tell an empty namespace (NODATA) from a missing one
// (NXDOMAIN); Pods are not needed, since pod names are answered from the
// address they spell.
type index struct {
	services   cache.Indexer
	slices     cache.Indexer
	namespaces cache.Store
	// serial is the SOA serial: the time of the last change seen, in
	// seconds, and never the same twice.
	serial atomic.Uint32
}

// newIndex returns an index over empty stores, to be filled by hand.
func newIndex() *index {
	return newIndexOver(
		cache.NewIndexer(cache.MetaNamespaceKeyFunc, serviceIndexers()),
		cache.NewIndexer(cache.MetaNamespaceKeyFunc, sliceIndexers()),
		cache.NewStore(cache.MetaNamespaceKeyFunc),
	)
}

func newIndexOver(services, slices cache.Indexer, namespaces cache.Store) *index {
	x := &index{services: services, slices: slices, namespaces: namespaces}
	x.touch()
	return x
}

// newInformerIndex registers the three informers on factory and returns the
// index over their caches and what tells that they have synced.
func newInformerIndex(factory informers.SharedInformerFactory) (*index, []cache.InformerSynced, error) {
	svcs := factory.Core().V1().Services().Informer()
	slices := factory.Discovery().V1().EndpointSlices().Informer()
	nss := factory.Core().V1().Namespaces().Informer()
	if err := svcs.AddIndexers(serviceIndexers()); err != nil {
		return nil, nil, fmt.Errorf("dns: index services: %w", err)
	}
	if err := slices.AddIndexers(sliceIndexers()); err != nil {
		return nil, nil, fmt.Errorf("dns: index endpoint slices: %w", err)
	}
	x := newIndexOver(svcs.GetIndexer(), slices.GetIndexer(), nss.GetStore())
	touch := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { x.touch() },
		UpdateFunc: func(any, any) { x.touch() },
		DeleteFunc: func(any) { x.touch() },
	}
	var synced []cache.InformerSynced
	for name, inf := range map[string]cache.SharedIndexInformer{"services": svcs, "endpointslices": slices, "namespaces": nss} {
		// Only names and specs are read: dropping the rest (a large
		// last-applied annotation, managed fields) keeps every node's
		// copy of the cluster small.
		if err := inf.SetTransform(stripMeta); err != nil {
			return nil, nil, fmt.Errorf("dns: watch %s: %w", name, err)
		}
		reg, err := inf.AddEventHandler(touch)
		if err != nil {
			return nil, nil, fmt.Errorf("dns: watch %s: %w", name, err)
		}
		synced = append(synced, reg.HasSynced)
	}
	return x, synced, nil
}

func stripMeta(obj any) (any, error) {
	if m, err := meta.Accessor(obj); err == nil {
		m.SetManagedFields(nil)
		m.SetAnnotations(nil)
	}
	return obj, nil
}

func (x *index) touch() {
	now := uint32(time.Now().Unix())
	for {
		old := x.serial.Load()
		next := max(now, old+1)
		if x.serial.CompareAndSwap(old, next) {
			return
		}
	}
}

func serviceIndexers() cache.Indexers {
	return cache.Indexers{indexByIP: func(obj any) ([]string, error) {
		svc, ok := obj.(*corev1.Service)
		if !ok {
			return nil, nil
		}
		var ips []string
		for _, s := range clusterIPs(svc) {
			ips = append(ips, s.String())
		}
		return ips, nil
	}}
}

func sliceIndexers() cache.Indexers {
	return cache.Indexers{
		indexByService: func(obj any) ([]string, error) {
			slice, ok := obj.(*discoveryv1.EndpointSlice)
			if !ok {
				return nil, nil
			}
			name := slice.Labels[discoveryv1.LabelServiceName]
			if name == "" {
				return nil, nil
			}
			return []string{slice.Namespace + "/" + name}, nil
		},
		indexByIP: func(obj any) ([]string, error) {
			slice, ok := obj.(*discoveryv1.EndpointSlice)
			if !ok || slice.AddressType == discoveryv1.AddressTypeFQDN {
				return nil, nil
			}
			var ips []string
			for _, ep := range slice.Endpoints {
				for _, a := range ep.Addresses {
					if addr, err := netip.ParseAddr(a); err == nil {
						ips = append(ips, addr.Unmap().String())
					}
				}
			}
			return ips, nil
		},
	}
}

// clusterIPs returns the parsed cluster IPs of svc; none for a headless or
// ExternalName service.
func clusterIPs(svc *corev1.Service) []netip.Addr {
	ips := svc.Spec.ClusterIPs
	if len(ips) == 0 && svc.Spec.ClusterIP != "" {
		ips = []string{svc.Spec.ClusterIP}
	}
	var out []netip.Addr
	for _, s := range ips {
		if addr, err := netip.ParseAddr(s); err == nil {
			out = append(out, addr.Unmap())
		}
	}
	return out
}

func isHeadless(svc *corev1.Service) bool {
	return svc.Spec.Type != corev1.ServiceTypeExternalName && svc.Spec.ClusterIP == corev1.ClusterIPNone
}

func (x *index) namespaceExists(ns string) bool {
	_, ok, _ := x.namespaces.GetByKey(ns)
	return ok
}

func (x *index) service(ns, name string) *corev1.Service {
	obj, ok, _ := x.services.GetByKey(ns + "/" + name)
	if !ok {
		return nil
	}
	svc, _ := obj.(*corev1.Service)
	return svc
}

func (x *index) servicesByIP(ip netip.Addr) []*corev1.Service {
	objs, _ := x.services.ByIndex(indexByIP, ip.String())
	out := make([]*corev1.Service, 0, len(objs))
	for _, obj := range objs {
		if svc, ok := obj.(*corev1.Service); ok {
			out = append(out, svc)
		}
	}
	return out
}

// endpoint is one address a service publishes in DNS.
type endpoint struct {
	addr netip.Addr
	// name is the endpoint's hostname, or for one without, its address with
	// dashes (10-0-0-1), as CoreDNS names them.
	name  string
	ports []discoveryv1.EndpointPort
}

// endpoints returns what svc publishes: its ready endpoints, or all of them
// when the service publishes not-ready addresses, sorted by address. An
// address in two slices (as while a slice is replaced) is listed twice, with
// each slice's ports; the record builders drop the duplicates.
func (x *index) endpoints(svc *corev1.Service) []endpoint {
	objs, _ := x.slices.ByIndex(indexByService, svc.Namespace+"/"+svc.Name)
	var out []endpoint
	for _, obj := range objs {
		slice, ok := obj.(*discoveryv1.EndpointSlice)
		if !ok || slice.AddressType == discoveryv1.AddressTypeFQDN {
			continue
		}
		for _, ep := range slice.Endpoints {
			if !published(svc, ep) {
				continue
			}
			for _, a := range ep.Addresses {
				addr, err := netip.ParseAddr(a)
				if err != nil {
					continue
				}
				addr = addr.Unmap()
				var name string
				if ep.Hostname != nil && *ep.Hostname != "" {
					name = strings.ToLower(*ep.Hostname)
				} else {
					name = dashed(addr)
				}
				out = append(out, endpoint{addr: addr, name: name, ports: slice.Ports})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].addr.Less(out[j].addr) })
	return out
}

// endpointsByIP returns, for every headless service that publishes ip, the
// service and the name of the endpoint with that address.
func (x *index) endpointsByIP(ip netip.Addr) []namedEndpoint {
	objs, _ := x.slices.ByIndex(indexByIP, ip.String())
	var out []namedEndpoint
	for _, obj := range objs {
		slice, ok := obj.(*discoveryv1.EndpointSlice)
		if !ok {
			continue
		}
		svc := x.service(slice.Namespace, slice.Labels[discoveryv1.LabelServiceName])
		if svc == nil || !isHeadless(svc) {
			continue
		}
		for _, ep := range x.endpoints(svc) {
			if ep.addr == ip {
				out = append(out, namedEndpoint{svc: svc, name: ep.name})
			}
		}
	}
	return out
}

type namedEndpoint struct {
	svc  *corev1.Service
	name string
}

func published(svc *corev1.Service, ep discoveryv1.Endpoint) bool {
	if svc.Spec.PublishNotReadyAddresses {
		return true
	}
	// The API defines an unknown readiness as ready.
	return ep.Conditions.Ready == nil || *ep.Conditions.Ready
}

// dashed spells addr as one DNS label: 10-0-0-1, or fd00--1 for fd00::1.
func dashed(addr netip.Addr) string {
	if addr.Is4() {
		return strings.ReplaceAll(addr.String(), ".", "-")
	}
	return strings.ReplaceAll(addr.String(), ":", "-")
}
