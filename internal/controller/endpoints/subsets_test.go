package endpoints

import (
	"fmt"
	"testing"

	"github.com/skiff-sh/skiff/internal/controller/endpointutil/endpointtest"
	corev1 "k8s.io/api/core/v1"
)

// BenchmarkDesired measures building a large Service's Endpoints object
// (subsets, repacking, truncation) and comparing it with the stored one,
// the work of a sync that finds nothing to write.
func BenchmarkDesired(b *testing.B) {
	for _, n := range []int{1000, 5000} {
		svc := endpointtest.Service()
		pods := make([]*corev1.Pod, n)
		for i := range pods {
			pods[i] = endpointtest.Pod(fmt.Sprintf("pod-%05d", i), fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255))
		}
		stored := desiredEndpoints(svc, nil, subsetsFor(svc, pods), endpointtest.T0)
		b.Run(fmt.Sprintf("pods=%d", n), func(b *testing.B) {
			for b.Loop() {
				want := desiredEndpoints(svc, stored, subsetsFor(svc, pods), endpointtest.T0)
				if !unchanged(stored, want) {
					b.Fatal("steady state would write")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/pod")
		})
	}
}
