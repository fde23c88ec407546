package kubelet

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/kubelet/fakecri"
)

// probeServer is an HTTP server on 127.0.0.1 whose requests wait for the
// test to take them, one at a time, so that the test knows where the
// probe worker is: while it holds a request, the worker has processed
// every earlier answer and not this one.
type probeServer struct {
	port    int32
	code    atomic.Int32
	hits    chan string
	proceed chan struct{}
}

func newProbeServer(t *testing.T, code int) *probeServer {
	t.Helper()
	s := &probeServer{hits: make(chan string), proceed: make(chan struct{})}
	s.code.Store(int32(code))
	closing := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code := int(s.code.Load())
		select {
		case s.hits <- r.URL.Path:
		case <-r.Context().Done():
			return
		case <-closing:
			return
		}
		select {
		case <-s.proceed:
		case <-r.Context().Done():
			return
		case <-closing:
			return
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(srv.Close)
	// Close waits for requests in flight: release them first.
	t.Cleanup(func() { close(closing) })
	s.port = serverPort(t, srv.Listener.Addr().String())
	return s
}

// hit takes the next request, checks with quiet, if given, while holding
// it, and lets it be answered; it returns the request's path.
func (s *probeServer) hit(t *testing.T, quiet ...func()) string {
	t.Helper()
	select {
	case p := <-s.hits:
		for _, q := range quiet {
			q()
		}
		s.proceed <- struct{}{}
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("no probe request arrived")
		return ""
	}
}

// execProbe answers ExecSync of one command with a settable exit code.
// Like probeServer's requests, each call waits for the test to take it.
type execProbe struct {
	code    atomic.Int32
	made    atomic.Int32
	taken   int32
	calls   chan time.Time
	proceed chan struct{}
}

func newExecProbe(h *harness, cmd string, code int32) *execProbe {
	e := &execProbe{calls: make(chan time.Time), proceed: make(chan struct{})}
	e.code.Store(code)
	h.rt.HandleExec(cmd, func(ctx context.Context, _ string) (*runtimeapi.ExecSyncResponse, error) {
		e.made.Add(1)
		code := e.code.Load()
		select {
		case e.calls <- h.clock.Now():
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		select {
		case <-e.proceed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return &runtimeapi.ExecSyncResponse{ExitCode: code, Stdout: []byte(cmd + " said no")}, nil
	})
	return e
}

// call takes the next call, checks with quiet, if given, while holding
// it, and lets it answer; it returns the fake clock's time of the call.
func (e *execProbe) call(t *testing.T, quiet ...func()) time.Time {
	t.Helper()
	select {
	case at := <-e.calls:
		e.taken++
		for _, q := range quiet {
			q()
		}
		e.proceed <- struct{}{}
		return at
	case <-time.After(10 * time.Second):
		t.Fatal("no exec probe ran")
		return time.Time{}
	}
}

// idle fails the test if a call was made that the test did not take.
func (e *execProbe) idle(t *testing.T) {
	t.Helper()
	if n := e.made.Load() - e.taken; n != 0 {
		t.Fatalf("%d unexpected exec probes", n)
	}
}

func httpProbe(path string, port intstr.IntOrString) corev1.ProbeHandler {
	return corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: port}}
}

func execAction(cmd string) corev1.ProbeHandler {
	return corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: strings.Fields(cmd)}}
}

// newProbedHarness is a harness whose pods get 127.0.0.1 as their address.
func newProbedHarness(t *testing.T) *harness {
	h := newHarness(t)
	h.rt.SetPodIP("127.0.0.1")
	return h
}

func hasEvent(events []string, want string) bool {
	return slices.Contains(events, want)
}

