package scheduler

import (
	"fmt"
	"math"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
)

// topoPair is one topology domain: a node label key and its value.
type topoPair struct{ key, value string }

// cycleState holds what one scheduling attempt precomputes over the whole
// snapshot so that filtering and scoring a node stays cheap.
type cycleState struct {
	snap *Snapshot
	pi   *PodInfo
	na   nodeAffinity

	// existingAnti are domains where an existing pod's required
	// anti-affinity matches the incoming pod.
	existingAnti map[topoPair]struct{}
	// affinityCounts counts, per required affinity term, matching pods
	// per domain; affinityFirst allows a pod matching its own terms to
	// start a group when no pod matches anywhere yet.
	affinityCounts []map[string]int
	affinityFirst  bool
	// antiDomains are domains holding pods the incoming pod's required
	// anti-affinity excludes.
	antiDomains map[topoPair]struct{}

	hardSpread []spreadConstraint
	softSpread []spreadConstraint
}

func newCycleState(snap *Snapshot, pi *PodInfo) (*cycleState, error) {
	st := &cycleState{snap: snap, pi: pi, na: newNodeAffinity(pi.Pod)}
	st.computeExistingAnti()
	st.computePodAffinity()
	var err error
	if st.hardSpread, st.softSpread, err = st.spreadConstraints(); err != nil {
		return nil, fmt.Errorf("pod %s topology spread: %w", pi.Key, err)
	}
	return st, nil
}

// filterResult is a node's verdict; no reasons means the pod fits.
type filterResult struct {
	reasons      []string
	unresolvable bool
}

func (r filterResult) ok() bool { return len(r.reasons) == 0 }

func fail(reason string, unresolvable bool) filterResult {
	return filterResult{reasons: []string{reason}, unresolvable: unresolvable}
}

var pass = filterResult{}

// filter runs the filters in upstream's order and stops at the first
// failing one, as upstream does.
func (st *cycleState) filter(ni *NodeInfo) filterResult {
	pod := st.pi.Pod
	if ni.unschedulable && !tolerates(pod.Spec.Tolerations, &unschedulableTaint) {
		return fail(reasonUnschedulable, true)
	}
	if pod.Spec.NodeName != "" && pod.Spec.NodeName != ni.name {
		return fail(reasonNodeName, true)
	}
	for i := range ni.taints {
		t := &ni.taints[i]
		if t.Effect != corev1.TaintEffectNoSchedule && t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		if !tolerates(pod.Spec.Tolerations, t) {
			return fail(taintReason(t.Key, t.Value), true)
		}
	}
	if !st.na.empty() && !st.na.matches(ni.Node) {
		return fail(reasonNodeAffinity, true)
	}
	if len(st.pi.ports) > 0 && portsConflict(ni.usedPorts, st.pi.ports) {
		return fail(reasonPorts, false)
	}
	if r := st.fitsResources(ni); !r.ok() {
		return r
	}
	if r := st.fitsSpread(ni); !r.ok() {
		return r
	}
	return st.fitsInterPod(ni)
}

var unschedulableTaint = corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}

// fitsResources checks requests against allocatable minus what the node's
// pods, and pods of at least equal priority nominated to it, request.
func (st *cycleState) fitsResources(ni *NodeInfo) filterResult {
	used := &ni.Requested
	podCount := int64(len(ni.Pods))
	if noms := st.snap.nominated[ni.name]; len(noms) > 0 {
		nr, nn := st.snap.nominatedRequests(ni.name, st.pi)
		if nn > 0 {
			sum := ni.Requested.clone()
			sum.add(&nr)
			used = &sum
			podCount += nn
		}
	}
	var reasons []string
	if podCount+1 > ni.Allocatable.Pods {
		reasons = append(reasons, reasonTooManyPods)
	}
	req := &st.pi.Req
	if req.isZero() {
		if len(reasons) > 0 {
			return filterResult{reasons: reasons}
		}
		return pass
	}
	alloc := &ni.Allocatable
	if req.MilliCPU > 0 && req.MilliCPU > alloc.MilliCPU-used.MilliCPU {
		reasons = append(reasons, insufficientReason("cpu"))
	}
	if req.Memory > 0 && req.Memory > alloc.Memory-used.Memory {
		reasons = append(reasons, insufficientReason("memory"))
	}
	if req.EphemeralStorage > 0 && req.EphemeralStorage > alloc.EphemeralStorage-used.EphemeralStorage {
		reasons = append(reasons, insufficientReason("ephemeral-storage"))
	}
	for name, v := range req.Scalar {
		if v > 0 && v > alloc.Scalar[name]-used.Scalar[name] {
			reasons = append(reasons, insufficientReason(string(name)))
		}
	}
	if len(reasons) > 0 {
		return filterResult{reasons: reasons}
	}
	return pass
}

