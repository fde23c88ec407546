package server

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/internal/sim"
)

// clusterForBench starts a server with its controllers and n simulated nodes
// and returns a clientset.
func clusterForBench(b *testing.B, nodes int) kubernetes.Interface {
	cs := benchServer(b, benchSetup{controllers: true, protobuf: true})
	s, err := sim.New(nil, cs, sim.Config{Nodes: nodes, Concurrency: 64})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	simDone := make(chan error, 1)
	go func() { simDone <- s.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-simDone })
	<-s.Ready()
	return cs
}

// staticNodes registers n Ready nodes once, with no kubelet behind them, as
// upstream's scheduler_perf does: what is measured is the scheduler and the
// API, not heartbeats and pod status updates.
func staticNodes(b *testing.B, cs kubernetes.Interface, n int) {
	b.Helper()
	ctx := context.Background()
	var g errgroup.Group
	g.SetLimit(64)
	for i := range n {
		g.Go(func() error {
			node := &corev1.Node{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("node-%d", i), Labels: map[string]string{"kubernetes.io/hostname": fmt.Sprintf("node-%d", i)}},
				// Registered with their pod ranges, as in a cluster that
				// has run a while: more nodes than the default cluster
				// CIDR has ranges would keep the allocator retrying.
				Spec: corev1.NodeSpec{PodCIDR: fmt.Sprintf("10.%d.%d.0/24", 100+i/256, i%256)},
				Status: corev1.NodeStatus{
					Capacity:    corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("32"), corev1.ResourceMemory: resource.MustParse("256Gi"), corev1.ResourcePods: resource.MustParse("110")},
					Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("32"), corev1.ResourceMemory: resource.MustParse("256Gi"), corev1.ResourcePods: resource.MustParse("110")},
					Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Now()}},
				},
			}
			_, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkScheduleThroughput creates 10,000 pods on 5,000 nodes (override
// with SKIFF_BENCH_NODES / SKIFF_BENCH_PODS) and reports pods scheduled and
// bound per second, from the first create to the last bind. The nodes are
// simulated (heartbeats, pods started) unless SKIFF_BENCH_STATIC_NODES=1
// registers them once with nothing behind them, as upstream's
// scheduler_perf does.
func BenchmarkScheduleThroughput(b *testing.B) {
	nodes, pods := envInt("SKIFF_BENCH_NODES", 5000), envInt("SKIFF_BENCH_PODS", 10000)
	var cs kubernetes.Interface
	if os.Getenv("SKIFF_BENCH_STATIC_NODES") == "1" {
		cs = benchServer(b, benchSetup{controllers: true, protobuf: true})
		staticNodes(b, cs, nodes)
	} else {
		cs = clusterForBench(b, nodes)
	}
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		ns := fmt.Sprintf("bench-%d", i)
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		w, err := cs.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{})
		if err != nil {
			b.Fatal(err)
		}
		var bound atomic.Int64
		allBound := make(chan time.Time, 1)
		go func() {
			seen := map[string]bool{}
			for ev := range w.ResultChan() {
				p, ok := ev.Object.(*corev1.Pod)
				if !ok || ev.Type == watch.Deleted || p.Spec.NodeName == "" || seen[p.Name] {
					continue
				}
				seen[p.Name] = true
				if int(bound.Add(1)) == pods {
					allBound <- time.Now()
					return
				}
			}
		}()
		stopProfile := measuredProfile(b)
		start := time.Now()
		var g errgroup.Group
		g.SetLimit(64)
		for j := range pods {
			g.Go(func() error {
				_, err := cs.CoreV1().Pods(ns).Create(ctx, benchPod(fmt.Sprintf("p-%d", j)), metav1.CreateOptions{})
				return err
			})
		}
		if err := g.Wait(); err != nil {
			b.Fatal(err)
		}
		created := time.Since(start)
		var end time.Time
		select {
		case end = <-allBound:
		case <-time.After(5 * time.Minute):
			b.Fatalf("only %d of %d pods bound after 5 minutes", bound.Load(), pods)
		}
		w.Stop()
		stopProfile()
		elapsed := end.Sub(start)
		b.ReportMetric(float64(pods)/elapsed.Seconds(), "pods/s")
		b.ReportMetric(float64(pods)/created.Seconds(), "creates/s")
		b.ReportMetric(float64(rssBytes())/(1<<20), "rss-MiB")
	}
}

// measuredProfile writes a CPU profile of the measured phase alone to the
// file SKIFF_BENCH_CPUPROFILE names, leaving out the cluster's setup that
// -cpuprofile would include. It returns the function that stops it.
func measuredProfile(b *testing.B) func() {
	path := os.Getenv("SKIFF_BENCH_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			b.Error(err)
		}
	}
}

func envInt(name string, def int) int {
	var n int
	if _, err := fmt.Sscan(os.Getenv(name), &n); err != nil || n <= 0 {
		return def
	}
	return n
}

// rssBytes is this process's resident set size (server, etcd, sim and
// clients together).
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var size, resident int64
	fmt.Sscan(string(b), &size, &resident)
	return resident * int64(os.Getpagesize())
}

// BenchmarkDeployment1000 creates a Deployment of 1,000 replicas on 100
// simulated nodes and reports the time from create until the Deployment
// reports all replicas available.
func BenchmarkDeployment1000(b *testing.B) {
	cs := clusterForBench(b, envInt("SKIFF_BENCH_NODES", 100))
	ctx := context.Background()
	const replicas = 1000
	for i := 0; b.Loop(); i++ {
		d := benchDeployment(fmt.Sprintf("big-%d", i), replicas)
		w, err := cs.AppsV1().Deployments("default").Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + d.Name})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if _, err := cs.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		timeout := time.After(5 * time.Minute)
	wait:
		for {
			select {
			case ev := <-w.ResultChan():
				if got, ok := ev.Object.(*appsv1.Deployment); ok && got.Status.AvailableReplicas == replicas && got.Status.UpdatedReplicas == replicas {
					break wait
				}
			case <-timeout:
				b.Fatal("deployment not available after 5 minutes")
			}
		}
		w.Stop()
		b.ReportMetric(time.Since(start).Seconds(), "s-to-available")
	}
}

func benchDeployment(name string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
			},
		},
	}
}
