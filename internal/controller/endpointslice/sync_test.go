package endpointslice

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/controller/endpointutil"
	"github.com/skiff-sh/skiff/internal/controller/endpointutil/endpointtest"
)

func TestEndpointsFromPods(t *testing.T) {
	tests := []struct {
		name string
		svc  *corev1.Service
		pods []runtime.Object
		want []epState
	}{
		{
			name: "ready and not ready pods",
			svc:  endpointtest.Service(),
			pods: []runtime.Object{endpointtest.Pod("a", "10.0.0.1"), endpointtest.Pod("b", "10.0.0.2", endpointtest.NotReady())},
			want: []epState{
				{ip: "10.0.0.1", pod: "a", ready: true, serving: true},
				{ip: "10.0.0.2", pod: "b"},
			},
		},
		{
			name: "pods outside the selector, without an IP, unscheduled or finished are left out",
			svc:  endpointtest.Service(),
			pods: []runtime.Object{
				endpointtest.Pod("a", "10.0.0.1"),
				endpointtest.Pod("other", "10.0.0.2", endpointtest.PodLabels(map[string]string{"app": "db"})),
				endpointtest.Pod("noip", "", endpointtest.NoIP()),
				endpointtest.Pod("unscheduled", "10.0.0.3", endpointtest.OnNode("")),
				endpointtest.Pod("done", "10.0.0.4", endpointtest.Phase(corev1.PodSucceeded)),
				endpointtest.Pod("failed", "10.0.0.5", endpointtest.Phase(corev1.PodFailed)),
			},
			want: []epState{{ip: "10.0.0.1", pod: "a", ready: true, serving: true}},
		},
		{
			name: "publishNotReadyAddresses makes every endpoint ready",
			svc:  endpointtest.Service(endpointtest.PublishNotReady()),
			pods: []runtime.Object{endpointtest.Pod("a", "10.0.0.1", endpointtest.NotReady())},
			want: []epState{{ip: "10.0.0.1", pod: "a", ready: true}},
		},
		{
			name: "terminating pods stay to drain, not ready, serving as their readiness says",
			svc:  endpointtest.Service(),
			pods: []runtime.Object{
				endpointtest.Pod("a", "10.0.0.1", endpointtest.Terminating()),
				endpointtest.Pod("b", "10.0.0.2", endpointtest.Terminating(), endpointtest.NotReady()),
			},
			want: []epState{
				{ip: "10.0.0.1", pod: "a", serving: true, terminating: true},
				{ip: "10.0.0.2", pod: "b", terminating: true},
			},
		},
		{
			name: "publishNotReadyAddresses keeps terminating pods ready",
			svc:  endpointtest.Service(endpointtest.PublishNotReady()),
			pods: []runtime.Object{endpointtest.Pod("a", "10.0.0.1", endpointtest.Terminating(), endpointtest.NotReady())},
			want: []epState{{ip: "10.0.0.1", pod: "a", ready: true, terminating: true}},
		},
		{
			name: "addresses are stored in canonical form",
			svc:  endpointtest.Service(),
			pods: []runtime.Object{endpointtest.Pod("a", "::ffff:10.0.0.1")},
			want: []epState{{ip: "10.0.0.1", pod: "a", ready: true, serving: true}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{}, append(tc.pods, tc.svc, endpointtest.Node("node-a", ""))...)
			h.MustSync()
			items := h.Slices()
			if len(items) != 1 {
				t.Fatalf("got %d slices, want 1: %+v", len(items), items)
			}
			s := items[0]
			if got := endpointsOf(items); !slices.Equal(got, tc.want) {
				t.Errorf("endpoints = %+v\nwant %+v", got, tc.want)
			}
			if s.AddressType != discoveryv1.AddressTypeIPv4 || s.GenerateName != "web-" {
				t.Errorf("addressType %q generateName %q, want IPv4 and web-", s.AddressType, s.GenerateName)
			}
			if len(s.OwnerReferences) != 1 || s.OwnerReferences[0].UID != endpointtest.ServiceUID || s.OwnerReferences[0].Kind != "Service" ||
				s.OwnerReferences[0].Controller == nil || !*s.OwnerReferences[0].Controller ||
				s.OwnerReferences[0].BlockOwnerDeletion == nil || !*s.OwnerReferences[0].BlockOwnerDeletion {
				t.Errorf("owner refs = %+v, want the Service as controller blocking deletion", s.OwnerReferences)
			}
			wantLabels := map[string]string{discoveryv1.LabelServiceName: "web", discoveryv1.LabelManagedBy: ManagedBy}
			if !maps.Equal(s.Labels, wantLabels) {
				t.Errorf("labels = %v, want %v", s.Labels, wantLabels)
			}
			if len(s.Ports) != 1 || *s.Ports[0].Name != "http" || *s.Ports[0].Port != 8080 || *s.Ports[0].Protocol != corev1.ProtocolTCP {
				t.Errorf("ports = %+v, want http 8080/TCP", s.Ports)
			}
		})
	}
}

