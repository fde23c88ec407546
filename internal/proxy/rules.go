package proxy

import (
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"sigs.k8s.io/knftables"
)

// The table's fixed objects. Per-service chains and sets carry a prefix and
// the service port's namespace/name/port, so their names always hold a "/"
// and never collide with these.
const (
	chainFilterInput    = "filter-input"
	chainFilterForward  = "filter-forward"
	chainFilterOutput   = "filter-output"
	chainNATPrerouting  = "nat-prerouting"
	chainNATOutput      = "nat-output"
	chainNATPostrouting = "nat-postrouting"

	chainServices       = "services"
	chainServiceCheck   = "service-endpoints-check"
	chainNodePortCheck  = "nodeport-endpoints-check"
	chainClusterIPCheck = "cluster-ips-check"
	chainReject         = "reject-chain"
	chainMarkMasq       = "mark-for-masquerade"
	chainMasquerading   = "masquerading"

	setClusterIPs          = "cluster-ips"
	setNodePortIPs         = "nodeport-ips"
	setHairpin             = "hairpin-endpoints"
	mapServiceIPs          = "service-ips"
	mapServiceNodePorts    = "service-nodeports"
	mapNoEndpointServices  = "no-endpoint-services"
	mapNoEndpointNodePorts = "no-endpoint-nodeports"

	prefixCluster  = "svc-"
	prefixLocal    = "local-"
	prefixExternal = "ext-"
	prefixEndpoint = "ep-"
	prefixAffinity = "aff-"

	// masqueradeMark is the packet mark bit that asks the postrouting chain
	// to masquerade, the bit upstream kube-proxy uses; the masquerading chain
	// clears it again, so it does not leak to other tables.
	masqueradeMark = "0x4000"

	verdictReject = "goto " + chainReject
	verdictDrop   = "drop"
)

// baseChain is a chain attached to a netfilter hook.
type baseChain struct {
	name     string
	typ      knftables.BaseChainType
	hook     knftables.BaseChainHook
	priority knftables.BaseChainPriority
}

// baseChains are the table's hooks. DNAT happens at the nat hooks of
// prerouting (traffic from pods and other hosts) and output (traffic from
// this host). The checks that reject or drop run after DNAT: whatever still
// goes to a service address then was not translated. On output that needs a
// priority after the nat chain's -100; nft 1.0.6 accepts the "dstnat"
// keyword only on prerouting, hence plain numbers there.
var baseChains = []baseChain{
	{chainFilterInput, knftables.FilterType, knftables.InputHook, knftables.FilterPriority},
	{chainFilterForward, knftables.FilterType, knftables.ForwardHook, knftables.FilterPriority},
	{chainFilterOutput, knftables.FilterType, knftables.OutputHook, "-90"},
	{chainNATPrerouting, knftables.NATType, knftables.PreroutingHook, knftables.DNATPriority},
	{chainNATOutput, knftables.NATType, knftables.OutputHook, "-100"},
	{chainNATPostrouting, knftables.NATType, knftables.PostroutingHook, knftables.SNATPriority},
}

// ruleConfig is what rule building needs of the proxy's configuration, in
// nft spelling.
type ruleConfig struct {
	f           family
	nodeName    string
	nodeIPs     []string // empty: every local address except loopback
	clusterCIDR string   // empty: no rule looks at the pod range
	serviceCIDR string   // empty: only known cluster IPs reject
}

func newRuleConfig(f family, cfg Config) ruleConfig {
	rc := ruleConfig{f: f, nodeName: cfg.NodeName}
	for _, ip := range cfg.NodeIPs {
		if a, ok := netip.AddrFromSlice(ip); ok && f.has(a.Unmap()) {
			rc.nodeIPs = append(rc.nodeIPs, a.Unmap().String())
		}
	}
	slices.Sort(rc.nodeIPs)
	rc.nodeIPs = slices.Compact(rc.nodeIPs)
	rc.clusterCIDR = cidrString(cfg.ClusterCIDR)
	rc.serviceCIDR = cidrString(cfg.ServiceCIDR)
	return rc
}

func cidrString(n *net.IPNet) string {
	if n == nil {
		return ""
	}
	return n.String()
}

