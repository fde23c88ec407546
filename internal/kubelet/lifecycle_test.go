package kubelet

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/skiff-sh/skiff/internal/kubelet/fakecri"
)

func TestInitContainersRunInOrder(t *testing.T) {
	h := newHarness(t)
	pod := newPod("init", "app")
	pod.Spec.InitContainers = []corev1.Container{container("first"), container("second")}
	pod = h.create(pod)

	h.sync(pod)
	if got, want := h.calls("RunPodSandbox", "CreateContainer"), []string{"RunPodSandbox init", "CreateContainer first"}; !slices.Equal(got, want) {
		t.Fatalf("first sync calls = %v, want %v", got, want)
	}
	got := h.get(pod)
	if got.Status.Phase != corev1.PodPending {
		t.Errorf("phase while initialising = %s, want Pending", got.Status.Phase)
	}
	if c := condition(got, corev1.PodInitialized); c.Status != corev1.ConditionFalse || c.Reason != reasonContainersNotInitialized ||
		c.Message != "containers with incomplete status: [first second]" {
		t.Errorf("Initialized = %+v", c)
	}
	if r := waitingReasonOf(containerStatus(t, got, "app")); r != reasonPodInitializing {
		t.Errorf("app waiting reason = %q, want PodInitializing", r)
	}
	if r := waitingReasonOf(containerStatus(t, got, "second")); r != reasonPodInitializing {
		t.Errorf("second waiting reason = %q, want PodInitializing", r)
	}

	// Nothing starts while the first init container runs.
	h.sync(pod)
	if c := h.calls("CreateContainer"); len(c) != 0 {
		t.Fatalf("sync during init started %v", c)
	}
	h.exit(pod, "first", 0)
	h.sync(pod)
	if got, want := h.calls("CreateContainer"), []string{"CreateContainer second"}; !slices.Equal(got, want) {
		t.Fatalf("after first init: %v, want %v", got, want)
	}
	h.exit(pod, "second", 0)
	h.sync(pod)
	if got, want := h.calls("CreateContainer"), []string{"CreateContainer app"}; !slices.Equal(got, want) {
		t.Fatalf("after second init: %v, want %v", got, want)
	}
	got = h.get(pod)
	if got.Status.Phase != corev1.PodRunning {
		t.Errorf("phase = %s, want Running", got.Status.Phase)
	}
	if c := condition(got, corev1.PodInitialized); c.Status != corev1.ConditionTrue {
		t.Errorf("Initialized = %+v", c)
	}
	first := containerStatus(t, got, "first")
	if first.State.Terminated == nil || first.State.Terminated.Reason != reasonCompleted || !first.Ready {
		t.Errorf("first init status = %+v", first)
	}
	// Completed init containers are not run again.
	h.sync(pod)
	if c := h.calls("CreateContainer"); len(c) != 0 {
		t.Errorf("steady sync started %v", c)
	}
}

