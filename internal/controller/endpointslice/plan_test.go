package endpointslice

import (
	"fmt"
	"testing"

	"github.com/skiff-sh/skiff/internal/controller/endpointutil/endpointtest"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

func TestClosestFit(t *testing.T) {
	withEndpoints := func(n int) *discoveryv1.EndpointSlice {
		return &discoveryv1.EndpointSlice{Endpoints: make([]discoveryv1.Endpoint, n)}
	}
	candidates := []*discoveryv1.EndpointSlice{withEndpoints(5), withEndpoints(8), withEndpoints(2)}
	tests := []struct {
		name string
		n    int
		want int
	}{
		{name: "fills the fullest slice it fits", n: 2, want: 1},
		{name: "exact fit", n: 5, want: 0},
		{name: "only the emptiest has room", n: 7, want: 2},
		{name: "none has room", n: 9, want: -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := closestFit(candidates, tc.n, 10); got != tc.want {
				t.Errorf("closestFit(n=%d) = %d, want %d", tc.n, got, tc.want)
			}
		})
	}
}

func TestPlanIsStable(t *testing.T) {
	svc, pods, nodes := benchService(250)
	want, err := desired(svc, pods, nodes)
	if err != nil {
		t.Fatal(err)
	}
	first := planSlices(svc, nil, want, 100)
	if len(first.create) != 3 || len(first.update)+len(first.delete) != 0 {
		t.Fatalf("first plan: %d creates, %d updates, %d deletes; want 3 creates", len(first.create), len(first.update), len(first.delete))
	}
	stored := store(first.create)
	again := planSlices(svc, stored, want, 100)
	if n := len(again.create) + len(again.update) + len(again.delete); n != 0 {
		t.Errorf("replanning the stored slices makes %d writes, want none", n)
	}
}

// store names created slices as the server would.
func store(created []*discoveryv1.EndpointSlice) []*discoveryv1.EndpointSlice {
	for i, s := range created {
		s.Name = fmt.Sprintf("%s%05d", s.GenerateName, i)
		s.UID = types.UID(s.Name)
		s.ResourceVersion = "1"
	}
	return created
}

// benchService returns a Service with n ready pods on one node.
func benchService(n int) (*corev1.Service, []*corev1.Pod, corelisters.NodeLister) {
	svc := endpointtest.Service()
	pods := make([]*corev1.Pod, n)
	for i := range pods {
		pods[i] = endpointtest.Pod(fmt.Sprintf("pod-%05d", i), fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255))
	}
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	_ = idx.Add(endpointtest.Node("node-a", "zone-1"))
	return svc, pods, corelisters.NewNodeLister(idx)
}

// BenchmarkSync measures what one sync computes for a large Service, with
// its slices already stored: the steady state (no writes) and one pod
// turning not ready (one slice rewritten).
func BenchmarkSync(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		svc, pods, nodes := benchService(n)
		want, err := desired(svc, pods, nodes)
		if err != nil {
			b.Fatal(err)
		}
		stored := store(planSlices(svc, nil, want, defaultMaxEndpointsPerSlice).create)

		b.Run(fmt.Sprintf("steady/pods=%d", n), func(b *testing.B) {
			for b.Loop() {
				want, _ := desired(svc, pods, nodes)
				if p := planSlices(svc, stored, want, defaultMaxEndpointsPerSlice); len(p.update) != 0 {
					b.Fatal("steady state plans writes")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/pod")
		})

		changed := append([]*corev1.Pod(nil), pods...)
		changed[n/2] = endpointtest.Pod(pods[n/2].Name, pods[n/2].Status.PodIP, endpointtest.NotReady())
		b.Run(fmt.Sprintf("onechanged/pods=%d", n), func(b *testing.B) {
			var writes int
			for b.Loop() {
				want, _ := desired(svc, changed, nodes)
				p := planSlices(svc, stored, want, defaultMaxEndpointsPerSlice)
				writes = len(p.create) + len(p.update) + len(p.delete)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/pod")
			b.ReportMetric(float64(writes), "writes/sync")
		})
	}
}
