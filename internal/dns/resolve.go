package dns

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
)

const (
	// specVersion is the Kubernetes DNS specification this server follows,
	// answered at dns-version.<domain>.
	specVersion = "1.1.0"
	// maxChain bounds the CNAMEs followed inside the zone: ExternalName
	// services may point at each other.
	maxChain = 8
)

// resolver answers questions about the cluster from an index. It does no I/O:
// the server wraps its results in messages, and chases CNAMEs that leave the
// zone through the forwarder.
type resolver struct {
	zone string // lower case and fully qualified: "cluster.local."
	ttl  uint32
	idx  *index
}

func newResolver(domain string, ttl uint32, idx *index) *resolver {
	return &resolver{zone: dns.Fqdn(strings.ToLower(domain)), ttl: ttl, idx: idx}
}

// result is the cluster's answer to one question.
type result struct {
	rcode  int
	answer []dns.RR
	ns     []dns.RR
	extra  []dns.RR
	// chase is an out-of-zone name the answer's last CNAME points at; the
	// caller may resolve it elsewhere and append what it finds.
	chase string
}

// node is what one name holds: whether it exists at all, and its records of
// the asked type.
type node struct {
	exists bool
	answer []dns.RR
	extra  []dns.RR
	// cname is the target of the name's CNAME when the question asked for
	// another type, to be followed.
	cname string
}

// resolve answers q from the index. ok is false when q is not the cluster's
// to answer: a name outside the zone, or the reverse name of an address that
// no service or headless endpoint has.
func (r *resolver) resolve(q dns.Question) (res result, ok bool) {
	name := strings.ToLower(q.Name)
	if labels, in := r.split(name); in {
		return r.follow(q.Name, labels, q.Qtype), true
	}
	if ip, isRev := parseReverse(name); isRev {
		return r.reverse(q.Name, ip, q.Qtype)
	}
	return result{}, false
}

// inZone tells whether name (lower case) is the cluster's to answer, whatever
// the index holds.
func (r *resolver) inZone(name string) bool {
	_, ok := r.split(name)
	return ok
}

// split returns the labels of name below the zone, the outermost first
// ("svc", namespace, service, ...); ok is false outside the zone.
func (r *resolver) split(name string) (labels []string, ok bool) {
	if name == r.zone {
		return nil, true
	}
	if !strings.HasSuffix(name, "."+r.zone) {
		return nil, false
	}
	labels = strings.Split(name[:len(name)-len(r.zone)-1], ".")
	slices.Reverse(labels)
	return labels, true
}

// follow looks owner up and follows CNAMEs while they stay in the zone. A
// chain that loops or is too long gets SERVFAIL, as a recursive resolver
// would answer.
func (r *resolver) follow(owner string, labels []string, qtype uint16) result {
	var res result
	seen := map[string]bool{strings.ToLower(owner): true}
	for range maxChain {
		n := r.lookup(owner, labels, qtype)
		res.answer = append(res.answer, n.answer...)
		res.extra = append(res.extra, n.extra...)
		if n.cname == "" {
			if !n.exists {
				// RFC 6604: the code is that of the last name of the chain.
				res.rcode = dns.RcodeNameError
			}
			if len(n.answer) == 0 {
				res.ns = []dns.RR{r.soa(r.zone)}
			}
			return res
		}
		target := strings.ToLower(n.cname)
		next, in := r.split(target)
		if !in {
			res.chase = n.cname
			return res
		}
		if seen[target] {
			break
		}
		seen[target] = true
		owner, labels = n.cname, next
	}
	return result{rcode: dns.RcodeServerFailure}
}

