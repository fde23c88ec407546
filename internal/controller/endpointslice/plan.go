package endpointslice

import (
	"cmp"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/controller/endpointutil"
)

// plan is the writes one sync makes. Planning is pure: it reads the cached
// slices and never mutates them, so it can be tested and measured alone.
type plan struct {
	create, update, delete []*discoveryv1.EndpointSlice
}

func (p *plan) merge(o plan) {
	p.create = append(p.create, o.create...)
	p.update = append(p.update, o.update...)
	p.delete = append(p.delete, o.delete...)
}

// planSlices computes the writes that turn a Service's existing slices into
// the desired groups, changing as few slices as it can: endpoints stay in
// the slice that holds them, slices are updated in place, new endpoints
// fill slices being rewritten anyway before an untouched one or a new one,
// and a slice to be deleted is reused for one to be created.
func planSlices(svc *corev1.Service, existing []*discoveryv1.EndpointSlice,
	want map[discoveryv1.AddressType]map[string]*portGroup, maxPerSlice int) plan {
	var p plan
	byType := map[discoveryv1.AddressType][]*discoveryv1.EndpointSlice{}
	for _, s := range existing {
		if _, ok := want[s.AddressType]; !ok {
			p.delete = append(p.delete, s)
			continue
		}
		byType[s.AddressType] = append(byType[s.AddressType], s)
	}
	for _, t := range slices.Sorted(maps.Keys(want)) {
		p.merge(planAddressType(svc, t, byType[t], want[t], maxPerSlice))
	}
	p.recycle(svc)
	return p
}

func planAddressType(svc *corev1.Service, t discoveryv1.AddressType, existing []*discoveryv1.EndpointSlice,
	groups map[string]*portGroup, maxPerSlice int) plan {
	var p plan
	byPorts := map[string][]*discoveryv1.EndpointSlice{}
	for _, s := range existing {
		if !ownedBy(s, svc) {
			// Left by an earlier Service of the same name.
			p.delete = append(p.delete, s)
			continue
		}
		k := endpointutil.PortsKey(s.Ports)
		byPorts[k] = append(byPorts[k], s)
	}
	for _, k := range slices.Sorted(maps.Keys(groups)) {
		p.merge(planGroup(svc, t, byPorts[k], groups[k], maxPerSlice))
	}
	for _, k := range slices.Sorted(maps.Keys(byPorts)) {
		if _, ok := groups[k]; !ok {
			p.delete = append(p.delete, byPorts[k]...)
		}
	}
	// A Service without endpoints of this type keeps one empty slice, as
	// upstream does, so consumers can tell "no endpoints" from "not synced".
	if len(p.create) == 0 && len(p.delete) == len(existing) {
		empty := newSlice(svc, t, nil)
		if len(p.delete) == 1 && isPlaceholder(p.delete[0], empty, svc) {
			p.delete = nil
		} else {
			p.create = append(p.create, empty)
		}
	}
	return p
}

// planGroup plans the slices of one address type and port set.
func planGroup(svc *corev1.Service, t discoveryv1.AddressType, existing []*discoveryv1.EndpointSlice,
	g *portGroup, maxPerSlice int) plan {
	var p plan
	remaining := maps.Clone(g.endpoints)
	var updated, unchanged []*discoveryv1.EndpointSlice

	// 1. Keep the endpoints still wanted where they are, refreshed.
	labels := sliceLabels(svc)
	existing = slices.SortedFunc(slices.Values(existing), byName)
	for _, s := range existing {
		keep := make([]discoveryv1.Endpoint, 0, len(s.Endpoints))
		changed := false
		for i := range s.Endpoints {
			k := endpointutil.EndpointKey(&s.Endpoints[i])
			w, ok := remaining[k]
			if !ok {
				changed = true
				continue
			}
			keep = append(keep, *w)
			changed = changed || !endpointutil.EndpointsEqual(w, &s.Endpoints[i])
			delete(remaining, k)
		}
		switch {
		case changed && len(keep) == 0:
			p.delete = append(p.delete, s)
		case changed || !maps.Equal(labels, s.Labels):
			u := s.DeepCopy()
			u.Endpoints, u.Labels = keep, maps.Clone(labels)
			updated = append(updated, u)
		default:
			unchanged = append(unchanged, s)
		}
	}

	rest := make([]*discoveryv1.Endpoint, 0, len(remaining))
	for _, k := range slices.Sorted(maps.Keys(remaining)) {
		rest = append(rest, remaining[k])
	}
	fill := func(s *discoveryv1.EndpointSlice) {
		for len(rest) > 0 && len(s.Endpoints) < maxPerSlice {
			s.Endpoints = append(s.Endpoints, *rest[0])
			rest = rest[1:]
		}
	}

	// 2. New endpoints go first into slices rewritten anyway, fullest
	// first, which keeps the number of slices low.
	slices.SortStableFunc(updated, func(a, b *discoveryv1.EndpointSlice) int {
		return cmp.Compare(len(b.Endpoints), len(a.Endpoints))
	})
	for _, u := range updated {
		fill(u)
	}

	// 3. What is left goes into the untouched slice it fills best, when it
	// fits in one, or into new slices.
	for len(rest) > 0 {
		var s *discoveryv1.EndpointSlice
		if len(rest) < maxPerSlice {
			if i := closestFit(unchanged, len(rest), maxPerSlice); i >= 0 {
				s = unchanged[i].DeepCopy()
				unchanged = slices.Delete(unchanged, i, i+1)
				updated = append(updated, s)
			}
		}
		if s == nil {
			s = newSlice(svc, t, g.ports)
			p.create = append(p.create, s)
		}
		fill(s)
	}
	p.update = updated
	return p
}

