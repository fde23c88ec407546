package endpointutil

import (
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// EndpointKey identifies an endpoint across syncs by its addresses, its
// hostname and the object it stands for. Two endpoints with one key are the
// same endpoint, possibly in another state (see EndpointsEqual).
func EndpointKey(ep *discoveryv1.Endpoint) string {
	var b strings.Builder
	b.Grow(64)
	if len(ep.Addresses) == 1 {
		b.WriteString(ep.Addresses[0])
	} else {
		addrs := slices.Clone(ep.Addresses)
		slices.Sort(addrs)
		b.WriteString(strings.Join(addrs, ","))
	}
	b.WriteByte('|')
	if ep.Hostname != nil {
		b.WriteString(*ep.Hostname)
	}
	b.WriteByte('|')
	if ep.TargetRef != nil {
		b.WriteString(ep.TargetRef.Namespace)
		b.WriteByte('/')
		b.WriteString(ep.TargetRef.Name)
	}
	return b.String()
}

// EndpointsEqual reports whether two endpoints of one key agree on what
// consumers read beyond the key: node, zone, conditions and target. The
// target's resourceVersion is ignored; a pod's unrelated updates must not
// rewrite its slice.
func EndpointsEqual(a, b *discoveryv1.Endpoint) bool {
	return ptrEqual(a.NodeName, b.NodeName) && ptrEqual(a.Zone, b.Zone) &&
		ptrEqual(a.Conditions.Ready, b.Conditions.Ready) &&
		ptrEqual(a.Conditions.Serving, b.Conditions.Serving) &&
		ptrEqual(a.Conditions.Terminating, b.Conditions.Terminating) &&
		refsEqual(a.TargetRef, b.TargetRef)
}

func ptrEqual[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func refsEqual(a, b *corev1.ObjectReference) bool {
	if a == nil || b == nil {
		return a == b
	}
	x, y := *a, *b
	x.ResourceVersion, y.ResourceVersion = "", ""
	return x == y
}

// PortsKey names a set of slice ports regardless of order. The API server's
// defaults (empty name, TCP) are applied first, so a slice read back from
// the server groups with the ports computed for it.
func PortsKey(ports []discoveryv1.EndpointPort) string {
	parts := make([]string, len(ports))
	for i, p := range ports {
		parts[i] = portKey(deref(p.Name), deref(p.Port), protocolOrTCP(deref(p.Protocol)), deref(p.AppProtocol))
	}
	slices.Sort(parts)
	return strings.Join(parts, "\x01")
}

// endpointPortKey is PortsKey's term for one port of a legacy Endpoints
// subset; the two agree for the same port.
func endpointPortKey(p corev1.EndpointPort) string {
	return portKey(p.Name, p.Port, protocolOrTCP(p.Protocol), deref(p.AppProtocol))
}

// portKey separates the fields with NUL, which validation keeps out of
// port names, protocols and application protocols.
func portKey(name string, port int32, proto corev1.Protocol, appProtocol string) string {
	b := make([]byte, 0, len(name)+len(proto)+len(appProtocol)+16)
	b = append(b, name...)
	b = append(b, 0)
	b = strconv.AppendInt(b, int64(port), 10)
	b = append(b, 0)
	b = append(b, proto...)
	b = append(b, 0)
	b = append(b, appProtocol...)
	return string(b)
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
