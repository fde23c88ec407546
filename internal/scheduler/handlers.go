package scheduler

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/skiff-sh/skiff/internal/controller"
)

func (s *Scheduler) onPodAdd(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if pod.Spec.NodeName != "" {
		s.onBoundPod(pod)
		return
	}
	s.onPendingPod(pod, true)
}

func (s *Scheduler) onPodUpdate(oldObj, newObj any) {
	oldPod, ok1 := oldObj.(*corev1.Pod)
	pod, ok2 := newObj.(*corev1.Pod)
	if !ok1 || !ok2 {
		return
	}
	if pod.Spec.NodeName == "" {
		s.onPendingPod(pod, podSpecChanged(oldPod, pod))
		return
	}
	s.onBoundPod(pod)
	if oldPod.Spec.NodeName != "" && !equality.Semantic.DeepEqual(oldPod.Labels, pod.Labels) {
		// Relabelling a running pod can satisfy or lift pod affinity.
		s.queue.MovePodSensitive()
	}
}

func (s *Scheduler) onPodDelete(obj any) {
	pod, ok := controller.Deleted[*corev1.Pod](obj)
	if !ok {
		return
	}
	key := podKey(pod)
	s.queue.Delete(key)
	s.mu.Lock()
	removed := s.snap.RemovePod(key) != nil
	s.snap.clearNominated(key)
	s.mu.Unlock()
	if removed {
		s.queue.MoveAllToActive()
	}
}

// onPendingPod queues an unbound pod this scheduler is responsible for,
// and tracks the node it was nominated to by an earlier preemption.
func (s *Scheduler) onPendingPod(pod *corev1.Pod, specChanged bool) {
	key := podKey(pod)
	// A pod with scheduling gates waits outside the queue; the update
	// that removes the last gate brings it in.
	if !s.responsible(pod) || pod.DeletionTimestamp != nil || isTerminal(pod) || len(pod.Spec.SchedulingGates) > 0 {
		s.queue.Delete(key)
		return
	}
	s.queue.Add(pod, specChanged)
	if nn := pod.Status.NominatedNodeName; nn != "" {
		if pi, err := NewPodInfo(pod); err == nil {
			s.mu.Lock()
			s.snap.SetNominated(pi, nn)
			s.mu.Unlock()
		}
	}
}

// onBoundPod records a bound pod in the snapshot, replacing the
// scheduler's own assumption for it; a finished pod frees its node.
func (s *Scheduler) onBoundPod(pod *corev1.Pod) {
	key := podKey(pod)
	s.queue.Delete(key)
	if isTerminal(pod) {
		s.mu.Lock()
		removed := s.snap.RemovePod(key) != nil
		s.mu.Unlock()
		if removed {
			s.queue.MoveAllToActive()
		}
		return
	}
	pi, err := NewPodInfo(pod)
	if err != nil {
		s.log.Warn("ignoring bound pod with invalid affinity", "pod", key, "err", err)
		return
	}
	s.mu.Lock()
	prevNode, had := s.snap.PodNode(key)
	s.snap.AddPod(pi, pod.Spec.NodeName)
	s.snap.clearNominated(key)
	s.mu.Unlock()
	if !had || prevNode != pod.Spec.NodeName {
		if pi.hasAffinity() || len(pod.Labels) > 0 {
			s.queue.MovePodSensitive()
		}
	}
}

func (s *Scheduler) onNodeAdd(obj any) {
	node, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	s.mu.Lock()
	s.snap.SetNode(node)
	s.mu.Unlock()
	s.queue.MoveAllToActive()
}

func (s *Scheduler) onNodeUpdate(oldObj, newObj any) {
	oldNode, ok1 := oldObj.(*corev1.Node)
	node, ok2 := newObj.(*corev1.Node)
	if !ok1 || !ok2 {
		return
	}
	s.mu.Lock()
	s.snap.SetNode(node)
	s.mu.Unlock()
	if nodeSchedulingChanged(oldNode, node) {
		s.queue.MoveAllToActive()
	}
}

// podSpecChanged reports changes other than status and bookkeeping
// metadata; only those can change a pending pod's scheduling outcome.
func podSpecChanged(a, b *corev1.Pod) bool {
	return !equality.Semantic.DeepEqual(a.Spec, b.Spec) ||
		!equality.Semantic.DeepEqual(a.Labels, b.Labels) ||
		!equality.Semantic.DeepEqual(a.Annotations, b.Annotations)
}

// nodeSchedulingChanged ignores heartbeats: only what a filter reads can
// make a pending pod fit.
func nodeSchedulingChanged(a, b *corev1.Node) bool {
	return a.Spec.Unschedulable != b.Spec.Unschedulable ||
		!equality.Semantic.DeepEqual(a.Labels, b.Labels) ||
		!equality.Semantic.DeepEqual(a.Spec.Taints, b.Spec.Taints) ||
		!equality.Semantic.DeepEqual(a.Status.Allocatable, b.Status.Allocatable)
}

func (s *Scheduler) onNodeDelete(obj any) {
	node, ok := controller.Deleted[*corev1.Node](obj)
	if !ok {
		return
	}
	s.mu.Lock()
	s.snap.RemoveNode(node.Name)
	s.mu.Unlock()
}

func (s *Scheduler) onNamespace(obj any) {
	ns, ok := obj.(*corev1.Namespace)
	if !ok {
		return
	}
	s.mu.Lock()
	s.snap.SetNamespace(ns)
	s.mu.Unlock()
}

func (s *Scheduler) onNamespaceDelete(obj any) {
	if ns, ok := controller.Deleted[*corev1.Namespace](obj); ok {
		s.mu.Lock()
		s.snap.RemoveNamespace(ns.Name)
		s.mu.Unlock()
	}
}
