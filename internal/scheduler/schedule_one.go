package scheduler

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Event reasons as upstream's scheduler records them.
const (
	reasonScheduled        = "Scheduled"
	reasonFailedScheduling = "FailedScheduling"
	reasonPreempted        = "Preempted"
)

// scheduleOne makes one attempt for a popped pod. On success the pod is
// assumed on its node at once, so the next pod sees the capacity taken,
// and bound in the background.
func (s *Scheduler) scheduleOne(ctx context.Context, qp *queuedPod) {
	pod := qp.pod
	pi, err := NewPodInfo(pod)
	if err != nil {
		s.queue.Requeue(qp.key, true, false)
		s.submit(ctx, func(ctx context.Context) { s.recordFailure(ctx, pod, err.Error(), "") })
		return
	}

	s.mu.Lock()
	if _, bound := s.snap.PodNode(pi.Key); bound {
		s.mu.Unlock()
		s.queue.Done(qp.key)
		return
	}
	node, err := scheduleInfo(s.snap, pi, Options{PercentageOfNodesToScore: s.cfg.PercentageOfNodesToScore})
	if err == nil {
		pi.Assumed = true
		s.snap.AddPod(pi, node)
		s.snap.clearNominated(pi.Key)
		s.mu.Unlock()
		s.queue.Done(qp.key)
		s.submit(ctx, func(ctx context.Context) { s.bind(ctx, pi, node) })
		return
	}
	var fe *FitError
	var plan *Preemption
	if errors.As(err, &fe) {
		var msg string
		plan, msg = Preempt(s.snap, pod, fe)
		fe.PostFilterMsg = msg
		if plan != nil {
			// Reserve the room being made so lower-priority pods do not
			// take it while the victims terminate.
			s.snap.SetNominated(pi, plan.NodeName)
		}
	}
	s.mu.Unlock()

	if fe == nil {
		s.log.Error("scheduling failed", "pod", qp.key, "err", err)
		s.queue.Requeue(qp.key, false, false)
		s.submit(ctx, func(ctx context.Context) { s.recordFailure(ctx, pod, err.Error(), "") })
		return
	}
	s.queue.Requeue(qp.key, true, podSensitiveFailure(fe))
	msg := fe.Error()
	nominated := ""
	if plan != nil {
		nominated = plan.NodeName
	}
	s.log.Debug("pod unschedulable", "pod", qp.key, "reason", msg, "nominated", nominated)
	s.submit(ctx, func(ctx context.Context) {
		if plan != nil {
			s.evict(ctx, pod, plan)
		}
		s.recordFailure(ctx, pod, msg, nominated)
	})
}

// podSensitiveFailure reports whether a change to other pods may cure the
// failure, so that pod events need to retry it.
func podSensitiveFailure(fe *FitError) bool {
	for r := range fe.Reasons {
		switch r {
		case reasonAffinityRules, reasonAntiAffinityRules, reasonExistingAnti, reasonSpread:
			return true
		}
	}
	return false
}

// bind commits an assumed placement. A conflict means the pod was bound
// or replaced meanwhile, so the assumption is simply dropped; any other
// failure drops it and retries the pod after a backoff.
func (s *Scheduler) bind(ctx context.Context, pi *PodInfo, node string) {
	pod := pi.Pod
	b := &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: node},
	}
	err := s.client.CoreV1().Pods(pod.Namespace).Bind(ctx, b, metav1.CreateOptions{})
	if err == nil {
		s.recorder.Eventf(pod, corev1.EventTypeNormal, reasonScheduled, "Successfully assigned %s/%s to %s", pod.Namespace, pod.Name, node)
		return
	}
	s.mu.Lock()
	s.snap.forgetAssumed(pi)
	s.mu.Unlock()
	if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) || apierrors.IsNotFound(err) {
		s.log.Debug("binding superseded", "pod", pi.Key, "node", node, "err", err)
		return
	}
	if ctx.Err() != nil {
		return
	}
	s.log.Warn("binding failed", "pod", pi.Key, "node", node, "err", err)
	s.recorder.Eventf(pod, corev1.EventTypeWarning, reasonFailedScheduling, "Binding rejected: %v", err)
	s.queue.AddBackoff(pod)
	s.queue.MoveAllToActive()
}

// evict deletes the preemption victims with their own grace periods; they
// leave the snapshot when their deletion is observed.
func (s *Scheduler) evict(ctx context.Context, preemptor *corev1.Pod, plan *Preemption) {
	for _, v := range plan.Victims {
		uid := v.UID
		opts := metav1.DeleteOptions{}
		if uid != "" {
			opts.Preconditions = &metav1.Preconditions{UID: &uid}
		}
		err := s.client.CoreV1().Pods(v.Namespace).Delete(ctx, v.Name, opts)
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			s.log.Warn("preemption: deleting victim failed", "victim", podKey(v), "err", err)
			continue
		}
		s.recorder.Eventf(v, corev1.EventTypeNormal, reasonPreempted, "Preempted by pod %s on node %s", preemptor.UID, plan.NodeName)
	}
}

// recordFailure reports an unschedulable pod: a FailedScheduling event and
// the PodScheduled=False condition (plus the nominated node), written only
// when they changed.
func (s *Scheduler) recordFailure(ctx context.Context, pod *corev1.Pod, msg, nominated string) {
	s.recorder.Event(pod, corev1.EventTypeWarning, reasonFailedScheduling, msg)
	cur, err := s.pods.Pods(pod.Namespace).Get(pod.Name)
	if err != nil {
		return
	}
	for attempt := 0; attempt < 2; attempt++ {
		if cur.Spec.NodeName != "" || (pod.UID != "" && cur.UID != pod.UID) {
			return
		}
		upd, changed := withUnschedulableCondition(cur, msg, nominated, metav1.NewTime(s.clock.Now()))
		if !changed {
			return
		}
		_, err = s.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{})
		if err == nil || !apierrors.IsConflict(err) {
			break
		}
		if cur, err = s.client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{}); err != nil {
			break
		}
	}
	if err != nil && !apierrors.IsNotFound(err) && ctx.Err() == nil {
		s.log.Warn("updating pod status failed", "pod", podKey(pod), "err", fmt.Errorf("scheduler: update status: %w", err))
	}
}

// withUnschedulableCondition returns a copy of pod with PodScheduled=False
// reason Unschedulable and the nominated node set, and whether anything
// changed. The nominated node is only ever set here, never cleared: the
// binding supersedes it.
func withUnschedulableCondition(pod *corev1.Pod, msg, nominated string, now metav1.Time) (*corev1.Pod, bool) {
	idx := -1
	for i, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled {
			idx = i
			break
		}
	}
	nominatedChanged := nominated != "" && pod.Status.NominatedNodeName != nominated
	if idx >= 0 {
		c := pod.Status.Conditions[idx]
		if c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable && c.Message == msg && !nominatedChanged {
			return pod, false
		}
	}
	upd := pod.DeepCopy()
	cond := corev1.PodCondition{
		Type:               corev1.PodScheduled,
		Status:             corev1.ConditionFalse,
		Reason:             corev1.PodReasonUnschedulable,
		Message:            msg,
		LastProbeTime:      now,
		LastTransitionTime: now,
	}
	if idx >= 0 {
		if old := upd.Status.Conditions[idx]; old.Status == corev1.ConditionFalse {
			cond.LastTransitionTime = old.LastTransitionTime
		}
		upd.Status.Conditions[idx] = cond
	} else {
		upd.Status.Conditions = append(upd.Status.Conditions, cond)
	}
	if nominated != "" {
		upd.Status.NominatedNodeName = nominated
	}
	return upd, true
}
