package endpointslicemirroring

import (
	"cmp"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/controller/endpointutil"
)

// plan is the writes one sync makes; planning is pure.
type plan struct {
	create, update, delete []*discoveryv1.EndpointSlice
}

// group is the mirrored endpoints of one address type and port set.
type group struct {
	addressType discoveryv1.AddressType
	ports       []discoveryv1.EndpointPort
	endpoints   map[string]*discoveryv1.Endpoint
}

// skipped counts the addresses not mirrored.
type skipped struct {
	invalid, overCap int
}

// desired groups the Endpoints' addresses by address type and port set,
// at most maxPerSubset from each subset, ready ones first.
func desired(ep *corev1.Endpoints, maxPerSubset int) (map[string]*group, skipped) {
	groups := map[string]*group{}
	var sk skipped
	for _, ss := range endpointutil.RepackSubsets(ep.Subsets) {
		ports := slicePorts(ss.Ports)
		portsKey := endpointutil.PortsKey(ports)
		added := 0
		add := func(addr corev1.EndpointAddress, ready bool) {
			if added >= maxPerSubset {
				sk.overCap++
				return
			}
			e, t, ok := addressEndpoint(addr, ready)
			if !ok {
				sk.invalid++
				return
			}
			key := string(t) + "\x02" + portsKey
			g := groups[key]
			if g == nil {
				g = &group{addressType: t, ports: ports, endpoints: map[string]*discoveryv1.Endpoint{}}
				groups[key] = g
			}
			g.endpoints[endpointutil.EndpointKey(e)] = e
			added++
		}
		for _, a := range ss.Addresses {
			add(a, true)
		}
		for _, a := range ss.NotReadyAddresses {
			add(a, false)
		}
	}
	return groups, sk
}

func slicePorts(in []corev1.EndpointPort) []discoveryv1.EndpointPort {
	out := make([]discoveryv1.EndpointPort, 0, len(in))
	for _, p := range in {
		proto := p.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		out = append(out, discoveryv1.EndpointPort{
			Name: ptr(p.Name), Port: ptr(p.Port), Protocol: ptr(proto), AppProtocol: clonePtr(p.AppProtocol),
		})
	}
	return out
}

// addressEndpoint converts a legacy address, false for an IP that does not
// parse. Only readiness is known of a user-written address.
func addressEndpoint(a corev1.EndpointAddress, ready bool) (*discoveryv1.Endpoint, discoveryv1.AddressType, bool) {
	ip, ok := endpointutil.ParseIP(a.IP)
	if !ok {
		return nil, "", false
	}
	t := discoveryv1.AddressTypeIPv4
	if ip.Is6() {
		t = discoveryv1.AddressTypeIPv6
	}
	e := &discoveryv1.Endpoint{
		Addresses:  []string{ip.String()},
		Conditions: discoveryv1.EndpointConditions{Ready: ptr(ready)},
		NodeName:   clonePtr(a.NodeName),
	}
	if a.TargetRef != nil {
		e.TargetRef = a.TargetRef.DeepCopy()
	}
	if a.Hostname != "" {
		e.Hostname = ptr(a.Hostname)
	}
	return e, t, true
}