// lookup returns the node of owner, whose labels below the zone are given.
func (r *resolver) lookup(owner string, labels []string, qtype uint16) node {
	switch len(labels) {
	case 0:
		return r.apex(owner, qtype)
	case 1:
		switch labels[0] {
		case "svc", "pod", "dns":
			return node{exists: true}
		case "dns-version":
			n := node{exists: true}
			if wants(qtype, dns.TypeTXT) {
				n.answer = []dns.RR{&dns.TXT{Hdr: r.hdr(owner, dns.TypeTXT), Txt: []string{specVersion}}}
			}
			return n
		}
	case 2:
		switch labels[0] {
		case "svc", "pod":
			return node{exists: r.idx.namespaceExists(labels[1])}
		case "dns":
			if labels[1] == "ns" {
				return node{exists: true, answer: r.nameserverAddrs(owner, qtype)}
			}
		}
	case 3:
		switch labels[0] {
		case "svc":
			if svc := r.idx.service(labels[1], labels[2]); svc != nil {
				return r.serviceNode(owner, svc, qtype)
			}
		case "pod":
			return r.podNode(owner, labels[1], labels[2], qtype)
		}
	case 4:
		if labels[0] != "svc" {
			break
		}
		svc := r.idx.service(labels[1], labels[2])
		if svc == nil || svc.Spec.Type == corev1.ServiceTypeExternalName {
			break
		}
		if proto, ok := strings.CutPrefix(labels[3], "_"); ok {
			// _tcp.<svc> exists as the parent of _<port>._tcp.<svc>.
			return node{exists: r.hasPort(svc, "", proto)}
		}
		return r.endpointNode(owner, svc, labels[3], qtype)
	case 5:
		if labels[0] != "svc" {
			break
		}
		proto, ok1 := strings.CutPrefix(labels[3], "_")
		port, ok2 := strings.CutPrefix(labels[4], "_")
		if !ok1 || !ok2 || port == "" {
			break
		}
		svc := r.idx.service(labels[1], labels[2])
		if svc == nil || svc.Spec.Type == corev1.ServiceTypeExternalName || !r.hasPort(svc, port, proto) {
			break
		}
		return r.srvNode(owner, svc, port, proto, qtype)
	}
	return node{}
}

func (r *resolver) apex(owner string, qtype uint16) node {
	n := node{exists: true}
	if wants(qtype, dns.TypeSOA) {
		soa := r.soa(r.zone)
		soa.Hdr.Name = owner
		n.answer = append(n.answer, soa)
	}
	if wants(qtype, dns.TypeNS) {
		ns := "ns.dns." + r.zone
		n.answer = append(n.answer, &dns.NS{Hdr: r.hdr(owner, dns.TypeNS), Ns: ns})
		n.extra = r.nameserverAddrs(ns, dns.TypeANY)
	}
	return n
}

// nameserverAddrs are the addresses of the zone's nameserver, ns.dns.<zone>:
// those of the kube-dns Service, which leads to every node's server.
func (r *resolver) nameserverAddrs(owner string, qtype uint16) []dns.RR {
	svc := r.idx.service("kube-system", "kube-dns")
	if svc == nil {
		return nil
	}
	return r.addrs(owner, clusterIPs(svc), qtype)
}

// serviceNode is <service>.<namespace>.svc.<zone>.
func (r *resolver) serviceNode(owner string, svc *corev1.Service, qtype uint16) node {
	n := node{exists: true}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		target := dns.Fqdn(svc.Spec.ExternalName)
		// An address is not a name to alias; CoreDNS answers nothing too.
		if _, ok := dns.IsDomainName(target); !ok || isAddress(svc.Spec.ExternalName) {
			return n
		}
		n.answer = []dns.RR{&dns.CNAME{Hdr: r.hdr(owner, dns.TypeCNAME), Target: target}}
		if qtype != dns.TypeCNAME && qtype != dns.TypeANY {
			n.cname = target
		}
		return n
	}
	name := serviceName(svc, r.zone)
	if isHeadless(svc) {
		eps := r.idx.endpoints(svc)
		addrs := make([]netip.Addr, len(eps))
		for i, ep := range eps {
			addrs[i] = ep.addr
		}
		n.answer = r.addrs(owner, addrs, qtype)
		if wants(qtype, dns.TypeSRV) {
			srvs, extra := r.endpointSRVs(owner, name, eps, "", "")
			n.answer = append(n.answer, srvs...)
			n.extra = extra
		}
		return n
	}
	ips := clusterIPs(svc)
	n.answer = r.addrs(owner, ips, qtype)
	if wants(qtype, dns.TypeSRV) {
		srvs := r.serviceSRVs(owner, name, svc, "", "")
		n.answer = append(n.answer, srvs...)
		if len(srvs) > 0 {
			n.extra = r.addrs(name, ips, dns.TypeANY)
		}
	}
	return n
}

// endpointNode is <hostname>.<service>.<namespace>.svc.<zone>.
func (r *resolver) endpointNode(owner string, svc *corev1.Service, label string, qtype uint16) node {
	var n node
	var addrs []netip.Addr
	for _, ep := range r.idx.endpoints(svc) {
		if ep.name == label {
			n.exists = true
			addrs = append(addrs, ep.addr)
		}
	}
	n.answer = r.addrs(owner, addrs, qtype)
	return n
}

