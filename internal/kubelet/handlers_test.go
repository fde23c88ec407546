package kubelet

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/kubelet/fakecri"
)

// serverPort is the port of a test server listening on 127.0.0.1.
func serverPort(t *testing.T, addr string) int32 {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return int32(n)
}

func localTarget(c *corev1.Container) handlerTarget {
	return handlerTarget{pod: newPod("p"), container: c, id: "ctr", ips: []string{"127.0.0.1"}}
}

func TestHTTPProbe(t *testing.T) {
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		switch r.URL.Path {
		case "/ok":
			w.Write([]byte("fine"))
		case "/fail":
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte("secret details"))
		case "/here":
			http.Redirect(w, r, "/ok", http.StatusFound)
		case "/away":
			// Never followed, so never contacted.
			http.Redirect(w, r, "http://elsewhere.invalid/ok", http.StatusFound)
		}
	}))
	defer srv.Close()
	port := serverPort(t, srv.Listener.Addr().String())
	c := &corev1.Container{Name: "app", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: port}}}
	r := newHandlerRunner(nil, clocktesting.NewFakeClock(time.Now()))

	tests := []struct {
		name    string
		path    string
		port    intstr.IntOrString
		ok      bool
		warning bool
		output  string
	}{
		{"success", "/ok", intstr.FromInt32(port), true, false, ""},
		{"named port", "/ok?x=1", intstr.FromString("http"), true, false, ""},
		{"server error", "/fail", intstr.FromInt32(port), false, false, "HTTP probe failed with statuscode: 500"},
		{"redirect to same host followed", "/here", intstr.FromInt32(port), true, false, ""},
		{"redirect elsewhere not followed", "/away", intstr.FromInt32(port), true, true, "Probe terminated redirects, Response body: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got = nil
			p := &corev1.Probe{TimeoutSeconds: 5, ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: tc.path, Port: tc.port}}}
			out, err := r.probe(t.Context(), p, localTarget(c))
			if err != nil {
				t.Fatal(err)
			}
			if out.ok != tc.ok || out.warning != tc.warning || !strings.HasPrefix(out.output, tc.output) {
				t.Errorf("outcome = %+v, want ok %v warning %v output %q", out, tc.ok, tc.warning, tc.output)
			}
			if got == nil {
				t.Fatal("server got no request")
			}
			if ua := got.Header.Get("User-Agent"); ua != "kube-probe/1.37" {
				t.Errorf("user agent = %q", ua)
			}
		})
	}

	t.Run("headers", func(t *testing.T) {
		p := &corev1.Probe{TimeoutSeconds: 5, ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
			Path: "/ok", Port: intstr.FromInt32(port),
			HTTPHeaders: []corev1.HTTPHeader{{Name: "x-custom", Value: "a"}, {Name: "X-Custom", Value: "b"}, {Name: "Host", Value: "svc.example"}, {Name: "User-Agent", Value: "mine"}},
		}}}
		if _, err := r.probe(t.Context(), p, localTarget(c)); err != nil {
			t.Fatal(err)
		}
		if v := got.Header.Values("X-Custom"); len(v) != 2 || v[0] != "a" || v[1] != "b" {
			t.Errorf("X-Custom = %v", v)
		}
		if got.Host != "svc.example" || got.Header.Get("User-Agent") != "mine" || got.Header.Get("Accept") != "*/*" {
			t.Errorf("host %q, user agent %q, accept %q", got.Host, got.Header.Get("User-Agent"), got.Header.Get("Accept"))
		}
	})

	t.Run("unknown port name", func(t *testing.T) {
		p := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromString("nope")}}}
		if _, err := r.probe(t.Context(), p, localTarget(c)); err == nil {
			t.Error("probe of an unknown port name did not error")
		}
	})

	t.Run("no pod IP", func(t *testing.T) {
		p := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(port)}}}
		target := localTarget(c)
		target.ips = nil
		if _, err := r.probe(t.Context(), p, target); err == nil {
			t.Error("probe without a pod IP did not error")
		}
	})
}

func TestHTTPSProbeSkipsVerification(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	r := newHandlerRunner(nil, clocktesting.NewFakeClock(time.Now()))
	p := &corev1.Probe{TimeoutSeconds: 5, ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
		Scheme: corev1.URISchemeHTTPS, Port: intstr.FromInt32(serverPort(t, srv.Listener.Addr().String())),
	}}}
	out, err := r.probe(t.Context(), p, localTarget(&corev1.Container{Name: "app"}))
	if err != nil || !out.ok {
		t.Errorf("https probe = %+v, %v", out, err)
	}
}

