package scheduler

import (
	"errors"
	"hash/fnv"

	corev1 "k8s.io/api/core/v1"
)

// Options tune Schedule; the zero value is upstream's default behaviour.
type Options struct {
	// PercentageOfNodesToScore bounds how many feasible nodes are looked
	// for before scoring: 0 means adaptive (50% minus 1% per 125 nodes,
	// at least 5%), and never fewer than 100 nodes.
	PercentageOfNodesToScore int32
}

const minFeasibleNodesToFind = 100

// ErrNoNodes is returned when the snapshot holds no node at all.
var ErrNoNodes = errors.New("scheduler: no nodes available to schedule pods")

// Schedule picks a node for pod over snap with default options.
func Schedule(snap *Snapshot, pod *corev1.Pod) (string, error) {
	return ScheduleWithOptions(snap, pod, Options{})
}

// ScheduleWithOptions runs the filters, then scores a sample of feasible
// nodes and returns the best. It only reads snap. A pod that fits nowhere
// yields a *FitError.
func ScheduleWithOptions(snap *Snapshot, pod *corev1.Pod, opts Options) (string, error) {
	pi, err := NewPodInfo(pod)
	if err != nil {
		return "", err
	}
	return scheduleInfo(snap, pi, opts)
}

func scheduleInfo(snap *Snapshot, pi *PodInfo, opts Options) (string, error) {
	n := len(snap.nodes)
	if n == 0 {
		return "", ErrNoNodes
	}
	st, err := newCycleState(snap, pi)
	if err != nil {
		return "", err
	}
	seed := podSeed(pi.Key)

	// A nominated node is where preemption made room: try it first.
	nn := pi.Pod.Status.NominatedNodeName
	if nn == "" {
		nn = snap.nominatedFor[pi.Key]
	}
	if nn != "" {
		if ni := snap.NodeInfo(nn); ni != nil && st.filter(ni).ok() {
			return nn, nil
		}
	}

	want := numFeasibleNodesToFind(n, opts.PercentageOfNodesToScore)
	feasible := make([]*NodeInfo, 0, min(want, n))
	var fe *FitError
	start := int(seed % uint64(n))
	for i := 0; i < n && len(feasible) < want; i++ {
		idx := (start + i) % n
		ni := snap.nodes[idx]
		res := st.filter(ni)
		if res.ok() {
			feasible = append(feasible, ni)
			continue
		}
		if fe == nil {
			fe = &FitError{Pod: pi.Key, NumAllNodes: n, Reasons: make(map[string]int), unresolvable: make([]bool, n)}
		}
		for _, r := range res.reasons {
			fe.Reasons[r]++
		}
		fe.unresolvable[idx] = res.unresolvable
	}
	if len(feasible) == 0 {
		return "", fe
	}
	if len(feasible) == 1 {
		return feasible[0].Node.Name, nil
	}
	scores := st.score(feasible)
	return pickBest(feasible, scores, seed), nil
}

// numFeasibleNodesToFind mirrors upstream's percentageOfNodesToScore.
func numFeasibleNodesToFind(numAll int, percentage int32) int {
	if numAll < minFeasibleNodesToFind || percentage >= 100 {
		return numAll
	}
	p := int(percentage)
	if p <= 0 {
		p = 50 - numAll/125
		if p < 5 {
			p = 5
		}
	}
	return max(numAll*p/100, minFeasibleNodesToFind)
}

// podSeed derives a stable number from the pod's key; it picks the node
// to start the feasibility scan at and breaks score ties, so that pods
// spread over the cluster while Schedule stays deterministic.
func podSeed(key string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	return h.Sum64()
}

// pickBest returns the highest scoring node, choosing among ties by seed.
func pickBest(nodes []*NodeInfo, scores []int64, seed uint64) string {
	best := scores[0]
	ties := 0
	for _, s := range scores {
		switch {
		case s > best:
			best, ties = s, 1
		case s == best:
			ties++
		}
	}
	pick := int(seed % uint64(ties))
	chosen := 0
	for i, s := range scores {
		if s != best {
			continue
		}
		chosen = i
		if pick == 0 {
			break
		}
		pick--
	}
	return nodes[chosen].Node.Name
}