func TestInitContainerFailure(t *testing.T) {
	tests := []struct {
		policy      corev1.RestartPolicy
		wantRestart bool
		wantPhase   corev1.PodPhase
	}{
		{corev1.RestartPolicyNever, false, corev1.PodFailed},
		{corev1.RestartPolicyOnFailure, true, corev1.PodPending},
		{corev1.RestartPolicyAlways, true, corev1.PodPending},
	}
	for _, tc := range tests {
		t.Run(string(tc.policy), func(t *testing.T) {
			h := newHarness(t)
			pod := newPod("init", "app")
			pod.Spec.RestartPolicy = tc.policy
			pod.Spec.InitContainers = []corev1.Container{container("setup")}
			pod = h.create(pod)
			h.sync(pod)
			h.exit(pod, "setup", 3)
			h.calls()

			h.sync(pod)
			calls := h.calls("CreateContainer", "StopPodSandbox")
			if restarted := slices.Contains(calls, "CreateContainer setup"); restarted != tc.wantRestart {
				t.Errorf("init restarted = %v, want %v (calls %v)", restarted, tc.wantRestart, calls)
			}
			if slices.Contains(calls, "CreateContainer app") {
				t.Errorf("app container started after a failed init: %v", calls)
			}
			if !tc.wantRestart && !slices.Contains(calls, "StopPodSandbox init") {
				t.Errorf("sandbox of failed pod not stopped: %v", calls)
			}
			got := h.get(pod)
			if got.Status.Phase != tc.wantPhase {
				t.Errorf("phase = %s, want %s", got.Status.Phase, tc.wantPhase)
			}
			s := containerStatus(t, got, "setup")
			if tc.wantRestart {
				if s.RestartCount != 1 || s.LastTerminationState.Terminated == nil || s.LastTerminationState.Terminated.ExitCode != 3 {
					t.Errorf("restarted init status = %+v", s)
				}
				// A second failure waits out the back-off.
				h.exit(pod, "setup", 3)
				h.sync(pod)
				if s := containerStatus(t, h.get(pod), "setup"); waitingReasonOf(s) != reasonCrashLoopBackOff {
					t.Errorf("second failure status = %+v, want CrashLoopBackOff", s)
				}
			} else if s.State.Terminated == nil || s.State.Terminated.ExitCode != 3 || s.State.Terminated.Reason != reasonError {
				t.Errorf("failed init status = %+v", s)
			}
		})
	}
}

func TestRestartPolicy(t *testing.T) {
	tests := []struct {
		policy      corev1.RestartPolicy
		exitCode    int32
		wantRestart bool
		wantPhase   corev1.PodPhase
	}{
		{corev1.RestartPolicyAlways, 0, true, corev1.PodRunning},
		{corev1.RestartPolicyAlways, 1, true, corev1.PodRunning},
		{corev1.RestartPolicyOnFailure, 0, false, corev1.PodSucceeded},
		{corev1.RestartPolicyOnFailure, 1, true, corev1.PodRunning},
		{corev1.RestartPolicyNever, 0, false, corev1.PodSucceeded},
		{corev1.RestartPolicyNever, 1, false, corev1.PodFailed},
	}
	for _, tc := range tests {
		t.Run(string(tc.policy)+"/"+string(rune('0'+tc.exitCode)), func(t *testing.T) {
			h := newHarness(t)
			pod := newPod("job", "main")
			pod.Spec.RestartPolicy = tc.policy
			pod = h.create(pod)
			h.sync(pod)
			h.exit(pod, "main", tc.exitCode)
			h.calls()

			h.sync(pod)
			calls := h.calls("CreateContainer", "StopPodSandbox")
			if restarted := slices.Contains(calls, "CreateContainer main"); restarted != tc.wantRestart {
				t.Errorf("restarted = %v, want %v (calls %v)", restarted, tc.wantRestart, calls)
			}
			got := h.get(pod)
			if got.Status.Phase != tc.wantPhase {
				t.Errorf("phase = %s, want %s", got.Status.Phase, tc.wantPhase)
			}
			terminal := tc.wantPhase == corev1.PodSucceeded || tc.wantPhase == corev1.PodFailed
			if stopped := slices.Contains(calls, "StopPodSandbox job"); stopped != terminal {
				t.Errorf("sandbox stopped = %v, want %v", stopped, terminal)
			}
			if terminal {
				s := containerStatus(t, got, "main")
				if s.State.Terminated == nil || s.State.Terminated.ExitCode != tc.exitCode || s.Ready {
					t.Errorf("terminal container status = %+v", s)
				}
				wantReason := reasonPodCompleted
				if tc.wantPhase == corev1.PodFailed {
					wantReason = reasonPodFailed
				}
				if c := condition(got, corev1.PodReady); c.Status != corev1.ConditionFalse || c.Reason != wantReason {
					t.Errorf("Ready = %+v, want False/%s", c, wantReason)
				}
				// A finished pod stays finished: no restart, no new sandbox.
				h.clock.Step(time.Hour)
				h.sync(pod)
				if c := h.calls("RunPodSandbox", "CreateContainer"); len(c) != 0 {
					t.Errorf("finished pod restarted: %v", c)
				}
				if p := h.get(pod).Status.Phase; p != tc.wantPhase {
					t.Errorf("phase later = %s", p)
				}
			}
		})
	}
}

