package server

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/internal/storage/storagetest"
)

// benchServer starts a server for a benchmark and returns a clientset.
func benchServer(b *testing.B, setup benchSetup) *kubernetes.Clientset {
	return benchClients(b, 1, setup)[0]
}

// benchSetup says what a benchmark's server runs and how its clients talk.
type benchSetup struct {
	// controllers runs the scheduler and the controller manager.
	controllers bool
	// protobuf makes the clients send and accept protobuf, as the
	// components of a cluster do; kubectl and most tools speak JSON.
	protobuf bool
}

// benchClients starts a server for a benchmark and returns n clientsets,
// each with its own connection, as n separate clients would have.
func benchClients(b *testing.B, n int, setup benchSetup) []*kubernetes.Clientset {
	b.Helper()
	srv, err := New(nil, Config{
		DataDir:        b.TempDir(),
		HTTPSPort:      storagetest.FreePort(b),
		EtcdClientPort: storagetest.FreePort(b),
		EtcdPeerPort:   storagetest.FreePort(b),
		// The API benchmarks measure the API alone: a scheduler would
		// answer every nodeless pod with a status write and an event.
		DisableControllerManager: !setup.controllers,
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done })
	select {
	case <-srv.Ready():
	case err := <-done:
		b.Fatalf("server exited: %v", err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", srv.KubeconfigPath())
	if err != nil {
		b.Fatal(err)
	}
	cfg.QPS, cfg.Burst = -1, 0 // no client-side rate limit: measure the server
	if setup.protobuf {
		cfg.ContentType = "application/vnd.kubernetes.protobuf"
	}
	out := make([]*kubernetes.Clientset, n)
	for i := range out {
		c := rest.CopyConfig(cfg)
		// A custom dialer keeps client-go from sharing one cached transport.
		c.Dial = (&net.Dialer{}).DialContext
		out[i] = kubernetes.NewForConfigOrDie(c)
	}
	return out
}

func benchPod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "bench"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
}

func percentile(d []time.Duration, p float64) time.Duration {
	slices.Sort(d)
	return d[int(float64(len(d)-1)*p)]
}

// BenchmarkPodCreate creates pods one after another from a single client over
// loopback and reports the latency percentiles.
func BenchmarkPodCreate(b *testing.B) {
	cs := benchServer(b, benchSetup{})
	ctx := context.Background()
	var lat []time.Duration
	i := 0
	for b.Loop() {
		start := time.Now()
		if _, err := cs.CoreV1().Pods("default").Create(ctx, benchPod(fmt.Sprintf("p-%d", i)), metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
		i++
	}
	b.ReportMetric(float64(percentile(lat, 0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99-ms")
}

// BenchmarkWatchFanout keeps 1,000 watchers on pods, spread over 10 client
// connections, creates pods one at a time and reports how long each watcher
// took to receive each ADDED event.
func BenchmarkWatchFanout(b *testing.B) {
	const watchers, clients = 1000, 10
	all := benchClients(b, clients, benchSetup{})
	cs := all[0]
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	created := map[string]time.Time{}
	var lat []time.Duration
	for n := range watchers {
		// Watchers read raw event lines: the figure is the server's delivery
		// latency, not the cost of 1,000 in-process clients decoding pods.
		stream, err := all[n%clients].CoreV1().RESTClient().Get().Namespace("default").Resource("pods").
			Param("watch", "true").Param("resourceVersion", list.ResourceVersion).Stream(ctx)
		if err != nil {
			b.Fatal(err)
		}
		go func() {
			defer stream.Close()
			r := bufio.NewReader(stream)
			for {
				line, err := r.ReadBytes('\n')
				if err != nil {
					return
				}
				now := time.Now()
				name := podName(line)
				mu.Lock()
				lat = append(lat, now.Sub(created[name]))
				mu.Unlock()
			}
		}()
	}
	i := 0
	for b.Loop() {
		name := fmt.Sprintf("w-%d", i)
		mu.Lock()
		created[name] = time.Now()
		mu.Unlock()
		if _, err := cs.CoreV1().Pods("default").Create(ctx, benchPod(name), metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		i++
		// One event at a time: this measures delivery latency, not how
		// many events per second 1,000 in-process clients can decode.
		waitDelivered(&mu, &lat, i*watchers)
	}
	cancel()
	mu.Lock()
	defer mu.Unlock()
	b.ReportMetric(float64(percentile(lat, 0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99-ms")
}

func waitDelivered(mu *sync.Mutex, lat *[]time.Duration, want int) {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		mu.Lock()
		n := len(*lat)
		mu.Unlock()
		if n >= want {
			return
		}
	}
}

// podName finds the first metadata name in a watch event line.
func podName(line []byte) string {
	const key = `"name":"`
	i := bytes.Index(line, []byte(key))
	if i < 0 {
		return ""
	}
	rest := line[i+len(key):]
	return string(rest[:bytes.IndexByte(rest, '"')])
}
