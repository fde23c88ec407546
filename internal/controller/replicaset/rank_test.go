package replicaset

import (
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPodsToDelete(t *testing.T) {
	created := func(at time.Time) podOpt {
		return func(p *corev1.Pod) { p.CreationTimestamp = metav1.NewTime(at) }
	}
	running := func(name, node string, opts ...podOpt) *corev1.Pod {
		return newPod(name, append([]podOpt{onNode(node), ready(t0.Add(-time.Hour))}, opts...)...)
	}
	tests := []struct {
		name    string
		pods    []*corev1.Pod
		related []*corev1.Pod
		n       int
		want    []string
	}{
		{
			name: "unassigned before assigned",
			pods: []*corev1.Pod{running("assigned", "n1"), newPod("unassigned", phase(corev1.PodPending))},
			n:    1, want: []string{"unassigned"},
		},
		{
			name: "pending before unknown before running",
			pods: []*corev1.Pod{
				running("running", "n1"),
				newPod("unknown", onNode("n1"), phase(corev1.PodUnknown)),
				newPod("pending", onNode("n1"), phase(corev1.PodPending)),
			},
			n: 2, want: []string{"pending", "unknown"},
		},
		{
			name: "not ready before ready",
			pods: []*corev1.Pod{running("ready", "n1"), newPod("notready", onNode("n1"))},
			n:    1, want: []string{"notready"},
		},
		{
			name: "lower deletion cost first",
			pods: []*corev1.Pod{
				running("cheap", "n1", annotated(podDeletionCostAnnotation, "-5")),
				running("dear", "n1", annotated(podDeletionCostAnnotation, "100")),
				running("plain", "n1"),
			},
			n: 2, want: []string{"cheap", "plain"},
		},
		{
			name:    "crowded node first",
			pods:    []*corev1.Pod{running("alone", "n1"), running("crowded", "n2")},
			related: []*corev1.Pod{running("alone", "n1"), running("crowded", "n2"), running("sibling", "n2")},
			n:       1, want: []string{"crowded"},
		},
		{
			name: "ready for less time first",
			pods: []*corev1.Pod{
				newPod("veteran", onNode("n1"), ready(t0.Add(-24*time.Hour))),
				newPod("rookie", onNode("n1"), ready(t0.Add(-time.Minute))),
			},
			n: 1, want: []string{"rookie"},
		},
		{
			name: "more restarts first",
			pods: []*corev1.Pod{running("calm", "n1", restarts(1)), running("flaky", "n1", restarts(9))},
			n:    1, want: []string{"flaky"},
		},
		{
			name: "newer first",
			pods: []*corev1.Pod{
				running("old", "n1", created(t0.Add(-48*time.Hour))),
				running("new", "n1", created(t0.Add(-time.Minute))),
			},
			n: 1, want: []string{"new"},
		},
		{
			name: "all of them",
			pods: []*corev1.Pod{running("a", "n1"), running("b", "n1")},
			n:    3, want: []string{"a", "b"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			related := tc.related
			if related == nil {
				related = tc.pods
			}
			var got []string
			for _, p := range podsToDelete(tc.pods, related, tc.n, t0) {
				got = append(got, p.Name)
			}
			slices.Sort(got)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("deleted %v, want %v", got, want)
			}
		})
	}
}