// srvNode is _<port>._<proto>.<service>.<namespace>.svc.<zone>.
func (r *resolver) srvNode(owner string, svc *corev1.Service, port, proto string, qtype uint16) node {
	n := node{exists: true}
	if !wants(qtype, dns.TypeSRV) {
		return n
	}
	name := serviceName(svc, r.zone)
	if isHeadless(svc) {
		n.answer, n.extra = r.endpointSRVs(owner, name, r.idx.endpoints(svc), port, proto)
		return n
	}
	n.answer = r.serviceSRVs(owner, name, svc, port, proto)
	if len(n.answer) > 0 {
		n.extra = r.addrs(name, clusterIPs(svc), dns.TypeANY)
	}
	return n
}

// podNode is <a-b-c-d>.<namespace>.pod.<zone>, answered from the address it
// spells as long as the namespace exists (CoreDNS's "pods insecure").
func (r *resolver) podNode(owner, ns, label string, qtype uint16) node {
	if !r.idx.namespaceExists(ns) {
		return node{}
	}
	var s string
	if strings.Count(label, "-") == 3 && !strings.Contains(label, "--") {
		s = strings.ReplaceAll(label, "-", ".")
	} else {
		s = strings.ReplaceAll(label, "-", ":")
	}
	addr, err := netip.ParseAddr(s)
	if err != nil || addr.Zone() != "" || addr.Is4In6() {
		return node{}
	}
	return node{exists: true, answer: r.addrs(owner, []netip.Addr{addr}, qtype)}
}

// hasPort tells whether svc has a named port of that name and protocol; an
// empty name matches any named port.
func (r *resolver) hasPort(svc *corev1.Service, port, proto string) bool {
	for _, p := range svc.Spec.Ports {
		if p.Name != "" && portMatches(p.Name, p.Protocol, port, proto) {
			return true
		}
	}
	if !isHeadless(svc) {
		return false
	}
	// A headless service may leave its ports to its endpoints.
	for _, ep := range r.idx.endpoints(svc) {
		for _, p := range ep.ports {
			if p.Name != nil && *p.Name != "" && portMatches(*p.Name, protocol(p.Protocol), port, proto) {
				return true
			}
		}
	}
	return false
}

// serviceSRVs are the SRV records of a service with a cluster IP: one per
// matching port, all aiming at the service's name.
func (r *resolver) serviceSRVs(owner, name string, svc *corev1.Service, port, proto string) []dns.RR {
	var out []dns.RR
	for _, p := range svc.Spec.Ports {
		if portMatches(p.Name, p.Protocol, port, proto) {
			out = append(out, r.srv(owner, name, uint16(p.Port)))
		}
	}
	return weigh(out)
}

// endpointSRVs are the SRV records of a headless service: one per endpoint
// and matching port, aiming at the endpoint's name, with its address as
// additional record.
func (r *resolver) endpointSRVs(owner, name string, eps []endpoint, port, proto string) (srvs, extra []dns.RR) {
	type key struct {
		target string
		port   int32
	}
	seen := map[key]bool{}
	targets := map[string][]netip.Addr{}
	var order []string
	for _, ep := range eps {
		for _, p := range ep.ports {
			if p.Port == nil {
				continue
			}
			pname := ""
			if p.Name != nil {
				pname = *p.Name
			}
			if !portMatches(pname, protocol(p.Protocol), port, proto) {
				continue
			}
			target := ep.name + "." + name
			if k := (key{target, *p.Port}); !seen[k] {
				seen[k] = true
				srvs = append(srvs, r.srv(owner, target, uint16(*p.Port)))
			}
			if _, ok := targets[target]; !ok {
				order = append(order, target)
			}
			if !slices.Contains(targets[target], ep.addr) {
				targets[target] = append(targets[target], ep.addr)
			}
		}
	}
	for _, target := range order {
		extra = append(extra, r.addrs(target, targets[target], dns.TypeANY)...)
	}
	return weigh(srvs), extra
}

// reverse answers the PTR name of ip: the names of the services whose
// cluster IP it is, and of the headless endpoints that have it.
func (r *resolver) reverse(owner string, ip netip.Addr, qtype uint16) (result, bool) {
	var targets []string
	for _, svc := range r.idx.servicesByIP(ip) {
		targets = append(targets, serviceName(svc, r.zone))
	}
	for _, e := range r.idx.endpointsByIP(ip) {
		targets = append(targets, e.name+"."+serviceName(e.svc, r.zone))
	}
	if len(targets) == 0 {
		return result{}, false
	}
	slices.Sort(targets)
	targets = slices.Compact(targets)
	var res result
	if !wants(qtype, dns.TypePTR) {
		apex := "in-addr.arpa."
		if ip.Is6() {
			apex = "ip6.arpa."
		}
		res.ns = []dns.RR{r.soa(apex)}
		return res, true
	}
	for _, t := range targets {
		res.answer = append(res.answer, &dns.PTR{Hdr: r.hdr(owner, dns.TypePTR), Ptr: t})
	}
	return res, true
}

