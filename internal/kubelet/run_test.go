package kubelet

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/skiff-sh/skiff/internal/kubelet/fakecri"
)

// run starts the harness's informers and Run; the returned function stops
// both and checks Run's result.
func (h *harness) run() func() {
	h.t.Helper()
	ctx, cancel := context.WithCancel(h.ctx)
	h.factory.Start(ctx.Done())
	done := make(chan error, 1)
	go func() { done <- h.k.Run(ctx) }()
	return func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				h.t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			h.t.Fatal("Run did not return")
		}
		h.factory.Shutdown()
	}
}

// eventually polls cond, stepping the fake clock a relist period each time
// so that the PLEG and requeue timers fire.
func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s; runtime calls: %v", what, h.rt.CallNames())
		}
		h.clock.Step(h.cfg.RelistPeriod)
		time.Sleep(5 * time.Millisecond)
	}
}

func (h *harness) status(name string) (corev1.PodStatus, bool) {
	pod, err := h.client.CoreV1().Pods("default").Get(h.ctx, name, metav1.GetOptions{})
	if err != nil {
		return corev1.PodStatus{}, false
	}
	return pod.Status, true
}

func TestRunDrivesPodLifecycle(t *testing.T) {
	h := newHarness(t)
	stop := h.run()
	defer stop()

	pod := h.create(newPod("web", "app"))
	h.eventually("pod running", func() bool {
		s, _ := h.status("web")
		return s.Phase == corev1.PodRunning && len(s.ContainerStatuses) == 1 && s.ContainerStatuses[0].Ready
	})

	// A crash is noticed by the relist and restarted at once.
	if err := h.rt.Exit(h.running(pod, "app"), 2, ""); err != nil {
		t.Fatal(err)
	}
	h.eventually("restart", func() bool {
		s, _ := h.status("web")
		return len(s.ContainerStatuses) == 1 && s.ContainerStatuses[0].RestartCount == 1 && s.ContainerStatuses[0].Ready
	})

	// A graceful deletion ends with the kubelet deleting the object.
	cur := h.get(pod)
	now := metav1.NewTime(h.clock.Now().Add(30 * time.Second))
	cur.DeletionTimestamp, cur.DeletionGracePeriodSeconds = &now, ptr64(30)
	if _, err := h.client.CoreV1().Pods("default").Update(h.ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("pod deleted", func() bool {
		_, err := h.client.CoreV1().Pods("default").Get(h.ctx, "web", metav1.GetOptions{})
		return apierrors.IsNotFound(err) && len(h.rt.Sandboxes()) == 0
	})
}

func TestRestartAdoptsPodsAndRemovesOrphans(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	rt := fakecri.New(clk)
	first := newHarnessWith(t, rt, clk, Config{})
	kept := first.create(newPod("kept", "app", "side"))
	gone := first.create(newPod("gone", "app"))
	first.sync(kept)
	first.sync(gone)
	keptIDs := []string{first.running(kept, "app"), first.running(kept, "side")}

	// The agent restarts; meanwhile "gone" was force-deleted.
	keptObj := first.get(kept)
	keptObj.ResourceVersion = ""
	second := newHarnessWith(t, rt, clk, Config{PodsDir: first.cfg.PodsDir, PodLogsDir: first.cfg.PodLogsDir}, keptObj)
	rt.ResetCalls()
	stop := second.run()
	second.eventually("orphan removed", func() bool {
		for _, s := range rt.Sandboxes() {
			if s.GetMetadata().GetName() == "gone" {
				return false
			}
		}
		return true
	})
	// Let the kept pod's worker sync too.
	second.eventually("kept pod synced", func() bool {
		return slices.ContainsFunc(rt.CallNames(), func(c string) bool { return strings.HasPrefix(c, "RemovePodSandbox") })
	})
	for range 5 {
		second.clock.Step(time.Second)
		time.Sleep(10 * time.Millisecond)
	}
	stop()

	for _, c := range rt.CallNames() {
		switch {
		case strings.HasPrefix(c, "RunPodSandbox"), strings.HasPrefix(c, "CreateContainer"):
			t.Errorf("restart created %q", c)
		case c == "StopContainer side" || c == "StopPodSandbox kept" || c == "RemovePodSandbox kept":
			t.Errorf("restart disturbed the kept pod: %q", c)
		}
	}
	for i, name := range []string{"app", "side"} {
		if got := rt.Running(string(kept.UID), name); got != keptIDs[i] {
			t.Errorf("kept container %s: running %q, want the adopted %q", name, got, keptIDs[i])
		}
	}
	if !slices.Contains(rt.CallNames(), "StopContainer app") || !slices.Contains(rt.CallNames(), "RemovePodSandbox gone") {
		t.Errorf("orphan not stopped and removed: %v", rt.CallNames())
	}
	if s, _ := second.status("kept"); s.Phase != corev1.PodRunning {
		t.Errorf("kept pod phase = %s", s.Phase)
	}
}

func TestStatusWriteRetriesOnConflict(t *testing.T) {
	h := newHarness(t)
	pod := h.create(newPod("web", "app"))
	conflicts := 0
	h.client.PrependReactor("update", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() == "status" && conflicts == 0 {
			conflicts++
			return true, nil, apierrors.NewConflict(schema.GroupResource{Resource: "pods"}, "web", nil)
		}
		return false, nil, nil
	})
	h.sync(pod)
	if conflicts != 1 {
		t.Fatalf("conflicts = %d", conflicts)
	}
	if s, _ := h.status("web"); s.Phase != corev1.PodRunning {
		t.Errorf("phase after conflict = %s, want Running", s.Phase)
	}
}

func TestStatusRestoredWhenOverwritten(t *testing.T) {
	h := newHarness(t)
	pod := h.create(newPod("web", "app"))
	h.sync(pod)
	// The node lifecycle controller marks the pod not ready.
	cur := h.get(pod)
	for i := range cur.Status.Conditions {
		if cur.Status.Conditions[i].Type == corev1.PodReady {
			cur.Status.Conditions[i].Status = corev1.ConditionFalse
		}
	}
	if _, err := h.client.CoreV1().Pods("default").UpdateStatus(h.ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.sync(pod)
	if c := condition(h.get(pod), corev1.PodReady); c.Status != corev1.ConditionTrue {
		t.Errorf("Ready = %+v, want restored", c)
	}
}
