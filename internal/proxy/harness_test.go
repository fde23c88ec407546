package proxy

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/knftables"
)

const (
	ns        = "default"
	testNode  = "node-a"
	otherNode = "node-b"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func mustCIDR(s string) *net.IPNet {
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		panic(err)
	}
	return n
}

func testConfig() Config {
	return Config{
		NodeName:    testNode,
		NodeIPs:     []net.IP{net.ParseIP("192.168.0.10")},
		ClusterCIDR: mustCIDR("10.244.0.0/16"),
		ServiceCIDR: mustCIDR("10.96.0.0/16"),
	}
}

type svcOpt func(*corev1.Service)

// service returns a ClusterIP Service with one TCP port "http" 80.
func service(name, clusterIP string, opts ...svcOpt) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{
			Type:       corev1.ServiceTypeClusterIP,
			ClusterIP:  clusterIP,
			ClusterIPs: []string{clusterIP},
			Ports:      []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}},
		},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func withPorts(ports ...corev1.ServicePort) svcOpt {
	return func(s *corev1.Service) { s.Spec.Ports = ports }
}

func nodePortType(nodePort int32) svcOpt {
	return func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeNodePort
		s.Spec.Ports[0].NodePort = nodePort
	}
}

func loadBalancer(nodePort int32, ingress ...string) svcOpt {
	return func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeLoadBalancer
		s.Spec.Ports[0].NodePort = nodePort
		for _, ip := range ingress {
			s.Status.LoadBalancer.Ingress = append(s.Status.LoadBalancer.Ingress, corev1.LoadBalancerIngress{IP: ip})
		}
	}
}

func externalIPs(ips ...string) svcOpt {
	return func(s *corev1.Service) { s.Spec.ExternalIPs = ips }
}

func etpLocal(s *corev1.Service) {
	s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
}

func itpLocal(s *corev1.Service) {
	s.Spec.InternalTrafficPolicy = ptr.To(corev1.ServiceInternalTrafficPolicyLocal)
}

func affinity(seconds int32) svcOpt {
	return func(s *corev1.Service) {
		s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
		s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr.To(seconds)}}
	}
}

// slice returns an EndpointSlice of service svc with port "http" 8080.
func slice(svc, name string, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return portSlice(svc, name, []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080), Protocol: ptr.To(corev1.ProtocolTCP)}}, eps...)
}

func portSlice(svc, name string, ports []discoveryv1.EndpointPort, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: name,
			Labels: map[string]string{discoveryv1.LabelServiceName: svc},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       ports,
		Endpoints:   eps,
	}
}

type epOpt func(*discoveryv1.Endpoint)

// ep returns a ready endpoint on the other node.
func ep(ip string, opts ...epOpt) discoveryv1.Endpoint {
	e := discoveryv1.Endpoint{Addresses: []string{ip}, NodeName: ptr.To(otherNode),
		Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true), Serving: ptr.To(true), Terminating: ptr.To(false)}}
	for _, o := range opts {
		o(&e)
	}
	return e
}

func local(e *discoveryv1.Endpoint) { e.NodeName = ptr.To(testNode) }

func notReady(e *discoveryv1.Endpoint) {
	e.Conditions.Ready = ptr.To(false)
	e.Conditions.Serving = ptr.To(false)
}

func terminating(serving bool) epOpt {
	return func(e *discoveryv1.Endpoint) {
		e.Conditions.Ready = ptr.To(false)
		e.Conditions.Serving = ptr.To(serving)
		e.Conditions.Terminating = ptr.To(true)
	}
}

// world is a set of Services and EndpointSlices, as the informers hold them;
// slices are indexed by service name, as the proxy's informer indexes them.
type world struct {
	services map[string]*corev1.Service
	slices   map[string]map[string]*discoveryv1.EndpointSlice
}

func newWorld(objs ...any) *world {
	w := &world{services: map[string]*corev1.Service{}, slices: map[string]map[string]*discoveryv1.EndpointSlice{}}
	w.put(objs...)
	return w
}

// put adds or replaces objects and returns the keys of the services they
// belong to.
func (w *world) put(objs ...any) []string {
	var keys []string
	for _, o := range objs {
		switch o := o.(type) {
		case *corev1.Service:
			w.services[o.Name] = o
			keys = append(keys, o.Namespace+"/"+o.Name)
		case *discoveryv1.EndpointSlice:
			svc := o.Labels[discoveryv1.LabelServiceName]
			for _, byName := range w.slices {
				delete(byName, o.Name) // it may have moved to another service
			}
			if w.slices[svc] == nil {
				w.slices[svc] = map[string]*discoveryv1.EndpointSlice{}
			}
			w.slices[svc][o.Name] = o
			keys = append(keys, o.Namespace+"/"+svc)
		default:
			panic("unexpected object")
		}
	}
	return keys
}

func (w *world) rules(c *ruleConfig, key string) *svcRules {
	name := strings.TrimPrefix(key, ns+"/")
	svc := w.services[name]
	if svc == nil {
		return nil
	}
	var sl []*discoveryv1.EndpointSlice
	for _, sliceName := range sortedKeys(w.slices[name]) {
		sl = append(sl, w.slices[name][sliceName])
	}
	return serviceRules(c, svc, sl)
}

func (w *world) all(c *ruleConfig) map[string]*svcRules {
	out := map[string]*svcRules{}
	for name := range w.services {
		if r := w.rules(c, ns+"/"+name); r != nil {
			out[ns+"/"+name] = r
		}
	}
	return out
}