// staticChains returns the rules of the table's fixed chains, in order.
func (c *ruleConfig) staticChains() map[string][]string {
	ip := c.f.ip
	checkNew := func(chain string) string { return "ct state new jump " + chain }
	nodePortMatch := ip + " daddr @" + setNodePortIPs
	if len(c.nodeIPs) == 0 {
		nodePortMatch = "fib daddr type local " + ip + " daddr != " + c.f.loopback
	}
	clusterIPCheck := []string{ip + " daddr @" + setClusterIPs + " " + verdictReject}
	if c.serviceCIDR != "" {
		clusterIPCheck = append(clusterIPCheck, ip+" daddr "+c.serviceCIDR+" "+verdictReject)
	}
	return map[string][]string{
		chainFilterInput:    {checkNew(chainNodePortCheck), checkNew(chainServiceCheck)},
		chainFilterForward:  {checkNew(chainServiceCheck), checkNew(chainClusterIPCheck)},
		chainFilterOutput:   {checkNew(chainServiceCheck), checkNew(chainClusterIPCheck)},
		chainNATPrerouting:  {"jump " + chainServices},
		chainNATOutput:      {"jump " + chainServices},
		chainNATPostrouting: {"jump " + chainMasquerading},
		chainServices: {
			ip + " daddr . meta l4proto . th dport vmap @" + mapServiceIPs,
			nodePortMatch + " meta l4proto . th dport vmap @" + mapServiceNodePorts,
		},
		chainServiceCheck:   {ip + " daddr . meta l4proto . th dport vmap @" + mapNoEndpointServices},
		chainNodePortCheck:  {nodePortMatch + " meta l4proto . th dport vmap @" + mapNoEndpointNodePorts},
		chainClusterIPCheck: clusterIPCheck,
		// A TCP client gets a reset rather than an ICMP error: both fail the
		// connection at once, but a reset also does through middleboxes
		// that swallow ICMP.
		chainReject:   {"meta l4proto tcp reject with tcp reset", "reject"},
		chainMarkMasq: {"mark set mark or " + masqueradeMark},
		chainMasquerading: {
			// Hairpin: a pod that reached itself through a service must see
			// the reply come from the service, so its own address is
			// replaced. After DNAT its connection goes from and to the same
			// endpoint address; only DNATed ones count, as a node talking
			// to one of its own addresses is no hairpin.
			"ct status dnat " + ip + " saddr . " + ip + " daddr @" + setHairpin + " jump " + chainMarkMasq,
			"mark and " + masqueradeMark + " == 0 return",
			"mark set mark xor " + masqueradeMark,
			"masquerade fully-random",
		},
	}
}

// staticSets and staticMaps are the shared containers services add elements to.
func (c *ruleConfig) staticSets() []*knftables.Set {
	sets := []*knftables.Set{
		{Name: setClusterIPs, Type: c.f.addrType, Comment: knftables.PtrTo("cluster IPs of services")},
		{Name: setHairpin, Type: c.f.addrType + " . " + c.f.addrType, Comment: knftables.PtrTo("endpoint address . the same address")},
	}
	if len(c.nodeIPs) > 0 {
		sets = append(sets, &knftables.Set{Name: setNodePortIPs, Type: c.f.addrType, Comment: knftables.PtrTo("addresses that answer NodePorts")})
	}
	return sets
}

func (c *ruleConfig) staticMaps() []*knftables.Map {
	addrProtoPort := c.f.addrType + " . inet_proto . inet_service : verdict"
	protoPort := "inet_proto . inet_service : verdict"
	return []*knftables.Map{
		{Name: mapServiceIPs, Type: addrProtoPort, Comment: knftables.PtrTo("cluster, external and load-balancer IPs")},
		{Name: mapServiceNodePorts, Type: protoPort, Comment: knftables.PtrTo("NodePorts")},
		{Name: mapNoEndpointServices, Type: addrProtoPort, Comment: knftables.PtrTo("service addresses without usable endpoints")},
		{Name: mapNoEndpointNodePorts, Type: protoPort, Comment: knftables.PtrTo("NodePorts without usable endpoints")},
	}
}

// elem is an element of one of the shared sets or maps.
type elem struct {
	container string
	key       []string
	value     string // the verdict of a map element; empty for a set element
}

func (e elem) id() elemID { return elemID{e.container, strings.Join(e.key, " . ")} }

func (e elem) object() *knftables.Element {
	if e.value == "" {
		return &knftables.Element{Set: e.container, Key: e.key}
	}
	return &knftables.Element{Map: e.container, Key: e.key, Value: []string{e.value}}
}

type elemID struct{ container, key string }

// udpPort is what the conntrack cleanup needs of a UDP service port: where
// clients send to, and the endpoints the rules may translate that to.
type udpPort struct {
	dests     []netip.AddrPort
	nodePort  uint16
	endpoints []netip.AddrPort
}

// svcRules is everything one Service contributes to the table.
type svcRules struct {
	chains map[string][]string      // chain name to its rules, in order
	sets   map[string]time.Duration // affinity sets and their timeouts
	// lbMaps are the maps the policy chains with many endpoints pick an
	// endpoint from, named as their chain. They are named maps rather than
	// anonymous ones in the rule because the kernel binds every anonymous
	// set with a walk over the whole pending transaction, which makes a
	// large full sync quadratic.
	lbMaps map[string]lbMap
	elems  []elem // at most one per elemID
	udp    []udpPort
}