func TestTCPProbe(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	open := serverPort(t, l.Addr().String())
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := serverPort(t, closed.Addr().String())
	closed.Close()
	defer l.Close()

	r := newHandlerRunner(nil, clocktesting.NewFakeClock(time.Now()))
	for _, tc := range []struct {
		port int32
		ok   bool
	}{{open, true}, {closedPort, false}} {
		p := &corev1.Probe{TimeoutSeconds: 5, ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(tc.port)}}}
		out, err := r.probe(t.Context(), p, localTarget(&corev1.Container{Name: "app"}))
		if err != nil || out.ok != tc.ok {
			t.Errorf("tcp probe of port %d = %+v, %v; want ok %v", tc.port, out, err, tc.ok)
		}
		if !tc.ok && !strings.Contains(out.output, "refused") {
			t.Errorf("failure output = %q", out.output)
		}
	}
}

func TestGRPCProbe(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("db", healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	go srv.Serve(l)
	defer srv.Stop()
	port := serverPort(t, l.Addr().String())

	r := newHandlerRunner(nil, clocktesting.NewFakeClock(time.Now()))
	tests := []struct {
		service *string
		ok      bool
		output  string
	}{
		{nil, true, ""},
		{ptr.To("db"), false, `service unhealthy (responded with "NOT_SERVING")`},
		{ptr.To("nope"), false, "error: health rpc probe failed"},
	}
	for _, tc := range tests {
		p := &corev1.Probe{TimeoutSeconds: 5, ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: port, Service: tc.service}}}
		out, err := r.probe(t.Context(), p, localTarget(&corev1.Container{Name: "app"}))
		if err != nil || out.ok != tc.ok || !strings.HasPrefix(out.output, tc.output) {
			t.Errorf("grpc probe of %v = %+v, %v; want ok %v output %q", ptr.Deref(tc.service, ""), out, err, tc.ok, tc.output)
		}
	}
}

func TestExecProbe(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	h := newHarnessWith(t, fakecri.New(clk), clk, Config{})
	pod := h.create(newPod("web", "app"))
	h.sync(pod)
	id := h.running(pod, "app")
	h.rt.SetExec("true", 0, "")
	h.rt.SetExec("check", 1, "not yet\n")
	h.rt.HandleExec("slow", func(context.Context, string) (*runtimeapi.ExecSyncResponse, error) {
		return nil, status.Error(codes.DeadlineExceeded, "timeout 1s exceeded")
	})

	tests := []struct {
		cmd     []string
		ok      bool
		output  string
		wantErr bool
	}{
		{[]string{"true"}, true, "", false},
		{[]string{"check"}, false, "not yet\n", false},
		{[]string{"slow"}, false, `command "slow" timed out`, false},
		{[]string{"missing"}, false, "", true},
	}
	for _, tc := range tests {
		p := &corev1.Probe{TimeoutSeconds: 3, ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: tc.cmd}}}
		out, err := h.k.handlers.probe(t.Context(), p, handlerTarget{pod: pod, container: &pod.Spec.Containers[0], id: id})
		if (err != nil) != tc.wantErr || out.ok != tc.ok || out.output != tc.output {
			t.Errorf("exec %v = %+v, %v", tc.cmd, out, err)
		}
	}
	for _, c := range h.rt.Calls() {
		if c.Method == "ExecSync" {
			if got := c.Request.(*runtimeapi.ExecSyncRequest).GetTimeout(); got != 3 {
				t.Errorf("exec timeout = %d, want the probe's 3", got)
			}
		}
	}
}

func TestResolvePort(t *testing.T) {
	c := &corev1.Container{Name: "app", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}, {Name: "8081", ContainerPort: 9000}}}
	tests := []struct {
		port    intstr.IntOrString
		want    int
		wantErr bool
	}{
		{intstr.FromInt32(80), 80, false},
		{intstr.FromString("http"), 8080, false},
		{intstr.FromString("8081"), 9000, false},
		{intstr.FromString("90"), 90, false},
		{intstr.FromString("grpc"), 0, true},
		{intstr.FromInt32(0), 0, true},
		{intstr.FromInt32(70000), 0, true},
	}
	for _, tc := range tests {
		got, err := resolvePort(tc.port, c)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("resolvePort(%v) = %d, %v; want %d", tc.port.String(), got, err, tc.want)
		}
	}
}

func TestSameHostRedirects(t *testing.T) {
	via := []*http.Request{{URL: &url.URL{Scheme: "http", Host: "10.0.0.1:80"}}}
	if err := sameHostRedirects(&http.Request{URL: &url.URL{Scheme: "https", Host: "10.0.0.1:443"}}, via); err != nil {
		t.Errorf("same host, other port: %v", err)
	}
	if err := sameHostRedirects(&http.Request{URL: &url.URL{Scheme: "http", Host: "10.0.0.2:80"}}, via); err != http.ErrUseLastResponse {
		t.Errorf("other host: %v, want ErrUseLastResponse", err)
	}
}
