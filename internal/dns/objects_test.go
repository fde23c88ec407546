package dns

import (
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

// The cluster most tests resolve against.
func testObjects() []runtime.Object {
	return []runtime.Object{
		namespace("default"), namespace("kube-system"), namespace("empty"),
		service("kube-system", "kube-dns", clusterIP("10.96.0.10"),
			port("dns", corev1.ProtocolUDP, 53), port("dns-tcp", corev1.ProtocolTCP, 53)),
		service("default", "web", clusterIP("10.96.0.20"),
			port("http", corev1.ProtocolTCP, 80), port("metrics", corev1.ProtocolTCP, 9090)),
		service("default", "dual", clusterIP("10.96.0.11", "fd00::11"), port("https", corev1.ProtocolTCP, 443)),
		service("default", "v6", clusterIP("fd00::12")),
		service("default", "db", headless, port("pg", corev1.ProtocolTCP, 5432)),
		endpointSlice("default", "db", "db-1", discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{slicePort("pg", 5432)},
			endpointAt("10.1.0.1", "db-0", true),
			endpointAt("10.1.0.2", "db-1", true),
			endpointAt("10.1.0.3", "", true),
			endpointAt("10.1.0.4", "db-3", false)),
		service("default", "pub", headless, publishNotReady),
		endpointSlice("default", "pub", "pub-1", discoveryv1.AddressTypeIPv4, nil,
			endpointAt("10.2.0.1", "", true),
			endpointAt("10.2.0.2", "", false)),
		service("default", "ext", externalName("Example.COM")),
		service("default", "ext-in", externalName("web.default.svc.cluster.local")),
		service("default", "ext-ip", externalName("192.0.2.1")),
		service("default", "loop-a", externalName("loop-b.default.svc.cluster.local")),
		service("default", "loop-b", externalName("loop-a.default.svc.cluster.local")),
	}
}

func namespace(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

func service(ns, name string, opts ...func(*corev1.Service)) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP},
	}
	for _, o := range opts {
		o(svc)
	}
	return svc
}

func clusterIP(ips ...string) func(*corev1.Service) {
	return func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs = ips[0], ips }
}

func headless(s *corev1.Service) {
	s.Spec.ClusterIP, s.Spec.ClusterIPs = corev1.ClusterIPNone, []string{corev1.ClusterIPNone}
}

func publishNotReady(s *corev1.Service) { s.Spec.PublishNotReadyAddresses = true }

func externalName(target string) func(*corev1.Service) {
	return func(s *corev1.Service) {
		s.Spec.Type, s.Spec.ExternalName = corev1.ServiceTypeExternalName, target
	}
}

func port(name string, proto corev1.Protocol, n int32) func(*corev1.Service) {
	return func(s *corev1.Service) {
		s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: name, Protocol: proto, Port: n})
	}
}

func slicePort(name string, n int32) discoveryv1.EndpointPort {
	return discoveryv1.EndpointPort{Name: ptr.To(name), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(n)}
}

func endpointSlice(ns, svc, name string, at discoveryv1.AddressType, ports []discoveryv1.EndpointPort, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
			Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: at,
		Ports:       ports,
		Endpoints:   eps,
	}
}

func endpointAt(ip, hostname string, ready bool) discoveryv1.Endpoint {
	ep := discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(ready)}}
	if hostname != "" {
		ep.Hostname = ptr.To(hostname)
	}
	return ep
}

// indexOf returns an index holding objs.
func indexOf(t testing.TB, objs ...runtime.Object) *index {
	t.Helper()
	x := newIndex()
	for _, obj := range objs {
		var err error
		switch o := obj.(type) {
		case *corev1.Service:
			err = x.services.Add(o)
		case *discoveryv1.EndpointSlice:
			err = x.slices.Add(o)
		case *corev1.Namespace:
			err = x.namespaces.Add(o)
		default:
			t.Fatalf("unexpected object %T", obj)
		}
		if err != nil {
			t.Fatalf("add %T: %v", obj, err)
		}
	}
	return x
}

// records renders rrs as sorted "owner TYPE data" lines, without TTL and
// class, so that tests compare sets.
func records(rrs []dns.RR) []string {
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		f := strings.Split(rr.String(), "\t")
		out = append(out, f[0]+" "+f[3]+" "+strings.Join(f[4:], " "))
	}
	slices.Sort(out)
	return out
}
