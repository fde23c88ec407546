package kubelet

import (
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func sidecar(name string) corev1.Container {
	c := container(name)
	c.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
	return c
}

func TestSidecarsStartInOrderAndRestart(t *testing.T) {
	h := newProbedHarness(t)
	logger := newExecProbe(h, "logger-up?", 1)
	pod := newPod("web", "app")
	// Sidecars restart even in a pod that never restarts its containers.
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	pod.Spec.InitContainers = []corev1.Container{container("setup"), sidecar("proxy"), sidecar("logger")}
	pod.Spec.InitContainers[2].StartupProbe = &corev1.Probe{PeriodSeconds: 10, ProbeHandler: execAction("logger-up?")}
	pod = h.create(pod)

	step := func(what string, want ...string) *corev1.Pod {
		t.Helper()
		h.sync(pod)
		var created []string
		for _, n := range want {
			created = append(created, "CreateContainer "+n)
		}
		if got := h.calls("CreateContainer"); !slices.Equal(got, created) {
			t.Fatalf("%s: created %v, want %v", what, got, created)
		}
		return h.get(pod)
	}
	pending := func(got *corev1.Pod, incomplete string) {
		t.Helper()
		if got.Status.Phase != corev1.PodPending {
			t.Errorf("phase = %s, want Pending", got.Status.Phase)
		}
		if c := condition(got, corev1.PodInitialized); c.Status != corev1.ConditionFalse || c.Message != "containers with incomplete status: "+incomplete {
			t.Errorf("Initialized = %+v, want incomplete %s", c, incomplete)
		}
	}

	pending(step("first sync", "setup"), "[setup proxy logger]")
	h.exit(pod, "setup", 0)
	pending(step("setup done", "proxy"), "[logger]")
	// A sidecar without a startup probe counts as initialised once running.
	got := step("proxy running", "logger")
	pending(got, "[logger]")
	if s := containerStatus(t, got, "proxy"); !ptr.Deref(s.Started, false) || !s.Ready || s.State.Running == nil {
		t.Errorf("proxy status = %+v", s)
	}
	// The logger's startup probe has not passed: no app container yet.
	logger.call(t)
	got = step("logger not started")
	pending(got, "[logger]")
	if s := containerStatus(t, got, "logger"); ptr.Deref(s.Started, true) || s.Ready {
		t.Errorf("logger status = %+v", s)
	}

	logger.code.Store(0)
	h.clock.Step(10 * time.Second)
	logger.call(t)
	h.waitProbed(pod)
	got = step("logger started", "app")
	if got.Status.Phase != corev1.PodRunning {
		t.Errorf("phase = %s, want Running", got.Status.Phase)
	}
	for _, c := range []corev1.PodConditionType{corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady} {
		if cond := condition(got, c); cond.Status != corev1.ConditionTrue {
			t.Errorf("%s = %+v", c, cond)
		}
	}

	// A sidecar that exits is restarted, whatever its exit code and the
	// pod's restart policy; the app container keeps running.
	app := h.running(pod, "app")
	h.exit(pod, "proxy", 0)
	got = step("proxy exited", "proxy")
	if s := containerStatus(t, got, "proxy"); s.RestartCount != 1 || s.State.Running == nil {
		t.Errorf("restarted proxy status = %+v", s)
	}
	if h.running(pod, "app") != app || got.Status.Phase != corev1.PodRunning {
		t.Errorf("app disturbed by the sidecar restart; phase %s", got.Status.Phase)
	}
	if c := condition(got, corev1.PodInitialized); c.Status != corev1.ConditionTrue {
		t.Errorf("Initialized after the sidecar restart = %+v", c)
	}
	if c := h.calls("StopContainer", "StopPodSandbox"); len(c) != 0 {
		t.Errorf("sidecar restart stopped %v", c)
	}
}

func TestSidecarsStopAfterAppContainers(t *testing.T) {
	h := newHarness(t)
	pod := newPod("web", "app", "web")
	pod.Spec.InitContainers = []corev1.Container{sidecar("proxy"), container("setup"), sidecar("logger")}
	pod = h.create(pod)
	h.sync(pod)
	h.sync(pod)
	h.exit(pod, "setup", 0)
	h.sync(pod)
	h.sync(pod)
	for _, n := range []string{"proxy", "logger", "app", "web"} {
		h.running(pod, n)
	}

	pod = h.deleteGracefully(pod)
	h.calls()
	if res := h.sync(pod); !res.done {
		t.Fatal("pod not terminated")
	}
	timeouts := stopTimeouts(h.rt)
	stops := h.calls("StopContainer")
	if len(stops) != 4 {
		t.Fatalf("stops = %v", stops)
	}
	slices.Sort(stops[:2]) // app containers stop together
	if want := []string{"StopContainer app", "StopContainer web", "StopContainer logger", "StopContainer proxy"}; !slices.Equal(stops, want) {
		t.Errorf("stop order = %v, want %v", stops, want)
	}
	for name, g := range timeouts {
		if g != 30 {
			t.Errorf("%s stopped with %ds, want the full 30s", name, g)
		}
	}
}

func TestSidecarsDoNotKeepPodAlive(t *testing.T) {
	h := newHarness(t)
	pod := newPod("job", "main")
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	pod.Spec.InitContainers = []corev1.Container{sidecar("proxy")}
	pod = h.create(pod)
	h.sync(pod)
	h.sync(pod)
	h.exit(pod, "main", 0)
	h.calls()
	h.sync(pod)
	if got := h.calls("StopContainer", "StopPodSandbox", "CreateContainer"); !slices.Equal(got, []string{"StopContainer proxy", "StopPodSandbox job"}) {
		t.Errorf("calls = %v, want the sidecar and sandbox stopped", got)
	}
	if p := h.get(pod).Status.Phase; p != corev1.PodSucceeded {
		t.Errorf("phase = %s, want Succeeded", p)
	}
	h.sync(pod)
	if c := h.calls("CreateContainer", "RunPodSandbox"); len(c) != 0 {
		t.Errorf("finished pod restarted %v", c)
	}
}

func TestPodPhaseWithSidecars(t *testing.T) {
	running := func(started bool) corev1.ContainerStatus {
		return corev1.ContainerStatus{State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}, Started: ptr.To(started)}
	}
	exited := func(code int32) corev1.ContainerStatus {
		return corev1.ContainerStatus{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code}}}
	}
	restarting := corev1.ContainerStatus{
		State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reasonCrashLoopBackOff}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}},
	}
	named := func(name string, s corev1.ContainerStatus) corev1.ContainerStatus {
		s.Name = name
		return s
	}
	tests := []struct {
		name     string
		policy   corev1.RestartPolicy
		statuses []corev1.ContainerStatus
		want     corev1.PodPhase
	}{
		{"sidecar not started", corev1.RestartPolicyAlways, []corev1.ContainerStatus{named("side", running(false))}, corev1.PodPending},
		{"sidecar started, app creating", corev1.RestartPolicyAlways, []corev1.ContainerStatus{named("side", running(true)), named("app", corev1.ContainerStatus{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{}}})}, corev1.PodPending},
		{"both running", corev1.RestartPolicyAlways, []corev1.ContainerStatus{named("side", running(true)), named("app", running(false))}, corev1.PodRunning},
		{"sidecar restarting after init", corev1.RestartPolicyAlways, []corev1.ContainerStatus{named("side", restarting), named("app", running(false))}, corev1.PodRunning},
		{"job done, sidecar stopped", corev1.RestartPolicyNever, []corev1.ContainerStatus{named("side", exited(137)), named("app", exited(0))}, corev1.PodSucceeded},
		{"job failed, sidecar stopped", corev1.RestartPolicyNever, []corev1.ContainerStatus{named("side", exited(0)), named("app", exited(1))}, corev1.PodFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := newPod("p", "app")
			pod.Spec.RestartPolicy = tc.policy
			pod.Spec.InitContainers = []corev1.Container{sidecar("side")}
			if got := podPhase(pod, tc.statuses, false); got != tc.want {
				t.Errorf("phase = %s, want %s", got, tc.want)
			}
		})
	}
}
