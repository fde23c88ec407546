package proxy

import (
	"cmp"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// defaultAffinityTimeout is the API's default for
// sessionAffinityConfig.clientIP.timeoutSeconds (three hours).
const defaultAffinityTimeout = 10800 * time.Second

// family holds the spellings that differ between IPv4 and IPv6 rules, so
// that the rule text is written once for both.
type family struct {
	ip       string // "ip" or "ip6": the payload keyword and the table family
	addrType string // nft type of an address
	loopback string // never a NodePort destination
	v4       bool
}

var ipv4 = family{ip: "ip", addrType: "ipv4_addr", loopback: "127.0.0.0/8", v4: true}

func (f family) has(a netip.Addr) bool { return a.IsValid() && a.Unmap().Is4() == f.v4 }

// parseAddr returns s as an address of family f, or false.
func (f family) parseAddr(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	a = a.Unmap()
	return a, f.has(a)
}

// endpoint is one backend of a service port.
type endpoint struct {
	addr        netip.Addr
	port        int32
	ready       bool
	serving     bool
	terminating bool
	local       bool
}

// key names the endpoint in chain and set names; nft names cannot hold the
// colons of IPv6 addresses.
func (e endpoint) key() string {
	return strings.ReplaceAll(e.addr.String(), ":", ".") + "/" + strconv.Itoa(int(e.port))
}

func (e endpoint) hostPort() string {
	return netip.AddrPortFrom(e.addr, uint16(e.port)).String()
}

// usableTerminating is an endpoint that is shutting down but still answers;
// it carries traffic only when no ready endpoint exists.
func (e endpoint) usableTerminating() bool { return !e.ready && e.serving && e.terminating }

// servicePort is one port of a Service with everything the rules need: the
// addresses it answers on, its policies and its endpoints.
type servicePort struct {
	// id is namespace/name/port, unique per service port and made of
	// characters nft accepts in names. An unnamed port (only allowed when it
	// is the service's single port) goes by its number; a port name always
	// holds a letter, so the two cannot collide.
	id          string
	protocol    string // "tcp", "udp" or "sctp"
	port        int32
	nodePort    int32
	clusterIP   netip.Addr
	externalIPs []netip.Addr // spec.externalIPs and load-balancer ingress IPs
	// internalLocal and externalLocal are internalTrafficPolicy and
	// externalTrafficPolicy Local; the latter only when the port is
	// reachable from outside at all.
	internalLocal bool
	externalLocal bool
	affinity      time.Duration // ClientIP affinity timeout; 0 means none
	endpoints     []endpoint    // deduplicated, sorted by address and port
}

func (sp *servicePort) external() bool { return sp.nodePort != 0 || len(sp.externalIPs) > 0 }

// servicePorts turns a Service and its EndpointSlices into the ports the
// proxy programs. Services without a cluster IP of the family (headless,
// ExternalName, not yet allocated) get none.
func servicePorts(f family, nodeName string, svc *corev1.Service, epSlices []*discoveryv1.EndpointSlice) []servicePort {
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	clusterIP, ok := clusterIPOf(f, svc)
	if !ok {
		return nil
	}
	var external []netip.Addr
	for _, s := range svc.Spec.ExternalIPs {
		if a, ok := f.parseAddr(s); ok {
			external = append(external, a)
		}
	}
	if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
		for _, ing := range svc.Status.LoadBalancer.Ingress {
			// With ipMode Proxy the load balancer rewrites the destination
			// itself, so its address must not be short-circuited here.
			if ing.IPMode != nil && *ing.IPMode == corev1.LoadBalancerIPModeProxy {
				continue
			}
			if a, ok := f.parseAddr(ing.IP); ok {
				external = append(external, a)
			}
		}
	}
	slices.SortFunc(external, netip.Addr.Compare)
	external = slices.Compact(external)

	var affinity time.Duration
	if svc.Spec.SessionAffinity == corev1.ServiceAffinityClientIP {
		affinity = defaultAffinityTimeout
		if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil && *c.ClientIP.TimeoutSeconds > 0 {
			affinity = time.Duration(*c.ClientIP.TimeoutSeconds) * time.Second
		}
	}
	internalLocal := svc.Spec.InternalTrafficPolicy != nil && *svc.Spec.InternalTrafficPolicy == corev1.ServiceInternalTrafficPolicyLocal
	withNodePorts := svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer

	var out []servicePort
	for _, p := range svc.Spec.Ports {
		proto, ok := protocolName(p.Protocol)
		if !ok || p.Port <= 0 || p.Port > 65535 {
			continue
		}
		name := p.Name
		if name == "" {
			name = strconv.Itoa(int(p.Port))
		}
		sp := servicePort{
			id:            svc.Namespace + "/" + svc.Name + "/" + name,
			protocol:      proto,
			port:          p.Port,
			clusterIP:     clusterIP,
			externalIPs:   external,
			internalLocal: internalLocal,
			affinity:      affinity,
		}
		if withNodePorts && p.NodePort > 0 && p.NodePort <= 65535 {
			sp.nodePort = p.NodePort
		}
		sp.externalLocal = sp.external() && svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
		sp.endpoints = portEndpoints(f, nodeName, p, epSlices)
		out = append(out, sp)
	}
	return out
}