// closestFit returns the index of the slice that n more endpoints bring
// closest to full without overflowing it, or -1.
func closestFit(candidates []*discoveryv1.EndpointSlice, n, maxPerSlice int) int {
	best, bestRoom := -1, maxPerSlice
	for i, s := range candidates {
		room := maxPerSlice - len(s.Endpoints) - n
		if room >= 0 && room < bestRoom {
			best, bestRoom = i, room
		}
	}
	return best
}

// recycle turns a creation and a deletion of the same address type into an
// update of the slice that would be deleted: one write instead of two, and
// no moment in which a consumer sees both or neither.
func (p *plan) recycle(svc *corev1.Service) {
	for i := 0; i < len(p.delete) && len(p.create) > 0; {
		d := p.delete[i]
		last := len(p.create) - 1
		c := p.create[last]
		// A slice of an earlier Service of the same name is being deleted
		// by the garbage collector too; reusing it would race that.
		if d.AddressType != c.AddressType || !ownedBy(d, svc) {
			i++
			continue
		}
		c.Name, c.GenerateName = d.Name, ""
		c.UID, c.ResourceVersion = d.UID, d.ResourceVersion
		p.create = p.create[:last]
		p.update = append(p.update, c)
		p.delete = slices.Delete(p.delete, i, i+1)
	}
}

// newSlice returns an empty slice of svc for address type t and ports.
func newSlice(svc *corev1.Service, t discoveryv1.AddressType, ports []discoveryv1.EndpointPort) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    svc.Name + "-",
			Namespace:       svc.Namespace,
			Labels:          sliceLabels(svc),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(svc, corev1.SchemeGroupVersion.WithKind("Service"))},
		},
		AddressType: t,
		Ports:       slices.Clone(ports),
		Endpoints:   []discoveryv1.Endpoint{},
	}
}

// sliceLabels returns the labels of svc's slices: the Service's own labels
// but the reserved keys, which this controller sets itself.
func sliceLabels(svc *corev1.Service) map[string]string {
	out := make(map[string]string, len(svc.Labels)+3)
	for k, v := range svc.Labels {
		switch k {
		case discoveryv1.LabelServiceName, discoveryv1.LabelManagedBy, corev1.IsHeadlessService:
			continue
		}
		out[k] = v
	}
	out[discoveryv1.LabelServiceName] = svc.Name
	out[discoveryv1.LabelManagedBy] = ManagedBy
	if endpointutil.IsHeadless(svc) {
		out[corev1.IsHeadlessService] = ""
	}
	return out
}

// isPlaceholder reports whether s already is the empty slice want.
func isPlaceholder(s, want *discoveryv1.EndpointSlice, svc *corev1.Service) bool {
	return ownedBy(s, svc) && s.AddressType == want.AddressType &&
		len(s.Endpoints) == 0 && len(s.Ports) == 0 && maps.Equal(s.Labels, want.Labels)
}

func ownedBy(s *discoveryv1.EndpointSlice, svc *corev1.Service) bool {
	for _, o := range s.OwnerReferences {
		if o.UID == svc.UID && o.Kind == "Service" && o.APIVersion == "v1" {
			return true
		}
	}
	return false
}

func byName(a, b *discoveryv1.EndpointSlice) int { return cmp.Compare(a.Name, b.Name) }
