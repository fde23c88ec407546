package kubelet

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/skiff-sh/skiff/internal/kubelet/fakecri"
)

// waitForTimers waits until n timers wait on the fake clock, so that a
// step reaches them.
func waitForTimers(t *testing.T, clk *clocktesting.FakeClock, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for clk.Waiters() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d timers wait on the clock, want %d", clk.Waiters(), n)
		}
		runtime.Gosched()
	}
}

// deleteGracefully marks pod deleted with a 30s grace period, as the API
// server does, and returns the object the kubelet then sees.
func (h *harness) deleteGracefully(pod *corev1.Pod) *corev1.Pod {
	h.t.Helper()
	cur := h.get(pod)
	at := metav1.NewTime(h.clock.Now().Add(30 * time.Second))
	cur.DeletionTimestamp, cur.DeletionGracePeriodSeconds = &at, ptr64(30)
	out, err := h.client.CoreV1().Pods(cur.Namespace).Update(h.ctx, cur, metav1.UpdateOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

// stopTimeouts returns the grace period of each StopContainer call, by
// container name.
func stopTimeouts(rt *fakecri.Runtime) map[string]int64 {
	out := map[string]int64{}
	for _, c := range rt.Calls() {
		if c.Method == "StopContainer" {
			out[c.Subject] = c.Request.(*runtimeapi.StopContainerRequest).GetTimeout()
		}
	}
	return out
}

func TestPostStartHook(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("User-Agent") != "kube-lifecycle/1.37" {
			t.Errorf("hook user agent = %q", r.Header.Get("User-Agent"))
		}
		// Any answer is success for a hook.
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	port := serverPort(t, srv.Listener.Addr().String())

	tests := []struct {
		name    string
		handler corev1.LifecycleHandler
		fail    bool
	}{
		{"exec succeeds", corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"setup"}}}, false},
		{"exec fails", corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"broken"}}}, true},
		{"http answers", corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/started", Port: intstr.FromInt32(port)}}, false},
		{"http refused", corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/started", Port: intstr.FromInt32(1)}}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newProbedHarness(t)
			h.rt.SetExec("setup", 0, "")
			h.rt.SetExec("broken", 2, "")
			pod := newPod("web", "app")
			pod.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PostStart: &tc.handler}
			pod = h.create(pod)
			_, err := h.trySync(pod)
			if !tc.fail {
				if err != nil {
					t.Fatal(err)
				}
				if s := containerStatus(t, h.get(pod), "app"); s.State.Running == nil {
					t.Errorf("status = %+v, want running", s.State)
				}
				if c := h.calls("StopContainer"); len(c) != 0 {
					t.Errorf("stopped after a good hook: %v", c)
				}
				return
			}
			if !errors.Is(err, errPostStartHook) {
				t.Fatalf("sync error = %v, want errPostStartHook", err)
			}
			calls := h.calls("StartContainer", "ExecSync", "StopContainer")
			if tc.handler.Exec != nil && !slices.Equal(calls, []string{"StartContainer app", "ExecSync app", "StopContainer app"}) {
				t.Errorf("calls = %v", calls)
			}
			if !slices.Contains(calls, "StopContainer app") {
				t.Errorf("container not killed: %v", calls)
			}
			events := h.events()
			if !hasEvent(events, "Warning FailedPostStartHook PostStartHook failed") || !hasEvent(events, "Normal Killing FailedPostStartHook") {
				t.Errorf("events = %v", events)
			}
			s := containerStatus(t, h.get(pod), "app")
			if s.State.Waiting == nil || s.State.Waiting.Reason != reasonPostStartHookError || s.LastTerminationState.Terminated == nil {
				t.Errorf("status = %+v", s)
			}
			// Restarted as any failed container, the next time at once.
			h.trySync(pod)
			if c := h.calls("StartContainer"); !slices.Equal(c, []string{"StartContainer app"}) {
				t.Errorf("restart calls = %v", c)
			}
		})
	}
}

func TestPostStartSleepHook(t *testing.T) {
	h := newHarness(t)
	pod := newPod("web", "app")
	pod.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 3}}}
	pod = h.create(pod)
	done := make(chan error, 1)
	go func() {
		_, err := h.trySync(pod)
		done <- err
	}()
	waitForTimers(t, h.clock, 1)
	select {
	case err := <-done:
		t.Fatalf("sync returned during the sleep hook: %v", err)
	default:
	}
	h.clock.Step(3 * time.Second)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s := containerStatus(t, h.get(pod), "app"); s.State.Running == nil {
		t.Errorf("status = %+v", s.State)
	}
}

