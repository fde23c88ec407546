package dns

import (
	"net/netip"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func TestResolve(t *testing.T) {
	r := newResolver("cluster.local", 5, indexOf(t, testObjects()...))
	const (
		nodata = "NODATA"
		nx     = "NXDOMAIN"
		fail   = "SERVFAIL"
		soa    = "cluster.local. SOA"
		revSOA = "in-addr.arpa. SOA"
	)
	tests := []struct {
		name  string
		qname string
		qtype uint16
		// answer is the expected answer; when empty, outcome says why.
		answer  []string
		outcome string
		extra   []string
		// authority is the owner and type of the expected authority record.
		authority string
		chase     string
	}{
		{name: "cluster IP", qname: "web.default.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{"web.default.svc.cluster.local. A 10.96.0.20"}},
		{name: "case kept as asked", qname: "WeB.DeFault.SVC.Cluster.LOCAL.", qtype: dns.TypeA,
			answer: []string{"WeB.DeFault.SVC.Cluster.LOCAL. A 10.96.0.20"}},
		{name: "AAAA of IPv4-only service is NODATA", qname: "web.default.svc.cluster.local.", qtype: dns.TypeAAAA,
			outcome: nodata, authority: soa},
		{name: "TXT of a service is NODATA", qname: "web.default.svc.cluster.local.", qtype: dns.TypeTXT,
			outcome: nodata, authority: soa},
		{name: "dual-stack A", qname: "dual.default.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{"dual.default.svc.cluster.local. A 10.96.0.11"}},
		{name: "dual-stack AAAA", qname: "dual.default.svc.cluster.local.", qtype: dns.TypeAAAA,
			answer: []string{"dual.default.svc.cluster.local. AAAA fd00::11"}},
		{name: "IPv6-only A is NODATA", qname: "v6.default.svc.cluster.local.", qtype: dns.TypeA,
			outcome: nodata, authority: soa},
		{name: "ANY gives every type", qname: "dual.default.svc.cluster.local.", qtype: dns.TypeANY,
			answer: []string{
				"dual.default.svc.cluster.local. A 10.96.0.11",
				"dual.default.svc.cluster.local. AAAA fd00::11",
				"dual.default.svc.cluster.local. SRV 0 100 443 dual.default.svc.cluster.local.",
			},
			extra: []string{"dual.default.svc.cluster.local. A 10.96.0.11", "dual.default.svc.cluster.local. AAAA fd00::11"}},
		{name: "unknown service", qname: "nope.default.svc.cluster.local.", qtype: dns.TypeA,
			outcome: nx, authority: soa},
		{name: "service in unknown namespace", qname: "web.nope.svc.cluster.local.", qtype: dns.TypeA,
			outcome: nx, authority: soa},
		{name: "existing namespace", qname: "default.svc.cluster.local.", qtype: dns.TypeA,
			outcome: nodata, authority: soa},
		{name: "namespace without services", qname: "empty.svc.cluster.local.", qtype: dns.TypeA,
			outcome: nodata, authority: soa},
		{name: "unknown namespace", qname: "nope.svc.cluster.local.", qtype: dns.TypeA,
			outcome: nx, authority: soa},
		{name: "svc label", qname: "svc.cluster.local.", qtype: dns.TypeA, outcome: nodata, authority: soa},
		{name: "pod label", qname: "pod.cluster.local.", qtype: dns.TypeA, outcome: nodata, authority: soa},
		{name: "unknown name under the zone", qname: "google.com.cluster.local.", qtype: dns.TypeA,
			outcome: nx, authority: soa},
		{name: "search-path expansion", qname: "example.com.default.svc.cluster.local.", qtype: dns.TypeA,
			outcome: nx, authority: soa},
		{name: "too many labels", qname: "a.b.c.web.default.svc.cluster.local.", qtype: dns.TypeA,
			outcome: nx, authority: soa},
		{name: "apex SOA", qname: "Cluster.Local.", qtype: dns.TypeSOA,
			answer: []string{"Cluster.Local. SOA ns.dns.cluster.local. hostmaster.cluster.local. SERIAL 7200 1800 86400 5"}},
		{name: "apex NS", qname: "cluster.local.", qtype: dns.TypeNS,
			answer: []string{"cluster.local. NS ns.dns.cluster.local."},
			extra:  []string{"ns.dns.cluster.local. A 10.96.0.10"}},
		{name: "apex A is NODATA", qname: "cluster.local.", qtype: dns.TypeA, outcome: nodata, authority: soa},
		{name: "nameserver address", qname: "ns.dns.cluster.local.", qtype: dns.TypeA,
			answer: []string{"ns.dns.cluster.local. A 10.96.0.10"}},
		{name: "dns-version", qname: "dns-version.cluster.local.", qtype: dns.TypeTXT,
			answer: []string{`dns-version.cluster.local. TXT "1.1.0"`}},

		{name: "SRV of named port", qname: "_http._tcp.web.default.svc.cluster.local.", qtype: dns.TypeSRV,
			answer: []string{"_http._tcp.web.default.svc.cluster.local. SRV 0 100 80 web.default.svc.cluster.local."},
			extra:  []string{"web.default.svc.cluster.local. A 10.96.0.20"}},
		{name: "SRV labels are case-insensitive", qname: "_HTTP._TCP.web.default.svc.cluster.local.", qtype: dns.TypeSRV,
			answer: []string{"_HTTP._TCP.web.default.svc.cluster.local. SRV 0 100 80 web.default.svc.cluster.local."},
			extra:  []string{"web.default.svc.cluster.local. A 10.96.0.20"}},
		{name: "SRV of UDP port", qname: "_dns._udp.kube-dns.kube-system.svc.cluster.local.", qtype: dns.TypeSRV,
			answer: []string{"_dns._udp.kube-dns.kube-system.svc.cluster.local. SRV 0 100 53 kube-dns.kube-system.svc.cluster.local."},
			extra:  []string{"kube-dns.kube-system.svc.cluster.local. A 10.96.0.10"}},
		{name: "SRV with the wrong protocol", qname: "_http._udp.web.default.svc.cluster.local.", qtype: dns.TypeSRV,
			outcome: nx, authority: soa},
		{name: "SRV of unknown port", qname: "_nope._tcp.web.default.svc.cluster.local.", qtype: dns.TypeSRV,
			outcome: nx, authority: soa},
		{name: "A of an SRV name is NODATA", qname: "_http._tcp.web.default.svc.cluster.local.", qtype: dns.TypeA,
			outcome: nodata, authority: soa},
		{name: "protocol label exists", qname: "_tcp.web.default.svc.cluster.local.", qtype: dns.TypeSRV,
			outcome: nodata, authority: soa},
		{name: "SRV without underscores", qname: "http.tcp.web.default.svc.cluster.local.", qtype: dns.TypeSRV,
			outcome: nx, authority: soa},
		{name: "SRV of the service name lists every port", qname: "web.default.svc.cluster.local.", qtype: dns.TypeSRV,
			answer: []string{
				"web.default.svc.cluster.local. SRV 0 50 80 web.default.svc.cluster.local.",
				"web.default.svc.cluster.local. SRV 0 50 9090 web.default.svc.cluster.local.",
			},
			extra: []string{"web.default.svc.cluster.local. A 10.96.0.20"}},

		{name: "headless: ready endpoints only", qname: "db.default.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{
				"db.default.svc.cluster.local. A 10.1.0.1",
				"db.default.svc.cluster.local. A 10.1.0.2",
				"db.default.svc.cluster.local. A 10.1.0.3",
			}},
		{name: "headless AAAA is NODATA", qname: "db.default.svc.cluster.local.", qtype: dns.TypeAAAA,
			outcome: nodata, authority: soa},
		{name: "headless: publishNotReadyAddresses", qname: "pub.default.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{"pub.default.svc.cluster.local. A 10.2.0.1", "pub.default.svc.cluster.local. A 10.2.0.2"}},
		{name: "endpoint hostname", qname: "db-0.db.default.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{"db-0.db.default.svc.cluster.local. A 10.1.0.1"}},
		{name: "endpoint hostname, other case", qname: "DB-1.db.default.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{"DB-1.db.default.svc.cluster.local. A 10.1.0.2"}},
		{name: "endpoint without hostname by its dashed address", qname: "10-1-0-3.db.default.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{"10-1-0-3.db.default.svc.cluster.local. A 10.1.0.3"}},
		{name: "not-ready endpoint hostname", qname: "db-3.db.default.svc.cluster.local.", qtype: dns.TypeA,
			outcome: nx, authority: soa},
		{name: "endpoint hostname AAAA is NODATA", qname: "db-0.db.default.svc.cluster.local.", qtype: dns.TypeAAAA,
			outcome: nodata, authority: soa},
		{name: "unknown endpoint", qname: "db-9.db.default.svc.cluster.local.", qtype: dns.TypeA,
			outcome: nx, authority: soa},
		{name: "headless SRV: one per endpoint", qname: "_pg._tcp.db.default.svc.cluster.local.", qtype: dns.TypeSRV,
			answer: []string{
				"_pg._tcp.db.default.svc.cluster.local. SRV 0 33 5432 10-1-0-3.db.default.svc.cluster.local.",
				"_pg._tcp.db.default.svc.cluster.local. SRV 0 33 5432 db-0.db.default.svc.cluster.local.",
				"_pg._tcp.db.default.svc.cluster.local. SRV 0 33 5432 db-1.db.default.svc.cluster.local.",
			},
			extra: []string{
				"10-1-0-3.db.default.svc.cluster.local. A 10.1.0.3",
				"db-0.db.default.svc.cluster.local. A 10.1.0.1",
				"db-1.db.default.svc.cluster.local. A 10.1.0.2",
			}},

		{name: "ExternalName", qname: "ext.default.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{"ext.default.svc.cluster.local. CNAME Example.COM."}, chase: "Example.COM."},
		{name: "ExternalName CNAME question", qname: "ext.default.svc.cluster.local.", qtype: dns.TypeCNAME,
			answer: []string{"ext.default.svc.cluster.local. CNAME Example.COM."}},
		{name: "ExternalName inside the zone is followed", qname: "ext-in.default.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{
				"ext-in.default.svc.cluster.local. CNAME web.default.svc.cluster.local.",
				"web.default.svc.cluster.local. A 10.96.0.20",
			}},
		{name: "ExternalName that is an address", qname: "ext-ip.default.svc.cluster.local.", qtype: dns.TypeA,
			outcome: nodata, authority: soa},
		{name: "ExternalName loop", qname: "loop-a.default.svc.cluster.local.", qtype: dns.TypeA, outcome: fail},
		{name: "ExternalName has no endpoints", qname: "x.ext.default.svc.cluster.local.", qtype: dns.TypeA,
			outcome: nx, authority: soa},

		{name: "PTR of cluster IP", qname: "20.0.96.10.in-addr.arpa.", qtype: dns.TypePTR,
			answer: []string{"20.0.96.10.in-addr.arpa. PTR web.default.svc.cluster.local."}},
		{name: "PTR of IPv6 cluster IP", qname: reverseOf("fd00::11"), qtype: dns.TypePTR,
			answer: []string{reverseOf("fd00::11") + " PTR dual.default.svc.cluster.local."}},
		{name: "PTR of headless endpoint", qname: "1.0.1.10.IN-ADDR.ARPA.", qtype: dns.TypePTR,
			answer: []string{"1.0.1.10.IN-ADDR.ARPA. PTR db-0.db.default.svc.cluster.local."}},
		{name: "PTR of headless endpoint without hostname", qname: "3.0.1.10.in-addr.arpa.", qtype: dns.TypePTR,
			answer: []string{"3.0.1.10.in-addr.arpa. PTR 10-1-0-3.db.default.svc.cluster.local."}},
		{name: "A of a known reverse name is NODATA", qname: "20.0.96.10.in-addr.arpa.", qtype: dns.TypeA,
			outcome: nodata, authority: revSOA},

		{name: "pod A", qname: "10-244-1-7.default.pod.cluster.local.", qtype: dns.TypeA,
			answer: []string{"10-244-1-7.default.pod.cluster.local. A 10.244.1.7"}},
		{name: "pod AAAA of IPv4 is NODATA", qname: "10-244-1-7.default.pod.cluster.local.", qtype: dns.TypeAAAA,
			outcome: nodata, authority: soa},
		{name: "pod IPv6", qname: "fd00--1.default.pod.cluster.local.", qtype: dns.TypeAAAA,
			answer: []string{"fd00--1.default.pod.cluster.local. AAAA fd00::1"}},
		{name: "pod in unknown namespace", qname: "10-244-1-7.nope.pod.cluster.local.", qtype: dns.TypeA,
			outcome: nx, authority: soa},
		{name: "pod name not an address", qname: "web-1.default.pod.cluster.local.", qtype: dns.TypeA,
			outcome: nx, authority: soa},
		{name: "pod namespace", qname: "default.pod.cluster.local.", qtype: dns.TypeA,
			outcome: nodata, authority: soa},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, ok := r.resolve(dns.Question{Name: tc.qname, Qtype: tc.qtype, Qclass: dns.ClassINET})
			if !ok {
				t.Fatalf("resolve(%s) not handled", tc.qname)
			}
			got := records(res.answer)
			for i, s := range got {
				got[i] = serialRE.ReplaceAllString(s, "$1 SERIAL ")
			}
			if diff := cmp.Diff(tc.answer, got, cmpEmpty); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.extra, records(res.extra), cmpEmpty); diff != "" {
				t.Errorf("extra (-want +got):\n%s", diff)
			}
			wantRcode := dns.RcodeSuccess
			switch tc.outcome {
			case nx:
				wantRcode = dns.RcodeNameError
			case fail:
				wantRcode = dns.RcodeServerFailure
			}
			if res.rcode != wantRcode {
				t.Errorf("rcode = %s, want %s", dns.RcodeToString[res.rcode], dns.RcodeToString[wantRcode])
			}
			var authority string
			if len(res.ns) == 1 {
				authority = res.ns[0].Header().Name + " " + dns.TypeToString[res.ns[0].Header().Rrtype]
			} else if len(res.ns) > 1 {
				t.Errorf("authority has %d records", len(res.ns))
			}
			if authority != tc.authority {
				t.Errorf("authority = %q, want %q", authority, tc.authority)
			}
			if res.chase != tc.chase {
				t.Errorf("chase = %q, want %q", res.chase, tc.chase)
			}
		})
	}
}

func TestResolveOutsideCluster(t *testing.T) {
	r := newResolver("cluster.local", 5, indexOf(t, testObjects()...))
	for _, q := range []dns.Question{
		{Name: "example.com.", Qtype: dns.TypeA, Qclass: dns.ClassINET},
		{Name: "local.", Qtype: dns.TypeSOA, Qclass: dns.ClassINET},
		{Name: "xcluster.local.", Qtype: dns.TypeA, Qclass: dns.ClassINET},
		// Reverse names of addresses the cluster does not know go upstream,
		// and so do those of not-ready endpoints.
		{Name: "1.2.0.192.in-addr.arpa.", Qtype: dns.TypePTR, Qclass: dns.ClassINET},
		{Name: "4.0.1.10.in-addr.arpa.", Qtype: dns.TypePTR, Qclass: dns.ClassINET},
		{Name: "96.10.in-addr.arpa.", Qtype: dns.TypePTR, Qclass: dns.ClassINET},
	} {
		if res, ok := r.resolve(q); ok {
			t.Errorf("resolve(%s) handled: %+v", q.Name, res)
		}
	}
}

func TestResolveCustomDomain(t *testing.T) {
	r := newResolver("Skiff.Internal.", 30, indexOf(t, testObjects()...))
	res, ok := r.resolve(dns.Question{Name: "web.default.svc.skiff.internal.", Qtype: dns.TypeA, Qclass: dns.ClassINET})
	if !ok || len(res.answer) != 1 {
		t.Fatalf("resolve = %+v, %v", res, ok)
	}
	if ttl := res.answer[0].Header().Ttl; ttl != 30 {
		t.Errorf("TTL = %d, want 30", ttl)
	}
	if _, ok := r.resolve(dns.Question{Name: "web.default.svc.cluster.local.", Qtype: dns.TypeA, Qclass: dns.ClassINET}); ok {
		t.Error("cluster.local answered under another domain")
	}
}

func TestResolveDuplicateEndpoints(t *testing.T) {
	// While a slice is replaced its endpoints appear in two slices, and a
	// dual-stack endpoint has one address in each family's slice.
	objs := []runtime.Object{
		namespace("default"),
		service("default", "db", headless),
		endpointSlice("default", "db", "db-old", discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{slicePort("pg", 5432)},
			endpointAt("10.1.0.1", "db-0", true)),
		endpointSlice("default", "db", "db-new", discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{slicePort("pg", 5432)},
			endpointAt("10.1.0.1", "db-0", true)),
		endpointSlice("default", "db", "db-v6", discoveryv1.AddressTypeIPv6, []discoveryv1.EndpointPort{slicePort("pg", 5432)},
			endpointAt("fd00::1", "db-0", true)),
		endpointSlice("default", "db", "db-fqdn", discoveryv1.AddressTypeFQDN, nil,
			discoveryv1.Endpoint{Addresses: []string{"db.example.com"}}),
	}
	r := newResolver("cluster.local", 5, indexOf(t, objs...))
	tests := []struct {
		qname  string
		qtype  uint16
		answer []string
		extra  []string
	}{
		{"db.default.svc.cluster.local.", dns.TypeA, []string{"db.default.svc.cluster.local. A 10.1.0.1"}, nil},
		{"db-0.db.default.svc.cluster.local.", dns.TypeANY, []string{
			"db-0.db.default.svc.cluster.local. A 10.1.0.1",
			"db-0.db.default.svc.cluster.local. AAAA fd00::1",
		}, nil},
		{"_pg._tcp.db.default.svc.cluster.local.", dns.TypeSRV,
			[]string{"_pg._tcp.db.default.svc.cluster.local. SRV 0 100 5432 db-0.db.default.svc.cluster.local."},
			[]string{"db-0.db.default.svc.cluster.local. A 10.1.0.1", "db-0.db.default.svc.cluster.local. AAAA fd00::1"}},
		{"1.0.1.10.in-addr.arpa.", dns.TypePTR, []string{"1.0.1.10.in-addr.arpa. PTR db-0.db.default.svc.cluster.local."}, nil},
	}
	for _, tc := range tests {
		res, ok := r.resolve(dns.Question{Name: tc.qname, Qtype: tc.qtype, Qclass: dns.ClassINET})
		if !ok {
			t.Fatalf("%s not handled", tc.qname)
		}
		if diff := cmp.Diff(tc.answer, records(res.answer)); diff != "" {
			t.Errorf("%s answer (-want +got):\n%s", tc.qname, diff)
		}
		if diff := cmp.Diff(tc.extra, records(res.extra), cmpEmpty); diff != "" {
			t.Errorf("%s extra (-want +got):\n%s", tc.qname, diff)
		}
	}
}

func TestParseReverse(t *testing.T) {
	tests := []struct {
		name string
		want string // "" when not a full reverse name
	}{
		{"4.3.2.1.in-addr.arpa.", "1.2.3.4"},
		{"255.255.255.255.in-addr.arpa.", "255.255.255.255"},
		{"3.2.1.in-addr.arpa.", ""},
		{"5.4.3.2.1.in-addr.arpa.", ""},
		{"256.3.2.1.in-addr.arpa.", ""},
		{"04.3.2.1.in-addr.arpa.", ""},
		{"a.3.2.1.in-addr.arpa.", ""},
		{reverseOf("fd00::11"), "fd00::11"},
		{reverseOf("2001:db8::abcd:1"), "2001:db8::abcd:1"},
		{"1.0.0.ip6.arpa.", ""},
		{"example.com.", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr, ok := parseReverse(tc.name)
			got := ""
			if ok {
				got = addr.String()
			}
			if got != tc.want {
				t.Errorf("parseReverse = %q, want %q", got, tc.want)
			}
		})
	}
	if _, ok := parseReverse("g" + reverseOf("fd00::11")[1:]); ok {
		t.Error("non-hex nibble parsed")
	}
}

func reverseOf(ip string) string {
	name, err := dns.ReverseAddr(netip.MustParseAddr(ip).String())
	if err != nil {
		panic(err)
	}
	return name
}

// cmpEmpty makes nil and empty slices equal.
var cmpEmpty = cmp.FilterValues(func(a, b []string) bool { return len(a) == 0 && len(b) == 0 }, cmp.Comparer(func(a, b []string) bool { return true }))

// serialRE matches the SOA serial, which is the time of the last change.
var serialRE = regexp.MustCompile(`(hostmaster\S+) \d+ `)