// addrs are the A and AAAA records of owner for addrs that qtype asks for,
// each address once, in random order so that clients which take the first
// spread over the endpoints.
func (r *resolver) addrs(owner string, addrs []netip.Addr, qtype uint16) []dns.RR {
	addrs = slices.Clone(addrs)
	slices.SortFunc(addrs, netip.Addr.Compare)
	addrs = slices.Compact(addrs)
	out := make([]dns.RR, 0, len(addrs))
	for _, a := range addrs {
		switch {
		case a.Is4() && wants(qtype, dns.TypeA):
			out = append(out, &dns.A{Hdr: r.hdr(owner, dns.TypeA), A: a.AsSlice()})
		case a.Is6() && wants(qtype, dns.TypeAAAA):
			out = append(out, &dns.AAAA{Hdr: r.hdr(owner, dns.TypeAAAA), AAAA: a.AsSlice()})
		}
	}
	rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func (r *resolver) srv(owner, target string, port uint16) *dns.SRV {
	return &dns.SRV{Hdr: r.hdr(owner, dns.TypeSRV), Port: port, Target: target}
}

// soa is the SOA record of zone. Its minimum, the negative TTL, is the TTL
// of the records, so a name that appears is seen as soon as it would be
// had it been cached positively.
func (r *resolver) soa(zone string) *dns.SOA {
	return &dns.SOA{
		Hdr:     r.hdr(zone, dns.TypeSOA),
		Ns:      "ns.dns." + r.zone,
		Mbox:    "hostmaster." + r.zone,
		Serial:  r.idx.serial.Load(),
		Refresh: 7200,
		Retry:   1800,
		Expire:  86400,
		Minttl:  r.ttl,
	}
}

func (r *resolver) hdr(owner string, rrtype uint16) dns.RR_Header {
	return dns.RR_Header{Name: owner, Rrtype: rrtype, Class: dns.ClassINET, Ttl: r.ttl}
}

// weigh gives the SRV records equal weights summing to about 100.
func weigh(srvs []dns.RR) []dns.RR {
	if len(srvs) == 0 {
		return srvs
	}
	w := uint16(max(1, 100/len(srvs)))
	for _, rr := range srvs {
		rr.(*dns.SRV).Weight = w
	}
	return srvs
}

func wants(qtype, rrtype uint16) bool { return qtype == rrtype || qtype == dns.TypeANY }

func serviceName(svc *corev1.Service, zone string) string {
	return svc.Name + "." + svc.Namespace + ".svc." + zone
}

// portMatches compares a port with the labels of an SRV name, without their
// underscores; an empty label matches anything.
func portMatches(name string, p corev1.Protocol, port, proto string) bool {
	if p == "" {
		p = corev1.ProtocolTCP
	}
	return (port == "" || strings.EqualFold(name, port)) && (proto == "" || strings.EqualFold(string(p), proto))
}

func protocol(p *corev1.Protocol) corev1.Protocol {
	if p == nil {
		return corev1.ProtocolTCP
	}
	return *p
}

func isAddress(s string) bool {
	_, err := netip.ParseAddr(strings.TrimSuffix(s, "."))
	return err == nil
}

// parseReverse returns the address whose reverse name (lower case) name is;
// ok is false for any other name, including partial reverse names.
func parseReverse(name string) (netip.Addr, bool) {
	if rest, ok := strings.CutSuffix(name, ".in-addr.arpa."); ok {
		labels := strings.Split(rest, ".")
		if len(labels) != 4 {
			return netip.Addr{}, false
		}
		slices.Reverse(labels)
		addr, err := netip.ParseAddr(strings.Join(labels, "."))
		return addr, err == nil && addr.Is4()
	}
	if rest, ok := strings.CutSuffix(name, ".ip6.arpa."); ok {
		labels := strings.Split(rest, ".")
		if len(labels) != 32 {
			return netip.Addr{}, false
		}
		var b [16]byte
		for i, l := range labels {
			if len(l) != 1 {
				return netip.Addr{}, false
			}
			v, ok := hexDigit(l[0])
			if !ok {
				return netip.Addr{}, false
			}
			// labels[0] is the low nibble of the last byte.
			pos := 31 - i
			if pos%2 == 0 {
				b[pos/2] |= v << 4
			} else {
				b[pos/2] |= v
			}
		}
		return netip.AddrFrom16(b), true
	}
	return netip.Addr{}, false
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
