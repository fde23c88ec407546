package proxy

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/utils/ptr"
)

// manyServices returns n NodePort services svc-0..svc-n-1, each with two
// endpoints.
func manyServices(n int) []any {
	var objs []any
	for i := range n {
		name := fmt.Sprintf("svc-%d", i)
		objs = append(objs,
			service(name, fmt.Sprintf("10.96.%d.%d", i/250, i%250+1), nodePortType(int32(30000+i))),
			slice(name, name+"-1", ep(fmt.Sprintf("10.244.%d.%d", i/250, i%250+1)), ep(fmt.Sprintf("10.245.%d.%d", i/250, i%250+1))))
	}
	return objs
}

func TestUpdateTouchesOnlyTheChangedService(t *testing.T) {
	tb := newTable(t, testConfig(), manyServices(50)...)
	tx, _ := tb.change(t0, slice("svc-7", "svc-7-1", ep("10.244.0.8"), ep("10.246.0.1", local)))

	// Beyond svc-7's own objects, only the hairpin pairs of the endpoint
	// that went and of the one that came.
	hairpin := map[string]bool{
		"delete element ip skiff-proxy hairpin-endpoints { 10.245.0.8 . 10.245.0.8 }": true,
		"add element ip skiff-proxy hairpin-endpoints { 10.246.0.1 . 10.246.0.1 }":    true,
	}
	text := tx.String()
	for line := range strings.SplitSeq(strings.TrimSpace(text), "\n") {
		if !strings.Contains(line, "default/svc-7/") && !hairpin[line] {
			t.Errorf("transaction touches more than svc-7: %s", line)
		}
	}
	// The service chain rewritten and two hairpin pairs swapped: a handful
	// of operations, not the table.
	if n := tx.NumOperations(); n > 10 {
		t.Errorf("%d operations for one endpoint change:\n%s", n, text)
	}
	tb.requireFullEquivalent()
}

func TestUpdateWithoutChangeWritesNothing(t *testing.T) {
	objs := manyServices(3)
	tb := newTable(t, testConfig(), objs...)
	tx, _ := tb.change(t0, objs...)
	if n := tx.NumOperations(); n != 0 {
		t.Errorf("unchanged services wrote %d operations:\n%s", n, tx)
	}
}

// TestUpdateMatchesFullRebuild walks one service through a series of changes;
// after each, the incrementally updated table must equal a full rebuild.
func TestUpdateMatchesFullRebuild(t *testing.T) {
	steps := []struct {
		name string
		objs []any
	}{
		{"service without endpoints", []any{service("web", "10.96.0.10")}},
		{"endpoints appear", []any{slice("web", "web-1", ep("10.244.1.2"), ep("10.244.2.2", local))}},
		{"second slice", []any{slice("web", "web-2", ep("10.244.3.2"))}},
		{"becomes NodePort", []any{service("web", "10.96.0.10", nodePortType(30080))}},
		{"externalTrafficPolicy Local", []any{service("web", "10.96.0.10", nodePortType(30080), etpLocal)}},
		{"local endpoint goes", []any{slice("web", "web-1", ep("10.244.1.2"))}},
		{"becomes LoadBalancer with affinity", []any{service("web", "10.96.0.10", loadBalancer(30080, "203.0.113.5"), affinity(60))}},
		{"affinity timeout changes", []any{service("web", "10.96.0.10", loadBalancer(30080, "203.0.113.5"), affinity(120))}},
		{"too many endpoints for rules", []any{slice("web", "web-1", manyEndpoints(maxPickRules+1)...)}},
		{"affinity goes with many endpoints", []any{service("web", "10.96.0.10", loadBalancer(30080, "203.0.113.5"))}},
		{"affinity comes back", []any{service("web", "10.96.0.10", loadBalancer(30080, "203.0.113.5"), affinity(120))}},
		{"all endpoints terminate", []any{
			slice("web", "web-1", ep("10.244.1.2", terminating(true))),
			slice("web", "web-2", ep("10.244.3.2", terminating(false))),
		}},
		{"no endpoint serves", []any{slice("web", "web-1", ep("10.244.1.2", notReady))}},
		{"internalTrafficPolicy Local", []any{
			service("web", "10.96.0.10", itpLocal),
			slice("web", "web-1", ep("10.244.1.2", local)),
		}},
		{"port renamed", []any{
			service("web", "10.96.0.10", withPorts(corev1.ServicePort{Name: "web", Port: 80, Protocol: corev1.ProtocolTCP})),
			portSlice("web", "web-1", []discoveryv1.EndpointPort{{Name: ptr.To("web"), Port: ptr.To[int32](8080)}}, ep("10.244.1.2")),
		}},
		{"becomes headless", []any{service("web", "None")}},
	}
	// other shares an endpoint with web, whose hairpin pair must outlive
	// web's claim on it.
	tb := newTable(t, testConfig(), service("other", "10.96.0.11"), slice("other", "other-1", ep("10.244.1.2")))
	now := t0
	for _, s := range steps {
		now = now.Add(time.Second)
		t.Run(s.name, func(t *testing.T) {
			tb.t = t
			tb.change(now, s.objs...)
			tb.requireFullEquivalent()
		})
	}
}