func TestEndpointDetails(t *testing.T) {
	svc := endpointtest.Service(endpointtest.Headless())
	pods := []runtime.Object{
		endpointtest.Pod("a", "10.0.0.1", endpointtest.Hostname("a", "web")),
		endpointtest.Pod("b", "10.0.0.2", endpointtest.Hostname("b", "other"), endpointtest.OnNode("node-b")),
	}
	h := newHarness(t, Config{}, append(pods, svc, endpointtest.Node("node-a", "zone-1"), endpointtest.Node("node-b", ""))...)
	h.MustSync()
	items := h.Slices()
	if len(items) != 1 || len(items[0].Endpoints) != 2 {
		t.Fatalf("want one slice with two endpoints, got %+v", items)
	}
	byPod := map[string]discoveryv1.Endpoint{}
	for _, ep := range items[0].Endpoints {
		byPod[ep.TargetRef.Name] = ep
	}
	a, b := byPod["a"], byPod["b"]
	if a.Hostname == nil || *a.Hostname != "a" {
		t.Errorf("pod with subdomain web: hostname = %v, want a", a.Hostname)
	}
	if b.Hostname != nil {
		t.Errorf("pod with another subdomain: hostname = %q, want none", *b.Hostname)
	}
	if a.Zone == nil || *a.Zone != "zone-1" || b.Zone != nil {
		t.Errorf("zones = %v, %v; want zone-1 and none", a.Zone, b.Zone)
	}
	if *a.NodeName != "node-a" || *b.NodeName != "node-b" {
		t.Errorf("node names = %q, %q", *a.NodeName, *b.NodeName)
	}
	want := corev1.ObjectReference{Kind: "Pod", Namespace: endpointtest.Namespace, Name: "a", UID: "uid-a"}
	if *a.TargetRef != want {
		t.Errorf("targetRef = %+v, want %+v", *a.TargetRef, want)
	}
	if _, ok := items[0].Labels[corev1.IsHeadlessService]; !ok {
		t.Errorf("headless Service's slice lacks %s: %v", corev1.IsHeadlessService, items[0].Labels)
	}
}

