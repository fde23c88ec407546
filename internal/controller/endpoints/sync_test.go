package endpoints

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/controller/endpointutil"
	"github.com/skiff-sh/skiff/internal/controller/endpointutil/endpointtest"
)

// render prints subsets compactly: "[ready] [notready] ports" per subset,
// addresses as pod@ip.
func render(subsets []corev1.EndpointSubset) []string {
	addrs := func(list []corev1.EndpointAddress) string {
		var out []string
		for _, a := range list {
			s := a.TargetRef.Name + "@" + a.IP
			if a.Hostname != "" {
				s += "(" + a.Hostname + ")"
			}
			out = append(out, s)
		}
		return strings.Join(out, ",")
	}
	var out []string
	for _, ss := range subsets {
		var ports []string
		for _, p := range ss.Ports {
			ports = append(ports, fmt.Sprintf("%s:%d", p.Name, p.Port))
		}
		out = append(out, fmt.Sprintf("[%s] [%s] %s", addrs(ss.Addresses), addrs(ss.NotReadyAddresses), strings.Join(ports, ",")))
	}
	slices.Sort(out)
	return out
}

func TestSubsets(t *testing.T) {
	namedHTTP := endpointtest.ServicePorts(
		corev1.ServicePort{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("http")},
		corev1.ServicePort{Name: "metrics", Port: 9090, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(9090)},
	)
	http := func(port int32) endpointtest.PodOption {
		return endpointtest.ContainerPorts(corev1.ContainerPort{Name: "http", ContainerPort: port, Protocol: corev1.ProtocolTCP})
	}
	tests := []struct {
		name string
		svc  *corev1.Service
		pods []runtime.Object
		want []string
	}{
		{
			name: "ready and not ready pods",
			svc:  endpointtest.Service(),
			pods: []runtime.Object{
				endpointtest.Pod("a", "10.0.0.1"), endpointtest.Pod("b", "10.0.0.2", endpointtest.NotReady()), endpointtest.Pod("c", "10.0.0.3"),
			},
			want: []string{"[a@10.0.0.1,c@10.0.0.3] [b@10.0.0.2] http:8080"},
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
			},
			want: []string{"[a@10.0.0.1] [] http:8080"},
		},
		{
			name: "terminating pods are dropped",
			svc:  endpointtest.Service(),
			pods: []runtime.Object{endpointtest.Pod("a", "10.0.0.1"), endpointtest.Pod("b", "10.0.0.2", endpointtest.Terminating())},
			want: []string{"[a@10.0.0.1] [] http:8080"},
		},
		{
			name: "publishNotReadyAddresses publishes not-ready and terminating pods as ready",
			svc:  endpointtest.Service(endpointtest.PublishNotReady()),
			pods: []runtime.Object{
				endpointtest.Pod("a", "10.0.0.1", endpointtest.NotReady()), endpointtest.Pod("b", "10.0.0.2", endpointtest.Terminating()),
			},
			want: []string{"[a@10.0.0.1,b@10.0.0.2] [] http:8080"},
		},
		{
			name: "named ports resolve per pod; an unresolved one leaves the pod out of that port only",
			svc:  endpointtest.Service(namedHTTP),
			pods: []runtime.Object{
				endpointtest.Pod("a", "10.0.0.1", http(8080)),
				endpointtest.Pod("b", "10.0.0.2", http(8081)),
				endpointtest.Pod("c", "10.0.0.3"),
			},
			want: []string{
				"[a@10.0.0.1,b@10.0.0.2,c@10.0.0.3] [] metrics:9090",
				"[a@10.0.0.1] [] http:8080",
				"[b@10.0.0.2] [] http:8081",
			},
		},
		{
			name: "headless without ports, with hostnames",
			svc:  endpointtest.Service(endpointtest.Headless(), endpointtest.ServicePorts()),
			pods: []runtime.Object{
				endpointtest.Pod("a", "10.0.0.1", endpointtest.Hostname("a", "web")),
				endpointtest.Pod("b", "10.0.0.2", endpointtest.Hostname("b", "other")),
			},
			want: []string{"[a@10.0.0.1(a),b@10.0.0.2] [] "},
		},
		{
			name: "one family: the Service's first",
			svc: endpointtest.Service(func(s *corev1.Service) {
				s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol, corev1.IPv4Protocol}
			}),
			pods: []runtime.Object{endpointtest.Pod("a", "", endpointtest.IPs("10.0.0.1", "fd00::1")), endpointtest.Pod("b", "10.0.0.2")},
			want: []string{"[a@fd00::1] [] http:8080"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{}, append(tc.pods, tc.svc)...)
			h.MustSync()
			ep := h.Endpoints()
			if ep == nil {
				t.Fatal("no Endpoints written")
			}
			if got := render(ep.Subsets); !slices.Equal(got, tc.want) {
				t.Errorf("subsets = %q\nwant %q", got, tc.want)
			}
			for _, ss := range ep.Subsets {
				for _, a := range append(ss.Addresses, ss.NotReadyAddresses...) {
					if a.NodeName == nil || *a.NodeName != "node-a" || a.TargetRef.Kind != "Pod" || a.TargetRef.UID == "" {
						t.Errorf("address %+v lacks its node or pod", a)
					}
				}
			}
		})
	}
}