func TestCrashLoopBackOff(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	h := newHarnessWith(t, fakecri.New(clk), clk, Config{BackoffInitial: 10 * time.Second, BackoffMax: 40 * time.Second, BackoffReset: 10 * time.Minute})
	pod := h.create(newPod("crash", "app"))
	h.sync(pod)

	crash := func() { h.exit(pod, "app", 1) }
	starts := func() int { return len(h.calls("StartContainer")) }
	expectBackoff := func(wait time.Duration, delay string) {
		t.Helper()
		res := h.sync(pod)
		if n := starts(); n != 0 {
			t.Fatalf("restarted during back-off")
		}
		if res.requeue != wait {
			t.Fatalf("requeue = %v, want %v", res.requeue, wait)
		}
		s := containerStatus(t, h.get(pod), "app")
		if s.State.Waiting == nil || s.State.Waiting.Reason != reasonCrashLoopBackOff ||
			s.State.Waiting.Message != "back-off "+delay+" restarting failed container=app pod=crash_default(crash-uid)" {
			t.Fatalf("status in back-off = %+v", s.State)
		}
		if s.LastTerminationState.Terminated == nil || s.LastTerminationState.Terminated.ExitCode != 1 {
			t.Fatalf("lastState in back-off = %+v", s.LastTerminationState)
		}
	}
	h.calls()

	// The first crash restarts at once.
	crash()
	h.sync(pod)
	if starts() != 1 {
		t.Fatal("first crash not restarted at once")
	}
	// Then 10s, 20s, 40s, 40s.
	for _, d := range []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 40 * time.Second} {
		crash()
		expectBackoff(d, d.String())
		if !slices.ContainsFunc(h.events(), func(e string) bool {
			return e == "Warning BackOff Back-off restarting failed container app in pod crash_default(crash-uid)"
		}) {
			t.Fatal("no BackOff event")
		}
		h.clock.Step(d / 2)
		expectBackoff(d/2, d.String())
		h.clock.Step(d / 2)
		h.sync(pod)
		if starts() != 1 {
			t.Fatalf("not restarted after %v", d)
		}
	}
	if s := containerStatus(t, h.get(pod), "app"); s.RestartCount != 5 || s.State.Running == nil {
		t.Errorf("status after restarts = %+v", s)
	}
	if p := h.get(pod).Status.Phase; p != corev1.PodRunning {
		t.Errorf("phase of crash-looping pod = %s, want Running", p)
	}

	// A container that ran long enough starts over at no delay.
	h.clock.Step(10 * time.Minute)
	crash()
	h.sync(pod)
	if starts() != 1 {
		t.Fatal("long-running container not restarted at once")
	}
	crash()
	expectBackoff(10*time.Second, "10s")
}