// lbMap maps each value of a policy chain's numgen to an endpoint: to its
// address . port, which the chain DNATs to, or with ClientIP affinity to
// the verdict that enters the endpoint's chain.
type lbMap struct {
	verdicts bool
	values   [][]string // per numgen value, the parts of the map value
}

func (m lbMap) equal(o lbMap) bool {
	return m.verdicts == o.verdicts && slices.EqualFunc(m.values, o.values, slices.Equal)
}

func (s *svcRules) empty() bool { return len(s.chains) == 0 && len(s.elems) == 0 }

// serviceRules builds the rules of a Service from it and its EndpointSlices;
// nil when it has none (headless, ExternalName, no ports).
func serviceRules(c *ruleConfig, svc *corev1.Service, slices []*discoveryv1.EndpointSlice) *svcRules {
	ports := servicePorts(c.f, c.nodeName, svc, slices)
	if len(ports) == 0 {
		return nil
	}
	return buildService(c, ports)
}

// buildService returns the rules for the ports of one Service. It is pure:
// the same ports and configuration give the same rules.
func buildService(c *ruleConfig, ports []servicePort) *svcRules {
	r := &svcRules{chains: map[string][]string{}, sets: map[string]time.Duration{}, lbMaps: map[string]lbMap{}}
	seen := map[elemID]bool{}
	add := func(e elem) {
		// A service whose external IP repeats its cluster IP would claim one
		// key twice; the first (cluster IP) wins.
		if id := e.id(); !seen[id] {
			seen[id] = true
			r.elems = append(r.elems, e)
		}
	}
	for i := range ports {
		r.addPort(c, &ports[i], add)
	}
	return r
}

func (r *svcRules) addPort(c *ruleConfig, sp *servicePort, add func(elem)) {
	ip := c.f.ip
	cat := sp.categorize()
	clusterChain := prefixCluster + sp.id
	localChain := prefixLocal + sp.id
	extChain := prefixExternal + sp.id
	port := strconv.Itoa(int(sp.port))

	// Every endpoint some policy chain may pick can be a hairpin's: its
	// address pair goes to the set the masquerading chain checks.
	reachable := slices.Clone(cat.cluster)
	for _, e := range cat.local {
		if !slices.Contains(reachable, e) {
			reachable = append(reachable, e)
		}
	}
	for _, e := range reachable {
		add(elem{container: setHairpin, key: []string{e.addr.String(), e.addr.String()}})
	}
	// Policy chains DNAT to the endpoint they pick themselves, but with
	// ClientIP affinity each endpoint needs a chain of its own that
	// remembers the client before it DNATs. Chains are what makes nft and
	// the kernel slow on large tables (nft loads them all on every run, the
	// kernel validates the jumps between them on every change), so only
	// these services have them.
	if sp.affinity > 0 {
		for _, e := range reachable {
			set := prefixAffinity + sp.id + "/" + e.key()
			r.sets[set] = sp.affinity
			r.chains[prefixEndpoint+sp.id+"/"+e.key()] = []string{
				"update @" + set + " { " + ip + " saddr }",
				"meta l4proto " + sp.protocol + " dnat to " + e.hostPort(),
			}
		}
	}

	internalChain, hasInternal := clusterChain, cat.any
	if sp.internalLocal {
		internalChain, hasInternal = localChain, len(cat.local) > 0
	}
	hasExternal := cat.any
	if sp.externalLocal {
		hasExternal = len(cat.local) > 0
	}
	// What no policy chain takes is rejected when the port has no usable
	// endpoint at all, and dropped when it has some, just none this node
	// may use under a Local policy.
	noEndpoint := verdictReject
	if cat.any {
		noEndpoint = verdictDrop
	}

	policyChain := func(chain string, eps []endpoint) {
		var rules []string
		if chain == internalChain && c.clusterCIDR != "" {
			// Cluster IP traffic from outside the pod range (the node
			// itself, or a host routing the service range here) is
			// masqueraded so that replies come back through this node.
			rules = append(rules, ip+" daddr "+sp.clusterIP.String()+" "+sp.protocol+" dport "+port+
				" "+ip+" saddr != "+c.clusterCIDR+" jump "+chainMarkMasq)
		}
		if sp.affinity > 0 {
			for _, e := range eps {
				rules = append(rules, ip+" saddr @"+prefixAffinity+sp.id+"/"+e.key()+" goto "+prefixEndpoint+sp.id+"/"+e.key())
			}
		}
		r.chains[chain] = append(rules, r.pick(c, sp, chain, eps)...)
	}
	if len(cat.cluster) > 0 {
		policyChain(clusterChain, cat.cluster)
	}
	if len(cat.local) > 0 {
		policyChain(localChain, cat.local)
	}

	usesExternal := cat.any && sp.external()
	if usesExternal {
		var rules []string
		if !sp.externalLocal {
			rules = []string{"jump " + chainMarkMasq, "goto " + clusterChain}
		} else {
			// Local policy keeps the client's address, so only this node's
			// endpoints qualify. Pods and the node itself are no outside
			// clients: they take any endpoint, as if they had gone out to
			// the load balancer and come back. The node is masqueraded, as
			// it may send from the very address it connects to.
			if c.clusterCIDR != "" {
				rules = append(rules, ip+" saddr "+c.clusterCIDR+" goto "+clusterChain)
			}
			rules = append(rules,
				"fib saddr type local jump "+chainMarkMasq,
				"fib saddr type local goto "+clusterChain)
			if hasExternal {
				rules = append(rules, "goto "+localChain)
			}
		}
		r.chains[extChain] = rules
	}

	proto := sp.protocol
	add(elem{container: setClusterIPs, key: []string{sp.clusterIP.String()}})
	clusterKey := []string{sp.clusterIP.String(), proto, port}
	if hasInternal {
		add(elem{container: mapServiceIPs, key: clusterKey, value: "goto " + internalChain})
	} else {
		add(elem{container: mapNoEndpointServices, key: clusterKey, value: noEndpoint})
	}
	for _, a := range sp.externalIPs {
		key := []string{a.String(), proto, port}
		if usesExternal {
			add(elem{container: mapServiceIPs, key: key, value: "goto " + extChain})
		}
		if !hasExternal {
			// Whatever the external chain did not short-circuit is dropped
			// (Local policy, no local endpoint) or rejected (no endpoints).
			add(elem{container: mapNoEndpointServices, key: key, value: noEndpoint})
		}
	}
	if sp.nodePort != 0 {
		key := []string{proto, strconv.Itoa(int(sp.nodePort))}
		if usesExternal {
			add(elem{container: mapServiceNodePorts, key: key, value: "goto " + extChain})
		}
		if !hasExternal {
			add(elem{container: mapNoEndpointNodePorts, key: key, value: noEndpoint})
		}
	}

	if proto == "udp" && len(reachable) > 0 {
		u := udpPort{nodePort: uint16(sp.nodePort)}
		u.dests = append(u.dests, netip.AddrPortFrom(sp.clusterIP, uint16(sp.port)))
		for _, a := range sp.externalIPs {
			u.dests = append(u.dests, netip.AddrPortFrom(a, uint16(sp.port)))
		}
		for _, e := range reachable {
			u.endpoints = append(u.endpoints, netip.AddrPortFrom(e.addr, uint16(e.port)))
		}
		r.udp = append(r.udp, u)
	}
}