func TestReadinessProbeGatesReady(t *testing.T) {
	h := newProbedHarness(t)
	srv := newProbeServer(t, http.StatusServiceUnavailable)
	pod := newPod("web", "app")
	pod.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: srv.port}}
	pod.Spec.Containers[0].ReadinessProbe = &corev1.Probe{PeriodSeconds: 10, TimeoutSeconds: 30, ProbeHandler: httpProbe("/ready", intstr.FromString("http"))}
	pod = h.create(pod)

	check := func(want bool) {
		t.Helper()
		got := h.get(pod)
		s := containerStatus(t, got, "app")
		status := corev1.ConditionFalse
		if want {
			status = corev1.ConditionTrue
		}
		if s.Ready != want || s.State.Running == nil || !ptr.Deref(s.Started, false) {
			t.Fatalf("container status = ready %v started %v state %+v, want ready %v and running", s.Ready, s.Started, s.State, want)
		}
		for _, c := range []corev1.PodConditionType{corev1.ContainersReady, corev1.PodReady} {
			if cond := condition(got, c); cond.Status != status {
				t.Fatalf("%s = %+v, want %s", c, cond, status)
			}
		}
		if got.Status.Phase != corev1.PodRunning {
			t.Fatalf("phase = %s", got.Status.Phase)
		}
	}

	h.sync(pod)
	check(false)
	if p := srv.hit(t); p != "/ready" {
		t.Fatalf("probe path = %q", p)
	}
	// A failure keeps the initial unready; the first success makes ready.
	srv.code.Store(http.StatusOK)
	h.clock.Step(10 * time.Second)
	srv.hit(t)
	h.waitProbed(pod)
	h.sync(pod)
	check(true)
	if !hasEvent(h.events(), "Warning Unhealthy Readiness probe failed: HTTP probe failed with statuscode: 503") {
		t.Error("no Unhealthy event for the first failure")
	}

	// Three failures in a row, the default threshold, make it unready.
	srv.code.Store(http.StatusInternalServerError)
	for range 3 {
		h.clock.Step(10 * time.Second)
		// While a probe is held, the results of those before it are in.
		srv.hit(t, h.noProbeChange)
	}
	h.waitProbed(pod)
	h.sync(pod)
	check(false)
	if c := h.calls("StopContainer"); len(c) != 0 {
		t.Errorf("readiness failure stopped a container: %v", c)
	}
}

func TestReadinessProbeActions(t *testing.T) {
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	gl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	healthpb.RegisterHealthServer(gs, health.NewServer())
	go gs.Serve(gl)
	defer gs.Stop()

	tests := []struct {
		name    string
		handler func(h *harness) corev1.ProbeHandler
	}{
		{"httpGet", func(h *harness) corev1.ProbeHandler {
			srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			t.Cleanup(srv.Close)
			return httpProbe("/", intstr.FromInt32(serverPort(t, srv.Listener.Addr().String())))
		}},
		{"tcpSocket", func(*harness) corev1.ProbeHandler {
			return corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(serverPort(t, tcp.Addr().String()))}}
		}},
		{"exec", func(h *harness) corev1.ProbeHandler {
			h.rt.SetExec("cat /tmp/ready", 0, "")
			return execAction("cat /tmp/ready")
		}},
		{"grpc", func(*harness) corev1.ProbeHandler {
			return corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: serverPort(t, gl.Addr().String())}}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newProbedHarness(t)
			pod := newPod("web", "app")
			pod.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: tc.handler(h)}
			pod = h.create(pod)
			h.sync(pod)
			h.waitProbed(pod)
			h.sync(pod)
			if c := condition(h.get(pod), corev1.PodReady); c.Status != corev1.ConditionTrue {
				t.Fatalf("Ready after the probe = %+v; events %v", c, h.events())
			}
		})
	}
}

