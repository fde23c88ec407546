package scheduler

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// benchCluster builds n nodes over 3 zones.
func benchCluster(b *testing.B, n int) *Snapshot {
	b.Helper()
	nodes := make([]*corev1.Node, n)
	for i := range nodes {
		nodes[i] = node(fmt.Sprintf("node-%05d", i), "8", "32Gi", withLabel(corev1.LabelTopologyZone, fmt.Sprintf("zone-%d", i%3)))
	}
	return snapshotOf(b, nodes, nil)
}

// benchPods builds pods from 100 ReplicaSets, each with typical requests.
func benchPods(n int) []*corev1.Pod {
	pods := make([]*corev1.Pod, n)
	for i := range pods {
		rs := fmt.Sprintf("rs-%d", i%100)
		pods[i] = pod(fmt.Sprintf("pod-%05d", i), "100m", "128Mi", podLabel("app", rs), ownedBy(rs))
	}
	return pods
}

// BenchmarkSchedule5000Nodes schedules 10,000 pending pods onto 5,000
// nodes through the pure core, assuming each placement like the running
// scheduler does, and reports the throughput.
func BenchmarkSchedule5000Nodes(b *testing.B) {
	const numNodes, numPods = 5000, 10000
	pods := benchPods(numPods)
	var elapsed time.Duration
	for b.Loop() {
		b.StopTimer()
		snap := benchCluster(b, numNodes)
		b.StartTimer()
		start := time.Now()
		for _, p := range pods {
			pi, err := NewPodInfo(p)
			if err != nil {
				b.Fatal(err)
			}
			name, err := scheduleInfo(snap, pi, Options{})
			if err != nil {
				b.Fatal(err)
			}
			snap.AddPod(pi, name)
		}
		elapsed += time.Since(start)
	}
	b.ReportMetric(float64(numPods*b.N)/elapsed.Seconds(), "pods/s")
}