// planMirror computes the writes that make the mirrored slices match the
// Endpoints: one slice per group, rewritten only when its endpoints, labels,
// annotations or owner differ, and any slice to delete reused for one to
// create.
func planMirror(ep *corev1.Endpoints, existing []*discoveryv1.EndpointSlice, groups map[string]*group) plan {
	var p plan
	byKey := map[string][]*discoveryv1.EndpointSlice{}
	for _, s := range existing {
		k := string(s.AddressType) + "\x02" + endpointutil.PortsKey(s.Ports)
		byKey[k] = append(byKey[k], s)
	}
	labels, annotations := sliceLabels(ep), sliceAnnotations(ep)
	for _, k := range slices.Sorted(maps.Keys(groups)) {
		g := groups[k]
		have := slices.SortedFunc(slices.Values(byKey[k]), func(a, b *discoveryv1.EndpointSlice) int {
			return cmp.Compare(a.Name, b.Name)
		})
		if len(have) > 0 {
			// One subset, one slice: extra ones are surplus.
			p.delete = append(p.delete, have[1:]...)
			if mirrors(have[0], ep, g, labels, annotations) {
				continue
			}
		}
		s := newSlice(ep, g, labels, annotations)
		if len(have) > 0 {
			s.Name, s.UID, s.ResourceVersion = have[0].Name, have[0].UID, have[0].ResourceVersion
			p.update = append(p.update, s)
		} else {
			p.create = append(p.create, s)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(byKey)) {
		if _, ok := groups[k]; !ok {
			p.delete = append(p.delete, byKey[k]...)
		}
	}
	p.recycle()
	return p
}

// mirrors reports whether s already is the slice of group g.
func mirrors(s *discoveryv1.EndpointSlice, ep *corev1.Endpoints, g *group, labels, annotations map[string]string) bool {
	if len(s.Endpoints) != len(g.endpoints) || !maps.Equal(s.Labels, labels) || !maps.Equal(s.Annotations, annotations) {
		return false
	}
	if len(s.OwnerReferences) != 1 || s.OwnerReferences[0].UID != ep.UID {
		return false
	}
	for i := range s.Endpoints {
		w, ok := g.endpoints[endpointutil.EndpointKey(&s.Endpoints[i])]
		if !ok || !endpointutil.EndpointsEqual(w, &s.Endpoints[i]) {
			return false
		}
	}
	return true
}

// recycle turns a creation and a deletion of the same address type into an
// update of the slice that would be deleted.
func (p *plan) recycle() {
	for i := 0; i < len(p.delete) && len(p.create) > 0; {
		d := p.delete[i]
		j := slices.IndexFunc(p.create, func(c *discoveryv1.EndpointSlice) bool { return c.AddressType == d.AddressType })
		if j < 0 {
			i++
			continue
		}
		c := p.create[j]
		c.Name, c.GenerateName = d.Name, ""
		c.UID, c.ResourceVersion = d.UID, d.ResourceVersion
		p.create = slices.Delete(p.create, j, j+1)
		p.update = append(p.update, c)
		p.delete = slices.Delete(p.delete, i, i+1)
	}
}

func newSlice(ep *corev1.Endpoints, g *group, labels, annotations map[string]string) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    ep.Name + "-",
			Namespace:       ep.Namespace,
			Labels:          maps.Clone(labels),
			Annotations:     maps.Clone(annotations),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(ep, corev1.SchemeGroupVersion.WithKind("Endpoints"))},
		},
		AddressType: g.addressType,
		Ports:       slices.Clone(g.ports),
		Endpoints:   make([]discoveryv1.Endpoint, 0, len(g.endpoints)),
	}
	for _, k := range slices.Sorted(maps.Keys(g.endpoints)) {
		s.Endpoints = append(s.Endpoints, *g.endpoints[k])
	}
	return s
}

// sliceLabels returns the Endpoints' labels with the two this controller
// sets itself.
func sliceLabels(ep *corev1.Endpoints) map[string]string {
	out := make(map[string]string, len(ep.Labels)+2)
	maps.Copy(out, ep.Labels)
	out[discoveryv1.LabelServiceName] = ep.Name
	out[discoveryv1.LabelManagedBy] = ManagedBy
	return out
}

// sliceAnnotations returns the Endpoints' annotations but the trigger time,
// which describes the Endpoints' writer, and kubectl's last-applied record,
// which describes the Endpoints object.
func sliceAnnotations(ep *corev1.Endpoints) map[string]string {
	out := make(map[string]string, len(ep.Annotations))
	for k, v := range ep.Annotations {
		if k != corev1.EndpointsLastChangeTriggerTime && k != corev1.LastAppliedConfigAnnotation {
			out[k] = v
		}
	}
	return out
}

func ptr[T any](v T) *T { return &v }

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	return ptr(*p)
}