func TestStaleChainsAreDeletedAfterTheDelay(t *testing.T) {
	tb := newTable(t, testConfig(), service("web", "10.96.0.10", affinity(60)), slice("web", "web-1", ep("10.244.1.2")))
	delete(tb.w.services, "web")
	tb.update(t0, ns+"/web")

	for _, name := range []string{"svc-default/web/http", "ep-default/web/http/10.244.1.2/8080"} {
		ch := tb.fake.Table.Chains[name]
		if ch == nil || len(ch.Rules) != 0 {
			t.Fatalf("chain %s should be kept, flushed, right after the service went", name)
		}
	}
	if got := tb.serviceLines(); len(got) != 2 || !strings.Contains(got[0], "add chain ep-") {
		t.Errorf("only the two empty chains should remain, got %q", got)
	}
	if next, ok := tb.rs.nextStale(); !ok || !next.Equal(t0.Add(staleChainDelay)) {
		t.Errorf("next stale deletion at %v %v, want %v", next, ok, t0.Add(staleChainDelay))
	}

	tb.deleteStale(t0.Add(staleChainDelay / 2))
	if tb.fake.Table.Chains["svc-default/web/http"] == nil {
		t.Fatal("stale chain deleted before the delay")
	}
	tb.deleteStale(t0.Add(staleChainDelay))
	if got := tb.serviceLines(); len(got) != 0 {
		t.Errorf("table still holds %q", got)
	}
	if _, ok := tb.rs.nextStale(); ok {
		t.Error("stale chains still pending")
	}
}

func TestEndpointBackBeforeDeletionKeepsItsChain(t *testing.T) {
	tb := newTable(t, testConfig(), service("web", "10.96.0.10", affinity(60)), slice("web", "web-1", ep("10.244.1.2"), ep("10.244.1.3")))
	tb.change(t0, slice("web", "web-1", ep("10.244.1.2")))
	tb.change(t0.Add(staleChainDelay/2), slice("web", "web-1", ep("10.244.1.2"), ep("10.244.1.3")))
	tb.deleteStale(t0.Add(time.Hour))
	if ch := tb.fake.Table.Chains["ep-default/web/http/10.244.1.3/8080"]; ch == nil || len(ch.Rules) != 2 {
		t.Fatalf("endpoint chain lost after the endpoint came back: %+v", ch)
	}
	tb.requireFullEquivalent()
}

func TestSharedElementPassesToTheNextClaimant(t *testing.T) {
	// Both services claim 198.51.100.7:80; the API does not forbid it.
	a := service("a", "10.96.0.1", externalIPs("198.51.100.7"))
	b := service("b", "10.96.0.2", externalIPs("198.51.100.7"))
	tb := newTable(t, testConfig(), a, b,
		slice("a", "a-1", ep("10.244.1.1")), slice("b", "b-1", ep("10.244.1.2")))
	owner := func() string {
		e := tb.fake.Table.Maps[mapServiceIPs].FindElement("198.51.100.7", "tcp", "80")
		if e == nil {
			return ""
		}
		return e.Value[0]
	}
	if got := owner(); got != "goto ext-default/a/http" {
		t.Fatalf("first service should hold the address, got %q", got)
	}

	// a's value changes: a keeps its place.
	tb.change(t0, service("a", "10.96.0.1", externalIPs("198.51.100.7"), etpLocal))
	if got := owner(); got != "goto ext-default/a/http" {
		t.Fatalf("a lost the address on a change, got %q", got)
	}
	delete(tb.w.services, "a")
	tb.update(t0, ns+"/a")
	if got := owner(); got != "goto ext-default/b/http" {
		t.Fatalf("b should take the address over, got %q", got)
	}
	tb.requireFullEquivalent()
}

