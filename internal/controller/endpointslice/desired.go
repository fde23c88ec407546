package endpointslice

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	corelisters "k8s.io/client-go/listers/core/v1"

	"github.com/skiff-sh/skiff/internal/controller/endpointutil"
	"github.com/skiff-sh/skiff/internal/controller/podutil"
)

// errNodeMissing marks a pod left out because its node is not (yet) known;
// the sync is retried so the pod joins once the node appears.
var errNodeMissing = errors.New("endpointslice: pod's node not found")

// portGroup is the endpoints of one address type that share one set of
// resolved ports, and so belong in the same slices.
type portGroup struct {
	ports     []discoveryv1.EndpointPort
	endpoints map[string]*discoveryv1.Endpoint
}

// addressTypes returns the address families a Service publishes: its
// ipFamilies, or when those are unset (a Service from an older server) the
// family of its cluster IP, or both for a headless one.
func addressTypes(svc *corev1.Service) []discoveryv1.AddressType {
	var out []discoveryv1.AddressType
	for _, f := range svc.Spec.IPFamilies {
		switch f {
		case corev1.IPv4Protocol:
			out = append(out, discoveryv1.AddressTypeIPv4)
		case corev1.IPv6Protocol:
			out = append(out, discoveryv1.AddressTypeIPv6)
		}
	}
	if len(out) > 0 {
		slices.Sort(out)
		return slices.Compact(out)
	}
	if !endpointutil.IsHeadless(svc) {
		if a, ok := endpointutil.ParseIP(svc.Spec.ClusterIP); ok && a.Is6() {
			return []discoveryv1.AddressType{discoveryv1.AddressTypeIPv6}
		}
		return []discoveryv1.AddressType{discoveryv1.AddressTypeIPv4}
	}
	return []discoveryv1.AddressType{discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6}
}

func addressTypeOf(a netip.Addr) discoveryv1.AddressType {
	if a.Is6() {
		return discoveryv1.AddressTypeIPv6
	}
	return discoveryv1.AddressTypeIPv4
}

// desired groups the endpoints the Service's pods publish, per address type
// and per set of resolved ports. Pods whose node is not known are left out
// (unless the Service publishes not-ready addresses, which asks for every
// address) and reported in the error, which is errNodeMissing.
func desired(svc *corev1.Service, pods []*corev1.Pod, nodes corelisters.NodeLister) (map[discoveryv1.AddressType]map[string]*portGroup, error) {
	families := addressTypes(svc)
	out := make(map[discoveryv1.AddressType]map[string]*portGroup, len(families))
	for _, t := range families {
		out[t] = map[string]*portGroup{}
	}
	var missing []string
	for _, pod := range pods {
		if !endpointutil.PodPublishes(pod, true) {
			continue
		}
		node, err := nodes.Get(pod.Spec.NodeName)
		if err != nil {
			if !apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("get node %q: %w", pod.Spec.NodeName, err)
			}
			if !svc.Spec.PublishNotReadyAddresses {
				missing = append(missing, pod.Name+" on "+pod.Spec.NodeName)
				continue
			}
			node = nil
		}
		ports := endpointPorts(svc, pod)
		key := endpointutil.PortsKey(ports)
		for _, ip := range endpointutil.PodIPs(pod) {
			groups, ok := out[addressTypeOf(ip)]
			if !ok {
				continue
			}
			g := groups[key]
			if g == nil {
				g = &portGroup{ports: ports, endpoints: map[string]*discoveryv1.Endpoint{}}
				groups[key] = g
			}
			ep := podEndpoint(svc, pod, node, ip)
			g.endpoints[endpointutil.EndpointKey(ep)] = ep
		}
	}
	if len(missing) > 0 {
		return out, fmt.Errorf("%w: %v", errNodeMissing, missing)
	}
	return out, nil
}

// endpointPorts resolves the Service's ports against one pod. A named
// target port the pod does not declare is left out, so such a pod lands in
// slices without that port; a headless Service may have no ports at all.
func endpointPorts(svc *corev1.Service, pod *corev1.Pod) []discoveryv1.EndpointPort {
	out := make([]discoveryv1.EndpointPort, 0, len(svc.Spec.Ports))
	for i := range svc.Spec.Ports {
		sp := &svc.Spec.Ports[i]
		port, err := endpointutil.FindPort(pod, sp)
		if err != nil {
			continue
		}
		proto := sp.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		out = append(out, discoveryv1.EndpointPort{
			Name:        ptr(sp.Name),
			Port:        ptr(port),
			Protocol:    ptr(proto),
			AppProtocol: clonePtr(sp.AppProtocol),
		})
	}
	return out
}

// podEndpoint is the endpoint of one pod address. Ready means "send new
// traffic": never for a terminating pod unless the Service publishes
// not-ready addresses. Serving is the pod's readiness alone, so a proxy
// can keep draining a terminating pod that still serves.
func podEndpoint(svc *corev1.Service, pod *corev1.Pod, node *corev1.Node, ip netip.Addr) *discoveryv1.Endpoint {
	serving := podutil.IsPodReady(pod)
	terminating := pod.DeletionTimestamp != nil
	ready := svc.Spec.PublishNotReadyAddresses || (serving && !terminating)
	ep := &discoveryv1.Endpoint{
		Addresses: []string{ip.String()},
		Conditions: discoveryv1.EndpointConditions{
			Ready:       ptr(ready),
			Serving:     ptr(serving),
			Terminating: ptr(terminating),
		},
		NodeName: ptr(pod.Spec.NodeName),
		TargetRef: &corev1.ObjectReference{
			Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID,
		},
	}
	if node != nil && node.Labels[corev1.LabelTopologyZone] != "" {
		ep.Zone = ptr(node.Labels[corev1.LabelTopologyZone])
	}
	if endpointutil.ShouldSetHostname(pod, svc) {
		ep.Hostname = ptr(pod.Spec.Hostname)
	}
	return ep
}

func ptr[T any](v T) *T { return &v }

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	return ptr(*p)
}
