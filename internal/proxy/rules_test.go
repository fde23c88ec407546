package proxy

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/utils/ptr"
)

func externalName(name, target string) *corev1.Service {
	s := service(name, "")
	s.Spec.Type = corev1.ServiceTypeExternalName
	s.Spec.ClusterIP, s.Spec.ClusterIPs = "", nil
	s.Spec.ExternalName = target
	return s
}

// TestServiceRules checks what one service adds to the table: chains, sets
// and elements, beyond the fixed objects every table has.
func TestServiceRules(t *testing.T) {
	cases := []struct {
		name string
		objs []any
		want []string
	}{
		{
			name: "a ClusterIP service balances over its ready endpoints",
			objs: []any{service("web", "10.96.0.10"), slice("web", "web-1", ep("10.244.1.2"), ep("10.244.2.2", local))},
			want: []string{
				"add chain svc-default/web/http",
				"add rule svc-default/web/http ip daddr 10.96.0.10 tcp dport 80 ip saddr != 10.244.0.0/16 jump mark-for-masquerade",
				"add rule svc-default/web/http meta l4proto tcp numgen random mod 2 == 0 dnat to 10.244.1.2:8080",
				"add rule svc-default/web/http meta l4proto tcp dnat to 10.244.2.2:8080",
				"add element cluster-ips { 10.96.0.10 }",
				"add element hairpin-endpoints { 10.244.1.2 . 10.244.1.2 }",
				"add element hairpin-endpoints { 10.244.2.2 . 10.244.2.2 }",
				"add element service-ips { 10.96.0.10 . tcp . 80 : goto svc-default/web/http }",
			},
		},
		{
			name: "a NodePort is masqueraded and goes to any endpoint",
			objs: []any{service("web", "10.96.0.10", nodePortType(30080)), slice("web", "web-1", ep("10.244.1.2"))},
			want: []string{
				"add chain ext-default/web/http",
				"add chain svc-default/web/http",
				"add rule ext-default/web/http jump mark-for-masquerade",
				"add rule ext-default/web/http goto svc-default/web/http",
				"add rule svc-default/web/http ip daddr 10.96.0.10 tcp dport 80 ip saddr != 10.244.0.0/16 jump mark-for-masquerade",
				"add rule svc-default/web/http meta l4proto tcp dnat to 10.244.1.2:8080",
				"add element cluster-ips { 10.96.0.10 }",
				"add element hairpin-endpoints { 10.244.1.2 . 10.244.1.2 }",
				"add element service-ips { 10.96.0.10 . tcp . 80 : goto svc-default/web/http }",
				"add element service-nodeports { tcp . 30080 : goto ext-default/web/http }",
			},
		},
		{
			name: "load-balancer ingress IPs and external IPs are external destinations",
			objs: []any{service("web", "10.96.0.10", loadBalancer(30080, "203.0.113.5"), externalIPs("198.51.100.7")), slice("web", "web-1", ep("10.244.1.2"))},
			want: []string{
				"add chain ext-default/web/http",
				"add chain svc-default/web/http",
				"add rule ext-default/web/http jump mark-for-masquerade",
				"add rule ext-default/web/http goto svc-default/web/http",
				"add rule svc-default/web/http ip daddr 10.96.0.10 tcp dport 80 ip saddr != 10.244.0.0/16 jump mark-for-masquerade",
				"add rule svc-default/web/http meta l4proto tcp dnat to 10.244.1.2:8080",
				"add element cluster-ips { 10.96.0.10 }",
				"add element hairpin-endpoints { 10.244.1.2 . 10.244.1.2 }",
				"add element service-ips { 10.96.0.10 . tcp . 80 : goto svc-default/web/http }",
				"add element service-ips { 198.51.100.7 . tcp . 80 : goto ext-default/web/http }",
				"add element service-ips { 203.0.113.5 . tcp . 80 : goto ext-default/web/http }",
				"add element service-nodeports { tcp . 30080 : goto ext-default/web/http }",
			},
		},
		{
			name: "external IPs of a ClusterIP service",
			objs: []any{service("web", "10.96.0.10", externalIPs("198.51.100.7")), slice("web", "web-1", ep("10.244.1.2"))},
			want: []string{
				"add chain ext-default/web/http",
				"add chain svc-default/web/http",
				"add rule ext-default/web/http jump mark-for-masquerade",
				"add rule ext-default/web/http goto svc-default/web/http",
				"add rule svc-default/web/http ip daddr 10.96.0.10 tcp dport 80 ip saddr != 10.244.0.0/16 jump mark-for-masquerade",
				"add rule svc-default/web/http meta l4proto tcp dnat to 10.244.1.2:8080",
				"add element cluster-ips { 10.96.0.10 }",
				"add element hairpin-endpoints { 10.244.1.2 . 10.244.1.2 }",
				"add element service-ips { 10.96.0.10 . tcp . 80 : goto svc-default/web/http }",
				"add element service-ips { 198.51.100.7 . tcp . 80 : goto ext-default/web/http }",
			},
		},
		{
			name: "externalTrafficPolicy Local sends outside clients to local endpoints only",
			objs: []any{service("web", "10.96.0.10", nodePortType(30080), etpLocal), slice("web", "web-1", ep("10.244.1.2"), ep("10.244.2.2", local))},
			want: []string{
				"add chain ext-default/web/http",
				"add chain local-default/web/http",
				"add chain svc-default/web/http",
				"add rule ext-default/web/http ip saddr 10.244.0.0/16 goto svc-default/web/http",
				"add rule ext-default/web/http fib saddr type local jump mark-for-masquerade",
				"add rule ext-default/web/http fib saddr type local goto svc-default/web/http",
				"add rule ext-default/web/http goto local-default/web/http",
				"add rule local-default/web/http meta l4proto tcp dnat to 10.244.2.2:8080",
				"add rule svc-default/web/http ip daddr 10.96.0.10 tcp dport 80 ip saddr != 10.244.0.0/16 jump mark-for-masquerade",
				"add rule svc-default/web/http meta l4proto tcp numgen random mod 2 == 0 dnat to 10.244.1.2:8080",
				"add rule svc-default/web/http meta l4proto tcp dnat to 10.244.2.2:8080",
				"add element cluster-ips { 10.96.0.10 }",
				"add element hairpin-endpoints { 10.244.1.2 . 10.244.1.2 }",
				"add element hairpin-endpoints { 10.244.2.2 . 10.244.2.2 }",
				"add element service-ips { 10.96.0.10 . tcp . 80 : goto svc-default/web/http }",
				"add element service-nodeports { tcp . 30080 : goto ext-default/web/http }",
			},
		},
		{
			name: "externalTrafficPolicy Local without a local endpoint drops outside clients",
			objs: []any{service("web", "10.96.0.10", nodePortType(30080), externalIPs("198.51.100.7"), etpLocal), slice("web", "web-1", ep("10.244.1.2"))},
			want: []string{
				"add chain ext-default/web/http",
				"add chain svc-default/web/http",
				"add rule ext-default/web/http ip saddr 10.244.0.0/16 goto svc-default/web/http",
				"add rule ext-default/web/http fib saddr type local jump mark-for-masquerade",
				"add rule ext-default/web/http fib saddr type local goto svc-default/web/http",
				"add rule svc-default/web/http ip daddr 10.96.0.10 tcp dport 80 ip saddr != 10.244.0.0/16 jump mark-for-masquerade",
				"add rule svc-default/web/http meta l4proto tcp dnat to 10.244.1.2:8080",
				"add element cluster-ips { 10.96.0.10 }",
				"add element hairpin-endpoints { 10.244.1.2 . 10.244.1.2 }",
				"add element no-endpoint-nodeports { tcp . 30080 : drop }",
				"add element no-endpoint-services { 198.51.100.7 . tcp . 80 : drop }",
				"add element service-ips { 10.96.0.10 . tcp . 80 : goto svc-default/web/http }",
				"add element service-ips { 198.51.100.7 . tcp . 80 : goto ext-default/web/http }",
				"add element service-nodeports { tcp . 30080 : goto ext-default/web/http }",
			},
		},
		{
			name: "internalTrafficPolicy Local uses local endpoints only",
			objs: []any{service("web", "10.96.0.10", itpLocal), slice("web", "web-1", ep("10.244.1.2"), ep("10.244.2.2", local))},
			want: []string{
				"add chain local-default/web/http",
				"add rule local-default/web/http ip daddr 10.96.0.10 tcp dport 80 ip saddr != 10.244.0.0/16 jump mark-for-masquerade",
				"add rule local-default/web/http meta l4proto tcp dnat to 10.244.2.2:8080",
				"add element cluster-ips { 10.96.0.10 }",
				"add element hairpin-endpoints { 10.244.2.2 . 10.244.2.2 }",
				"add element service-ips { 10.96.0.10 . tcp . 80 : goto local-default/web/http }",
			},
		},
		{
			name: "internalTrafficPolicy Local without a local endpoint drops",
			objs: []any{service("web", "10.96.0.10", itpLocal), slice("web", "web-1", ep("10.244.1.2"))},
			want: []string{
				"add element cluster-ips { 10.96.0.10 }",
				"add element no-endpoint-services { 10.96.0.10 . tcp . 80 : drop }",
			},
		},
		{
			name: "ClientIP affinity remembers clients per endpoint",
			objs: []any{service("web", "10.96.0.10", affinity(600)), slice("web", "web-1", ep("10.244.1.2"), ep("10.244.2.2"))},
			want: []string{
				"add chain ep-default/web/http/10.244.1.2/8080",
				"add chain ep-default/web/http/10.244.2.2/8080",
				"add chain svc-default/web/http",
				"add set aff-default/web/http/10.244.1.2/8080 { type ipv4_addr ; flags dynamic,timeout ; timeout 600s ; }",
				"add set aff-default/web/http/10.244.2.2/8080 { type ipv4_addr ; flags dynamic,timeout ; timeout 600s ; }",
				"add rule ep-default/web/http/10.244.1.2/8080 update @aff-default/web/http/10.244.1.2/8080 { ip saddr }",
				"add rule ep-default/web/http/10.244.1.2/8080 meta l4proto tcp dnat to 10.244.1.2:8080",
				"add rule ep-default/web/http/10.244.2.2/8080 update @aff-default/web/http/10.244.2.2/8080 { ip saddr }",
				"add rule ep-default/web/http/10.244.2.2/8080 meta l4proto tcp dnat to 10.244.2.2:8080",
				"add rule svc-default/web/http ip daddr 10.96.0.10 tcp dport 80 ip saddr != 10.244.0.0/16 jump mark-for-masquerade",
				"add rule svc-default/web/http ip saddr @aff-default/web/http/10.244.1.2/8080 goto ep-default/web/http/10.244.1.2/8080",
				"add rule svc-default/web/http ip saddr @aff-default/web/http/10.244.2.2/8080 goto ep-default/web/http/10.244.2.2/8080",
				"add rule svc-default/web/http numgen random mod 2 == 0 goto ep-default/web/http/10.244.1.2/8080",
				"add rule svc-default/web/http goto ep-default/web/http/10.244.2.2/8080",
				"add element cluster-ips { 10.96.0.10 }",
				"add element hairpin-endpoints { 10.244.1.2 . 10.244.1.2 }",
				"add element hairpin-endpoints { 10.244.2.2 . 10.244.2.2 }",
				"add element service-ips { 10.96.0.10 . tcp . 80 : goto svc-default/web/http }",
			},
		},
		{
			name: "without usable endpoints every address rejects",
			objs: []any{service("web", "10.96.0.10", nodePortType(30080), externalIPs("198.51.100.7")), slice("web", "web-1", ep("10.244.1.2", notReady))},
			want: []string{
				"add element cluster-ips { 10.96.0.10 }",
				"add element no-endpoint-nodeports { tcp . 30080 : goto reject-chain }",
				"add element no-endpoint-services { 10.96.0.10 . tcp . 80 : goto reject-chain }",
				"add element no-endpoint-services { 198.51.100.7 . tcp . 80 : goto reject-chain }",
			},
		},
		{
			name: "without ready endpoints the serving terminating ones take traffic",
			objs: []any{service("web", "10.96.0.10"), slice("web", "web-1", ep("10.244.1.2", terminating(true)), ep("10.244.1.3", terminating(false)), ep("10.244.1.4", notReady))},
			want: []string{
				"add chain svc-default/web/http",
				"add rule svc-default/web/http ip daddr 10.96.0.10 tcp dport 80 ip saddr != 10.244.0.0/16 jump mark-for-masquerade",
				"add rule svc-default/web/http meta l4proto tcp dnat to 10.244.1.2:8080",
				"add element cluster-ips { 10.96.0.10 }",
				"add element hairpin-endpoints { 10.244.1.2 . 10.244.1.2 }",
				"add element service-ips { 10.96.0.10 . tcp . 80 : goto svc-default/web/http }",
			},
		},
		{
			name: "a headless service gets nothing",
			objs: []any{service("web", "None"), slice("web", "web-1", ep("10.244.1.2"))},
			want: []string{},
		},
		{
			name: "an ExternalName service gets nothing",
			objs: []any{externalName("web", "example.com")},
			want: []string{},
		},
		{
			name: "ports match by name and protocol; an endpoint in two slices counts once",
			objs: []any{service("dns", "10.96.0.53", withPorts(
				corev1.ServicePort{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP},
				corev1.ServicePort{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP},
				corev1.ServicePort{Name: "sctp", Port: 9, Protocol: corev1.ProtocolSCTP})),
				portSlice("dns", "dns-1", []discoveryv1.EndpointPort{
					{Name: ptr.To("dns"), Port: ptr.To[int32](5353), Protocol: ptr.To(corev1.ProtocolUDP)},
					{Name: ptr.To("dns-tcp"), Port: ptr.To[int32](5353), Protocol: ptr.To(corev1.ProtocolTCP)},
					{Name: ptr.To("sctp"), Port: ptr.To[int32](9), Protocol: ptr.To(corev1.ProtocolSCTP)},
				}, ep("10.244.1.2")),
				portSlice("dns", "dns-2", []discoveryv1.EndpointPort{
					{Name: ptr.To("dns"), Port: ptr.To[int32](5353), Protocol: ptr.To(corev1.ProtocolUDP)},
				}, ep("10.244.1.2"), ep("10.244.1.3"))},
			want: []string{
				"add chain svc-default/dns/dns",
				"add chain svc-default/dns/dns-tcp",
				"add chain svc-default/dns/sctp",
				"add rule svc-default/dns/dns ip daddr 10.96.0.53 udp dport 53 ip saddr != 10.244.0.0/16 jump mark-for-masquerade",
				"add rule svc-default/dns/dns meta l4proto udp numgen random mod 2 == 0 dnat to 10.244.1.2:5353",
				"add rule svc-default/dns/dns meta l4proto udp dnat to 10.244.1.3:5353",
				"add rule svc-default/dns/dns-tcp ip daddr 10.96.0.53 tcp dport 53 ip saddr != 10.244.0.0/16 jump mark-for-masquerade",
				"add rule svc-default/dns/dns-tcp meta l4proto tcp dnat to 10.244.1.2:5353",
				"add rule svc-default/dns/sctp ip daddr 10.96.0.53 sctp dport 9 ip saddr != 10.244.0.0/16 jump mark-for-masquerade",
				"add rule svc-default/dns/sctp meta l4proto sctp dnat to 10.244.1.2:9",
				"add element cluster-ips { 10.96.0.53 }",
				"add element hairpin-endpoints { 10.244.1.2 . 10.244.1.2 }",
				"add element hairpin-endpoints { 10.244.1.3 . 10.244.1.3 }",
				"add element service-ips { 10.96.0.53 . sctp . 9 : goto svc-default/dns/sctp }",
				"add element service-ips { 10.96.0.53 . tcp . 53 : goto svc-default/dns/dns-tcp }",
				"add element service-ips { 10.96.0.53 . udp . 53 : goto svc-default/dns/dns }",
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := newTable(t, testConfig(), tc.objs...).serviceLines()
			if !slices.Equal(got, tc.want) {
				t.Errorf("got:\n%s\ndiff:\n%s", strings.Join(got, "\n"), lineDiff(got, tc.want))
			}
		})
	}
}

