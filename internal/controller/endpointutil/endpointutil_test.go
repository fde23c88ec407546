package endpointutil

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func pod(opts ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default", ResourceVersion: "1", Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{NodeName: "n1"},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.1", PodIPs: []corev1.PodIP{{IP: "10.0.0.1"}},
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t0)}}},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func TestPodPublishes(t *testing.T) {
	deleting := func(p *corev1.Pod) { ts := metav1.NewTime(t0); p.DeletionTimestamp = &ts }
	tests := []struct {
		name              string
		pod               *corev1.Pod
		with, withoutTerm bool
	}{
		{name: "running with IP", pod: pod(), with: true, withoutTerm: true},
		{name: "only the legacy podIP", pod: pod(func(p *corev1.Pod) { p.Status.PodIPs = nil }), with: true, withoutTerm: true},
		{name: "no IP", pod: pod(func(p *corev1.Pod) { p.Status.PodIP, p.Status.PodIPs = "", nil })},
		{name: "not scheduled", pod: pod(func(p *corev1.Pod) { p.Spec.NodeName = "" })},
		{name: "succeeded", pod: pod(func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded })},
		{name: "failed", pod: pod(func(p *corev1.Pod) { p.Status.Phase = corev1.PodFailed })},
		{name: "terminating", pod: pod(deleting), with: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := PodPublishes(tc.pod, true); got != tc.with {
				t.Errorf("including terminating: %v, want %v", got, tc.with)
			}
			if got := PodPublishes(tc.pod, false); got != tc.withoutTerm {
				t.Errorf("excluding terminating: %v, want %v", got, tc.withoutTerm)
			}
		})
	}
}

func TestPodIPs(t *testing.T) {
	p := pod(func(p *corev1.Pod) {
		p.Status.PodIPs = []corev1.PodIP{{IP: "::ffff:10.0.0.1"}, {IP: "bogus"}, {IP: "FD00::0001"}}
	})
	var got []string
	for _, a := range PodIPs(p) {
		got = append(got, a.String())
	}
	if want := []string{"10.0.0.1", "fd00::1"}; !slices.Equal(got, want) {
		t.Errorf("PodIPs = %v, want %v", got, want)
	}
}

