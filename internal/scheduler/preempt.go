package scheduler

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
)

// Preemption is a plan to make room for a pod: evict Victims from
// NodeName, then bind the pod there once they are gone.
type Preemption struct {
	NodeName string
	Victims  []*corev1.Pod
}

// Messages for pods preemption must not help, as upstream words them.
const (
	msgPreemptionNever      = "preemption: not eligible due to preemptionPolicy=Never."
	msgTerminatingNominated = "preemption: not eligible due to a terminating pod on the nominated node."
)

// minCandidateNodesPercentage and minCandidateNodesAbsolute bound how many
// viable nodes preemption compares before choosing, as upstream does.
const (
	minCandidateNodesPercentage = 10
	minCandidateNodesAbsolute   = 100
)

// Preempt looks for a node where evicting lower-priority pods lets pod
// fit, given the FitError Schedule returned for it over the same snap. It
// returns the plan, or nil and the message to append to the FitError.
// It only reads snap.
func Preempt(snap *Snapshot, pod *corev1.Pod, fe *FitError) (*Preemption, string) {
	if pod.Spec.PreemptionPolicy != nil && *pod.Spec.PreemptionPolicy == corev1.PreemptNever {
		return nil, msgPreemptionNever
	}
	pi, err := NewPodInfo(pod)
	if err != nil {
		return nil, ""
	}
	if nn := pod.Status.NominatedNodeName; nn != "" && terminatingLowerPriority(snap.NodeInfo(nn), pi.priority()) {
		return nil, msgTerminatingNominated
	}
	st, err := newCycleState(snap, pi)
	if err != nil {
		return nil, ""
	}
	n := len(snap.nodes)
	want := min(n, max(n*minCandidateNodesPercentage/100, minCandidateNodesAbsolute))
	counts := make(map[string]int)
	var best *candidate
	found := 0
	for idx, ni := range snap.nodes {
		if found >= want {
			break
		}
		if fe != nil && idx < len(fe.unresolvable) && fe.unresolvable[idx] {
			counts[preemptionNotHelpful]++
			continue
		}
		c := st.selectVictims(ni)
		if c == nil {
			counts[preemptionNoVictims]++
			continue
		}
		found++
		if best == nil || c.better(best) {
			best = c
		}
	}
	if best == nil {
		return nil, preemptionMessage(n, counts)
	}
	return &Preemption{NodeName: best.node, Victims: best.victims}, ""
}

func terminatingLowerPriority(ni *NodeInfo, prio int32) bool {
	if ni == nil {
		return false
	}
	for _, p := range ni.Pods {
		if p.Pod.DeletionTimestamp != nil && p.priority() < prio {
			return true
		}
	}
	return false
}

type candidate struct {
	node        string
	victims     []*corev1.Pod
	highestPrio int32
	sumPrio     int64
}

// better prefers the lowest top victim priority, then the lowest sum of
// victim priorities, then the fewest victims.
func (c *candidate) better(o *candidate) bool {
	if c.highestPrio != o.highestPrio {
		return c.highestPrio < o.highestPrio
	}
	if c.sumPrio != o.sumPrio {
		return c.sumPrio < o.sumPrio
	}
	return len(c.victims) < len(o.victims)
}

// selectVictims removes every lower-priority pod from a copy of the node;
// if the pod then fits, it adds them back highest priority first and
// keeps as victims only those that cannot return.
func (st *cycleState) selectVictims(ni *NodeInfo) *candidate {
	prio := st.pi.priority()
	sim := ni.clone()
	var potential []*PodInfo
	for _, p := range ni.Pods {
		if p.priority() < prio {
			potential = append(potential, p)
			sim.removePod(p.Key)
		}
	}
	if len(potential) == 0 || !st.filter(sim).ok() {
		return nil
	}
	sort.SliceStable(potential, func(i, j int) bool {
		pi, pj := potential[i].priority(), potential[j].priority()
		if pi != pj {
			return pi > pj
		}
		return potential[i].Pod.CreationTimestamp.Before(&potential[j].Pod.CreationTimestamp)
	})
	c := &candidate{node: ni.Node.Name}
	first := true
	for _, p := range potential {
		sim.addPod(p)
		if st.filter(sim).ok() {
			continue
		}
		sim.removePod(p.Key)
		c.victims = append(c.victims, p.Pod)
		c.sumPrio += int64(p.priority())
		if first {
			c.highestPrio, first = p.priority(), false
		}
	}
	if len(c.victims) == 0 {
		// Everything fit back: the pod failed for a reason evictions do
		// not change, such as inter-pod affinity.
		return nil
	}
	return c
}
