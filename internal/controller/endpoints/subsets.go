package endpoints

import (
	"net/netip"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/controller/endpointutil"
	"github.com/skiff-sh/skiff/internal/controller/podutil"
)

// maxAddresses caps the addresses of one Endpoints object, as upstream
// does; EndpointSlices carry the rest.
const maxAddresses = 1000

// subsetsFor returns the Service's subsets in canonical form: every pod
// address on every Service port that resolves on the pod, ready or not.
func subsetsFor(svc *corev1.Service, pods []*corev1.Pod) []corev1.EndpointSubset {
	publishAll := svc.Spec.PublishNotReadyAddresses
	var raw []corev1.EndpointSubset
	for _, pod := range pods {
		if !endpointutil.PodPublishes(pod, publishAll) {
			continue
		}
		addr, ok := podAddress(svc, pod)
		if !ok {
			continue
		}
		ready := publishAll || podutil.IsPodReady(pod)
		if len(svc.Spec.Ports) == 0 {
			// Only a headless Service may go without ports.
			if endpointutil.IsHeadless(svc) {
				raw = append(raw, subset(addr, nil, ready))
			}
			continue
		}
		for i := range svc.Spec.Ports {
			sp := &svc.Spec.Ports[i]
			port, err := endpointutil.FindPort(pod, sp)
			if err != nil {
				continue
			}
			raw = append(raw, subset(addr, &corev1.EndpointPort{
				Name: sp.Name, Port: port, Protocol: sp.Protocol, AppProtocol: sp.AppProtocol,
			}, ready))
		}
	}
	return endpointutil.RepackSubsets(raw)
}

func subset(addr corev1.EndpointAddress, port *corev1.EndpointPort, ready bool) corev1.EndpointSubset {
	var ss corev1.EndpointSubset
	if port != nil {
		ss.Ports = []corev1.EndpointPort{*port}
	}
	if ready {
		ss.Addresses = []corev1.EndpointAddress{addr}
	} else {
		ss.NotReadyAddresses = []corev1.EndpointAddress{addr}
	}
	return ss
}

// podAddress returns the pod's address in the Service's primary family
// (a legacy Endpoints object holds one family), false when it has none.
func podAddress(svc *corev1.Service, pod *corev1.Pod) (corev1.EndpointAddress, bool) {
	ips := endpointutil.PodIPs(pod)
	if len(ips) == 0 {
		return corev1.EndpointAddress{}, false
	}
	v6 := ips[0].Is6()
	switch {
	case len(svc.Spec.IPFamilies) > 0:
		v6 = svc.Spec.IPFamilies[0] == corev1.IPv6Protocol
	case !endpointutil.IsHeadless(svc):
		a, ok := endpointutil.ParseIP(svc.Spec.ClusterIP)
		v6 = ok && a.Is6()
	}
	var ip netip.Addr
	for _, a := range ips {
		if a.Is6() == v6 {
			ip = a
			break
		}
	}
	if !ip.IsValid() {
		return corev1.EndpointAddress{}, false
	}
	addr := corev1.EndpointAddress{
		IP:       ip.String(),
		NodeName: &pod.Spec.NodeName,
		TargetRef: &corev1.ObjectReference{
			Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID,
		},
	}
	if endpointutil.ShouldSetHostname(pod, svc) {
		addr.Hostname = pod.Spec.Hostname
	}
	return addr, true
}

// truncate cuts the subsets' addresses to limit and reports whether it cut
// any. Ready addresses go last: while they fit, only not-ready ones are
// cut; otherwise every not-ready one is. The cut is spread over the subsets
// in proportion to their share, rounded up, so the last subsets may get
// less, as upstream does; a subset left without addresses is dropped, as
// validation demands.
func truncate(subsets []corev1.EndpointSubset, limit int) ([]corev1.EndpointSubset, bool) {
	ready, notReady := 0, 0
	for _, ss := range subsets {
		ready += len(ss.Addresses)
		notReady += len(ss.NotReadyAddresses)
	}
	if ready+notReady <= limit {
		return subsets, false
	}
	cutReady := ready > limit
	budget, total := limit-ready, notReady
	if cutReady {
		budget, total = limit, ready
	}
	left := budget
	out := subsets[:0]
	for _, ss := range subsets {
		list := &ss.NotReadyAddresses
		if cutReady {
			ss.NotReadyAddresses = nil
			list = &ss.Addresses
		}
		// Ceiling of len*budget/total in integers.
		share := min((len(*list)*budget+total-1)/total, left, len(*list))
		*list = (*list)[:share]
		left -= share
		if len(ss.Addresses)+len(ss.NotReadyAddresses) > 0 {
			out = append(out, ss)
		}
	}
	return out, true
}
