package e2e

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/skiff-sh/skiff/internal/oci"
)

// BenchmarkServiceThroughput compares requests per second through a
// ClusterIP with requests straight to the pod's IP, from this machine, on a
// one-node cluster: the cost of the proxy's rules on the data path (issue
// 5's target: a ratio of at least 0.9). Keep-alive connections, as a load
// generator such as wrk uses; SKIFF_BENCH_CONNS (default 16) of them for
// three rounds of SKIFF_BENCH_SECONDS (default 3) each way.
func BenchmarkServiceThroughput(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	conns, seconds := envInt("SKIFF_BENCH_CONNS", 16), envInt("SKIFF_BENCH_SECONDS", 3)
	img := httpServerImage(b)
	c := startClusterWith(b, map[string]*oci.Image{"docker.io/library/bench-http:latest": img}, nil)

	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "server", Namespace: "default", Labels: map[string]string{"app": "bench"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "http", Image: "bench-http", ImagePullPolicy: corev1.PullIfNotPresent}}},
	}
	if _, err := c.client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "bench", Namespace: "default"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "bench"},
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}
	svc, err := c.client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		b.Fatal(err)
	}
	var podIP string
	eventually(b, 60*time.Second, "the server pod running", func() bool {
		p, err := c.client.CoreV1().Pods("default").Get(ctx, "server", metav1.GetOptions{})
		if err == nil && running(p) {
			podIP = p.Status.PodIP
		}
		return podIP != ""
	})
	direct := "http://" + net.JoinHostPort(podIP, "8080") + "/"
	viaService := "http://" + net.JoinHostPort(svc.Spec.ClusterIP, "80") + "/"
	eventually(b, 30*time.Second, "the service answering", func() bool {
		resp, err := http.Get(viaService)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	// Rounds alternate between the two paths, so that a change in what
	// else the machine does weighs on both alike.
	const rounds = 3
	for b.Loop() {
		var d, s float64
		for range rounds {
			d += load(b, direct, conns, time.Duration(seconds)*time.Second) / rounds
			s += load(b, viaService, conns, time.Duration(seconds)*time.Second) / rounds
		}
		b.ReportMetric(d, "pod-req/s")
		b.ReportMetric(s, "service-req/s")
		b.ReportMetric(s/d, "ratio")
	}
}

// load runs conns keep-alive clients against url for d and returns the
// requests per second they completed.
func load(b *testing.B, url string, conns int, d time.Duration) float64 {
	b.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	var done, failed atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				resp, err := client.Get(url)
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				done.Add(1)
			}
		})
	}
	wg.Wait()
	if failed.Load() > 0 {
		b.Errorf("%s: %d requests failed", url, failed.Load())
	}
	return float64(done.Load()) / d.Seconds()
}

// httpServerImage packages testdata/httpserver, built static, as an image.
func httpServerImage(b *testing.B) *oci.Image {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "httpserver")
	cmd := exec.Command("go", "build", "-o", bin, "./testdata/httpserver")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build httpserver: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		b.Fatal(err)
	}
	img, err := oci.Build(oci.Config{Entrypoint: []string{"/httpserver"}, ExposedPorts: []string{"8080/tcp"}},
		[]oci.File{{Path: "httpserver", Mode: 0o755, Data: data}})
	if err != nil {
		b.Fatal(err)
	}
	return img
}