func TestNamedPortsSplitSlices(t *testing.T) {
	svc := endpointtest.Service(endpointtest.ServicePorts(
		corev1.ServicePort{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("http")},
		corev1.ServicePort{Name: "metrics", Port: 9090, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(9090),
			AppProtocol: ptr("http")},
	))
	http := func(port int32) endpointtest.PodOption {
		return endpointtest.ContainerPorts(corev1.ContainerPort{Name: "http", ContainerPort: port, Protocol: corev1.ProtocolTCP})
	}
	pods := []runtime.Object{
		endpointtest.Pod("a", "10.0.0.1", http(8080)),
		endpointtest.Pod("b", "10.0.0.2", http(8080)),
		endpointtest.Pod("c", "10.0.0.3", http(8081)),
		endpointtest.Pod("d", "10.0.0.4"), // declares no port named http
		endpointtest.Pod("e", "10.0.0.5",
			endpointtest.ContainerPorts(corev1.ContainerPort{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolUDP})),
	}
	h := newHarness(t, Config{}, append(pods, svc, endpointtest.Node("node-a", ""))...)
	h.MustSync()

	got := map[string][]string{} // ports -> pods
	for _, s := range h.Slices() {
		var ports []string
		for _, p := range s.Ports {
			ports = append(ports, fmt.Sprintf("%s:%d", *p.Name, *p.Port))
			if *p.Name == "metrics" && (p.AppProtocol == nil || *p.AppProtocol != "http") {
				t.Errorf("metrics port lost its appProtocol: %+v", p)
			}
		}
		slices.Sort(ports)
		key := ""
		for _, p := range ports {
			key += p + " "
		}
		for _, ep := range s.Endpoints {
			got[key] = append(got[key], ep.TargetRef.Name)
		}
		slices.Sort(got[key])
	}
	want := map[string][]string{
		"http:8080 metrics:9090 ": {"a", "b"},
		"http:8081 metrics:9090 ": {"c"},
		"metrics:9090 ":           {"d", "e"},
	}
	if !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("slices by ports = %v\nwant %v", got, want)
	}
}

func TestSplitsAtMaxAndFillsBeforeCreating(t *testing.T) {
	var objs []runtime.Object
	for i := range 7 {
		objs = append(objs, endpointtest.Pod(string(rune('a'+i)), "10.0.0."+string(rune('1'+i))))
	}
	h := newHarness(t, Config{MaxEndpointsPerSlice: 3}, append(objs, endpointtest.Service(), endpointtest.Node("node-a", ""))...)
	h.MustSync()
	if got := sizes(h.Slices()); !slices.Equal(got, []int{1, 3, 3}) {
		t.Fatalf("slice sizes = %v, want [1 3 3]", got)
	}
	if got := endpointsOf(h.Slices()); len(got) != 7 {
		t.Fatalf("got %d endpoints, want each of 7 pods once: %+v", len(got), got)
	}
	h.Writes("endpointslices")

	// A new pod goes into the slice with room, not into a new one.
	h.Create(endpointtest.Pod("h", "10.0.0.9"))
	h.MustSync()
	if c, u, d := h.Writes("endpointslices"); c != 0 || u != 1 || d != 0 {
		t.Errorf("adding a pod wrote %d creates, %d updates, %d deletes; want one update", c, u, d)
	}
	if got := sizes(h.Slices()); !slices.Equal(got, []int{2, 3, 3}) {
		t.Errorf("slice sizes = %v, want [2 3 3]", got)
	}

	// A removed pod is dropped from its slice in place.
	before := names(h.Slices())
	h.Delete(endpointtest.Pod("a", ""))
	h.MustSync()
	if c, u, d := h.Writes("endpointslices"); c != 0 || u != 1 || d != 0 {
		t.Errorf("removing a pod wrote %d creates, %d updates, %d deletes; want one update", c, u, d)
	}
	if after := names(h.Slices()); !slices.Equal(before, after) {
		t.Errorf("slice names changed from %v to %v", before, after)
	}
}

func sizes(items []discoveryv1.EndpointSlice) []int {
	var out []int
	for _, s := range items {
		out = append(out, len(s.Endpoints))
	}
	slices.Sort(out)
	return out
}

func names(items []discoveryv1.EndpointSlice) []string {
	var out []string
	for _, s := range items {
		out = append(out, s.Name)
	}
	return out
}

