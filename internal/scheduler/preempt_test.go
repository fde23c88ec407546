package scheduler

import (
	"errors"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestPreempt(t *testing.T) {
	never := corev1.PreemptNever
	cases := []struct {
		name        string
		nodes       []*corev1.Node
		existing    []*corev1.Pod
		pod         *corev1.Pod
		wantNode    string
		wantVictims []string
		wantMsg     string
	}{
		{
			name:  "evicts the lowest priority pods needed",
			nodes: []*corev1.Node{node("n1", "4", "8Gi")},
			existing: []*corev1.Pod{
				pod("low1", "1", "", onNode("n1"), priority(1)),
				pod("low2", "2", "", onNode("n1"), priority(2)),
				pod("mid", "1", "", onNode("n1"), priority(5)),
			},
			pod:         pod("p", "2", "", priority(10)),
			wantNode:    "n1",
			wantVictims: []string{"low2"},
		},
		{
			name:  "prefers the node whose victims have lower priority",
			nodes: []*corev1.Node{node("n1", "2", "8Gi"), node("n2", "2", "8Gi")},
			existing: []*corev1.Pod{
				pod("a", "2", "", onNode("n1"), priority(5)),
				pod("b", "2", "", onNode("n2"), priority(1)),
			},
			pod:         pod("p", "1", "", priority(10)),
			wantNode:    "n2",
			wantVictims: []string{"b"},
		},
		{
			name:     "higher priority pods are never victims",
			nodes:    []*corev1.Node{node("n1", "2", "8Gi")},
			existing: []*corev1.Pod{pod("a", "2", "", onNode("n1"), priority(100))},
			pod:      pod("p", "1", "", priority(10)),
			wantMsg:  "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.",
		},
		{
			name:     "taints make preemption useless",
			nodes:    []*corev1.Node{node("n1", "2", "8Gi", withTaint("k", "v", corev1.TaintEffectNoSchedule))},
			existing: []*corev1.Pod{pod("a", "2", "", onNode("n1"))},
			pod:      pod("p", "1", "", priority(10)),
			wantMsg:  "0/1 nodes are available: 1 node(s) had untolerated taint {k: v}. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
		},
		{
			name:     "preemptionPolicy Never",
			nodes:    []*corev1.Node{node("n1", "2", "8Gi")},
			existing: []*corev1.Pod{pod("a", "2", "", onNode("n1"))},
			pod:      pod("p", "1", "", priority(10), func(p *corev1.Pod) { p.Spec.PreemptionPolicy = &never }),
			wantMsg:  "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			snap := snapshotOf(t, tc.nodes, tc.existing)
			_, err := Schedule(snap, tc.pod)
			var fe *FitError
			if !errors.As(err, &fe) {
				t.Fatalf("Schedule err = %v, want FitError", err)
			}
			plan, msg := Preempt(snap, tc.pod, fe)
			if tc.wantMsg != "" {
				fe.PostFilterMsg = msg
				if plan != nil || fe.Error() != tc.wantMsg {
					t.Fatalf("plan %+v message:\n got %q\nwant %q", plan, fe.Error(), tc.wantMsg)
				}
				return
			}
			if plan == nil {
				t.Fatalf("no plan: %s", msg)
			}
			var victims []string
			for _, v := range plan.Victims {
				victims = append(victims, v.Name)
			}
			slices.Sort(victims)
			if plan.NodeName != tc.wantNode || !slices.Equal(victims, tc.wantVictims) {
				t.Fatalf("plan = %s %v, want %s %v", plan.NodeName, victims, tc.wantNode, tc.wantVictims)
			}
		})
	}
}

// TestNominatedPodReservesRoom checks that a lower-priority pod cannot
// take the room preemption made for a nominated pod.
func TestNominatedPodReservesRoom(t *testing.T) {
	snap := snapshotOf(t, []*corev1.Node{node("n1", "2", "8Gi")}, nil)
	big, err := NewPodInfo(pod("big", "2", "", priority(10)))
	if err != nil {
		t.Fatal(err)
	}
	snap.SetNominated(big, "n1")
	if _, err := Schedule(snap, pod("small", "1", "", priority(1))); err == nil {
		t.Fatal("low priority pod took the nominated room")
	}
	if n, err := Schedule(snap, pod("big", "2", "", priority(10))); err != nil || n != "n1" {
		t.Fatalf("nominated pod: %q, %v", n, err)
	}
}