func TestLivenessProbeRestartsContainer(t *testing.T) {
	tests := []struct {
		name        string
		policy      corev1.RestartPolicy
		probeGrace  *int64
		wantMessage string
		wantGrace   int64
		wantRestart bool
	}{
		{"always", corev1.RestartPolicyAlways, nil, "Container app failed liveness probe, will be restarted", 30, true},
		// Nothing left to run: the whole pod stops, as upstream's.
		{"never", corev1.RestartPolicyNever, nil, "Stopping container app", 30, false},
		{"probe grace", corev1.RestartPolicyAlways, ptr.To[int64](5), "Container app failed liveness probe, will be restarted", 5, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newProbedHarness(t)
			srv := newProbeServer(t, http.StatusOK)
			pod := newPod("web", "app")
			pod.Spec.RestartPolicy = tc.policy
			pod.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: srv.port}}
			pod.Spec.Containers[0].LivenessProbe = &corev1.Probe{
				PeriodSeconds: 10, TimeoutSeconds: 30, FailureThreshold: 2, TerminationGracePeriodSeconds: tc.probeGrace,
				ProbeHandler: httpProbe("/healthz", intstr.FromString("http")),
			}
			pod = h.create(pod)
			h.sync(pod)
			first := h.running(pod, "app")
			srv.hit(t)

			srv.code.Store(http.StatusInternalServerError)
			h.clock.Step(10 * time.Second)
			srv.hit(t)
			h.clock.Step(10 * time.Second)
			srv.hit(t, h.noProbeChange)
			h.waitProbed(pod)
			h.calls()
			h.sync(pod)

			var stops []int64
			for _, c := range h.rt.Calls() {
				if c.Method == "StopContainer" {
					stops = append(stops, c.Request.(*runtimeapi.StopContainerRequest).GetTimeout())
				}
			}
			if !slices.Equal(stops, []int64{tc.wantGrace}) {
				t.Errorf("stop timeouts = %v, want [%d]", stops, tc.wantGrace)
			}
			events := h.events()
			if !hasEvent(events, "Warning Unhealthy Liveness probe failed: HTTP probe failed with statuscode: 500") {
				t.Errorf("no Unhealthy event in %v", events)
			}
			if !hasEvent(events, "Normal Killing "+tc.wantMessage) {
				t.Errorf("no Killing event %q in %v", tc.wantMessage, events)
			}
			s := containerStatus(t, h.get(pod), "app")
			if !tc.wantRestart {
				if s.State.Terminated == nil || s.State.Terminated.ExitCode != fakecri.StoppedExitCode || s.RestartCount != 0 {
					t.Errorf("status = %+v, want terminated, not restarted", s)
				}
				return
			}
			if s.RestartCount != 1 || s.State.Running == nil || s.LastTerminationState.Terminated == nil ||
				s.LastTerminationState.Terminated.ExitCode != fakecri.StoppedExitCode {
				t.Errorf("status = %+v, want running with restartCount 1", s)
			}
			if h.running(pod, "app") == first {
				t.Fatal("container not replaced")
			}
			// The new instance gets its own probes, from a clean slate.
			srv.code.Store(http.StatusOK)
			srv.hit(t)
		})
	}
}

func TestStartupProbeGatesLiveness(t *testing.T) {
	h := newProbedHarness(t)
	startup := newExecProbe(h, "started?", 1)
	liveness := newExecProbe(h, "alive?", 0)
	pod := newPod("web", "app")
	pod.Spec.Containers[0].StartupProbe = &corev1.Probe{PeriodSeconds: 10, FailureThreshold: 5, ProbeHandler: execAction("started?")}
	pod.Spec.Containers[0].LivenessProbe = &corev1.Probe{PeriodSeconds: 10, ProbeHandler: execAction("alive?")}
	pod = h.create(pod)
	h.sync(pod)
	startup.call(t)
	h.clock.Step(10 * time.Second)
	startup.call(t, h.noProbeChange)
	s := containerStatus(t, h.get(pod), "app")
	if ptr.Deref(s.Started, true) || s.Ready || s.State.Running == nil {
		t.Fatalf("status before startup = started %v ready %v state %+v", s.Started, s.Ready, s.State)
	}
	liveness.idle(t)

	startup.code.Store(0)
	h.clock.Step(10 * time.Second)
	startup.call(t)
	h.waitProbed(pod)
	liveness.idle(t)
	h.sync(pod)
	s = containerStatus(t, h.get(pod), "app")
	if !ptr.Deref(s.Started, false) || !s.Ready {
		t.Fatalf("status after startup = started %v ready %v", s.Started, s.Ready)
	}
	// Liveness starts now; startup is done for this instance.
	liveness.call(t)
	h.clock.Step(10 * time.Second)
	liveness.call(t)
	startup.idle(t)
}

