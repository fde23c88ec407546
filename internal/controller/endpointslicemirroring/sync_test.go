package endpointslicemirroring

import (
	"maps"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/controller/endpointutil"
	"github.com/skiff-sh/skiff/internal/controller/endpointutil/endpointtest"
)

const epUID = types.UID("uid-ep-web")

// newEndpoints returns user-written Endpoints "web": pod a ready and pod b
// not ready on port http 8080.
func newEndpoints(opts ...func(*corev1.Endpoints)) *corev1.Endpoints {
	node := "node-a"
	ep := &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: endpointtest.Namespace, UID: epUID},
		Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: "10.0.0.1", Hostname: "a", NodeName: &node,
				TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: endpointtest.Namespace, Name: "a", UID: "uid-a"}}},
			NotReadyAddresses: []corev1.EndpointAddress{{IP: "10.0.0.2"}},
			Ports:             []corev1.EndpointPort{{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP}},
		}},
	}
	for _, o := range opts {
		o(ep)
	}
	return ep
}

func epLabels(l map[string]string) func(*corev1.Endpoints) {
	return func(ep *corev1.Endpoints) { ep.Labels = l }
}

func subsets(ss ...corev1.EndpointSubset) func(*corev1.Endpoints) {
	return func(ep *corev1.Endpoints) { ep.Subsets = ss }
}

func ready(ips ...string) []corev1.EndpointAddress {
	var out []corev1.EndpointAddress
	for _, ip := range ips {
		out = append(out, corev1.EndpointAddress{IP: ip})
	}
	return out
}

func port(name string, p int32) []corev1.EndpointPort {
	return []corev1.EndpointPort{{Name: name, Port: p, Protocol: corev1.ProtocolTCP}}
}

func TestMirrors(t *testing.T) {
	ep := newEndpoints(epLabels(map[string]string{"team": "a"}), func(ep *corev1.Endpoints) {
		ep.Annotations = map[string]string{"note": "x", corev1.EndpointsLastChangeTriggerTime: "2026-01-01T00:00:00Z",
			corev1.LastAppliedConfigAnnotation: "{}"}
	})
	h := newHarness(t, Config{}, newService(), ep)
	h.MustSync()
	items := h.Slices()
	if len(items) != 1 {
		t.Fatalf("got %d slices, want 1", len(items))
	}
	s := items[0]
	wantLabels := map[string]string{"team": "a", discoveryv1.LabelServiceName: "web", discoveryv1.LabelManagedBy: ManagedBy}
	if !maps.Equal(s.Labels, wantLabels) {
		t.Errorf("labels = %v, want %v", s.Labels, wantLabels)
	}
	if want := map[string]string{"note": "x"}; !maps.Equal(s.Annotations, want) {
		t.Errorf("annotations = %v, want %v", s.Annotations, want)
	}
	if len(s.OwnerReferences) != 1 || s.OwnerReferences[0].UID != epUID || s.OwnerReferences[0].Kind != "Endpoints" ||
		s.OwnerReferences[0].Controller == nil || !*s.OwnerReferences[0].Controller {
		t.Errorf("owner refs = %+v, want the Endpoints as controller", s.OwnerReferences)
	}
	if s.AddressType != discoveryv1.AddressTypeIPv4 || s.GenerateName != "web-" {
		t.Errorf("addressType %q generateName %q", s.AddressType, s.GenerateName)
	}
	if len(s.Ports) != 1 || *s.Ports[0].Name != "http" || *s.Ports[0].Port != 8080 || *s.Ports[0].Protocol != corev1.ProtocolTCP {
		t.Errorf("ports = %+v", s.Ports)
	}
	if len(s.Endpoints) != 2 {
		t.Fatalf("endpoints = %+v, want 2", s.Endpoints)
	}
	a, b := s.Endpoints[0], s.Endpoints[1]
	if a.Addresses[0] != "10.0.0.1" || !*a.Conditions.Ready || *a.Hostname != "a" || *a.NodeName != "node-a" ||
		a.TargetRef == nil || a.TargetRef.Name != "a" {
		t.Errorf("ready endpoint = %+v", a)
	}
	if b.Addresses[0] != "10.0.0.2" || *b.Conditions.Ready || b.Hostname != nil || b.TargetRef != nil {
		t.Errorf("not-ready endpoint = %+v", b)
	}
}