// TestManyEndpointsPickFromAMap checks the ports with more endpoints than
// the policy chains pick from with rules.
func TestManyEndpointsPickFromAMap(t *testing.T) {
	n := maxPickRules + 1
	ips := spread(n)
	cases := []struct {
		name string
		svc  *corev1.Service
		// rules are the policy chain's after the masquerading one; value
		// gives the map value of endpoint i.
		rules   []string
		mapType string
		value   func(i int) string
	}{
		{
			name:    "DNAT from a map of addresses",
			svc:     service("web", "10.96.0.10"),
			rules:   []string{fmt.Sprintf("meta l4proto tcp dnat ip to numgen random mod %d map @svc-default/web/http", n)},
			mapType: "ip daddr . th dport",
			value:   func(i int) string { return ips[i] + " . 8080" },
		},
		{
			name: "with ClientIP affinity, a verdict map into the endpoint chains",
			svc:  service("web", "10.96.0.10", affinity(600)),
			rules: func() []string {
				var rules []string
				for _, ip := range ips {
					rules = append(rules, "ip saddr @aff-default/web/http/"+ip+"/8080 goto ep-default/web/http/"+ip+"/8080")
				}
				return append(rules, fmt.Sprintf("numgen random mod %d vmap @svc-default/web/http", n))
			}(),
			mapType: "verdict",
			value:   func(i int) string { return "goto ep-default/web/http/" + ips[i] + "/8080" },
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tb := newTable(t, testConfig(), tc.svc, slice("web", "web-1", manyEndpoints(n)...))
			got := tb.fake.Table.Chains["svc-default/web/http"].Rules
			var rules []string
			for _, r := range got[1:] {
				rules = append(rules, r.Rule)
			}
			if !slices.Equal(rules, tc.rules) {
				t.Errorf("policy chain rules:\n%s\nwant:\n%s", strings.Join(rules, "\n"), strings.Join(tc.rules, "\n"))
			}
			have := map[string]bool{}
			for _, l := range tb.serviceLines() {
				have[l] = true
			}
			want := []string{"add map svc-default/web/http { typeof numgen random mod 1 : " + tc.mapType + " ; }"}
			for i := range n {
				want = append(want, fmt.Sprintf("add element svc-default/web/http { %d : %s }", i, tc.value(i)))
			}
			for _, w := range want {
				if !have[w] {
					t.Errorf("missing %q", w)
				}
			}
		})
	}
}
