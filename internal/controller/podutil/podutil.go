// Package podutil answers the questions about a pod that several controllers
// ask the same way: is it ready, and has it been ready long enough to count as
// available.
package podutil

import (
	"time"

	corev1 "k8s.io/api/core/v1"
)

// ReadyCondition returns the pod's Ready condition, or nil when the kubelet
// has not reported one yet.
func ReadyCondition(pod *corev1.Pod) *corev1.PodCondition {
	if pod == nil {
		return nil
	}
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == corev1.PodReady {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

// IsPodReady reports whether the pod's Ready condition is True.
func IsPodReady(pod *corev1.Pod) bool {
	c := ReadyCondition(pod)
	return c != nil && c.Status == corev1.ConditionTrue
}

// IsPodAvailable reports whether the pod has been ready for more than
// minReadySeconds at now. With minReadySeconds zero a ready pod is available
// at once; otherwise the Ready condition's transition time must lie strictly
// more than minReadySeconds in the past, as upstream counts it.
func IsPodAvailable(pod *corev1.Pod, minReadySeconds int32, now time.Time) bool {
	if !IsPodReady(pod) {
		return false
	}
	if minReadySeconds == 0 {
		return true
	}
	c := ReadyCondition(pod)
	if c.LastTransitionTime.IsZero() {
		return false
	}
	minReady := time.Duration(minReadySeconds) * time.Second
	return c.LastTransitionTime.Add(minReady).Before(now)
}

// AvailableIn returns how long from now until a ready pod becomes available
// under minReadySeconds, and false when the pod is not ready, already
// available, or has no transition time to count from. Controllers use it to
// requeue exactly when the count can change rather than polling.
func AvailableIn(pod *corev1.Pod, minReadySeconds int32, now time.Time) (time.Duration, bool) {
	if minReadySeconds == 0 || !IsPodReady(pod) || IsPodAvailable(pod, minReadySeconds, now) {
		return 0, false
	}
	c := ReadyCondition(pod)
	if c.LastTransitionTime.IsZero() {
		return 0, false
	}
	at := c.LastTransitionTime.Add(time.Duration(minReadySeconds) * time.Second)
	return at.Sub(now), true
}