func TestUnchangedSyncWritesNothing(t *testing.T) {
	h := newHarness(t, Config{}, endpointtest.Service(), endpointtest.Node("node-a", ""),
		endpointtest.Pod("a", "10.0.0.1"), endpointtest.Pod("b", "10.0.0.2", endpointtest.NotReady()))
	h.MustSync()
	if c, _, _ := h.Writes("endpointslices"); c != 1 {
		t.Fatalf("first sync created %d slices, want 1", c)
	}
	h.MustSync()
	if c, u, d := h.Writes("endpointslices"); c+u+d != 0 {
		t.Errorf("second sync wrote %d creates, %d updates, %d deletes; want none", c, u, d)
	}
	// A pod change that touches nothing published writes nothing either.
	p := endpointtest.Pod("a", "10.0.0.1")
	p.Annotations = map[string]string{"note": "changed"}
	h.Update(p)
	h.MustSync()
	if c, u, d := h.Writes("endpointslices"); c+u+d != 0 {
		t.Errorf("sync after an annotation change wrote %d creates, %d updates, %d deletes; want none", c, u, d)
	}
}

func TestStaleSlicesRemoved(t *testing.T) {
	ownedBy := func(uid types.UID) metav1.OwnerReference {
		return *metav1.NewControllerRef(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", UID: uid}},
			corev1.SchemeGroupVersion.WithKind("Service"))
	}
	stale := func(name string, owner types.UID, port int32) *discoveryv1.EndpointSlice {
		return &discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: endpointtest.Namespace, UID: types.UID("uid-" + name), ResourceVersion: "1",
				Labels:          map[string]string{discoveryv1.LabelServiceName: "web", discoveryv1.LabelManagedBy: ManagedBy},
				OwnerReferences: []metav1.OwnerReference{ownedBy(owner)}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(port), Protocol: ptr(corev1.ProtocolTCP)}},
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.9"},
				TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: endpointtest.Namespace, Name: "gone"}}},
		}
	}
	mirrored := stale("mirrored", endpointtest.ServiceUID, 7000)
	mirrored.Labels[discoveryv1.LabelManagedBy] = "endpointslicemirroring-controller.k8s.io"
	h := newHarness(t, Config{},
		endpointtest.Service(), endpointtest.Pod("a", "10.0.0.1"), endpointtest.Node("node-a", ""),
		stale("old-service", "uid-earlier", 8080),        // an earlier Service of the same name
		stale("old-port", endpointtest.ServiceUID, 7070), // a port the Service no longer has
		mirrored, // not this controller's
	)
	h.MustSync()
	c, u, d := h.Writes("endpointslices")
	if c != 0 || u != 1 || d != 1 {
		t.Errorf("wrote %d creates, %d updates, %d deletes; want the owned stale slice reused and the foreign one deleted", c, u, d)
	}
	got := h.Slices()
	if len(got) != 2 || got[0].Name != "mirrored" || got[1].Name != "old-port" {
		t.Fatalf("slices = %v, want mirrored and old-port (reused)", names(got))
	}
	if eps := endpointsOf(got[1:]); len(eps) != 1 || eps[0].pod != "a" || *got[1].Ports[0].Port != 8080 {
		t.Errorf("reused slice = %+v, want pod a on port 8080", got[1])
	}
}

func TestPlaceholderWhileNoEndpoints(t *testing.T) {
	h := newHarness(t, Config{}, endpointtest.Service(), endpointtest.Node("node-a", ""))
	h.MustSync()
	items := h.Slices()
	if len(items) != 1 || len(items[0].Endpoints) != 0 || len(items[0].Ports) != 0 {
		t.Fatalf("want one empty slice, got %+v", items)
	}
	placeholder := items[0].Name
	h.Writes("endpointslices")
	h.MustSync()
	if c, u, d := h.Writes("endpointslices"); c+u+d != 0 {
		t.Errorf("resync of the empty Service wrote %d/%d/%d; want nothing", c, u, d)
	}
	h.Create(endpointtest.Pod("a", "10.0.0.1"))
	h.MustSync()
	if c, u, d := h.Writes("endpointslices"); c != 0 || u != 1 || d != 0 {
		t.Errorf("first pod wrote %d creates, %d updates, %d deletes; want the empty slice reused", c, u, d)
	}
	if items := h.Slices(); len(items) != 1 || items[0].Name != placeholder || len(items[0].Endpoints) != 1 {
		t.Errorf("slices = %+v, want %s holding the pod", items, placeholder)
	}
}