func TestFindPort(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	p := pod(func(p *corev1.Pod) {
		p.Spec.Containers = []corev1.Container{{Name: "app", Ports: []corev1.ContainerPort{
			{Name: "http", ContainerPort: 8080},
			{Name: "dns", ContainerPort: 5353, Protocol: corev1.ProtocolUDP},
		}}}
		p.Spec.InitContainers = []corev1.Container{
			{Name: "sidecar", RestartPolicy: &always, Ports: []corev1.ContainerPort{{Name: "proxy", ContainerPort: 15001}}},
			{Name: "init", Ports: []corev1.ContainerPort{{Name: "setup", ContainerPort: 9999}}},
		}
	})
	tests := []struct {
		name    string
		sp      corev1.ServicePort
		want    int32
		wantErr bool
	}{
		{name: "number", sp: corev1.ServicePort{Port: 80, TargetPort: intstr.FromInt32(9000)}, want: 9000},
		{name: "unset target is the port", sp: corev1.ServicePort{Port: 80}, want: 80},
		{name: "name, protocol defaulted", sp: corev1.ServicePort{Port: 80, TargetPort: intstr.FromString("http")}, want: 8080},
		{name: "name and protocol", sp: corev1.ServicePort{Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromString("dns")}, want: 5353},
		{name: "name with another protocol", sp: corev1.ServicePort{Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("dns")}, wantErr: true},
		{name: "sidecar", sp: corev1.ServicePort{Port: 1, TargetPort: intstr.FromString("proxy")}, want: 15001},
		{name: "plain init container", sp: corev1.ServicePort{Port: 1, TargetPort: intstr.FromString("setup")}, wantErr: true},
		{name: "unknown name", sp: corev1.ServicePort{Port: 1, TargetPort: intstr.FromString("nope")}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := FindPort(p, &tc.sp)
			if tc.wantErr {
				if !errors.Is(err, ErrNoPort) {
					t.Errorf("FindPort = %d, %v; want ErrNoPort", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("FindPort = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

func serviceLister(t *testing.T, svcs ...*corev1.Service) corelisters.ServiceLister {
	t.Helper()
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	for _, s := range svcs {
		if err := idx.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	return corelisters.NewServiceLister(idx)
}

func svc(name string, sel map[string]string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Spec: corev1.ServiceSpec{Selector: sel}}
}

func TestServicesForUpdate(t *testing.T) {
	lister := serviceLister(t,
		svc("web", map[string]string{"app": "web"}),
		svc("canary", map[string]string{"app": "web", "track": "canary"}),
		svc("db", map[string]string{"app": "db"}),
		svc("manual", nil),
	)
	bump := func(p *corev1.Pod) { p.ResourceVersion = "2" }
	tests := []struct {
		name string
		cur  *corev1.Pod
		want []string
	}{
		{name: "resync", cur: pod()},
		{name: "annotation only", cur: pod(bump, func(p *corev1.Pod) { p.Annotations = map[string]string{"a": "b"} })},
		{name: "readiness", cur: pod(bump, func(p *corev1.Pod) { p.Status.Conditions[0].Status = corev1.ConditionFalse }),
			want: []string{"default/web"}},
		{name: "joined canary", cur: pod(bump, func(p *corev1.Pod) { p.Labels = map[string]string{"app": "web", "track": "canary"} }),
			want: []string{"default/canary"}},
		{name: "moved to db", cur: pod(bump, func(p *corev1.Pod) { p.Labels = map[string]string{"app": "db"} }),
			want: []string{"default/db", "default/web"}},
		{name: "relabelled and terminating", cur: pod(bump, func(p *corev1.Pod) {
			p.Labels = map[string]string{"app": "web", "track": "canary"}
			ts := metav1.NewTime(t0)
			p.DeletionTimestamp = &ts
		}), want: []string{"default/canary", "default/web"}},
		{name: "finished", cur: pod(bump, func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }),
			want: []string{"default/web"}},
		{name: "new IP", cur: pod(bump, func(p *corev1.Pod) { p.Status.PodIPs = []corev1.PodIP{{IP: "10.0.0.2"}} }),
			want: []string{"default/web"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := servicesForUpdate(lister, pod(), tc.cur)
			if err != nil {
				t.Fatal(err)
			}
			if got := sets.List(keys); !slices.Equal(got, tc.want) {
				t.Errorf("services = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestTriggerTimes(t *testing.T) {
	tt := NewTriggerTimes()
	s := svc("web", nil)
	s.CreationTimestamp = metav1.NewTime(t0.Add(-time.Hour))
	readyAt := func(name string, at time.Time) *corev1.Pod {
		return pod(func(p *corev1.Pod) { p.Name = name; p.Status.Conditions[0].LastTransitionTime = metav1.NewTime(at) })
	}
	steps := []struct {
		name string
		pods []*corev1.Pod
		want time.Time
	}{
		{name: "first sync: the Service's creation", pods: []*corev1.Pod{readyAt("a", t0)}, want: s.CreationTimestamp.Time},
		{name: "nothing changed", pods: []*corev1.Pod{readyAt("a", t0)}},
		{name: "the earliest of the changes", pods: []*corev1.Pod{readyAt("a", t0.Add(2*time.Minute)), readyAt("b", t0.Add(time.Minute))},
			want: t0.Add(time.Minute)},
		{name: "a pod gone has no time", pods: []*corev1.Pod{readyAt("a", t0.Add(2*time.Minute))}},
	}
	for _, st := range steps {
		if got := tt.Observe("default/web", s, st.pods); !got.Equal(st.want) {
			t.Errorf("%s: trigger = %v, want %v", st.name, got, st.want)
		}
	}
	tt.Forget("default/web")
	if got := tt.Observe("default/web", s, nil); !got.Equal(s.CreationTimestamp.Time) {
		t.Errorf("after Forget: trigger = %v, want the creation time again", got)
	}
}

func slice(uid, rv string) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{UID: types.UID(uid), ResourceVersion: rv}}
}

func TestSliceTracker(t *testing.T) {
	const key = "default/web"
	tr := NewSliceTracker()
	if tr.Stale(key, nil) || !tr.ShouldSync(key, slice("x", "1")) {
		t.Fatal("an empty tracker calls nothing stale and syncs on any slice")
	}

	tr.Written(key, slice("a", "5"), "")
	if !tr.Stale(key, nil) {
		t.Error("a created slice missing from the cache is not stale")
	}
	if tr.Stale(key, []*discoveryv1.EndpointSlice{slice("a", "5")}) {
		t.Error("cache holding the created slice is stale")
	}
	if tr.ShouldSync(key, slice("a", "5")) {
		t.Error("own write echoing back asks for a sync")
	}
	if !tr.ShouldSync(key, slice("a", "6")) {
		t.Error("someone else's write asks for no sync")
	}

	tr.Written(key, slice("a", "7"), "5")
	if !tr.Stale(key, []*discoveryv1.EndpointSlice{slice("a", "5")}) {
		t.Error("cache at the replaced version is not stale")
	}
	if tr.Stale(key, []*discoveryv1.EndpointSlice{slice("a", "8")}) {
		t.Error("cache past the write is stale")
	}
	tr.Written(key, slice("a", "8"), "8")
	if tr.Stale(key, []*discoveryv1.EndpointSlice{slice("a", "8")}) {
		t.Error("a write that changed nothing makes the cache stale")
	}

	tr.Deleting(key, slice("a", "8"))
	if !tr.Stale(key, []*discoveryv1.EndpointSlice{slice("a", "8")}) {
		t.Error("cache still holding a deleted slice is not stale")
	}
	if tr.Deleted(key, slice("a", "8")) {
		t.Error("own deletion asks for a sync")
	}
	if !tr.Deleted(key, slice("b", "3")) {
		t.Error("someone else's deletion asks for no sync")
	}
	if tr.Stale(key, nil) || len(tr.owners) != 0 {
		t.Errorf("tracker keeps %v after every write was seen", tr.owners)
	}
}

func TestRepackSubsets(t *testing.T) {
	addr := func(ip string) corev1.EndpointAddress {
		return corev1.EndpointAddress{IP: ip, TargetRef: &corev1.ObjectReference{UID: types.UID("uid-" + ip)}}
	}
	port := func(name string, p int32) corev1.EndpointPort { return corev1.EndpointPort{Name: name, Port: p} }
	render := func(ss []corev1.EndpointSubset) []string {
		var out []string
		for _, s := range ss {
			var r, n, p []string
			for _, a := range s.Addresses {
				r = append(r, a.IP)
			}
			for _, a := range s.NotReadyAddresses {
				n = append(n, a.IP)
			}
			for _, x := range s.Ports {
				p = append(p, fmt.Sprintf("%s:%d/%s", x.Name, x.Port, x.Protocol))
			}
			out = append(out, fmt.Sprint(r, n, p))
		}
		slices.Sort(out)
		return out
	}
	tests := []struct {
		name string
		in   []corev1.EndpointSubset
		want []string
	}{
		{
			name: "one subset per address per port merges",
			in: []corev1.EndpointSubset{
				{Addresses: []corev1.EndpointAddress{addr("10.0.0.2")}, Ports: []corev1.EndpointPort{port("http", 80)}},
				{Addresses: []corev1.EndpointAddress{addr("10.0.0.1")}, Ports: []corev1.EndpointPort{port("http", 80)}},
				{Addresses: []corev1.EndpointAddress{addr("10.0.0.1")}, Ports: []corev1.EndpointPort{port("https", 443)}},
				{NotReadyAddresses: []corev1.EndpointAddress{addr("10.0.0.3")}, Ports: []corev1.EndpointPort{port("http", 80)}},
			},
			want: []string{
				"[10.0.0.1 10.0.0.2] [10.0.0.3] [http:80/TCP]",
				"[10.0.0.1] [] [https:443/TCP]",
			},
		},
		{
			name: "ready on a port wins over not ready",
			in: []corev1.EndpointSubset{
				{NotReadyAddresses: []corev1.EndpointAddress{addr("10.0.0.1")}, Ports: []corev1.EndpointPort{port("http", 80)}},
				{Addresses: []corev1.EndpointAddress{addr("10.0.0.1")}, Ports: []corev1.EndpointPort{port("http", 80)}},
			},
			want: []string{"[10.0.0.1] [] [http:80/TCP]"},
		},
		{
			name: "ports with the same addresses share a subset",
			in: []corev1.EndpointSubset{
				{Addresses: []corev1.EndpointAddress{addr("10.0.0.1")}, Ports: []corev1.EndpointPort{port("b", 2), port("a", 1)}},
			},
			want: []string{"[10.0.0.1] [] [a:1/TCP b:2/TCP]"},
		},
		{
			name: "addresses without ports are kept",
			in:   []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{addr("10.0.0.1")}}},
			want: []string{"[10.0.0.1] [] []"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := render(RepackSubsets(tc.in)); !slices.Equal(got, tc.want) {
				t.Errorf("RepackSubsets = %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestPortsKeyIgnoresOrderAndDefaults(t *testing.T) {
	name, tcp := "http", corev1.ProtocolTCP
	p80, p443 := int32(80), int32(443)
	a := []discoveryv1.EndpointPort{{Name: &name, Port: &p80, Protocol: &tcp}, {Port: &p443}}
	empty := ""
	b := []discoveryv1.EndpointPort{{Name: &empty, Port: &p443, Protocol: &tcp}, {Name: &name, Port: &p80}}
	if PortsKey(a) != PortsKey(b) {
		t.Errorf("PortsKey differs for the same ports: %q vs %q", PortsKey(a), PortsKey(b))
	}
	if PortsKey(nil) != PortsKey([]discoveryv1.EndpointPort{}) || PortsKey(nil) == PortsKey(a) {
		t.Error("PortsKey confuses no ports with some")
	}
}