func TestLabels(t *testing.T) {
	tests := []struct {
		name string
		svc  *corev1.Service
		want map[string]string
	}{
		{name: "the Service's labels", svc: endpointtest.Service(endpointtest.ServiceLabels(map[string]string{"team": "a"})),
			want: map[string]string{"team": "a", managedBy: controllerName}},
		{name: "headless", svc: endpointtest.Service(endpointtest.Headless(), endpointtest.ServiceLabels(map[string]string{"team": "a"})),
			want: map[string]string{"team": "a", corev1.IsHeadlessService: "", managedBy: controllerName}},
		{name: "headless without labels", svc: endpointtest.Service(endpointtest.Headless()),
			want: map[string]string{corev1.IsHeadlessService: "", managedBy: controllerName}},
		{name: "the managed-by label is the controller's",
			svc:  endpointtest.Service(endpointtest.ServiceLabels(map[string]string{managedBy: "someone", corev1.IsHeadlessService: "x"})),
			want: map[string]string{managedBy: controllerName}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{}, tc.svc, endpointtest.Pod("a", "10.0.0.1"))
			h.MustSync()
			if got := h.Endpoints().Labels; !maps.Equal(got, tc.want) {
				t.Errorf("labels = %v, want %v", got, tc.want)
			}
			h.Writes("endpoints")
			h.MustSync()
			if c, u, d := h.Writes("endpoints"); c+u+d != 0 {
				t.Errorf("resync wrote %d/%d/%d, want nothing", c, u, d)
			}
		})
	}
}

func TestOverCapacityTruncated(t *testing.T) {
	var objs []runtime.Object
	for i := range maxAddresses + 5 {
		objs = append(objs, endpointtest.Pod(fmt.Sprintf("r%04d", i), fmt.Sprintf("10.1.%d.%d", i/250, i%250+1)))
	}
	for i := range 3 {
		objs = append(objs, endpointtest.Pod(fmt.Sprintf("n%d", i), fmt.Sprintf("10.2.0.%d", i+1), endpointtest.NotReady()))
	}
	h := newHarness(t, Config{}, append(objs, endpointtest.Service())...)
	h.MustSync()
	ep := h.Endpoints()
	ready, notReady := count(ep)
	if ready != maxAddresses || notReady != 0 {
		t.Errorf("kept %d ready and %d not ready addresses, want %d and 0", ready, notReady, maxAddresses)
	}
	if ep.Annotations[corev1.EndpointsOverCapacity] != "truncated" {
		t.Errorf("annotations = %v, want over-capacity truncated", ep.Annotations)
	}
	h.Writes("endpoints")
	h.MustSync()
	if c, u, d := h.Writes("endpoints"); c+u+d != 0 {
		t.Errorf("resync of a truncated object wrote %d/%d/%d, want nothing", c, u, d)
	}

	// Back under capacity, the annotation goes.
	for i := range 8 {
		h.Delete(endpointtest.Pod(fmt.Sprintf("r%04d", i), ""))
	}
	h.MustSync()
	ep = h.Endpoints()
	if ready, notReady := count(ep); ready != maxAddresses-3 || notReady != 3 {
		t.Errorf("kept %d ready and %d not ready, want all %d and 3", ready, notReady, maxAddresses-3)
	}
	if _, ok := ep.Annotations[corev1.EndpointsOverCapacity]; ok {
		t.Errorf("over-capacity annotation kept under capacity: %v", ep.Annotations)
	}
}