func TestStartupProbeFailureRestarts(t *testing.T) {
	h := newProbedHarness(t)
	startup := newExecProbe(h, "started?", 1)
	pod := newPod("web", "app")
	pod.Spec.Containers[0].StartupProbe = &corev1.Probe{PeriodSeconds: 10, FailureThreshold: 2, ProbeHandler: execAction("started?")}
	pod = h.create(pod)
	h.sync(pod)
	startup.call(t)
	h.clock.Step(10 * time.Second)
	startup.call(t)
	h.waitProbed(pod)
	h.sync(pod)
	events := h.events()
	if !hasEvent(events, "Warning Unhealthy Startup probe failed: started? said no") ||
		!hasEvent(events, "Normal Killing Container app failed startup probe, will be restarted") {
		t.Errorf("events = %v", events)
	}
	if s := containerStatus(t, h.get(pod), "app"); s.RestartCount != 1 || s.State.Running == nil || ptr.Deref(s.Started, true) {
		t.Errorf("status = %+v", s)
	}
	// The new instance starts its startup probe over.
	startup.call(t)
}

func TestProbeTiming(t *testing.T) {
	t.Run("initial delay and failure threshold", func(t *testing.T) {
		h := newProbedHarness(t)
		live := newExecProbe(h, "alive?", 1)
		pod := newPod("web", "app")
		pod.Spec.Containers[0].LivenessProbe = &corev1.Probe{InitialDelaySeconds: 15, PeriodSeconds: 10, FailureThreshold: 2, ProbeHandler: execAction("alive?")}
		pod = h.create(pod)
		h.sync(pod)
		start := h.clock.Now()
		h.clock.Step(15 * time.Second)
		if at := live.call(t); !at.Equal(start.Add(15 * time.Second)) {
			t.Fatalf("first probe at +%v, want +15s", at.Sub(start))
		}
		h.clock.Step(10 * time.Second)
		if at := live.call(t, h.noProbeChange); !at.Equal(start.Add(25 * time.Second)) {
			t.Fatalf("second probe at +%v, want +25s", at.Sub(start))
		}
		h.waitProbed(pod)
		h.sync(pod)
		if c := h.calls("StopContainer"); len(c) != 1 {
			t.Fatalf("stops = %v", c)
		}
		// The restarted container waits out its own initial delay.
		h.clock.Step(15 * time.Second)
		if at := live.call(t); !at.Equal(start.Add(40 * time.Second)) {
			t.Fatalf("first probe of the new container at +%v, want +40s", at.Sub(start))
		}
	})

	t.Run("success threshold", func(t *testing.T) {
		h := newProbedHarness(t)
		ready := newExecProbe(h, "ready?", 0)
		pod := newPod("web", "app")
		pod.Spec.Containers[0].ReadinessProbe = &corev1.Probe{PeriodSeconds: 5, SuccessThreshold: 2, ProbeHandler: execAction("ready?")}
		pod = h.create(pod)
		h.sync(pod)
		ready.call(t)
		h.clock.Step(5 * time.Second)
		ready.call(t, h.noProbeChange)
		h.waitProbed(pod)
		h.sync(pod)
		if !containerStatus(t, h.get(pod), "app").Ready {
			t.Error("not ready after two successes")
		}
	})

	t.Run("missed periods are skipped", func(t *testing.T) {
		h := newProbedHarness(t)
		ready := newExecProbe(h, "ready?", 1)
		pod := newPod("web", "app")
		pod.Spec.Containers[0].ReadinessProbe = &corev1.Probe{PeriodSeconds: 10, ProbeHandler: execAction("ready?")}
		pod = h.create(pod)
		h.sync(pod)
		start := h.clock.Now()
		ready.call(t)
		h.clock.Step(35 * time.Second)
		ready.call(t)
		h.clock.Step(5 * time.Second)
		if at := ready.call(t); !at.Equal(start.Add(40 * time.Second)) {
			t.Errorf("probe after a jump at +%v, want +40s", at.Sub(start))
		}
		ready.idle(t)
	})
}

