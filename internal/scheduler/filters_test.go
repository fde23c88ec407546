package scheduler

import (
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestScheduleFilters(t *testing.T) {
	zoneKey := corev1.LabelTopologyZone
	cases := []struct {
		name     string
		nodes    []*corev1.Node
		existing []*corev1.Pod
		pod      *corev1.Pod
		want     string // node name, or empty when an error is expected
		wantErr  string
	}{
		{
			name:  "fits the only node with room",
			nodes: []*corev1.Node{node("n1", "1", "1Gi"), node("n2", "4", "4Gi")},
			pod:   pod("p", "2", "1Gi"),
			want:  "n2",
		},
		{
			name:     "requests of bound pods are subtracted",
			nodes:    []*corev1.Node{node("n1", "4", "4Gi"), node("n2", "4", "4Gi")},
			existing: []*corev1.Pod{pod("a", "3", "1Gi", onNode("n1"))},
			pod:      pod("p", "2", "1Gi"),
			want:     "n2",
		},
		{
			name:    "insufficient cpu and memory",
			nodes:   []*corev1.Node{node("n1", "1", "1Gi"), node("n2", "1", "8Gi")},
			pod:     pod("p", "2", "2Gi"),
			wantErr: "0/2 nodes are available: 1 Insufficient memory, 2 Insufficient cpu.",
		},
		{
			name:     "too many pods",
			nodes:    []*corev1.Node{node("n1", "4", "4Gi", withAllocatable(corev1.ResourcePods, "1"))},
			existing: []*corev1.Pod{pod("a", "", "", onNode("n1"))},
			pod:      pod("p", "", ""),
			wantErr:  "0/1 nodes are available: 1 Too many pods.",
		},
		{
			name:  "extended resource",
			nodes: []*corev1.Node{node("n1", "4", "4Gi"), node("gpu", "4", "4Gi", withAllocatable("example.com/gpu", "2"))},
			pod:   withRequest(pod("p", "1", ""), "example.com/gpu", "1"),
			want:  "gpu",
		},
		{
			name:    "extended resource missing everywhere",
			nodes:   []*corev1.Node{node("n1", "4", "4Gi")},
			pod:     withRequest(pod("p", "1", ""), "example.com/gpu", "1"),
			wantErr: "0/1 nodes are available: 1 Insufficient example.com/gpu.",
		},
		{
			name:  "init container max rule",
			nodes: []*corev1.Node{node("n1", "2", "4Gi"), node("n2", "4", "4Gi")},
			pod: func() *corev1.Pod {
				p := pod("p", "1", "")
				p.Spec.InitContainers = []corev1.Container{{Name: "init", Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("3")}}}}
				return p
			}(),
			want: "n2",
		},
		{
			name:  "pod overhead counts",
			nodes: []*corev1.Node{node("n1", "1", "4Gi"), node("n2", "2", "4Gi")},
			pod: func() *corev1.Pod {
				p := pod("p", "1", "")
				p.Spec.Overhead = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")}
				return p
			}(),
			want: "n2",
		},
		{
			name:    "cordoned node",
			nodes:   []*corev1.Node{node("n1", "4", "4Gi", cordoned())},
			pod:     pod("p", "1", ""),
			wantErr: "0/1 nodes are available: 1 node(s) were unschedulable.",
		},
		{
			name:  "cordoned node tolerated",
			nodes: []*corev1.Node{node("n1", "4", "4Gi", cordoned())},
			pod:   pod("p", "1", "", toleration(corev1.Toleration{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule})),
			want:  "n1",
		},
		{
			name:  "node selector",
			nodes: []*corev1.Node{node("n1", "4", "4Gi"), node("n2", "4", "4Gi", withLabel("disk", "ssd"))},
			pod:   pod("p", "1", "", nodeSelector("disk", "ssd")),
			want:  "n2",
		},
		{
			name:    "node selector matches nothing",
			nodes:   []*corev1.Node{node("n1", "4", "4Gi")},
			pod:     pod("p", "1", "", nodeSelector("disk", "ssd")),
			wantErr: "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.",
		},
		{
			name:  "required node affinity with Gt and NotIn",
			nodes: []*corev1.Node{node("n1", "4", "4Gi", withLabel("gen", "3")), node("n2", "4", "4Gi", withLabel("gen", "5")), node("n3", "4", "4Gi", withLabel("gen", "7"))},
			pod: pod("p", "1", "", affinity(&corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
					MatchExpressions: []corev1.NodeSelectorRequirement{
						{Key: "gen", Operator: corev1.NodeSelectorOpGt, Values: []string{"4"}},
						{Key: "gen", Operator: corev1.NodeSelectorOpNotIn, Values: []string{"7"}},
					},
				}}},
			}})),
			want: "n2",
		},
		{
			name: "untolerated taints",
			nodes: []*corev1.Node{
				node("n1", "4", "4Gi", withTaint("node.kubernetes.io/unreachable", "", corev1.TaintEffectNoExecute)),
				node("n2", "4", "4Gi", withTaint("dedicated", "gpu", corev1.TaintEffectNoSchedule)),
				node("n3", "1", "4Gi"),
			},
			pod:     pod("p", "2", ""),
			wantErr: "0/3 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {dedicated: gpu}, 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }.",
		},
		{
			name:  "tolerated taint and PreferNoSchedule ignored by filter",
			nodes: []*corev1.Node{node("n1", "4", "4Gi", withTaint("dedicated", "gpu", corev1.TaintEffectNoSchedule), withTaint("x", "", corev1.TaintEffectPreferNoSchedule))},
			pod:   pod("p", "1", "", toleration(corev1.Toleration{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule})),
			want:  "n1",
		},
		{
			name:     "host port conflict",
			nodes:    []*corev1.Node{node("n1", "4", "4Gi"), node("n2", "4", "4Gi")},
			existing: []*corev1.Pod{pod("a", "", "", onNode("n1"), hostPortOpt(8080))},
			pod:      pod("p", "", "", hostPortOpt(8080)),
			want:     "n2",
		},
		{
			name:     "host port conflict everywhere",
			nodes:    []*corev1.Node{node("n1", "4", "4Gi")},
			existing: []*corev1.Pod{pod("a", "", "", onNode("n1"), hostPortOpt(8080))},
			pod:      pod("p", "", "", hostPortOpt(8080)),
			wantErr:  "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports.",
		},
		{
			name:     "required pod affinity",
			nodes:    []*corev1.Node{node("n1", "4", "4Gi", withLabel(zoneKey, "a")), node("n2", "4", "4Gi", withLabel(zoneKey, "b"))},
			existing: []*corev1.Pod{pod("db", "", "", onNode("n2"), podLabel("app", "db"))},
			pod: pod("p", "", "", affinity(&corev1.Affinity{PodAffinity: &corev1.PodAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{LabelSelector: labelSelector("app", "db"), TopologyKey: zoneKey}},
			}})),
			want: "n2",
		},
		{
			name:  "required pod affinity with no match anywhere",
			nodes: []*corev1.Node{node("n1", "4", "4Gi", withLabel(zoneKey, "a"))},
			pod: pod("p", "", "", affinity(&corev1.Affinity{PodAffinity: &corev1.PodAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{LabelSelector: labelSelector("app", "db"), TopologyKey: zoneKey}},
			}})),
			wantErr: "0/1 nodes are available: 1 node(s) didn't match pod affinity rules.",
		},
		{
			name:     "required pod anti-affinity",
			nodes:    []*corev1.Node{node("n1", "4", "4Gi"), node("n2", "4", "4Gi")},
			existing: []*corev1.Pod{pod("w1", "", "", onNode("n1"), podLabel("app", "web"))},
			pod: pod("p", "", "", podLabel("app", "web"), affinity(&corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{LabelSelector: labelSelector("app", "web"), TopologyKey: corev1.LabelHostname}},
			}})),
			want: "n2",
		},
		{
			name:  "existing pod anti-affinity",
			nodes: []*corev1.Node{node("n1", "4", "4Gi")},
			existing: []*corev1.Pod{pod("loner", "", "", onNode("n1"), affinity(&corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{LabelSelector: labelSelector("app", "web"), TopologyKey: corev1.LabelHostname}},
			}}))},
			pod:     pod("p", "", "", podLabel("app", "web")),
			wantErr: "0/1 nodes are available: 1 node(s) didn't satisfy existing pods anti-affinity rules.",
		},
		{
			name:  "topology spread DoNotSchedule",
			nodes: []*corev1.Node{node("n1", "4", "4Gi", withLabel(zoneKey, "a")), node("n2", "4", "4Gi", withLabel(zoneKey, "b")), node("n3", "4", "4Gi")},
			existing: []*corev1.Pod{
				pod("w1", "", "", onNode("n1"), podLabel("app", "web")),
			},
			pod:  withSpread(pod("p", "", "", podLabel("app", "web")), zoneKey, corev1.DoNotSchedule),
			want: "n2",
		},
		{
			name:    "topology spread missing label",
			nodes:   []*corev1.Node{node("n3", "4", "4Gi")},
			pod:     withSpread(pod("p", "", "", podLabel("app", "web")), zoneKey, corev1.DoNotSchedule),
			wantErr: "0/1 nodes are available: 1 node(s) didn't match pod topology spread constraints (missing required label).",
		},
		{
			name:  "topology spread skew exceeded",
			nodes: []*corev1.Node{node("n1", "4", "4Gi", withLabel(zoneKey, "a")), node("n2", "4", "4Gi", withLabel(zoneKey, "b"), withTaint("t", "", corev1.TaintEffectNoSchedule))},
			existing: []*corev1.Pod{
				pod("w1", "", "", onNode("n1"), podLabel("app", "web")),
			},
			pod:     withSpread(pod("p", "", "", podLabel("app", "web")), zoneKey, corev1.DoNotSchedule),
			wantErr: "0/2 nodes are available: 1 node(s) didn't match pod topology spread constraints, 1 node(s) had untolerated taint {t: }.",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			snap := snapshotOf(t, tc.nodes, tc.existing)
			got, err := Schedule(snap, tc.pod)
			if tc.wantErr != "" {
				var fe *FitError
				if !errors.As(err, &fe) {
					t.Fatalf("Schedule() = %q, %v; want FitError", got, err)
				}
				if err.Error() != tc.wantErr {
					t.Fatalf("message:\n got %q\nwant %q", err.Error(), tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Schedule() = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func withRequest(p *corev1.Pod, name corev1.ResourceName, q string) *corev1.Pod {
	p.Spec.Containers[0].Resources.Requests[name] = resource.MustParse(q)
	return p
}

func withSpread(p *corev1.Pod, key string, when corev1.UnsatisfiableConstraintAction) *corev1.Pod {
	p.Spec.TopologySpreadConstraints = append(p.Spec.TopologySpreadConstraints, corev1.TopologySpreadConstraint{
		MaxSkew: 1, TopologyKey: key, WhenUnsatisfiable: when, LabelSelector: labelSelector("app", p.Labels["app"]),
	})
	return p
}

func TestScheduleNoNodes(t *testing.T) {
	if _, err := Schedule(NewSnapshot(), pod("p", "", "")); !errors.Is(err, ErrNoNodes) {
		t.Fatalf("err = %v, want ErrNoNodes", err)
	}
}

func TestNumFeasibleNodesToFind(t *testing.T) {
	cases := []struct {
		name    string
		nodes   int
		percent int32
		want    int
	}{
		{"small cluster scans all", 50, 0, 50},
		{"adaptive 1000 nodes", 1000, 0, 420},
		{"adaptive 5000 nodes", 5000, 0, 500},
		{"adaptive floor 5%", 10000, 0, 500},
		{"at least 100", 300, 10, 100},
		{"explicit percentage", 5000, 30, 1500},
		{"100 percent", 5000, 100, 5000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := numFeasibleNodesToFind(tc.nodes, tc.percent); got != tc.want {
				t.Fatalf("got %d, want %d", got, tc.want)
			}
		})
	}
}
