package scheduler

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestSnapshotAccounting(t *testing.T) {
	cases := []struct {
		name    string
		steps   func(t *testing.T, s *Snapshot)
		node    string
		wantCPU int64
		wantN   int
	}{
		{
			name: "pod before its node is adopted",
			steps: func(t *testing.T, s *Snapshot) {
				addBound(t, s, pod("a", "1", "", onNode("n1")))
				s.SetNode(node("n1", "4", "4Gi"))
			},
			node: "n1", wantCPU: 1000, wantN: 1,
		},
		{
			name: "assumed pod replaced by its confirmation",
			steps: func(t *testing.T, s *Snapshot) {
				s.SetNode(node("n1", "4", "4Gi"))
				addBound(t, s, pod("a", "1", "", onNode("n1")))
				addBound(t, s, pod("a", "1", "", onNode("n1")))
			},
			node: "n1", wantCPU: 1000, wantN: 1,
		},
		{
			name: "forgetting an assumption",
			steps: func(t *testing.T, s *Snapshot) {
				s.SetNode(node("n1", "4", "4Gi"))
				pi := addBound(t, s, pod("a", "1", "", onNode("n1")))
				s.forgetAssumed(pi)
			},
			node: "n1", wantCPU: 0, wantN: 0,
		},
		{
			name: "forgetting a confirmed pod is a no-op",
			steps: func(t *testing.T, s *Snapshot) {
				s.SetNode(node("n1", "4", "4Gi"))
				pi := addBound(t, s, pod("a", "1", "", onNode("n1")))
				addBound(t, s, pod("a", "1", "", onNode("n1")))
				s.forgetAssumed(pi)
			},
			node: "n1", wantCPU: 1000, wantN: 1,
		},
		{
			name: "node removed and re-added keeps its pods",
			steps: func(t *testing.T, s *Snapshot) {
				s.SetNode(node("n1", "4", "4Gi"))
				s.SetNode(node("n2", "4", "4Gi"))
				addBound(t, s, pod("a", "2", "", onNode("n1")))
				s.RemoveNode("n1")
				s.SetNode(node("n1", "4", "4Gi"))
			},
			node: "n1", wantCPU: 2000, wantN: 1,
		},
		{
			name: "pod removal",
			steps: func(t *testing.T, s *Snapshot) {
				s.SetNode(node("n1", "4", "4Gi"))
				addBound(t, s, pod("a", "2", "", onNode("n1"), hostPortOpt(80)))
				addBound(t, s, pod("b", "1", "", onNode("n1")))
				s.RemovePod("default/a")
			},
			node: "n1", wantCPU: 1000, wantN: 1,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := NewSnapshot()
			tc.steps(t, s)
			ni := s.NodeInfo(tc.node)
			if ni == nil {
				t.Fatalf("node %s missing", tc.node)
			}
			if ni.Requested.MilliCPU != tc.wantCPU || len(ni.Pods) != tc.wantN {
				t.Fatalf("requested cpu %d pods %d, want %d %d", ni.Requested.MilliCPU, len(ni.Pods), tc.wantCPU, tc.wantN)
			}
			for _, pi := range ni.Pods {
				if len(pi.ports) == 0 && len(ni.usedPorts) != 0 {
					t.Fatalf("ports of removed pods still used: %v", ni.usedPorts)
				}
			}
		})
	}
}

func addBound(t *testing.T, s *Snapshot, p *corev1.Pod) *PodInfo {
	t.Helper()
	pi, err := NewPodInfo(p)
	if err != nil {
		t.Fatal(err)
	}
	s.AddPod(pi, p.Spec.NodeName)
	return pi
}

func TestPodRequests(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	cases := []struct {
		name    string
		mutate  func(*corev1.Pod)
		wantCPU int64
		wantNZ  int64
	}{
		{"plain", func(*corev1.Pod) {}, 1000, 1000},
		{"init container larger", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "i", Resources: withCPU("3")}}
		}, 3000, 3000},
		{"sidecar adds to app containers", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "s", RestartPolicy: &always, Resources: withCPU("500m")}}
		}, 1500, 1500},
		{"zero request scores as default", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources = corev1.ResourceRequirements{}
		}, 0, defaultMilliCPURequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := pod("p", "1", "")
			tc.mutate(p)
			req, nz := podRequests(p)
			if req.MilliCPU != tc.wantCPU || nz.MilliCPU != tc.wantNZ {
				t.Fatalf("cpu %d nonzero %d, want %d %d", req.MilliCPU, nz.MilliCPU, tc.wantCPU, tc.wantNZ)
			}
		})
	}
}

func withCPU(q string) corev1.ResourceRequirements {
	return pod("x", q, "").Spec.Containers[0].Resources
}