func TestImagePullPolicy(t *testing.T) {
	tests := []struct {
		name       string
		image      string
		policy     corev1.PullPolicy
		present    bool
		wantPull   bool
		wantReason string
		wantEvent  string
	}{
		{"IfNotPresent present", "busybox:1.36", corev1.PullIfNotPresent, true, false, "", `Normal Pulled Container image "busybox:1.36" already present on machine`},
		{"IfNotPresent absent", "busybox:1.36", corev1.PullIfNotPresent, false, true, "", `Normal Pulled Successfully pulled image "busybox:1.36" in`},
		{"Always present", "busybox:1.36", corev1.PullAlways, true, true, "", `Normal Pulling Pulling image "busybox:1.36"`},
		{"Never present", "busybox:1.36", corev1.PullNever, true, false, "", `Normal Pulled Container image "busybox:1.36" already present on machine`},
		{"Never absent", "busybox:1.36", corev1.PullNever, false, false, reasonErrImageNeverPull, `Warning ErrImageNeverPull Container image "busybox:1.36" is not present with pull policy of Never`},
		{"default latest", "busybox", "", true, true, "", `Normal Pulling Pulling image "busybox"`},
		{"default tagged", "busybox:1.36", "", true, false, "", `Normal Pulled Container image "busybox:1.36" already present on machine`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			if tc.present {
				h.rt.AddImage(tc.image, nil)
			}
			pod := newPod("img", "app")
			pod.Spec.Containers[0].Image = tc.image
			pod.Spec.Containers[0].ImagePullPolicy = tc.policy
			pod = h.create(pod)
			_, err := h.trySync(pod)
			if (err != nil) != (tc.wantReason != "") {
				t.Fatalf("sync error = %v", err)
			}
			if pulled := len(h.calls("PullImage")) > 0; pulled != tc.wantPull {
				t.Errorf("pulled = %v, want %v", pulled, tc.wantPull)
			}
			s := containerStatus(t, h.get(pod), "app")
			if got := waitingReasonOf(s); got != tc.wantReason {
				t.Errorf("waiting reason = %q, want %q", got, tc.wantReason)
			}
			if tc.wantReason == "" && s.State.Running == nil {
				t.Errorf("container not running: %+v", s.State)
			}
			if !slices.ContainsFunc(h.events(), func(e string) bool { return strings.HasPrefix(e, tc.wantEvent) }) {
				t.Errorf("missing event %q", tc.wantEvent)
			}
		})
	}
}

func TestImagePullBackOff(t *testing.T) {
	h := newHarness(t)
	const image = "registry.example.com/app:v1"
	pullErr := errors.New("rpc error: code = NotFound desc = failed to resolve reference")
	h.rt.FailPull(image, pullErr)
	pod := newPod("img", "app")
	pod.Spec.Containers[0].Image = image
	pod = h.create(pod)

	reason := func() (string, string) {
		s := containerStatus(t, h.get(pod), "app")
		return waitingReasonOf(s), s.State.Waiting.Message
	}
	res, err := h.trySync(pod)
	if !errors.Is(err, errImagePull) {
		t.Fatalf("sync error = %v, want errImagePull", err)
	}
	if res.requeue != 10*time.Second {
		t.Errorf("requeue = %v, want 10s", res.requeue)
	}
	if r, msg := reason(); r != reasonErrImagePull || msg != pullErr.Error() {
		t.Errorf("waiting = %s %q, want ErrImagePull with the runtime's error", r, msg)
	}
	if c := h.calls("PullImage"); len(c) != 1 {
		t.Fatalf("pulls = %v", c)
	}
	if !slices.Contains(h.events(), `Warning Failed Failed to pull image "`+image+`": `+pullErr.Error()) {
		t.Error("no Failed event")
	}

	// Within the back-off no pull happens.
	h.clock.Step(4 * time.Second)
	res = h.sync(pod)
	if c := h.calls("PullImage"); len(c) != 0 {
		t.Fatalf("pulled during back-off: %v", c)
	}
	if res.requeue != 6*time.Second {
		t.Errorf("requeue = %v, want 6s", res.requeue)
	}
	if r, msg := reason(); r != reasonImagePullBackOff || !strings.Contains(msg, pullErr.Error()) {
		t.Errorf("waiting = %s %q, want ImagePullBackOff", r, msg)
	}
	if !slices.Contains(h.events(), `Normal BackOff Back-off pulling image "`+image+`"`) {
		t.Error("no BackOff event")
	}

	// After it the pull is retried; the next back-off doubles.
	h.clock.Step(6 * time.Second)
	res, _ = h.trySync(pod)
	if c := h.calls("PullImage"); len(c) != 1 {
		t.Fatalf("pulls after back-off = %v", c)
	}
	if res.requeue != 20*time.Second {
		t.Errorf("requeue = %v, want 20s", res.requeue)
	}
	h.rt.FailPull(image, nil)
	h.clock.Step(20 * time.Second)
	h.sync(pod)
	if s := containerStatus(t, h.get(pod), "app"); s.State.Running == nil {
		t.Errorf("container not running after a good pull: %+v", s.State)
	}
}