func TestPreStopHook(t *testing.T) {
	tests := []struct {
		name      string
		exec      func(h *harness) fakecri.ExecFunc
		wantGrace int64
		wantEvent string
	}{
		{"runs before stop and uses grace", func(h *harness) fakecri.ExecFunc {
			return func(context.Context, string) (*runtimeapi.ExecSyncResponse, error) {
				h.clock.Step(5 * time.Second)
				return &runtimeapi.ExecSyncResponse{}, nil
			}
		}, 25, ""},
		{"failure still stops", func(*harness) fakecri.ExecFunc {
			return func(context.Context, string) (*runtimeapi.ExecSyncResponse, error) {
				return &runtimeapi.ExecSyncResponse{ExitCode: 1, Stderr: []byte("token=hunter2")}, nil
			}
		}, 30, "Warning FailedPreStopHook PreStopHook failed"},
		{"outlasting the grace period", func(h *harness) fakecri.ExecFunc {
			return func(ctx context.Context, _ string) (*runtimeapi.ExecSyncResponse, error) {
				h.clock.Step(40 * time.Second)
				<-ctx.Done()
				return nil, ctx.Err()
			}
		}, minGracePeriod, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.rt.HandleExec("drain", tc.exec(h))
			pod := newPod("web", "app", "side")
			pod.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"drain"}}}}
			pod = h.create(pod)
			h.sync(pod)
			pod = h.deleteGracefully(pod)
			h.calls()
			h.events()
			if res := h.sync(pod); !res.done {
				t.Fatal("pod not terminated")
			}
			timeouts := stopTimeouts(h.rt)
			calls := h.calls("ExecSync", "StopContainer")
			if i, j := slices.Index(calls, "ExecSync app"), slices.Index(calls, "StopContainer app"); i < 0 || j < i {
				t.Errorf("calls = %v, want the hook before the stop", calls)
			}
			if timeouts["app"] != tc.wantGrace {
				t.Errorf("app stop timeout = %d, want %d", timeouts["app"], tc.wantGrace)
			}
			events := h.events()
			if tc.wantEvent != "" && !hasEvent(events, tc.wantEvent) {
				t.Errorf("no %q in %v", tc.wantEvent, events)
			}
			for _, e := range events {
				if strings.Contains(e, "hunter2") {
					t.Errorf("event leaks the hook's output: %q", e)
				}
			}
		})
	}
}

func TestPreStopSleepHook(t *testing.T) {
	h := newHarness(t)
	pod := newPod("web", "app")
	pod.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 5}}}
	pod = h.create(pod)
	h.sync(pod)
	pod = h.deleteGracefully(pod)
	h.calls()
	done := make(chan error, 1)
	go func() {
		_, err := h.trySync(pod)
		done <- err
	}()
	// The grace period's timer and the sleep's.
	waitForTimers(t, h.clock, 2)
	if c := h.calls("StopContainer"); len(c) != 0 {
		t.Fatalf("stopped during the preStop hook: %v", c)
	}
	h.clock.Step(5 * time.Second)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := stopTimeouts(h.rt)["app"]; got != 25 {
		t.Errorf("stop timeout = %d, want 25", got)
	}
}

func TestPreStopHookOfOrphan(t *testing.T) {
	h := newHarness(t)
	h.rt.SetExec("drain", 0, "")
	pod := newPod("web", "app")
	pod.Spec.TerminationGracePeriodSeconds = ptr64(45)
	pod.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "admin", ContainerPort: 9000}}
	pod.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"drain"}}}}
	pod = h.create(pod)
	h.sync(pod)
	cfg := h.rt.ContainerConfig(h.running(pod, "app"))
	var kept corev1.LifecycleHandler
	if err := json.Unmarshal([]byte(cfg.GetAnnotations()[annotationPreStopHandler]), &kept); err != nil || kept.Exec == nil {
		t.Fatalf("preStop annotation = %q, %v", cfg.GetAnnotations()[annotationPreStopHandler], err)
	}
	if cfg.GetAnnotations()[annotationContainerPorts] == "" {
		t.Error("no ports annotation")
	}

	// The pod was force-deleted while the agent was down: only the
	// runtime knows of it.
	h.calls()
	w := &podWorker{uid: pod.UID, podState: newPodState(h.cfg)}
	if _, err := h.k.syncPod(h.ctx, w, nil, true); err != nil {
		t.Fatal(err)
	}
	if got := stopTimeouts(h.rt)["app"]; got != 45 {
		t.Errorf("stop timeout = %d, want the pod's 45", got)
	}
	calls := h.calls("ExecSync", "StopContainer", "RemovePodSandbox")
	if want := []string{"ExecSync app", "StopContainer app", "RemovePodSandbox web"}; !slices.Equal(calls, want) {
		t.Errorf("calls = %v, want %v", calls, want)
	}
}

func TestDeletionInterruptsPostStartHook(t *testing.T) {
	h := newHarness(t)
	hung := make(chan struct{}, 1)
	h.rt.HandleExec("hang", func(ctx context.Context, _ string) (*runtimeapi.ExecSyncResponse, error) {
		hung <- struct{}{}
		<-ctx.Done()
		return nil, ctx.Err()
	})
	stop := h.run()
	defer stop()
	pod := newPod("web", "app")
	pod.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"hang"}}}}
	pod = h.create(pod)
	select {
	case <-hung:
	case <-time.After(10 * time.Second):
		t.Fatal("postStart hook never ran")
	}
	h.deleteGracefully(pod)
	h.eventually("pod deleted", func() bool {
		_, err := h.client.CoreV1().Pods("default").Get(h.ctx, "web", metav1.GetOptions{})
		return apierrors.IsNotFound(err) && len(h.rt.Sandboxes()) == 0
	})
}