// computeExistingAnti collects the domains where bound pods' required
// anti-affinity terms match the incoming pod.
func (st *cycleState) computeExistingAnti() {
	for key, epi := range st.snap.antiAffinityPods {
		nodeName := st.snap.pods[key]
		ni := st.snap.NodeInfo(nodeName)
		if ni == nil {
			continue
		}
		for i := range epi.requiredAnti {
			t := &epi.requiredAnti[i]
			if !t.matches(st.pi.Pod, st.snap.nsLabels) {
				continue
			}
			v, ok := ni.Node.Labels[t.topologyKey]
			if !ok {
				continue
			}
			if st.existingAnti == nil {
				st.existingAnti = make(map[topoPair]struct{})
			}
			st.existingAnti[topoPair{t.topologyKey, v}] = struct{}{}
		}
	}
}

// computePodAffinity counts pods matching the incoming pod's required
// affinity and anti-affinity terms per domain.
func (st *cycleState) computePodAffinity() {
	pi := st.pi
	if len(pi.requiredAffinity) == 0 && len(pi.requiredAnti) == 0 {
		return
	}
	st.affinityCounts = make([]map[string]int, len(pi.requiredAffinity))
	for i := range st.affinityCounts {
		st.affinityCounts[i] = make(map[string]int)
	}
	any := false
	for _, ni := range st.snap.nodes {
		for _, epi := range ni.Pods {
			for i := range pi.requiredAffinity {
				t := &pi.requiredAffinity[i]
				if v, ok := ni.Node.Labels[t.topologyKey]; ok && t.matches(epi.Pod, st.snap.nsLabels) {
					st.affinityCounts[i][v]++
					any = true
				}
			}
			for i := range pi.requiredAnti {
				t := &pi.requiredAnti[i]
				if v, ok := ni.Node.Labels[t.topologyKey]; ok && t.matches(epi.Pod, st.snap.nsLabels) {
					if st.antiDomains == nil {
						st.antiDomains = make(map[topoPair]struct{})
					}
					st.antiDomains[topoPair{t.topologyKey, v}] = struct{}{}
				}
			}
		}
	}
	if !any && len(pi.requiredAffinity) > 0 {
		st.affinityFirst = true
		for i := range pi.requiredAffinity {
			if !pi.requiredAffinity[i].matches(pi.Pod, st.snap.nsLabels) {
				st.affinityFirst = false
			}
		}
	}
}

func (st *cycleState) fitsInterPod(ni *NodeInfo) filterResult {
	if len(st.existingAnti)+len(st.pi.requiredAffinity)+len(st.pi.requiredAnti) == 0 {
		return pass // the common case, decided without touching the node
	}
	labelsOf := ni.Node.Labels
	for p := range st.existingAnti {
		if v, ok := labelsOf[p.key]; ok && v == p.value {
			return fail(reasonExistingAnti, false)
		}
	}
	for i := range st.pi.requiredAffinity {
		t := &st.pi.requiredAffinity[i]
		v, ok := labelsOf[t.topologyKey]
		if !ok {
			return fail(reasonAffinityRules, true)
		}
		if st.affinityCounts[i][v] == 0 && !st.affinityFirst {
			return fail(reasonAffinityRules, true)
		}
	}
	for i := range st.pi.requiredAnti {
		t := &st.pi.requiredAnti[i]
		if v, ok := labelsOf[t.topologyKey]; ok {
			if _, bad := st.antiDomains[topoPair{t.topologyKey, v}]; bad {
				return fail(reasonAntiAffinityRules, false)
			}
		}
	}
	return pass
}

