package kubelet

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestPodPhase(t *testing.T) {
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	exited := func(code int32) corev1.ContainerState {
		return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code}}
	}
	waiting := corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reasonCrashLoopBackOff}}
	st := func(name string, state corev1.ContainerState, last ...corev1.ContainerState) corev1.ContainerStatus {
		s := corev1.ContainerStatus{Name: name, State: state}
		if len(last) > 0 {
			s.LastTerminationState = last[0]
		}
		return s
	}
	tests := []struct {
		name     string
		policy   corev1.RestartPolicy
		init     bool
		statuses []corev1.ContainerStatus
		terminal bool
		want     corev1.PodPhase
	}{
		{"no statuses", corev1.RestartPolicyAlways, false, nil, false, corev1.PodPending},
		{"all running", corev1.RestartPolicyAlways, false, []corev1.ContainerStatus{st("a", running), st("b", running)}, false, corev1.PodRunning},
		{"one still creating", corev1.RestartPolicyAlways, false, []corev1.ContainerStatus{st("a", running), st("b", corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{}})}, false, corev1.PodPending},
		{"one unknown", corev1.RestartPolicyAlways, false, []corev1.ContainerStatus{st("a", running)}, false, corev1.PodPending},
		{"crash looping", corev1.RestartPolicyAlways, false, []corev1.ContainerStatus{st("a", waiting, exited(1)), st("b", waiting, exited(1))}, false, corev1.PodRunning},
		{"always all exited", corev1.RestartPolicyAlways, false, []corev1.ContainerStatus{st("a", exited(0)), st("b", exited(0))}, false, corev1.PodRunning},
		{"onfailure all succeeded", corev1.RestartPolicyOnFailure, false, []corev1.ContainerStatus{st("a", exited(0)), st("b", exited(0))}, false, corev1.PodSucceeded},
		{"onfailure one failed", corev1.RestartPolicyOnFailure, false, []corev1.ContainerStatus{st("a", exited(0)), st("b", exited(1))}, false, corev1.PodRunning},
		{"never one failed", corev1.RestartPolicyNever, false, []corev1.ContainerStatus{st("a", exited(0)), st("b", exited(1))}, false, corev1.PodFailed},
		{"never one still running", corev1.RestartPolicyNever, false, []corev1.ContainerStatus{st("a", exited(1)), st("b", running)}, false, corev1.PodRunning},
		{"deleted always succeeded", corev1.RestartPolicyAlways, false, []corev1.ContainerStatus{st("a", exited(0)), st("b", exited(0))}, true, corev1.PodSucceeded},
		{"deleted always killed", corev1.RestartPolicyAlways, false, []corev1.ContainerStatus{st("a", exited(137)), st("b", exited(0))}, true, corev1.PodFailed},
		{"init running", corev1.RestartPolicyAlways, true, []corev1.ContainerStatus{st("i", running)}, false, corev1.PodPending},
		{"init failed never", corev1.RestartPolicyNever, true, []corev1.ContainerStatus{st("i", exited(1))}, false, corev1.PodFailed},
		{"init failed restarting", corev1.RestartPolicyAlways, true, []corev1.ContainerStatus{st("i", waiting, exited(1))}, false, corev1.PodPending},
		{"init done app running", corev1.RestartPolicyAlways, true, []corev1.ContainerStatus{st("i", exited(0)), st("a", running), st("b", running)}, false, corev1.PodRunning},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := newPod("p", "a", "b")
			pod.Spec.RestartPolicy = tc.policy
			if tc.init {
				pod.Spec.InitContainers = []corev1.Container{container("i")}
			}
			if got := podPhase(pod, tc.statuses, tc.terminal); got != tc.want {
				t.Errorf("phase = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestQOSClass(t *testing.T) {
	tests := []struct {
		name       string
		containers []corev1.ResourceRequirements
		init       *corev1.ResourceRequirements
		want       corev1.PodQOSClass
	}{
		{"nothing", []corev1.ResourceRequirements{{}}, nil, corev1.PodQOSBestEffort},
		{"only other resources", []corev1.ResourceRequirements{resources("ephemeral-storage=1Gi", "")}, nil, corev1.PodQOSBestEffort},
		{"limits equal requests", []corev1.ResourceRequirements{resources("cpu=1,memory=1Gi", "cpu=1,memory=1Gi")}, nil, corev1.PodQOSGuaranteed},
		{"limits only", []corev1.ResourceRequirements{resources("", "cpu=1,memory=1Gi")}, nil, corev1.PodQOSBurstable},
		{"requests below limits", []corev1.ResourceRequirements{resources("cpu=500m,memory=1Gi", "cpu=1,memory=1Gi")}, nil, corev1.PodQOSBurstable},
		{"memory limit only", []corev1.ResourceRequirements{resources("memory=1Gi", "memory=1Gi")}, nil, corev1.PodQOSBurstable},
		{"one guaranteed one empty", []corev1.ResourceRequirements{resources("cpu=1,memory=1Gi", "cpu=1,memory=1Gi"), {}}, nil, corev1.PodQOSBurstable},
		{"two guaranteed", []corev1.ResourceRequirements{resources("cpu=1,memory=1Gi", "cpu=1,memory=1Gi"), resources("cpu=2,memory=2Gi", "cpu=2,memory=2Gi")}, nil, corev1.PodQOSGuaranteed},
		{"best-effort app, burstable init", []corev1.ResourceRequirements{{}}, &corev1.ResourceRequirements{Requests: resources("cpu=100m", "").Requests}, corev1.PodQOSBurstable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := newPod("p")
			for i, r := range tc.containers {
				c := container(string(rune('a' + i)))
				c.Resources = r
				pod.Spec.Containers = append(pod.Spec.Containers, c)
			}
			if tc.init != nil {
				c := container("init")
				c.Resources = *tc.init
				pod.Spec.InitContainers = []corev1.Container{c}
			}
			if got := qosClass(pod); got != tc.want {
				t.Errorf("qosClass = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestConditions(t *testing.T) {
	ready := func(name string, r bool) corev1.ContainerStatus {
		s := corev1.ContainerStatus{Name: name, Ready: r, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{}}}
		if r {
			s.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
		}
		return s
	}
	pod := newPod("p", "a", "b")
	pod.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/lb"}}

	c := readyCondition(pod, nil, []corev1.ContainerStatus{ready("a", true)}, corev1.PodRunning)
	if c.Status != corev1.ConditionFalse || c.Reason != reasonContainersNotReady || c.Message != "containers with unknown status: [b]" {
		t.Errorf("unknown container: %+v", c)
	}
	c = readyCondition(pod, nil, []corev1.ContainerStatus{ready("a", true), ready("b", false)}, corev1.PodRunning)
	if c.Message != "containers with unready status: [b]" {
		t.Errorf("unready container: %+v", c)
	}
	all := []corev1.ContainerStatus{ready("a", true), ready("b", true)}
	c = readyCondition(pod, nil, all, corev1.PodRunning)
	if c.Status != corev1.ConditionFalse || c.Reason != reasonReadinessGatesNotReady ||
		c.Message != `corresponding condition of pod readiness gate "example.com/lb" does not exist.` {
		t.Errorf("missing gate: %+v", c)
	}
	gate := []corev1.PodCondition{{Type: "example.com/lb", Status: corev1.ConditionTrue}}
	if c = readyCondition(pod, gate, all, corev1.PodRunning); c.Status != corev1.ConditionTrue {
		t.Errorf("gate true: %+v", c)
	}
	if c = containersReadyCondition(pod, all, corev1.PodSucceeded); c.Status != corev1.ConditionFalse || c.Reason != reasonPodCompleted {
		t.Errorf("succeeded: %+v", c)
	}
}

func TestStatusKeepsTransitionTimesAndForeignConditions(t *testing.T) {
	h := newHarness(t)
	pod := newPod("web", "app")
	pod.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/lb"}}
	pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{Type: "example.com/lb", Status: corev1.ConditionTrue})
	pod = h.create(pod)
	h.sync(pod)
	before := condition(h.get(pod), corev1.PodReady)
	if before.Status != corev1.ConditionTrue || condition(h.get(pod), "example.com/lb") == nil {
		t.Fatalf("conditions = %+v", h.get(pod).Status.Conditions)
	}
	h.clock.Step(90 * time.Second)
	h.exit(pod, "app", 1)
	h.sync(pod) // restarted at once: Ready stays True
	after := condition(h.get(pod), corev1.PodReady)
	if !after.LastTransitionTime.Equal(&before.LastTransitionTime) {
		t.Errorf("Ready transition time moved from %v to %v without a change", before.LastTransitionTime, after.LastTransitionTime)
	}
	if condition(h.get(pod), "example.com/lb") == nil {
		t.Error("foreign condition dropped")
	}
}

func TestStatusNotRewrittenWhileInformerLags(t *testing.T) {
	h := newHarness(t)
	pod := h.create(newPod("web", "app"))
	h.sync(pod)
	w := h.workers[pod.UID]
	stale := pod.DeepCopy() // as created: Pending, no container statuses
	stale.ResourceVersion = "7"
	rt, err := h.k.inspect(h.ctx, pod.UID)
	if err != nil {
		t.Fatal(err)
	}
	h.client.ClearActions()
	for range 2 {
		if err := h.k.updateStatus(h.ctx, &w.podState, stale, rt, false); err != nil {
			t.Fatal(err)
		}
	}
	writes := 0
	for _, a := range h.client.Actions() {
		if a.GetVerb() == "update" {
			writes++
		}
	}
	if writes != 1 {
		t.Errorf("writes = %d, want 1 (the second sync sees its own pending write)", writes)
	}
}

func TestTerminationMessage(t *testing.T) {
	dir := t.TempDir()
	msgFile := filepath.Join(dir, "msg")
	logFile := filepath.Join(dir, "0.log")
	if err := os.WriteFile(logFile, []byte(
		"2026-11-01T12:00:00.1Z stdout F first line\n"+
			"2026-11-01T12:00:00.2Z stderr P partial \n"+
			"2026-11-01T12:00:00.3Z stderr F end\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(msgFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	c := container("app")
	cs := &runtimeapi.ContainerStatus{
		State: runtimeapi.ContainerState_CONTAINER_EXITED, ExitCode: 1, LogPath: logFile,
		Mounts: []*runtimeapi.Mount{{ContainerPath: corev1.TerminationMessagePathDefault, HostPath: msgFile}},
	}
	if got := terminationMessage(&c, cs); got != "" {
		t.Errorf("empty file, ReadFile policy: %q", got)
	}
	c.TerminationMessagePolicy = corev1.TerminationMessageFallbackToLogsOnError
	if got, want := terminationMessage(&c, cs), "first line\npartial end\n"; got != want {
		t.Errorf("fallback to logs: %q, want %q", got, want)
	}
	if err := os.WriteFile(msgFile, []byte("bye"), 0o644); err != nil {
		t.Fatal(err)
	}
	cs.Message = "runtime says"
	if got, want := terminationMessage(&c, cs), "runtime says: bye"; got != want {
		t.Errorf("file message: %q, want %q", got, want)
	}
}

func TestContainerStateReasons(t *testing.T) {
	h := newHarness(t)
	c := container("app")
	for _, tc := range []struct {
		code   int32
		reason string
		want   string
	}{{0, "", reasonCompleted}, {2, "", reasonError}, {137, reasonOOMKilled, reasonOOMKilled}} {
		cs := &runtimeapi.ContainerStatus{Id: "x", State: runtimeapi.ContainerState_CONTAINER_EXITED, ExitCode: tc.code, Reason: tc.reason}
		st := h.k.containerState(&c, cs, nil)
		if st.Terminated == nil || st.Terminated.Reason != tc.want || st.Terminated.ContainerID != "containerd://x" {
			t.Errorf("exit %d reason %q: %+v", tc.code, tc.reason, st.Terminated)
		}
	}
	old := corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}
	st := h.k.containerState(&c, &runtimeapi.ContainerStatus{State: runtimeapi.ContainerState_CONTAINER_UNKNOWN}, &old)
	if st.Terminated == nil || st.Terminated.Reason != reasonStatusUnknown {
		t.Errorf("unknown after running: %+v", st)
	}
}

func TestOOMKilledContainerStatus(t *testing.T) {
	h := newHarness(t)
	pod := newPod("oom", "app")
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	pod = h.create(pod)
	h.sync(pod)
	if err := h.rt.Exit(h.running(pod, "app"), 137, reasonOOMKilled); err != nil {
		t.Fatal(err)
	}
	h.sync(pod)
	s := containerStatus(t, h.get(pod), "app")
	if s.State.Terminated == nil || s.State.Terminated.Reason != reasonOOMKilled || s.State.Terminated.ExitCode != 137 {
		t.Errorf("status = %+v", s.State)
	}
	if p := h.get(pod).Status.Phase; p != corev1.PodFailed {
		t.Errorf("phase = %s", p)
	}
}