func TestServiceDeletedRemovesSlices(t *testing.T) {
	var pods []runtime.Object
	for i := range 5 {
		pods = append(pods, endpointtest.Pod(string(rune('a'+i)), "10.0.0."+string(rune('1'+i))))
	}
	h := newHarness(t, Config{MaxEndpointsPerSlice: 2}, append(pods, endpointtest.Service(), endpointtest.Node("node-a", ""))...)
	h.MustSync()
	if n := len(h.Slices()); n != 3 {
		t.Fatalf("got %d slices, want 3", n)
	}
	h.Delete(endpointtest.Service())
	h.MustSync()
	if items := h.Slices(); len(items) != 0 {
		t.Errorf("slices left after the Service went: %v", names(items))
	}
	// Once the deletions echo back, nothing about the Service is left.
	h.WaitCaches()
	if h.c.tracker.Stale(endpointtest.Namespace+"/web", nil) {
		t.Error("tracker still expects slices of the deleted Service")
	}
}

func TestServicesWithoutSelectorGetNoSlices(t *testing.T) {
	tests := []struct {
		name string
		svc  *corev1.Service
	}{
		{name: "no selector", svc: endpointtest.Service(endpointtest.Selector(nil))},
		{name: "external name", svc: endpointtest.Service(func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ExternalName = corev1.ServiceTypeExternalName, "example.com"
		})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{}, endpointtest.Service(), endpointtest.Pod("a", "10.0.0.1"), endpointtest.Node("node-a", ""))
			h.MustSync()
			if len(h.Slices()) != 1 {
				t.Fatal("no slice while the Service had a selector")
			}
			h.Writes("endpointslices")
			h.Update(tc.svc)
			h.MustSync()
			if items := h.Slices(); len(items) != 0 {
				t.Errorf("slices after the selector went: %v", names(items))
			}
			h.MustSync()
			if c, u, d := h.Writes("endpointslices"); c != 0 || u != 0 || d != 1 {
				t.Errorf("wrote %d creates, %d updates, %d deletes; want the one slice deleted", c, u, d)
			}
		})
	}
}

func TestLabelsFollowTheService(t *testing.T) {
	svc := endpointtest.Service(endpointtest.ServiceLabels(map[string]string{
		"team": "a", discoveryv1.LabelManagedBy: "someone-else", corev1.IsHeadlessService: "x",
	}))
	h := newHarness(t, Config{}, svc, endpointtest.Pod("a", "10.0.0.1"), endpointtest.Node("node-a", ""))
	h.MustSync()
	want := map[string]string{"team": "a", discoveryv1.LabelServiceName: "web", discoveryv1.LabelManagedBy: ManagedBy}
	if got := h.Slices()[0].Labels; !maps.Equal(got, want) {
		t.Errorf("labels = %v, want %v (reserved keys are the controller's)", got, want)
	}
	h.Writes("endpointslices")
	svc.Labels["team"] = "b"
	h.Update(svc)
	h.MustSync()
	if _, u, _ := h.Writes("endpointslices"); u != 1 {
		t.Errorf("label change wrote %d updates, want 1", u)
	}
	if got := h.Slices()[0].Labels["team"]; got != "b" {
		t.Errorf("team label = %q, want b", got)
	}
}