func TestNotMirrored(t *testing.T) {
	tests := []struct {
		name string
		objs []runtime.Object
	}{
		{name: "skip-mirror label", objs: []runtime.Object{newService(),
			newEndpoints(epLabels(map[string]string{discoveryv1.LabelSkipMirror: "true"}))}},
		{name: "leader-election lock", objs: []runtime.Object{newService(), newEndpoints(func(ep *corev1.Endpoints) {
			ep.Annotations = map[string]string{resourcelock.LeaderElectionRecordAnnotationKey: "{}"}
		})}},
		{name: "written by the endpoints controller", objs: []runtime.Object{newService(),
			newEndpoints(epLabels(map[string]string{endpointutil.LabelEndpointsManagedBy: endpointutil.EndpointsControllerName}))}},
		{name: "Service with a selector", objs: []runtime.Object{newService(endpointtest.Selector(map[string]string{"app": "web"})), newEndpoints()}},
		{name: "no Service", objs: []runtime.Object{newEndpoints()}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{}, tc.objs...)
			h.MustSync()
			if items := h.Slices(); len(items) != 0 {
				t.Errorf("mirrored %d slices, want none", len(items))
			}
		})
	}
}

func TestMirroredSlicesRemoved(t *testing.T) {
	tests := []struct {
		name   string
		change func(h *harness)
	}{
		{name: "skip-mirror label added", change: func(h *harness) {
			h.Update(newEndpoints(epLabels(map[string]string{discoveryv1.LabelSkipMirror: "true"})))
		}},
		{name: "Endpoints deleted", change: func(h *harness) { h.Delete(newEndpoints()) }},
		{name: "Service deleted", change: func(h *harness) { h.Delete(newService()) }},
		{name: "Service gained a selector", change: func(h *harness) {
			h.Update(newService(endpointtest.Selector(map[string]string{"app": "web"})))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{}, newService(), newEndpoints(subsets(
				corev1.EndpointSubset{Addresses: ready("10.0.0.1", "fd00::1"), Ports: port("http", 80)},
			)))
			h.MustSync()
			if n := len(h.Slices()); n != 2 {
				t.Fatalf("got %d slices, want 2", n)
			}
			tc.change(h)
			h.MustSync()
			if items := h.Slices(); len(items) != 0 {
				t.Errorf("slices left: %d", len(items))
			}
		})
	}
}

func TestSlicePerSubsetAndFamily(t *testing.T) {
	ep := newEndpoints(subsets(
		corev1.EndpointSubset{Addresses: ready("10.0.0.1", "fd00::1"), Ports: port("http", 80)},
		corev1.EndpointSubset{Addresses: ready("10.0.0.3"), NotReadyAddresses: ready("10.0.0.4"), Ports: port("dns", 53)},
		// Repacked into the first subset: same address, same port.
		corev1.EndpointSubset{Addresses: ready("10.0.0.1"), Ports: port("http", 80)},
	))
	h := newHarness(t, Config{}, newService(), ep)
	h.MustSync()
	var got []string
	for _, s := range h.Slices() {
		var addrs []string
		for _, e := range s.Endpoints {
			addrs = append(addrs, e.Addresses[0])
		}
		got = append(got, string(s.AddressType)+" "+*s.Ports[0].Name+" "+strings.Join(addrs, ","))
	}
	slices.Sort(got)
	want := []string{"IPv4 dns 10.0.0.3,10.0.0.4", "IPv4 http 10.0.0.1", "IPv6 http fd00::1"}
	if !slices.Equal(got, want) {
		t.Errorf("slices = %q\nwant %q", got, want)
	}
}

