package proxy

import (
	"cmp"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"sigs.k8s.io/knftables"
)

// staleChainDelay is how long a chain stays flushed before it is deleted.
// Kernels before 6.2 notice only a moment later that a chain is no longer
// referenced by a deleted map element, and refuse to delete it until then.
const staleChainDelay = time.Second

// ruleset knows what the table holds and writes the transactions that change
// it: a full one that replaces the whole table, or an incremental one with
// only the chains, sets and elements of the services that changed. It does
// no I/O; the caller runs the transactions and calls reset when one fails,
// after which only a full transaction is correct.
type ruleset struct {
	c ruleConfig
	// services is what each service (namespace/name) has in the table.
	services map[string]*svcRules
	// claims lists, per shared element, the services that want it in the
	// order they asked; the first one's value is in the table. Two services
	// may claim one key, for instance the same external IP and port.
	claims map[elemID][]claim
	// stale holds chains that were flushed and when, to be deleted later.
	stale map[string]time.Time
	// synced is false until a full transaction was written.
	synced bool
}

type claim struct {
	owner string
	elem  elem
}

func newRuleset(c ruleConfig) *ruleset {
	return &ruleset{c: c}
}

// reset forgets the table's contents, so that the next write must be full.
func (r *ruleset) reset() { r.synced = false }

// full writes a transaction that replaces the table with one holding the
// fixed chains and desired, a map of service key to its rules.
func (r *ruleset) full(tx *knftables.Transaction, desired map[string]*svcRules) {
	// Adding the table first makes the delete valid when it is missing;
	// deleting and rebuilding it in one transaction is atomic for the
	// packet path, and established connections keep their translations,
	// which live in conntrack.
	tx.Add(&knftables.Table{})
	tx.Delete(&knftables.Table{})
	tx.Add(&knftables.Table{Comment: knftables.PtrTo("skiff service proxy")})
	for _, bc := range baseChains {
		tx.Add(&knftables.Chain{
			Name:     bc.name,
			Type:     knftables.PtrTo(bc.typ),
			Hook:     knftables.PtrTo(bc.hook),
			Priority: knftables.PtrTo(bc.priority),
		})
	}
	static := r.c.staticChains()
	for _, name := range sortedKeys(static) {
		if !isBaseChain(name) {
			tx.Add(&knftables.Chain{Name: name})
		}
	}
	for _, s := range r.c.staticSets() {
		tx.Add(s)
	}
	for _, m := range r.c.staticMaps() {
		tx.Add(m)
	}
	for _, ip := range r.c.nodeIPs {
		tx.Add(&knftables.Element{Set: setNodePortIPs, Key: []string{ip}})
	}

	r.services = make(map[string]*svcRules, len(desired))
	r.claims = map[elemID][]claim{}
	r.stale = map[string]time.Time{}
	keys := sortedKeys(desired)
	// Chains first, so that the rules' jumps and the elements' verdicts
	// find their targets whatever the order of services.
	for _, key := range keys {
		for _, name := range sortedKeys(desired[key].chains) {
			tx.Add(&knftables.Chain{Name: name})
		}
	}
	for _, key := range keys {
		s := desired[key]
		for _, name := range sortedKeys(s.sets) {
			tx.Add(affinitySet(r.c.f, name, s.sets[name]))
		}
		for _, name := range sortedKeys(s.lbMaps) {
			r.addLBMap(tx, name, s.lbMaps[name])
		}
	}
	for _, name := range sortedKeys(static) {
		for _, rule := range static[name] {
			tx.Add(&knftables.Rule{Chain: name, Rule: rule})
		}
	}
	for _, key := range keys {
		s := desired[key]
		for _, name := range sortedKeys(s.chains) {
			for _, rule := range s.chains[name] {
				tx.Add(&knftables.Rule{Chain: name, Rule: rule})
			}
		}
		if !s.empty() {
			r.services[key] = s
		}
		for _, e := range s.elems {
			id := e.id()
			r.claims[id] = append(r.claims[id], claim{owner: key, elem: e})
			if len(r.claims[id]) == 1 {
				tx.Add(e.object())
			}
		}
	}
	r.synced = true
}