func TestStaleUDPFlows(t *testing.T) {
	dns := service("dns", "10.96.0.53", withPorts(corev1.ServicePort{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, NodePort: 30053}),
		func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeNodePort }, externalIPs("198.51.100.7"))
	udpSlice := func(ips ...string) *discoveryv1.EndpointSlice {
		var eps []discoveryv1.Endpoint
		for _, ip := range ips {
			eps = append(eps, ep(ip))
		}
		return portSlice("dns", "dns-1", []discoveryv1.EndpointPort{{Name: ptr.To("dns"), Port: ptr.To[int32](5353), Protocol: ptr.To(corev1.ProtocolUDP)}}, eps...)
	}
	tb := newTable(t, testConfig(), dns, udpSlice("10.244.1.2", "10.244.1.3"))

	if _, flows := tb.change(t0, udpSlice("10.244.1.2", "10.244.1.3", "10.244.1.4")); len(flows) != 0 {
		t.Errorf("an added endpoint leaves no stale flows, got %v", flows)
	}
	_, flows := tb.change(t0, udpSlice("10.244.1.2", "10.244.1.4"))
	gone := netip.MustParseAddrPort("10.244.1.3:5353")
	want := []staleFlow{
		{dest: netip.MustParseAddrPort("10.96.0.53:53"), endpoint: gone},
		{dest: netip.MustParseAddrPort("198.51.100.7:53"), endpoint: gone},
		{nodePort: 30053, endpoint: gone},
	}
	if !slices.Equal(flows, want) {
		t.Errorf("stale flows = %v, want %v", flows, want)
	}

	// TCP services leave no conntrack work.
	tb2 := newTable(t, testConfig(), service("web", "10.96.0.10"), slice("web", "web-1", ep("10.244.1.2")))
	if _, flows := tb2.change(t0, slice("web", "web-1")); len(flows) != 0 {
		t.Errorf("TCP endpoint removal gave flows %v", flows)
	}
}

func TestStaticRules(t *testing.T) {
	cases := []struct {
		name    string
		cfg     func(*Config)
		want    []string
		notWant []string
	}{
		{
			name: "node IPs answer NodePorts",
			want: []string{
				"add element ip skiff-proxy nodeport-ips { 192.168.0.10 }",
				"add rule ip skiff-proxy services ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports",
				"add rule ip skiff-proxy cluster-ips-check ip daddr 10.96.0.0/16 goto reject-chain",
			},
		},
		{
			name: "without node IPs every non-loopback local address does",
			cfg:  func(c *Config) { c.NodeIPs = nil; c.ServiceCIDR = nil },
			want: []string{
				"add rule ip skiff-proxy services fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports",
				"add rule ip skiff-proxy nodeport-endpoints-check fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @no-endpoint-nodeports",
				"add rule ip skiff-proxy cluster-ips-check ip daddr @cluster-ips goto reject-chain",
			},
			notWant: []string{"nodeport-ips", "10.96.0.0/16"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			text := strings.Join(dump(newTable(t, cfg).fake), "\n")
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("missing %q in\n%s", w, text)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(text, w) {
					t.Errorf("unexpected %q in\n%s", w, text)
				}
			}
		})
	}
}

func TestWithoutClusterCIDRNothingDependsOnThePodRange(t *testing.T) {
	cfg := testConfig()
	cfg.ClusterCIDR = nil
	tb := newTable(t, cfg, service("web", "10.96.0.10", nodePortType(30080), etpLocal), slice("web", "web-1", ep("10.244.1.2", local)))
	for _, l := range tb.serviceLines() {
		if strings.Contains(l, "10.244.0.0/16") || strings.Contains(l, "saddr !=") {
			t.Errorf("rule depends on the pod range: %s", l)
		}
	}
	if got := tb.fake.Table.Chains["ext-default/web/http"].Rules[0].Rule; got != "fib saddr type local jump mark-for-masquerade" {
		t.Errorf("external chain starts with %q", got)
	}
}
