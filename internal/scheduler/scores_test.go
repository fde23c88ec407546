package scheduler

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestScheduleScores(t *testing.T) {
	zoneKey := corev1.LabelTopologyZone
	cases := []struct {
		name     string
		nodes    []*corev1.Node
		existing []*corev1.Pod
		pod      *corev1.Pod
		want     string
	}{
		{
			name:     "least allocated prefers the emptier node",
			nodes:    []*corev1.Node{node("n1", "4", "8Gi"), node("n2", "4", "8Gi")},
			existing: []*corev1.Pod{pod("a", "3", "6Gi", onNode("n1"))},
			pod:      pod("p", "500m", "512Mi"),
			want:     "n2",
		},
		{
			name:  "preferred node affinity",
			nodes: []*corev1.Node{node("n1", "4", "8Gi"), node("n2", "4", "8Gi", withLabel("disk", "ssd"))},
			pod: pod("p", "", "", affinity(&corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
				PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{
					Weight:     10,
					Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "disk", Operator: corev1.NodeSelectorOpIn, Values: []string{"ssd"}}}},
				}},
			}})),
			want: "n2",
		},
		{
			name:  "PreferNoSchedule taint avoided",
			nodes: []*corev1.Node{node("n1", "4", "8Gi", withTaint("spot", "", corev1.TaintEffectPreferNoSchedule)), node("n2", "4", "8Gi")},
			pod:   pod("p", "", ""),
			want:  "n2",
		},
		{
			name:     "preferred pod affinity",
			nodes:    []*corev1.Node{node("n1", "4", "8Gi", withLabel(zoneKey, "a")), node("n2", "4", "8Gi", withLabel(zoneKey, "b"))},
			existing: []*corev1.Pod{pod("cache", "", "", onNode("n2"), podLabel("app", "cache"))},
			pod: pod("p", "", "", affinity(&corev1.Affinity{PodAffinity: &corev1.PodAffinity{
				PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
					Weight: 100, PodAffinityTerm: corev1.PodAffinityTerm{LabelSelector: labelSelector("app", "cache"), TopologyKey: zoneKey},
				}},
			}})),
			want: "n2",
		},
		{
			name:     "preferred pod anti-affinity",
			nodes:    []*corev1.Node{node("n1", "4", "8Gi"), node("n2", "4", "8Gi")},
			existing: []*corev1.Pod{pod("w", "", "", onNode("n1"), podLabel("app", "web"))},
			pod: pod("p", "", "", affinity(&corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
				PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
					Weight: 100, PodAffinityTerm: corev1.PodAffinityTerm{LabelSelector: labelSelector("app", "web"), TopologyKey: corev1.LabelHostname},
				}},
			}})),
			want: "n2",
		},
		{
			name:  "topology spread ScheduleAnyway",
			nodes: []*corev1.Node{node("n1", "4", "8Gi", withLabel(zoneKey, "a")), node("n2", "4", "8Gi", withLabel(zoneKey, "b"))},
			existing: []*corev1.Pod{
				pod("w1", "", "", onNode("n1"), podLabel("app", "web")),
				pod("w2", "", "", onNode("n1"), podLabel("app", "web")),
			},
			pod:  withSpread(pod("p", "", "", podLabel("app", "web")), zoneKey, corev1.ScheduleAnyway),
			want: "n2",
		},
		{
			name:  "replicas of one controller spread",
			nodes: []*corev1.Node{node("n1", "4", "8Gi"), node("n2", "4", "8Gi")},
			existing: []*corev1.Pod{
				pod("r1", "", "", onNode("n1"), ownedBy("rs-1")),
				pod("other", "", "", onNode("n2"), ownedBy("rs-2")),
			},
			pod:  pod("p", "", "", ownedBy("rs-1")),
			want: "n2",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			snap := snapshotOf(t, tc.nodes, tc.existing)
			got, err := Schedule(snap, tc.pod)
			if err != nil || got != tc.want {
				t.Fatalf("Schedule() = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// TestScheduleSpreadsEqualNodes checks that ties are broken across nodes
// instead of always picking the first one.
func TestScheduleSpreadsEqualNodes(t *testing.T) {
	snap := snapshotOf(t, []*corev1.Node{node("n1", "4", "8Gi"), node("n2", "4", "8Gi"), node("n3", "4", "8Gi")}, nil)
	seen := map[string]bool{}
	for _, name := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"} {
		n, err := Schedule(snap, pod(name, "", ""))
		if err != nil {
			t.Fatal(err)
		}
		seen[n] = true
	}
	if len(seen) < 2 {
		t.Fatalf("all pods went to %v", seen)
	}
}
