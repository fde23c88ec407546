// Package endpointutil holds what the endpoints, endpointslice and
// endpointslicemirroring controllers decide the same way: which Services
// take their endpoints from pods, which pods publish an address, which port
// a Service port reaches on a pod, when a pod change matters, and how
// endpoints, port sets and subsets are compared.
package endpointutil

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// ErrNoPort reports a Service port whose named target port no container of
// the pod declares.
var ErrNoPort = errors.New("endpointutil: no container port matches")

// The label that marks the Endpoints objects the endpoints controller
// writes, as upstream's has since 1.33: it tells them from the ones users
// write for Services without a selector.
const (
	LabelEndpointsManagedBy = "endpoints.kubernetes.io/managed-by"
	EndpointsControllerName = "endpoint-controller"
)

// IsControllerEndpoints reports whether the endpoints controller wrote ep.
func IsControllerEndpoints(ep *corev1.Endpoints) bool {
	return ep.Labels[LabelEndpointsManagedBy] == EndpointsControllerName
}

// SelectsPods reports whether a Service's endpoints come from its pods: it
// has a selector and is not an ExternalName alias. The endpoints of any
// other Service are written by its user. An empty selector counts as none:
// the API drops it on the way through, so no client could tell it apart.
func SelectsPods(svc *corev1.Service) bool {
	return svc.Spec.Type != corev1.ServiceTypeExternalName && len(svc.Spec.Selector) > 0
}

// IsHeadless reports whether the Service has no cluster IP of its own.
func IsHeadless(svc *corev1.Service) bool {
	return svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == corev1.ClusterIPNone
}

// PodPublishes reports whether a pod contributes an address: it is bound to
// a node, has an IP and has not finished. Terminating pods count only with
// includeTerminating; slices keep them so that proxies can drain them, the
// legacy Endpoints drops them.
func PodPublishes(pod *corev1.Pod, includeTerminating bool) bool {
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return false
	}
	if pod.Spec.NodeName == "" || (pod.Status.PodIP == "" && len(pod.Status.PodIPs) == 0) {
		return false
	}
	return includeTerminating || pod.DeletionTimestamp == nil
}

// PodIPs returns the pod's addresses in their canonical text form, skipping
// any that do not parse. The podIPs list wins; the single podIP field is the
// fallback for a status written by an older agent.
func PodIPs(pod *corev1.Pod) []netip.Addr {
	raw := make([]string, 0, len(pod.Status.PodIPs))
	for _, ip := range pod.Status.PodIPs {
		raw = append(raw, ip.IP)
	}
	if len(raw) == 0 && pod.Status.PodIP != "" {
		raw = append(raw, pod.Status.PodIP)
	}
	out := make([]netip.Addr, 0, len(raw))
	for _, s := range raw {
		if a, ok := ParseIP(s); ok {
			out = append(out, a)
		}
	}
	return out
}

// ParseIP parses an address as the endpoint objects store it. An IPv4
// address written in IPv6 form counts as IPv4, as Go's net package has it.
func ParseIP(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// ShouldSetHostname reports whether the pod's endpoint carries its hostname
// for this Service: the pod names the Service as its subdomain, which is how
// a pod asks for a DNS name under a headless Service.
func ShouldSetHostname(pod *corev1.Pod, svc *corev1.Service) bool {
	return pod.Spec.Hostname != "" && pod.Spec.Subdomain == svc.Name && pod.Namespace == svc.Namespace
}

// FindPort returns the pod port a Service port reaches: a numeric target
// port as it is, a named one looked up in the pod's containers and sidecars
// for the Service port's protocol.
func FindPort(pod *corev1.Pod, sp *corev1.ServicePort) (int32, error) {
	tp := sp.TargetPort
	if tp.Type == intstr.Int {
		if tp.IntVal == 0 {
			// The API server defaults targetPort to port; an object built
			// without defaulting means the same.
			return sp.Port, nil
		}
		return tp.IntVal, nil
	}
	proto := protocolOrTCP(sp.Protocol)
	for i := range pod.Spec.Containers {
		if p, ok := namedPort(pod.Spec.Containers[i].Ports, tp.StrVal, proto); ok {
			return p, nil
		}
	}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		// Only a sidecar (an init container that keeps running) serves.
		if c.RestartPolicy == nil || *c.RestartPolicy != corev1.ContainerRestartPolicyAlways {
			continue
		}
		if p, ok := namedPort(c.Ports, tp.StrVal, proto); ok {
			return p, nil
		}
	}
	return 0, fmt.Errorf("pod %s/%s, port %q: %w", pod.Namespace, pod.Name, tp.StrVal, ErrNoPort)
}

func namedPort(ports []corev1.ContainerPort, name string, proto corev1.Protocol) (int32, bool) {
	for _, p := range ports {
		if p.Name == name && protocolOrTCP(p.Protocol) == proto {
			return p.ContainerPort, true
		}
	}
	return 0, false
}

func protocolOrTCP(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

// FormatTriggerTime renders a trigger time as the
// endpoints.kubernetes.io/last-change-trigger-time annotation holds it.
func FormatTriggerTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}

// SetTriggerTime sets the trigger-time annotation to t, or removes it when
// t is zero (nothing that changed since the last write has a known time).
// It returns the map, allocated if it was nil.
func SetTriggerTime(annotations map[string]string, t time.Time) map[string]string {
	if t.IsZero() {
		delete(annotations, corev1.EndpointsLastChangeTriggerTime)
		return annotations
	}
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[corev1.EndpointsLastChangeTriggerTime] = FormatTriggerTime(t)
	return annotations
}
