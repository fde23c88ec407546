package endpointutil

import (
	"cmp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// addrID tells addresses apart: the same IP may stand for two objects.
type addrID struct {
	ip  string
	uid types.UID
}

func idOf(a *corev1.EndpointAddress) addrID {
	id := addrID{ip: a.IP}
	if a.TargetRef != nil {
		id.uid = a.TargetRef.UID
	}
	return id
}

// RepackSubsets returns subsets in canonical form, as upstream's repacking
// defines it: ports offered by exactly the same addresses (with the same
// readiness) share one subset, an address ready on a port in any input
// subset is ready on it, and addresses, ports and subsets are sorted. Two
// descriptions of the same endpoints therefore compare equal. Addresses
// listed without ports keep a subset without ports.
func RepackSubsets(subsets []corev1.EndpointSubset) []corev1.EndpointSubset {
	// noPorts stands for "no port" so that port-less addresses survive.
	const noPorts = ""
	addrs := map[addrID]*corev1.EndpointAddress{}
	byPort := map[string]map[addrID]bool{}
	portOf := map[string]corev1.EndpointPort{}
	add := func(a *corev1.EndpointAddress, ports []string, ready bool) {
		id := idOf(a)
		if _, ok := addrs[id]; !ok {
			addrs[id] = a.DeepCopy()
		}
		for _, k := range ports {
			m := byPort[k]
			if m == nil {
				m = map[addrID]bool{}
				byPort[k] = m
			}
			if was, ok := m[id]; !ok || (!was && ready) {
				m[id] = ready
			}
		}
	}
	for i := range subsets {
		ss := &subsets[i]
		ports := []string{noPorts}
		if len(ss.Ports) > 0 {
			ports = ports[:0]
			for _, p := range ss.Ports {
				k := endpointPortKey(p)
				portOf[k] = p
				ports = append(ports, k)
			}
		}
		for j := range ss.Addresses {
			add(&ss.Addresses[j], ports, true)
		}
		for j := range ss.NotReadyAddresses {
			add(&ss.NotReadyAddresses[j], ports, false)
		}
	}

	type group struct {
		members map[addrID]bool
		ports   []corev1.EndpointPort
	}
	groups := map[string]*group{}
	for k, members := range byPort {
		sig := signature(members)
		g, ok := groups[sig]
		if !ok {
			g = &group{members: members}
			groups[sig] = g
		}
		if k != noPorts {
			p := portOf[k]
			if p.Protocol == "" {
				p.Protocol = corev1.ProtocolTCP
			}
			g.ports = append(g.ports, p)
		}
	}

	sigs := make([]string, 0, len(groups))
	for sig := range groups {
		sigs = append(sigs, sig)
	}
	slices.Sort(sigs)
	out := make([]corev1.EndpointSubset, 0, len(groups))
	for _, sig := range sigs {
		g := groups[sig]
		var ss corev1.EndpointSubset
		for id, ready := range g.members {
			if ready {
				ss.Addresses = append(ss.Addresses, *addrs[id])
			} else {
				ss.NotReadyAddresses = append(ss.NotReadyAddresses, *addrs[id])
			}
		}
		slices.SortFunc(ss.Addresses, compareAddresses)
		slices.SortFunc(ss.NotReadyAddresses, compareAddresses)
		slices.SortFunc(g.ports, func(a, b corev1.EndpointPort) int {
			return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Port, b.Port), cmp.Compare(a.Protocol, b.Protocol))
		})
		ss.Ports = g.ports
		out = append(out, ss)
	}
	return out
}

// signature names a set of addresses with their readiness.
func signature(members map[addrID]bool) string {
	parts := make([]string, 0, len(members))
	for id, ready := range members {
		r := "n"
		if ready {
			r = "r"
		}
		parts = append(parts, id.ip+"/"+string(id.uid)+"/"+r)
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

func compareAddresses(a, b corev1.EndpointAddress) int {
	x, y := idOf(&a), idOf(&b)
	return cmp.Or(cmp.Compare(x.ip, y.ip), cmp.Compare(x.uid, y.uid))
}