func TestDualStack(t *testing.T) {
	svc := endpointtest.Service(func(s *corev1.Service) {
		s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}
	})
	h := newHarness(t, Config{}, svc, endpointtest.Node("node-a", ""),
		endpointtest.Pod("a", "", endpointtest.IPs("10.0.0.1", "fd00::1")),
		endpointtest.Pod("b", "", endpointtest.IPs("10.0.0.2")))
	h.MustSync()
	got := map[discoveryv1.AddressType][]string{}
	for _, s := range h.Slices() {
		for _, ep := range s.Endpoints {
			got[s.AddressType] = append(got[s.AddressType], ep.Addresses[0])
		}
		slices.Sort(got[s.AddressType])
	}
	want := map[discoveryv1.AddressType][]string{
		discoveryv1.AddressTypeIPv4: {"10.0.0.1", "10.0.0.2"},
		discoveryv1.AddressTypeIPv6: {"fd00::1"},
	}
	if !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("addresses by type = %v, want %v", got, want)
	}
}

func TestTriggerTime(t *testing.T) {
	svc := endpointtest.Service()
	h := newHarness(t, Config{}, svc, endpointtest.Pod("a", "10.0.0.1"), endpointtest.Node("node-a", ""))
	h.MustSync()
	trigger := func() string { return h.Slices()[0].Annotations[corev1.EndpointsLastChangeTriggerTime] }
	if got, want := trigger(), endpointutil.FormatTriggerTime(svc.CreationTimestamp.Time); got != want {
		t.Errorf("first write's trigger time = %q, want the Service's creation %q", got, want)
	}
	at := endpointtest.T0.Add(5 * time.Minute)
	h.Create(endpointtest.Pod("b", "10.0.0.2", endpointtest.ReadyAt(at)))
	h.MustSync()
	if got, want := trigger(), endpointutil.FormatTriggerTime(at); got != want {
		t.Errorf("trigger time after pod b became ready = %q, want %q", got, want)
	}
}

func TestPodOnUnknownNode(t *testing.T) {
	tests := []struct {
		name      string
		svc       *corev1.Service
		published bool
	}{
		{name: "left out and retried", svc: endpointtest.Service()},
		{name: "published when not-ready addresses are", svc: endpointtest.Service(endpointtest.PublishNotReady()), published: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{}, tc.svc, endpointtest.Node("node-a", ""),
				endpointtest.Pod("a", "10.0.0.1"), endpointtest.Pod("b", "10.0.0.2", endpointtest.OnNode("node-x")))
			err := h.Sync()
			if tc.published != (err == nil) {
				t.Fatalf("sync error = %v", err)
			}
			if err != nil && !errors.Is(err, errNodeMissing) {
				t.Errorf("sync error = %v, want errNodeMissing", err)
			}
			var pods []string
			for _, ep := range endpointsOf(h.Slices()) {
				pods = append(pods, ep.pod)
			}
			want := []string{"a"}
			if tc.published {
				want = []string{"a", "b"}
			}
			if !slices.Equal(pods, want) {
				t.Errorf("published pods = %v, want %v", pods, want)
			}
		})
	}
}

// TestRun drives the controller through its informer handlers.
func TestRun(t *testing.T) {
	h := newHarnessClock(t, Config{Workers: 2}, clock.RealClock{}, endpointtest.Node("node-a", ""))
	stop := h.Run(h.c.Run)

	h.Create(endpointtest.Service())
	h.Create(endpointtest.Pod("a", "10.0.0.1", endpointtest.NotReady()))
	waitFor(t, h, func(eps []epState) bool { return len(eps) == 1 && !eps[0].ready })
	h.Update(endpointtest.Pod("a", "10.0.0.1"))
	waitFor(t, h, func(eps []epState) bool { return len(eps) == 1 && eps[0].ready })
	h.Delete(endpointtest.Pod("a", ""))
	waitFor(t, h, func(eps []epState) bool { return len(eps) == 0 })

	stop()
}

func waitFor(t *testing.T, h *harness, ok func([]epState) bool) {
	t.Helper()
	var last []epState
	err := wait.PollUntilContextTimeout(h.Ctx, 5*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		items := h.Slices()
		last = endpointsOf(items)
		return len(items) > 0 && ok(last), nil
	})
	if err != nil {
		t.Fatalf("endpoints never reached the wanted state; last %+v", last)
	}
}