func TestProbesSurviveAgentRestart(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	rt := fakecri.New(clk)
	rt.SetPodIP("127.0.0.1")
	first := newHarnessWith(t, rt, clk, Config{})
	startup := newExecProbe(first, "started?", 0)
	live := newExecProbe(first, "alive?", 0)
	srv := newProbeServer(t, http.StatusOK)
	pod := newPod("web", "app")
	c := &pod.Spec.Containers[0]
	c.StartupProbe = &corev1.Probe{PeriodSeconds: 10, ProbeHandler: execAction("started?")}
	c.LivenessProbe = &corev1.Probe{PeriodSeconds: 10, FailureThreshold: 1, ProbeHandler: execAction("alive?")}
	c.ReadinessProbe = &corev1.Probe{PeriodSeconds: 10, TimeoutSeconds: 30, ProbeHandler: httpProbe("/ready", intstr.FromInt32(srv.port))}
	pod = first.create(pod)
	first.sync(pod)
	startup.call(t)
	first.waitProbed(pod)
	first.sync(pod)
	live.call(t)
	srv.hit(t)
	first.waitProbed(pod)
	first.sync(pod)
	if cond := condition(first.get(pod), corev1.PodReady); cond.Status != corev1.ConditionTrue {
		t.Fatalf("Ready before the restart = %+v", cond)
	}
	id := first.running(pod, "app")

	// The agent goes away; a new one starts later over the same runtime.
	first.k.probes.stop()
	clk.Step(time.Minute)
	obj := first.get(pod)
	obj.ResourceVersion = ""
	second := newHarnessWith(t, rt, clk, Config{PodsDir: first.cfg.PodsDir, PodLogsDir: first.cfg.PodLogsDir}, obj)
	live.code.Store(1)
	rt.ResetCalls()
	second.sync(pod)
	got := second.get(pod)
	if cond := condition(got, corev1.PodReady); cond.Status != corev1.ConditionTrue {
		t.Errorf("Ready after the restart = %+v", cond)
	}
	if s := containerStatus(t, got, "app"); !ptr.Deref(s.Started, false) || !s.Ready {
		t.Errorf("adopted container started %v ready %v", s.Started, s.Ready)
	}
	if c := second.calls("CreateContainer", "StopContainer"); len(c) != 0 {
		t.Errorf("restart disturbed the pod: %v", c)
	}

	// The adopted container is probed within a period; startup is not
	// re-run, and a liveness failure still restarts it.
	clk.Step(10 * time.Second)
	live.call(t)
	second.waitProbed(pod)
	second.sync(pod)
	if second.running(pod, "app") == id {
		t.Error("adopted container not restarted after its liveness probe failed")
	}
	for _, c := range rt.Calls() {
		if req, ok := c.Request.(*runtimeapi.ExecSyncRequest); ok && req.GetContainerId() == id && req.GetCmd()[0] == "started?" {
			t.Error("startup probe re-run on the adopted container")
		}
	}
}

func TestRunWakesPodOnProbeResult(t *testing.T) {
	h := newProbedHarness(t)
	h.rt.SetExec("ready?", 0, "")
	stop := h.run()
	defer stop()
	pod := newPod("web", "app")
	pod.Spec.Containers[0].ReadinessProbe = &corev1.Probe{PeriodSeconds: 10, ProbeHandler: execAction("ready?")}
	h.create(pod)
	h.eventually("pod ready", func() bool {
		s, _ := h.status("web")
		return len(s.ContainerStatuses) == 1 && s.ContainerStatuses[0].Ready
	})
}