func clusterIPOf(f family, svc *corev1.Service) (netip.Addr, bool) {
	ips := svc.Spec.ClusterIPs
	if len(ips) == 0 && svc.Spec.ClusterIP != "" {
		ips = []string{svc.Spec.ClusterIP}
	}
	for _, s := range ips {
		if a, ok := f.parseAddr(s); ok {
			return a, true
		}
	}
	return netip.Addr{}, false
}

func protocolName(p corev1.Protocol) (string, bool) {
	switch p {
	case corev1.ProtocolTCP, "":
		return "tcp", true
	case corev1.ProtocolUDP:
		return "udp", true
	case corev1.ProtocolSCTP:
		return "sctp", true
	}
	return "", false
}

// portEndpoints collects the endpoints of one service port from all slices,
// matching slice ports by name and protocol as upstream does. An address in
// several slices (as happens while the slice controller moves endpoints
// between slices) counts once, with its best conditions.
func portEndpoints(f family, nodeName string, p corev1.ServicePort, epSlices []*discoveryv1.EndpointSlice) []endpoint {
	proto := p.Protocol
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	byKey := map[netip.AddrPort]endpoint{}
	for _, s := range epSlices {
		if (f.v4 && s.AddressType != discoveryv1.AddressTypeIPv4) || (!f.v4 && s.AddressType != discoveryv1.AddressTypeIPv6) {
			continue
		}
		for _, sp := range s.Ports {
			if sp.Port == nil || *sp.Port <= 0 || *sp.Port > 65535 {
				continue
			}
			if ptrOr(sp.Name, "") != p.Name || ptrOr(sp.Protocol, corev1.ProtocolTCP) != proto {
				continue
			}
			for _, e := range s.Endpoints {
				if len(e.Addresses) == 0 {
					continue
				}
				// Only the first address counts: the API says all of an
				// endpoint's addresses are fungible.
				addr, ok := f.parseAddr(e.Addresses[0])
				if !ok {
					continue
				}
				// Unset conditions default as the API defines them: ready
				// and serving true, terminating false.
				ep := endpoint{
					addr:        addr,
					port:        *sp.Port,
					ready:       ptrOr(e.Conditions.Ready, true),
					serving:     ptrOr(e.Conditions.Serving, true),
					terminating: ptrOr(e.Conditions.Terminating, false),
					local:       nodeName != "" && ptrOr(e.NodeName, "") == nodeName,
				}
				k := netip.AddrPortFrom(addr, uint16(ep.port))
				if old, seen := byKey[k]; !seen || rank(ep) > rank(old) {
					byKey[k] = ep
				}
			}
		}
	}
	out := make([]endpoint, 0, len(byKey))
	for _, e := range byKey {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b endpoint) int {
		return cmp.Or(a.addr.Compare(b.addr), cmp.Compare(a.port, b.port))
	})
	return out
}

func rank(e endpoint) int {
	switch {
	case e.ready:
		return 2
	case e.usableTerminating():
		return 1
	}
	return 0
}

func ptrOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// categorized is the split of a port's endpoints by traffic policy.
type categorized struct {
	// cluster serves Cluster policy: the ready endpoints, or when there are
	// none the serving terminating ones. Nil when no policy of the port is
	// Cluster.
	cluster []endpoint
	// local serves Local policy: the same choice among this node's endpoints.
	local []endpoint
	// any is true when some endpoint anywhere can take traffic; without one
	// the port rejects instead of dropping.
	any bool
}

// usesCluster: a port needs its Cluster endpoints when internal traffic
// policy is Cluster, and whenever it is reachable from outside, since
// traffic from pods and from the node itself to an external address
// bypasses externalTrafficPolicy Local.
func (sp *servicePort) usesCluster() bool { return !sp.internalLocal || sp.external() }

func (sp *servicePort) usesLocal() bool { return sp.internalLocal || sp.externalLocal }

func (sp *servicePort) categorize() categorized {
	var c categorized
	if sp.usesCluster() {
		c.cluster = usable(sp.endpoints, func(endpoint) bool { return true })
		c.any = len(c.cluster) > 0
	}
	if sp.usesLocal() {
		c.local = usable(sp.endpoints, func(e endpoint) bool { return e.local })
		if !c.any {
			c.any = slices.ContainsFunc(sp.endpoints, func(e endpoint) bool { return e.ready || e.usableTerminating() })
		}
	}
	return c
}

// usable returns the ready endpoints that pass keep or, when there are none,
// the serving terminating ones that do.
func usable(eps []endpoint, keep func(endpoint) bool) []endpoint {
	var ready, terminating []endpoint
	for _, e := range eps {
		if !keep(e) {
			continue
		}
		if e.ready {
			ready = append(ready, e)
		} else if e.usableTerminating() {
			terminating = append(terminating, e)
		}
	}
	if len(ready) > 0 {
		return ready
	}
	return terminating
}