func TestGracefulDeletion(t *testing.T) {
	h := newHarness(t)
	pod := newPod("web", "app", "side")
	pod = h.create(pod)
	h.sync(pod)
	h.calls()

	// The API server marks the pod; the kubelet sees it 10s later.
	pod = h.get(pod)
	now := metav1.NewTime(h.clock.Now().Add(30 * time.Second))
	pod.DeletionTimestamp = &now
	pod.DeletionGracePeriodSeconds = ptr64(30)
	if _, err := h.client.CoreV1().Pods("default").Update(h.ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.clock.Step(10 * time.Second)
	h.client.ClearActions()

	res := h.sync(pod)
	if !res.done {
		t.Error("terminated pod's worker not done")
	}
	calls := h.rt.Calls()
	var names []string
	for _, c := range calls {
		names = append(names, c.Method+" "+c.Subject)
		if c.Method == "StopContainer" {
			if got := c.Request.(*runtimeapi.StopContainerRequest).GetTimeout(); got != 20 {
				t.Errorf("stop timeout = %d, want the 20s left", got)
			}
		}
	}
	slices.Sort(names[:2]) // containers stop in parallel
	if want := []string{"StopContainer app", "StopContainer side", "StopPodSandbox web", "RemovePodSandbox web"}; !slices.Equal(names, want) {
		t.Fatalf("calls = %v, want %v", names, want)
	}
	if n := len(h.rt.Containers()) + len(h.rt.Sandboxes()); n != 0 {
		t.Errorf("%d runtime objects left", n)
	}

	var statusWrite, deleted bool
	for _, a := range h.client.Actions() {
		switch {
		case a.GetVerb() == "update" && a.GetSubresource() == "status":
			statusWrite = true
			if deleted {
				t.Error("status written after the delete")
			}
		case a.GetVerb() == "delete":
			deleted = true
			opts := a.(interface{ GetDeleteOptions() metav1.DeleteOptions }).GetDeleteOptions()
			if opts.GracePeriodSeconds == nil || *opts.GracePeriodSeconds != 0 {
				t.Errorf("delete grace = %v, want 0", opts.GracePeriodSeconds)
			}
			if opts.Preconditions == nil || opts.Preconditions.UID == nil || *opts.Preconditions.UID != pod.UID {
				t.Errorf("delete preconditions = %+v, want the pod's UID", opts.Preconditions)
			}
		}
	}
	if !statusWrite || !deleted {
		t.Errorf("status written %v, deleted %v; want both", statusWrite, deleted)
	}
	if !slices.ContainsFunc(h.events(), func(e string) bool { return strings.HasPrefix(e, "Normal Killing Stopping container app") }) {
		t.Error("no Killing event")
	}
}

func TestPodDeletedFromAPIIsCleanedUp(t *testing.T) {
	h := newHarness(t)
	pod := h.create(newPod("web", "app"))
	h.sync(pod)
	if err := h.client.CoreV1().Pods("default").Delete(h.ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.calls()
	res := h.sync(pod)
	if !res.done {
		t.Error("worker of a deleted pod not done")
	}
	if got, want := h.calls("StopContainer", "StopPodSandbox", "RemovePodSandbox"), []string{"StopContainer app", "StopPodSandbox web", "RemovePodSandbox web"}; !slices.Equal(got, want) {
		t.Errorf("calls = %v, want %v", got, want)
	}
	if n := len(h.rt.Containers()) + len(h.rt.Sandboxes()); n != 0 {
		t.Errorf("%d runtime objects left", n)
	}
}

func ptr64(v int64) *int64 { return &v }
