package replicaset

import (
	"math"
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiff-sh/skiff/internal/controller/podutil"
)

// podDeletionCostAnnotation lets users rank pods for scale-down: lower cost
// goes first.
const podDeletionCostAnnotation = "controller.kubernetes.io/pod-deletion-cost"

// relatedPods returns the active pods of every set sharing v's controller
// (a Deployment's ReplicaSets), or just pods when v has none. Scale-down
// prefers pods on nodes crowded with such siblings.
func (c *Controller) relatedPods(v *view, pods []*corev1.Pod) ([]*corev1.Pod, error) {
	owner := metav1.GetControllerOf(v.meta)
	if owner == nil {
		return pods, nil
	}
	sets, err := c.sets.list(v.meta.GetNamespace())
	if err != nil {
		return nil, err
	}
	siblings := map[types.UID]bool{}
	for _, s := range sets {
		if ref := metav1.GetControllerOf(s.meta); ref != nil && ref.UID == owner.UID {
			siblings[s.meta.GetUID()] = true
		}
	}
	all, err := c.pods.Pods(v.meta.GetNamespace()).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	var out []*corev1.Pod
	for _, p := range activePods(all) {
		if ref := metav1.GetControllerOf(p); ref != nil && siblings[ref.UID] {
			out = append(out, p)
		}
	}
	return out, nil
}

// podsToDelete picks the n pods scale-down removes first, ranked as
// upstream's ActivePodsWithRanks.
func podsToDelete(pods, related []*corev1.Pod, n int, now time.Time) []*corev1.Pod {
	if n >= len(pods) {
		return pods
	}
	r := rankedPods{pods: append([]*corev1.Pod(nil), pods...), now: now}
	r.rank = sameNodeRanks(r.pods, related)
	sort.Sort(r)
	return r.pods[:n]
}

// sameNodeRanks gives each pod the number of related pods on its node.
func sameNodeRanks(pods, related []*corev1.Pod) []int {
	perNode := map[string]int{}
	for _, p := range related {
		if p.Spec.NodeName != "" {
			perNode[p.Spec.NodeName]++
		}
	}
	ranks := make([]int, len(pods))
	for i, p := range pods {
		if p.Spec.NodeName != "" {
			ranks[i] = perNode[p.Spec.NodeName]
		}
	}
	return ranks
}

// phaseOrder ranks phases: a pod that has not started yet is cheaper to lose.
var phaseOrder = map[corev1.PodPhase]int{corev1.PodPending: 0, corev1.PodUnknown: 1, corev1.PodRunning: 2}

// rankedPods sorts pods so that the ones to delete first come first.
type rankedPods struct {
	pods []*corev1.Pod
	rank []int
	now  time.Time
}

func (r rankedPods) Len() int { return len(r.pods) }

func (r rankedPods) Swap(i, j int) {
	r.pods[i], r.pods[j] = r.pods[j], r.pods[i]
	r.rank[i], r.rank[j] = r.rank[j], r.rank[i]
}

func (r rankedPods) Less(i, j int) bool {
	a, b := r.pods[i], r.pods[j]
	// Unassigned before assigned.
	if (a.Spec.NodeName == "") != (b.Spec.NodeName == "") {
		return a.Spec.NodeName == ""
	}
	// Pending before Unknown before Running.
	if phaseOrder[a.Status.Phase] != phaseOrder[b.Status.Phase] {
		return phaseOrder[a.Status.Phase] < phaseOrder[b.Status.Phase]
	}
	// Not ready before ready.
	if podutil.IsPodReady(a) != podutil.IsPodReady(b) {
		return !podutil.IsPodReady(a)
	}
	// Lower deletion cost first.
	if ca, cb := deletionCost(a), deletionCost(b); ca != cb {
		return ca < cb
	}
	// More siblings on the same node first.
	if r.rank[i] != r.rank[j] {
		return r.rank[i] > r.rank[j]
	}
	// Ready for less time first, compared in logarithmic buckets so pods of
	// similar age are treated alike.
	if podutil.IsPodReady(a) && podutil.IsPodReady(b) {
		if ta, tb := readySince(a), readySince(b); !ta.Equal(&tb) {
			return r.newerFirst(ta, tb, a.UID, b.UID)
		}
	}
	// More restarts first.
	if ra, rb := maxRestarts(a), maxRestarts(b); ra != rb {
		return ra > rb
	}
	// Newer first.
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return r.newerFirst(a.CreationTimestamp, b.CreationTimestamp, a.UID, b.UID)
	}
	return false
}

// newerFirst orders two different timestamps for deletion: zero first, then
// the younger one when their logarithmic age buckets differ. Within one
// bucket the UIDs decide, which spreads scale-down over pods of similar age
// as upstream's LogarithmicScaleDown does.
func (r rankedPods) newerFirst(ta, tb metav1.Time, ua, ub types.UID) bool {
	if ta.IsZero() || tb.IsZero() {
		return ta.IsZero()
	}
	if diff := ageBucket(r.now, ta.Time) - ageBucket(r.now, tb.Time); diff != 0 {
		return diff < 0
	}
	return ua < ub
}

// ageBucket is the base-2 logarithm of the age, -1 for no age.
func ageBucket(now, t time.Time) int {
	d := now.Sub(t)
	if d <= 0 {
		return -1
	}
	return int(math.Log2(float64(d)))
}

func readySince(p *corev1.Pod) metav1.Time {
	if c := podutil.ReadyCondition(p); c != nil {
		return c.LastTransitionTime
	}
	return metav1.Time{}
}

func deletionCost(p *corev1.Pod) int32 {
	v, ok := p.Annotations[podDeletionCostAnnotation]
	if !ok {
		return 0
	}
	cost, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0
	}
	return int32(cost)
}

func maxRestarts(p *corev1.Pod) int32 {
	var m int32
	for _, s := range p.Status.ContainerStatuses {
		m = max(m, s.RestartCount)
	}
	return m
}