func count(ep *corev1.Endpoints) (ready, notReady int) {
	for _, ss := range ep.Subsets {
		ready += len(ss.Addresses)
		notReady += len(ss.NotReadyAddresses)
	}
	return ready, notReady
}

func TestTruncate(t *testing.T) {
	addrs := func(n int) []corev1.EndpointAddress { return make([]corev1.EndpointAddress, n) }
	ss := func(ready, notReady int) corev1.EndpointSubset {
		return corev1.EndpointSubset{Addresses: addrs(ready), NotReadyAddresses: addrs(notReady)}
	}
	tests := []struct {
		name  string
		in    []corev1.EndpointSubset
		limit int
		want  [][2]int
		cut   bool
	}{
		{name: "under the limit", in: []corev1.EndpointSubset{ss(3, 2)}, limit: 5, want: [][2]int{{3, 2}}},
		{name: "only not-ready cut, in proportion", in: []corev1.EndpointSubset{ss(2, 4), ss(2, 2)}, limit: 7,
			want: [][2]int{{2, 2}, {2, 1}}, cut: true},
		{name: "ready cut, not-ready all gone", in: []corev1.EndpointSubset{ss(6, 1), ss(3, 1)}, limit: 6,
			want: [][2]int{{4, 0}, {2, 0}}, cut: true},
		{name: "a subset left empty is dropped", in: []corev1.EndpointSubset{ss(5, 0), ss(0, 3)}, limit: 5,
			want: [][2]int{{5, 0}}, cut: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, cut := truncate(tc.in, tc.limit)
			var got [][2]int
			for _, s := range out {
				got = append(got, [2]int{len(s.Addresses), len(s.NotReadyAddresses)})
			}
			if cut != tc.cut || !slices.Equal(got, tc.want) {
				t.Errorf("truncate = %v, %v; want %v, %v", got, cut, tc.want, tc.cut)
			}
		})
	}
}

const (
	managedBy      = endpointutil.LabelEndpointsManagedBy
	controllerName = endpointutil.EndpointsControllerName
)

// userEndpoints returns Endpoints "web" as a user writes them for a
// selector-less Service.
func userEndpoints() *corev1.Endpoints {
	return &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: endpointtest.Namespace, ResourceVersion: "7", Labels: map[string]string{"by": "user"}},
		Subsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: "192.0.2.10"}},
			Ports: []corev1.EndpointPort{{Port: 5432, Protocol: corev1.ProtocolTCP}}}},
	}
}

func TestUserEndpointsLeftAlone(t *testing.T) {
	tests := []struct {
		name string
		objs []runtime.Object
	}{
		{name: "selector-less Service",
			objs: []runtime.Object{endpointtest.Service(endpointtest.Selector(nil)), endpointtest.Pod("a", "10.0.0.1")}},
		{name: "ExternalName Service", objs: []runtime.Object{endpointtest.Service(func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ExternalName = corev1.ServiceTypeExternalName, "example.com"
		})}},
		{name: "no Service at all", objs: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{}, append(tc.objs, userEndpoints())...)
			h.MustSync()
			if c, u, d := h.Writes("endpoints"); c+u+d != 0 {
				t.Errorf("sync wrote %d/%d/%d, want nothing", c, u, d)
			}
			if got := h.Endpoints(); got == nil || got.ResourceVersion != "7" {
				t.Errorf("user's Endpoints changed: %+v", got)
			}
		})
	}
}