// update writes a transaction that brings the services in changed (key to
// desired rules, nil for a service that is gone) from what the table holds
// to what they want, touching nothing else. It returns the UDP flows whose
// endpoint went away, for conntrack cleanup.
func (r *ruleset) update(tx *knftables.Transaction, changed map[string]*svcRules, now time.Time) []staleFlow {
	// before holds, for every element some service changed, the element
	// the table had (nil if none).
	before := map[elemID]*elem{}
	touch := func(id elemID) {
		if _, seen := before[id]; seen {
			return
		}
		before[id] = nil
		if cs := r.claims[id]; len(cs) > 0 {
			// A copy: claims are edited in place below.
			e := cs[0].elem
			before[id] = &e
		}
	}
	var flows []staleFlow
	for _, key := range sortedKeys(changed) {
		old, cur := r.services[key], changed[key]
		if old == nil {
			old = &svcRules{}
		}
		if cur == nil {
			cur = &svcRules{}
		}
		r.updateChains(tx, old, cur, now)

		gone := map[elemID]bool{}
		oldValue := map[elemID]string{}
		for _, e := range old.elems {
			gone[e.id()] = true
			oldValue[e.id()] = e.value
		}
		for _, e := range cur.elems {
			id := e.id()
			had := gone[id]
			delete(gone, id)
			if had && oldValue[id] == e.value {
				continue
			}
			touch(id)
			r.claim(id, key, e)
		}
		for id := range gone {
			touch(id)
			r.unclaim(id, key)
		}
		flows = append(flows, staleUDP(old.udp, cur.udp)...)

		if cur.empty() {
			delete(r.services, key)
		} else {
			r.services[key] = cur
		}
	}

	// All deletions before any addition: a key may pass from one service's
	// value to another's.
	ids := slices.SortedFunc(maps.Keys(before), func(a, b elemID) int {
		return cmp.Or(cmp.Compare(a.container, b.container), cmp.Compare(a.key, b.key))
	})
	var adds []*knftables.Element
	for _, id := range ids {
		was := before[id]
		var is *elem
		if cs := r.claims[id]; len(cs) > 0 {
			is = &cs[0].elem
		}
		if was != nil && is != nil && was.value == is.value {
			continue
		}
		if was != nil {
			tx.Delete(was.object())
		}
		if is != nil {
			adds = append(adds, is.object())
		}
	}
	for _, e := range adds {
		tx.Add(e)
	}
	return flows
}

// updateChains rewrites the chains, sets and maps of one service that
// changed.
func (r *ruleset) updateChains(tx *knftables.Transaction, old, cur *svcRules, now time.Time) {
	// A set's timeout can only change by recreating it, which needs the
	// rules that name it gone first: then all the service's chains are
	// rewritten.
	rewriteAll := false
	for name, timeout := range old.sets {
		if t, ok := cur.sets[name]; ok && t != timeout {
			rewriteAll = true
		}
	}
	var rewrite []string
	for _, name := range sortedKeys(cur.chains) {
		oldRules, existed := old.chains[name]
		if existed && !rewriteAll && slices.Equal(oldRules, cur.chains[name]) {
			continue
		}
		// A chain flushed earlier as stale may be wanted again; it still
		// exists, and adding it is harmless either way.
		delete(r.stale, name)
		tx.Add(&knftables.Chain{Name: name})
		tx.Flush(&knftables.Chain{Name: name})
		rewrite = append(rewrite, name)
	}
	for _, name := range sortedKeys(old.chains) {
		if _, keep := cur.chains[name]; !keep {
			tx.Flush(&knftables.Chain{Name: name})
			r.stale[name] = now
		}
	}
	for _, name := range sortedKeys(old.sets) {
		if t, keep := cur.sets[name]; !keep || t != old.sets[name] {
			tx.Delete(&knftables.Set{Name: name})
		}
	}
	for _, name := range sortedKeys(cur.sets) {
		if t, had := old.sets[name]; !had || t != cur.sets[name] {
			tx.Add(affinitySet(r.c.f, name, cur.sets[name]))
		}
	}
	// A map whose kind of value changes (affinity turned on or off) is
	// recreated; the rule that used it went with its chain's flush above.
	for _, name := range sortedKeys(old.lbMaps) {
		if m, keep := cur.lbMaps[name]; !keep || m.verdicts != old.lbMaps[name].verdicts {
			tx.Delete(&knftables.Map{Name: name})
		}
	}
	for _, name := range sortedKeys(cur.lbMaps) {
		m := cur.lbMaps[name]
		was, had := old.lbMaps[name]
		switch {
		case !had || was.verdicts != m.verdicts:
			r.addLBMap(tx, name, m)
		case !was.equal(m):
			tx.Flush(&knftables.Map{Name: name})
			addLBElements(tx, name, m)
		}
	}
	for _, name := range rewrite {
		for _, rule := range cur.chains[name] {
			tx.Add(&knftables.Rule{Chain: name, Rule: rule})
		}
	}
}