func TestSkippedAddresses(t *testing.T) {
	ep := newEndpoints(subsets(corev1.EndpointSubset{
		Addresses:         ready("10.0.0.1", "10.0.0.2", "1.2.3", "10.0.0.3"), // the bad IP sorts first
		NotReadyAddresses: ready("10.0.0.4", "10.0.0.5"),
		Ports:             port("http", 80),
	}))
	h := newHarness(t, Config{MaxEndpointsPerSubset: 3}, newService(), ep)
	h.MustSync()
	items := h.Slices()
	if len(items) != 1 || len(items[0].Endpoints) != 3 {
		t.Fatalf("want one slice of 3 endpoints, got %+v", items)
	}
	for _, e := range items[0].Endpoints {
		if !*e.Conditions.Ready {
			t.Errorf("kept a not-ready address over a ready one: %v", e.Addresses)
		}
	}
	events := h.events()
	if !slices.ContainsFunc(events, func(e string) bool { return strings.HasPrefix(e, "Warning InvalidIPAddress Skipped 1 invalid") }) ||
		!slices.ContainsFunc(events, func(e string) bool { return strings.HasPrefix(e, "Warning TooManyAddressesToMirror") }) {
		t.Errorf("events = %q, want InvalidIPAddress and TooManyAddressesToMirror", events)
	}
}

func TestUnchangedSyncWritesNothingAndChangesStayInPlace(t *testing.T) {
	h := newHarness(t, Config{}, newService(), newEndpoints())
	h.MustSync()
	name := h.Slices()[0].Name
	h.Writes("endpointslices")
	h.MustSync()
	if c, u, d := h.Writes("endpointslices"); c+u+d != 0 {
		t.Errorf("resync wrote %d/%d/%d, want nothing", c, u, d)
	}
	tests := []struct {
		name string
		ep   *corev1.Endpoints
	}{
		{name: "address becomes ready", ep: newEndpoints(subsets(corev1.EndpointSubset{
			Addresses: ready("10.0.0.1", "10.0.0.2"), Ports: port("http", 8080)}))},
		{name: "port changes", ep: newEndpoints(subsets(corev1.EndpointSubset{
			Addresses: ready("10.0.0.1", "10.0.0.2"), Ports: port("http", 9090)}))},
		{name: "label added", ep: newEndpoints(epLabels(map[string]string{"team": "b"}), subsets(corev1.EndpointSubset{
			Addresses: ready("10.0.0.1", "10.0.0.2"), Ports: port("http", 9090)}))},
	}
	for _, tc := range tests {
		h.Update(tc.ep)
		h.MustSync()
		if c, u, d := h.Writes("endpointslices"); c != 0 || u != 1 || d != 0 {
			t.Errorf("%s: wrote %d creates, %d updates, %d deletes; want one update", tc.name, c, u, d)
		}
		if items := h.Slices(); len(items) != 1 || items[0].Name != name {
			t.Errorf("%s: slices = %v, want %s updated in place", tc.name, items, name)
		}
	}
}

// TestRun drives the controller through its informer handlers.
func TestRun(t *testing.T) {
	h := newHarnessClock(t, Config{Workers: 2}, clock.RealClock{})
	stop := h.Run(h.c.Run)

	h.Create(newService())
	h.Create(newEndpoints())
	h.Poll("mirrored", func() bool { return len(h.Slices()) == 1 && len(h.Slices()[0].Endpoints) == 2 })
	h.Update(newEndpoints(subsets(corev1.EndpointSubset{Addresses: ready("10.0.0.9"), Ports: port("http", 8080)})))
	h.Poll("followed the update", func() bool {
		items := h.Slices()
		return len(items) == 1 && len(items[0].Endpoints) == 1 && items[0].Endpoints[0].Addresses[0] == "10.0.0.9"
	})
	// A mirrored slice deleted by someone else comes back.
	h.Delete(&h.Slices()[0])
	h.Poll("recreated", func() bool { return len(h.Slices()) == 1 })
	h.Update(newService(endpointtest.Selector(map[string]string{"app": "web"})))
	h.Poll("removed once the Service has a selector", func() bool { return len(h.Slices()) == 0 })

	stop()
}
