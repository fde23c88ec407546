package scheduler

import (
	corev1 "k8s.io/api/core/v1"
)

// maxNodeScore is the top of every scorer's normalized range.
const maxNodeScore = 100

// Weights of the default scorers, as in upstream's default profile.
const (
	weightLeastAllocated     = 1
	weightBalancedAllocation = 1
	weightNodeAffinity       = 2
	weightTaintToleration    = 3
	weightInterPodAffinity   = 2
	weightPodTopologySpread  = 2
)

// score returns the weighted sum of all scorers for each feasible node.
func (st *cycleState) score(nodes []*NodeInfo) []int64 {
	total := make([]int64, len(nodes))
	raw := make([]int64, len(nodes))
	for i, ni := range nodes {
		total[i] = weightLeastAllocated*st.leastAllocated(ni) + weightBalancedAllocation*st.balancedAllocation(ni)
	}

	if terms := preferredNodeTerms(st.pi.Pod); len(terms) > 0 {
		for i, ni := range nodes {
			raw[i] = preferredNodeScore(terms, ni.Node)
		}
		addNormalized(total, raw, weightNodeAffinity, false)
	}

	tols := preferNoScheduleTolerations(st.pi.Pod.Spec.Tolerations)
	anyTaint := false
	for i, ni := range nodes {
		raw[i] = intolerablePreferNoSchedule(ni.Node, tols)
		anyTaint = anyTaint || raw[i] > 0
	}
	if anyTaint {
		addNormalized(total, raw, weightTaintToleration, true)
	} else {
		addConst(total, maxNodeScore*weightTaintToleration)
	}

	if st.interPodScores(nodes, raw) {
		addMinMax(total, raw, weightInterPodAffinity)
	}

	if st.spreadScores(nodes, raw) {
		addNormalized(total, raw, weightPodTopologySpread, true)
	} else {
		addConst(total, maxNodeScore*weightPodTopologySpread)
	}
	return total
}

// leastAllocated favours nodes with more free cpu and memory after placing
// the pod, averaged over both.
func (st *cycleState) leastAllocated(ni *NodeInfo) int64 {
	cpu := freeFraction(ni.NonZeroRequested.MilliCPU+st.pi.NonZero.MilliCPU, ni.Allocatable.MilliCPU)
	mem := freeFraction(ni.NonZeroRequested.Memory+st.pi.NonZero.Memory, ni.Allocatable.Memory)
	return (cpu + mem) / 2
}

func freeFraction(requested, capacity int64) int64 {
	if capacity <= 0 || requested > capacity {
		return 0
	}
	return (capacity - requested) * maxNodeScore / capacity
}

// balancedAllocation favours nodes whose cpu and memory usage fractions
// stay close: 100 × (1 − standard deviation of the two fractions).
func (st *cycleState) balancedAllocation(ni *NodeInfo) int64 {
	cpu := fraction(ni.NonZeroRequested.MilliCPU+st.pi.NonZero.MilliCPU, ni.Allocatable.MilliCPU)
	mem := fraction(ni.NonZeroRequested.Memory+st.pi.NonZero.Memory, ni.Allocatable.Memory)
	d := cpu - mem
	if d < 0 {
		d = -d
	}
	return int64((1 - d/2) * maxNodeScore)
}

func fraction(requested, capacity int64) float64 {
	if capacity <= 0 {
		return 1
	}
	f := float64(requested) / float64(capacity)
	if f > 1 {
		return 1
	}
	return f
}

func preferNoScheduleTolerations(tols []corev1.Toleration) []corev1.Toleration {
	var out []corev1.Toleration
	for _, t := range tols {
		if t.Effect == "" || t.Effect == corev1.TaintEffectPreferNoSchedule {
			out = append(out, t)
		}
	}
	return out
}

func intolerablePreferNoSchedule(node *corev1.Node, tols []corev1.Toleration) int64 {
	var n int64
	for i := range node.Spec.Taints {
		t := &node.Spec.Taints[i]
		if t.Effect == corev1.TaintEffectPreferNoSchedule && !tolerates(tols, t) {
			n++
		}
	}
	return n
}