func TestOwnEndpointsRemoved(t *testing.T) {
	tests := []struct {
		name   string
		change func(h *harness)
	}{
		{name: "Service deleted", change: func(h *harness) { h.Delete(endpointtest.Service()) }},
		{name: "selector removed", change: func(h *harness) { h.Update(endpointtest.Service(endpointtest.Selector(nil))) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{}, endpointtest.Service(), endpointtest.Pod("a", "10.0.0.1"))
			h.MustSync()
			if h.Endpoints() == nil {
				t.Fatal("no Endpoints written")
			}
			tc.change(h)
			h.MustSync()
			if ep := h.Endpoints(); ep != nil {
				t.Errorf("Endpoints left: %+v", ep)
			}
		})
	}
}

func TestUnchangedSyncWritesNothing(t *testing.T) {
	h := newHarness(t, Config{}, endpointtest.Service(),
		endpointtest.Pod("a", "10.0.0.1"), endpointtest.Pod("b", "10.0.0.2", endpointtest.NotReady()))
	h.MustSync()
	if c, _, _ := h.Writes("endpoints"); c != 1 {
		t.Fatalf("first sync created %d Endpoints, want 1", c)
	}
	h.MustSync()
	if c, u, d := h.Writes("endpoints"); c+u+d != 0 {
		t.Errorf("second sync wrote %d/%d/%d, want nothing", c, u, d)
	}
	p := endpointtest.Pod("a", "10.0.0.1")
	p.Annotations = map[string]string{"note": "changed"}
	h.Update(p)
	h.MustSync()
	if c, u, d := h.Writes("endpoints"); c+u+d != 0 {
		t.Errorf("sync after an annotation change wrote %d/%d/%d, want nothing", c, u, d)
	}
	// A readiness change is written, in place.
	h.Update(endpointtest.Pod("b", "10.0.0.2"))
	h.MustSync()
	if c, u, d := h.Writes("endpoints"); c != 0 || u != 1 || d != 0 {
		t.Errorf("readiness change wrote %d/%d/%d, want one update", c, u, d)
	}
}

func TestTriggerTime(t *testing.T) {
	svc := endpointtest.Service()
	h := newHarness(t, Config{}, svc, endpointtest.Pod("a", "10.0.0.1"))
	h.MustSync()
	trigger := func() string { return h.Endpoints().Annotations[corev1.EndpointsLastChangeTriggerTime] }
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

// TestRun drives the controller through its informer handlers, and checks
// that its Endpoints whose Service went while it was away are removed at
// start, and users' are not.
func TestRun(t *testing.T) {
	orphan := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "orphan", Namespace: endpointtest.Namespace,
		Labels: map[string]string{managedBy: controllerName}}}
	users := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "users", Namespace: endpointtest.Namespace}}
	h := newHarnessClock(t, Config{Workers: 2}, clock.RealClock{}, orphan, users)
	stop := h.Run(h.c.Run)

	h.Poll("orphan removed", func() bool {
		_, err := h.Client.Tracker().Get(corev1.SchemeGroupVersion.WithResource("endpoints"), endpointtest.Namespace, "orphan")
		return err != nil
	})
	if _, err := h.Client.Tracker().Get(corev1.SchemeGroupVersion.WithResource("endpoints"), endpointtest.Namespace, "users"); err != nil {
		t.Errorf("user's Endpoints without a Service: %v", err)
	}
	h.Create(endpointtest.Service())
	h.Create(endpointtest.Pod("a", "10.0.0.1", endpointtest.NotReady()))
	h.Poll("pod a not ready", func() bool {
		ep := h.Endpoints()
		return ep != nil && slices.Equal(render(ep.Subsets), []string{"[] [a@10.0.0.1] http:8080"})
	})
	h.Update(endpointtest.Pod("a", "10.0.0.1"))
	h.Poll("pod a ready", func() bool {
		ep := h.Endpoints()
		return ep != nil && slices.Equal(render(ep.Subsets), []string{"[a@10.0.0.1] [] http:8080"})
	})
	h.Delete(h.Endpoints())
	h.Poll("deleted Endpoints put back", func() bool { return h.Endpoints() != nil })

	stop()
}
