package kubelet

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// A status-only update (the kubelet's own writes) refreshes the worker's
// copy without waking it; a change of labels, as of anything the kubelet
// acts on, wakes it.
func TestStatusOnlyUpdateDoesNotWake(t *testing.T) {
	h := newHarness(t)
	pod := newPod("web", "app")
	pod.Spec.NodeName = testNode
	w := &podWorker{uid: pod.UID, wake: make(chan struct{}, 1), pod: pod}
	h.k.pods[pod.UID] = pod
	h.k.workers[pod.UID] = w

	withStatus := pod.DeepCopy()
	withStatus.Status.Phase = corev1.PodRunning
	withStatus.ResourceVersion = "2"
	h.k.podUpdated(pod, withStatus)
	select {
	case <-w.wake:
		t.Fatal("a status-only update woke the worker")
	default:
	}
	if w.pod != withStatus || h.k.pods[pod.UID] != withStatus {
		t.Error("the worker's copy of the pod was not refreshed")
	}

	relabelled := withStatus.DeepCopy()
	relabelled.Labels = map[string]string{"tier": "front"}
	h.k.podUpdated(withStatus, relabelled)
	select {
	case <-w.wake:
	default:
		t.Fatal("a label change did not wake the worker")
	}
}