// interPodScores fills raw with preferred inter-pod (anti-)affinity sums:
// the incoming pod's preferred terms against existing pods, and existing
// pods' terms against the incoming pod. It reports false when nothing
// applies, to save the normalization.
func (st *cycleState) interPodScores(nodes []*NodeInfo, raw []int64) bool {
	pi := st.pi
	if len(pi.preferredAffinity)+len(pi.preferredAnti) == 0 && st.snap.podsWithAffinity == 0 {
		return false
	}
	domains := make(map[topoPair]int64)
	for _, ni := range st.snap.nodes {
		if len(pi.preferredAffinity)+len(pi.preferredAnti) == 0 && ni.podsWithAffinity == 0 {
			continue
		}
		for _, epi := range ni.Pods {
			st.addTermScores(domains, ni, pi.preferredAffinity, epi.Pod, 1)
			st.addTermScores(domains, ni, pi.preferredAnti, epi.Pod, -1)
			st.addTermScores(domains, ni, epi.preferredAffinity, pi.Pod, 1)
			st.addTermScores(domains, ni, epi.preferredAnti, pi.Pod, -1)
		}
	}
	if len(domains) == 0 {
		return false
	}
	for i, ni := range nodes {
		raw[i] = 0
		for p, w := range domains {
			if v, ok := ni.Node.Labels[p.key]; ok && v == p.value {
				raw[i] += w
			}
		}
	}
	return true
}

func (st *cycleState) addTermScores(domains map[topoPair]int64, ni *NodeInfo, terms []weightedTerm, target *corev1.Pod, sign int64) {
	for i := range terms {
		t := &terms[i]
		v, ok := ni.Node.Labels[t.topologyKey]
		if !ok || !t.matches(target, st.snap.nsLabels) {
			continue
		}
		domains[topoPair{t.topologyKey, v}] += sign * t.weight
	}
}

// spreadScores fills raw with the number of matching pods in each node's
// domains for the pod's ScheduleAnyway constraints; a pod without any
// constraint spreads over nodes by its controller instead, like
// upstream's default constraints. Fewer is better.
func (st *cycleState) spreadScores(nodes []*NodeInfo, raw []int64) bool {
	if len(st.pi.Pod.Spec.TopologySpreadConstraints) == 0 {
		if st.pi.owner == "" {
			return false
		}
		for i, ni := range nodes {
			raw[i] = int64(ni.ownerCounts[st.pi.owner])
		}
		return true
	}
	if len(st.softSpread) == 0 {
		return false
	}
	for i, ni := range nodes {
		raw[i] = 0
		for j := range st.softSpread {
			c := &st.softSpread[j]
			if v, ok := ni.Node.Labels[c.key]; ok {
				raw[i] += int64(c.counts[v]) + int64(c.maxSkew) - 1
			}
		}
	}
	return true
}

// addNormalized scales raw to 0..100 by its maximum (reversed when lower
// is better) and adds it with weight to total.
func addNormalized(total, raw []int64, weight int64, reverse bool) {
	var hi int64
	for _, r := range raw[:len(total)] {
		hi = max(hi, r)
	}
	for i := range total {
		var s int64
		switch {
		case hi == 0 && reverse:
			s = maxNodeScore
		case hi == 0:
			s = 0
		default:
			s = raw[i] * maxNodeScore / hi
			if reverse {
				s = maxNodeScore - s
			}
		}
		total[i] += weight * s
	}
}

// addMinMax scales raw, which may be negative, to 0..100 between its
// minimum and maximum.
func addMinMax(total, raw []int64, weight int64) {
	lo, hi := raw[0], raw[0]
	for _, r := range raw[:len(total)] {
		lo, hi = min(lo, r), max(hi, r)
	}
	if hi == lo {
		return
	}
	for i := range total {
		total[i] += weight * (raw[i] - lo) * maxNodeScore / (hi - lo)
	}
}

func addConst(total []int64, v int64) {
	for i := range total {
		total[i] += v
	}
}