// spreadConstraint is a parsed topology spread constraint with the pod
// counts per domain over eligible nodes.
type spreadConstraint struct {
	maxSkew     int32
	key         string
	selector    labels.Selector
	minDomains  int32
	honorAff    bool
	honorTaints bool
	selfMatch   int
	counts      map[string]int
	globalMin   int
}

func (st *cycleState) spreadConstraints() (hard, soft []spreadConstraint, err error) {
	pod := st.pi.Pod
	for _, c := range pod.Spec.TopologySpreadConstraints {
		sel, err := metav1.LabelSelectorAsSelector(c.LabelSelector)
		if err != nil {
			return nil, nil, err
		}
		if sel, err = withMatchLabelKeys(sel, pod, c.MatchLabelKeys, selection.In); err != nil {
			return nil, nil, err
		}
		sc := spreadConstraint{
			maxSkew:     c.MaxSkew,
			key:         c.TopologyKey,
			selector:    sel,
			minDomains:  1,
			honorAff:    c.NodeAffinityPolicy == nil || *c.NodeAffinityPolicy == corev1.NodeInclusionPolicyHonor,
			honorTaints: c.NodeTaintsPolicy != nil && *c.NodeTaintsPolicy == corev1.NodeInclusionPolicyHonor,
		}
		if c.MinDomains != nil {
			sc.minDomains = *c.MinDomains
		}
		if sel.Matches(labels.Set(pod.Labels)) {
			sc.selfMatch = 1
		}
		if c.WhenUnsatisfiable == corev1.DoNotSchedule {
			hard = append(hard, sc)
		} else {
			soft = append(soft, sc)
		}
	}
	st.countSpread(hard)
	st.countSpread(soft)
	return hard, soft, nil
}

// countSpread counts matching pods per domain over the nodes each
// constraint considers eligible.
func (st *cycleState) countSpread(cs []spreadConstraint) {
	if len(cs) == 0 {
		return
	}
	pod := st.pi.Pod
	for i := range cs {
		cs[i].counts = make(map[string]int)
	}
	for _, ni := range st.snap.nodes {
		for i := range cs {
			c := &cs[i]
			v, ok := ni.Node.Labels[c.key]
			if !ok || !st.spreadEligible(c, ni.Node) {
				continue
			}
			n := c.counts[v]
			for _, epi := range ni.Pods {
				p := epi.Pod
				if p.Namespace == pod.Namespace && p.DeletionTimestamp == nil && c.selector.Matches(labels.Set(p.Labels)) {
					n++
				}
			}
			c.counts[v] = n
		}
	}
	for i := range cs {
		c := &cs[i]
		c.globalMin = math.MaxInt
		for _, n := range c.counts {
			c.globalMin = min(c.globalMin, n)
		}
		if c.globalMin == math.MaxInt || int32(len(c.counts)) < c.minDomains {
			c.globalMin = 0
		}
	}
}

func (st *cycleState) spreadEligible(c *spreadConstraint, node *corev1.Node) bool {
	if c.honorAff && !st.na.empty() && !st.na.matches(node) {
		return false
	}
	if c.honorTaints {
		for i := range node.Spec.Taints {
			t := &node.Spec.Taints[i]
			if (t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute) && !tolerates(st.pi.Pod.Spec.Tolerations, t) {
				return false
			}
		}
	}
	return true
}

func (st *cycleState) fitsSpread(ni *NodeInfo) filterResult {
	for i := range st.hardSpread {
		c := &st.hardSpread[i]
		v, ok := ni.Node.Labels[c.key]
		if !ok {
			return fail(reasonSpreadMissingLabel, true)
		}
		if c.counts[v]+c.selfMatch-c.globalMin > int(c.maxSkew) {
			return fail(reasonSpread, false)
		}
	}
	return pass
}