// table is a fake nftables table kept by a ruleset, as the proxy keeps it.
// With real set, every transaction goes to that nftables first.
type table struct {
	t    *testing.T
	cfg  ruleConfig
	fake *knftables.Fake
	real knftables.Interface
	rs   *ruleset
	w    *world
}

func newTable(t *testing.T, cfg Config, objs ...any) *table {
	t.Helper()
	return newTableOn(t, cfg, nil, objs...)
}

func newTableOn(t *testing.T, cfg Config, real knftables.Interface, objs ...any) *table {
	t.Helper()
	c := newRuleConfig(ipv4, cfg)
	tb := &table{t: t, cfg: c, fake: knftables.NewFake(knftables.IPv4Family, DefaultTable), real: real, rs: newRuleset(c), w: newWorld(objs...)}
	tb.full()
	return tb
}

func (tb *table) run(what string, tx *knftables.Transaction) {
	tb.t.Helper()
	if tb.real != nil {
		if err := tb.real.Run(tb.t.Context(), tx); err != nil {
			tb.t.Fatalf("%s on nft: %v\n%s", what, err, tx)
		}
	}
	if err := tb.fake.Run(tb.t.Context(), tx); err != nil {
		tb.t.Fatalf("%s: %v\n%s", what, err, tx)
	}
}

func (tb *table) full() {
	tb.t.Helper()
	tx := tb.fake.NewTransaction()
	tb.rs.full(tx, tb.w.all(&tb.cfg))
	tb.run("full sync", tx)
}

// change puts objs into the world and applies an incremental update of the
// services they belong to; it returns the transaction and the stale flows.
func (tb *table) change(now time.Time, objs ...any) (*knftables.Transaction, []staleFlow) {
	tb.t.Helper()
	return tb.update(now, tb.w.put(objs...)...)
}

func (tb *table) update(now time.Time, keys ...string) (*knftables.Transaction, []staleFlow) {
	tb.t.Helper()
	changed := map[string]*svcRules{}
	for _, k := range keys {
		changed[k] = tb.w.rules(&tb.cfg, k)
	}
	tx := tb.fake.NewTransaction()
	flows := tb.rs.update(tx, changed, now)
	tb.run("update", tx)
	return tx, flows
}

func (tb *table) deleteStale(now time.Time) {
	tb.t.Helper()
	tx := tb.fake.NewTransaction()
	if tb.rs.deleteStale(tx, now) {
		tb.run("delete stale chains", tx)
	}
}

// dump returns the table as nft commands, with element lines sorted (their
// order in the fake is the order they were added in, which nft ignores).
func dump(fake *knftables.Fake) []string {
	var lines, elems []string
	for _, l := range strings.Split(strings.TrimSpace(fake.Dump()), "\n") {
		if strings.HasPrefix(l, "add element ") {
			elems = append(elems, l)
		} else {
			lines = append(lines, l)
		}
	}
	slices.Sort(elems)
	return append(lines, elems...)
}

// serviceLines returns what the table holds beyond the fixed objects of an
// empty one, without the "ip skiff-proxy " that every line repeats.
func (tb *table) serviceLines() []string {
	tb.t.Helper()
	empty := knftables.NewFake(knftables.IPv4Family, DefaultTable)
	tx := empty.NewTransaction()
	newRuleset(tb.cfg).full(tx, nil)
	if err := empty.Run(tb.t.Context(), tx); err != nil {
		tb.t.Fatal(err)
	}
	static := map[string]bool{}
	for _, l := range dump(empty) {
		static[l] = true
	}
	var out []string
	for _, l := range dump(tb.fake) {
		if !static[l] {
			out = append(out, strings.Replace(l, " ip "+DefaultTable+" ", " ", 1))
		}
	}
	return out
}

// requireFullEquivalent checks that the table equals a full rebuild from the
// same world, once stale chains are gone.
func (tb *table) requireFullEquivalent() {
	tb.t.Helper()
	tb.deleteStale(t0.Add(24 * time.Hour))
	rebuilt := &table{t: tb.t, cfg: tb.cfg, fake: knftables.NewFake(knftables.IPv4Family, DefaultTable), rs: newRuleset(tb.cfg), w: tb.w}
	rebuilt.full()
	if got, want := dump(tb.fake), dump(rebuilt.fake); !slices.Equal(got, want) {
		tb.t.Fatalf("incremental table differs from a full rebuild:\n%s", lineDiff(got, want))
	}
}

// lineDiff lists the lines only in got (+) and only in want (-).
func lineDiff(got, want []string) string {
	inWant := map[string]int{}
	for _, l := range want {
		inWant[l]++
	}
	var b strings.Builder
	for _, l := range got {
		if inWant[l] > 0 {
			inWant[l]--
			continue
		}
		b.WriteString("+ " + l + "\n")
	}
	inGot := map[string]int{}
	for _, l := range got {
		inGot[l]++
	}
	for _, l := range want {
		if inGot[l] > 0 {
			inGot[l]--
			continue
		}
		b.WriteString("- " + l + "\n")
	}
	if b.Len() == 0 {
		return "(same lines, different order)\n" + strings.Join(got, "\n")
	}
	return b.String()
}

// spread returns n pod addresses, 10.244.1.1 on, in the order endpoints
// sort in.
func spread(n int) []string {
	ips := make([]string, n)
	for i := range ips {
		ips[i] = fmt.Sprintf("10.244.%d.%d", 1+i/250, 1+i%250)
	}
	return ips
}

// manyEndpoints returns n ready endpoints at the addresses of spread.
func manyEndpoints(n int) []discoveryv1.Endpoint {
	var eps []discoveryv1.Endpoint
	for _, ip := range spread(n) {
		eps = append(eps, ep(ip))
	}
	return eps
}