// claim records that owner wants e, keeping owner's place in line when it
// only changes the value.
func (r *ruleset) claim(id elemID, owner string, e elem) {
	for i, c := range r.claims[id] {
		if c.owner == owner {
			r.claims[id][i].elem = e
			return
		}
	}
	r.claims[id] = append(r.claims[id], claim{owner: owner, elem: e})
}

func (r *ruleset) unclaim(id elemID, owner string) {
	cs := slices.DeleteFunc(r.claims[id], func(c claim) bool { return c.owner == owner })
	if len(cs) == 0 {
		delete(r.claims, id)
		return
	}
	r.claims[id] = cs
}

// deleteStale writes the deletion of chains that have been stale for
// staleChainDelay at now and forgets them; it reports whether it wrote any.
func (r *ruleset) deleteStale(tx *knftables.Transaction, now time.Time) bool {
	var due []string
	for name, since := range r.stale {
		if !since.Add(staleChainDelay).After(now) {
			due = append(due, name)
		}
	}
	slices.Sort(due)
	for _, name := range due {
		tx.Delete(&knftables.Chain{Name: name})
		delete(r.stale, name)
	}
	return len(due) > 0
}

// nextStale returns when the oldest stale chain may be deleted.
func (r *ruleset) nextStale() (time.Time, bool) {
	var first time.Time
	for _, since := range r.stale {
		if first.IsZero() || since.Before(first) {
			first = since
		}
	}
	return first.Add(staleChainDelay), !first.IsZero()
}

func affinitySet(f family, name string, timeout time.Duration) *knftables.Set {
	return &knftables.Set{
		Name: name,
		Type: f.addrType,
		// The kernel adds "dynamic" to a set the packet path updates; naming
		// it here keeps a later add of the same set from looking like a
		// change of flags.
		Flags:   []knftables.SetFlag{knftables.DynamicFlag, knftables.TimeoutFlag},
		Timeout: knftables.PtrTo(timeout),
	}
}

func (r *ruleset) addLBMap(tx *knftables.Transaction, name string, m lbMap) {
	value := "verdict"
	if !m.verdicts {
		value = r.c.f.ip + " daddr . th dport"
	}
	tx.Add(&knftables.Map{Name: name, TypeOf: "numgen random mod 1 : " + value})
	addLBElements(tx, name, m)
}

func addLBElements(tx *knftables.Transaction, name string, m lbMap) {
	for i, v := range m.values {
		tx.Add(&knftables.Element{Map: name, Key: []string{strconv.Itoa(i)}, Value: v})
	}
}

func isBaseChain(name string) bool {
	return slices.ContainsFunc(baseChains, func(b baseChain) bool { return b.name == name })
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// staleFlow is a UDP flow the conntrack table may still send to an endpoint
// that is gone: from clients to dest (or to any local address on nodePort
// when dest is unset), translated to endpoint.
type staleFlow struct {
	dest     netip.AddrPort
	nodePort uint16
	endpoint netip.AddrPort
}

// staleUDP lists the flows of endpoints that old could translate to and cur
// no longer does.
func staleUDP(old, cur []udpPort) []staleFlow {
	keep := map[netip.AddrPort]bool{}
	for _, u := range cur {
		for _, e := range u.endpoints {
			keep[e] = true
		}
	}
	var out []staleFlow
	for _, u := range old {
		for _, e := range u.endpoints {
			if keep[e] {
				continue
			}
			for _, d := range u.dests {
				out = append(out, staleFlow{dest: d, endpoint: e})
			}
			if u.nodePort != 0 {
				out = append(out, staleFlow{nodePort: u.nodePort, endpoint: e})
			}
		}
	}
	return out
}