// maxPickRules is the most endpoints a policy chain picks from with a rule
// each; beyond, it picks from a map. Rules load faster: the kernel's work
// per set grows with the number of sets in the table, so that a map per
// service makes a table of 4,000 services with 10 endpoints take 5-7s to
// load against 2s with rules (nft 1.0.6, kernel 6.18). A map picks in one
// lookup though, where the rules take on average half their number for a
// connection's first packet.
const maxPickRules = 64

// pick returns the rules of a policy chain that send a connection to one of
// eps at random: DNAT straight to it or, with ClientIP affinity, enter its
// chain.
func (r *svcRules) pick(c *ruleConfig, sp *servicePort, chain string, eps []endpoint) []string {
	affinity := sp.affinity > 0
	if len(eps) > maxPickRules {
		m := lbMap{verdicts: affinity, values: make([][]string, len(eps))}
		for i, e := range eps {
			if affinity {
				m.values[i] = []string{"goto " + prefixEndpoint + sp.id + "/" + e.key()}
			} else {
				m.values[i] = []string{e.addr.String(), strconv.Itoa(int(e.port))}
			}
		}
		r.lbMaps[chain] = m
		numgen := "numgen random mod " + strconv.Itoa(len(eps))
		if affinity {
			return []string{numgen + " vmap @" + chain}
		}
		return []string{"meta l4proto " + sp.protocol + " dnat " + c.f.ip + " to " + numgen + " map @" + chain}
	}
	rules := make([]string, len(eps))
	for i, e := range eps {
		// Each rule draws anew: taking 1 in the number of endpoints left
		// gives every endpoint the same chance. The last takes what is left.
		var draw string
		if left := len(eps) - i; left > 1 {
			draw = "numgen random mod " + strconv.Itoa(left) + " == 0 "
		}
		if affinity {
			rules[i] = draw + "goto " + prefixEndpoint + sp.id + "/" + e.key()
		} else {
			rules[i] = "meta l4proto " + sp.protocol + " " + draw + "dnat to " + e.hostPort()
		}
	}
	return rules
}
