package podutil

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func podWithReady(status corev1.ConditionStatus, since time.Time) *corev1.Pod {
	return &corev1.Pod{Status: corev1.PodStatus{Conditions: []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
		{Type: corev1.PodReady, Status: status, LastTransitionTime: metav1.NewTime(since)},
	}}}
}

func TestIsPodReadyAndAvailable(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		pod       *corev1.Pod
		minReady  int32
		ready     bool
		available bool
		wait      time.Duration
		waits     bool
	}{
		{name: "nil pod", pod: nil},
		{name: "no conditions", pod: &corev1.Pod{}},
		{name: "not ready", pod: podWithReady(corev1.ConditionFalse, now.Add(-time.Hour)), minReady: 5},
		{name: "ready without minReady", pod: podWithReady(corev1.ConditionTrue, now), ready: true, available: true},
		{name: "ready too briefly", pod: podWithReady(corev1.ConditionTrue, now.Add(-3*time.Second)), minReady: 10, ready: true, wait: 7 * time.Second, waits: true},
		{name: "ready exactly minReady is not yet available", pod: podWithReady(corev1.ConditionTrue, now.Add(-10*time.Second)), minReady: 10, ready: true, waits: true},
		{name: "ready long enough", pod: podWithReady(corev1.ConditionTrue, now.Add(-11*time.Second)), minReady: 10, ready: true, available: true},
		{name: "ready with zero transition time", pod: podWithReady(corev1.ConditionTrue, time.Time{}), minReady: 10, ready: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsPodReady(tc.pod); got != tc.ready {
				t.Errorf("IsPodReady = %v, want %v", got, tc.ready)
			}
			if got := IsPodAvailable(tc.pod, tc.minReady, now); got != tc.available {
				t.Errorf("IsPodAvailable = %v, want %v", got, tc.available)
			}
			wait, waits := AvailableIn(tc.pod, tc.minReady, now)
			if waits != tc.waits || wait != tc.wait {
				t.Errorf("AvailableIn = %v, %v; want %v, %v", wait, waits, tc.wait, tc.waits)
			}
		})
	}
}
