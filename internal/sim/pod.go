package sim

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/controller"
)

func podNodeName(obj any) ([]string, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Spec.NodeName == "" {
		return nil, nil
	}
	return []string{pod.Spec.NodeName}, nil
}

// onPod queues pods bound to a simulated node; everything else is ignored
// here so one informer over all pods stays cheap.
func (s *Sim) onPod(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if _, ours := s.nodes[pod.Spec.NodeName]; !ours {
		return
	}
	if key, err := cache.MetaNamespaceKeyFunc(pod); err == nil {
		s.queue.Add(item{kind: syncPod, key: key})
	}
}

func (s *Sim) onPodDelete(obj any) {
	if pod, ok := controller.Deleted[*corev1.Pod](obj); ok {
		s.startedMu.Lock()
		delete(s.started, pod.UID)
		s.startedMu.Unlock()
	}
}

// syncPod plays the kubelet for one pod: finish a graceful deletion, start a
// newly bound pod, complete a run-to-completion pod when its time is up.
func (s *Sim) syncPod(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pod, err := s.pods.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sim: get pod %s: %w", key, err)
	}
	sn, ok := s.live(pod.Spec.NodeName)
	if !ok {
		return nil
	}
	switch {
	case pod.DeletionTimestamp != nil:
		return s.finishDeletion(ctx, pod)
	case pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed:
		return nil
	case pod.Status.Phase != corev1.PodRunning:
		return s.start(ctx, sn, pod)
	case !podReady(pod):
		return s.restoreReady(ctx, pod)
	case pod.Spec.RestartPolicy != corev1.RestartPolicyAlways:
		return s.maybeComplete(ctx, key, pod)
	}
	return nil
}

// finishDeletion removes a terminating pod, as a kubelet does once its
// containers stopped; the UID precondition spares a same-named successor.
func (s *Sim) finishDeletion(ctx context.Context, pod *corev1.Pod) error {
	grace := int64(0)
	uid := pod.UID
	err := s.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: &grace,
		Preconditions:      &metav1.Preconditions{UID: &uid},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("sim: delete pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// start reports the pod Running and Ready in one status write.
func (s *Sim) start(ctx context.Context, sn *simNode, pod *corev1.Pod) error {
	now := s.clock.Now()
	pod = pod.DeepCopy()
	sn.mu.Lock()
	ip := fmt.Sprintf("%s.%d", podCIDRBase(sn.index), 2+sn.nextIP%253)
	sn.nextIP++
	sn.mu.Unlock()
	runningStatus(pod, sn.hostIP, ip, metav1.NewTime(now))
	if _, err := s.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("sim: start pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	if pod.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		s.startedMu.Lock()
		s.started[pod.UID] = now
		s.startedMu.Unlock()
		key, _ := cache.MetaNamespaceKeyFunc(pod)
		s.queue.AddAfter(item{kind: syncPod, key: key}, s.cfg.CompletionDelay)
	}
	return nil
}

// restoreReady reports a running pod Ready again after someone else (the
// node lifecycle controller, while this node was silent) marked it not
// ready; its containers never stopped.
func (s *Sim) restoreReady(ctx context.Context, pod *corev1.Pod) error {
	now := metav1.NewTime(s.clock.Now())
	pod = pod.DeepCopy()
	for _, t := range []corev1.PodConditionType{corev1.ContainersReady, corev1.PodReady} {
		setPodCondition(&pod.Status, corev1.PodCondition{Type: t, Status: corev1.ConditionTrue}, now)
	}
	for i := range pod.Status.ContainerStatuses {
		pod.Status.ContainerStatuses[i].Ready = true
	}
	if _, err := s.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("sim: restore readiness of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// maybeComplete marks a run-to-completion pod Succeeded once it ran for
// CompletionDelay, or checks back when it will have.
func (s *Sim) maybeComplete(ctx context.Context, key string, pod *corev1.Pod) error {
	started := s.startedAt(pod)
	if wait := s.cfg.CompletionDelay - s.clock.Since(started); wait > 0 {
		s.queue.AddAfter(item{kind: syncPod, key: key}, wait)
		return nil
	}
	pod = pod.DeepCopy()
	succeededStatus(pod, metav1.NewTime(s.clock.Now()))
	if _, err := s.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("sim: complete pod %s: %w", key, err)
	}
	s.startedMu.Lock()
	delete(s.started, pod.UID)
	s.startedMu.Unlock()
	return nil
}

// startedAt prefers this sim's own record, since the API keeps startTime
// in whole seconds; a pod started by an earlier run falls back to it.
func (s *Sim) startedAt(pod *corev1.Pod) time.Time {
	s.startedMu.Lock()
	t, ok := s.started[pod.UID]
	s.startedMu.Unlock()
	if ok {
		return t
	}
	if pod.Status.StartTime != nil {
		return pod.Status.StartTime.Time
	}
	return s.clock.Now()
}

// runningStatus fills pod.Status the way a kubelet reports a pod whose
// containers all started and passed readiness.
func runningStatus(pod *corev1.Pod, hostIP, podIP string, now metav1.Time) {
	st := &pod.Status
	st.Phase = corev1.PodRunning
	st.HostIP = hostIP
	st.HostIPs = []corev1.HostIP{{IP: hostIP}}
	st.PodIP = podIP
	st.PodIPs = []corev1.PodIP{{IP: podIP}}
	st.StartTime = &now
	st.Reason, st.Message = "", ""
	for _, t := range []corev1.PodConditionType{
		corev1.PodReadyToStartContainers, corev1.PodScheduled, corev1.PodInitialized,
		corev1.ContainersReady, corev1.PodReady,
	} {
		setPodCondition(st, corev1.PodCondition{Type: t, Status: corev1.ConditionTrue}, now)
	}
	st.InitContainerStatuses = nil
	for _, c := range pod.Spec.InitContainers {
		cs := containerStatus(pod.UID, c, now)
		if c.RestartPolicy == nil || *c.RestartPolicy != corev1.ContainerRestartPolicyAlways {
			// A plain init container ran to completion before the others.
			cs.Ready, cs.Started = false, boolPtr(false)
			cs.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: 0, Reason: "Completed", StartedAt: now, FinishedAt: now, ContainerID: cs.ContainerID,
			}}
		}
		st.InitContainerStatuses = append(st.InitContainerStatuses, cs)
	}
	st.ContainerStatuses = nil
	for _, c := range pod.Spec.Containers {
		st.ContainerStatuses = append(st.ContainerStatuses, containerStatus(pod.UID, c, now))
	}
}

func containerStatus(uid types.UID, c corev1.Container, now metav1.Time) corev1.ContainerStatus {
	return corev1.ContainerStatus{
		Name:         c.Name,
		Image:        c.Image,
		ImageID:      "sim://" + c.Image,
		ContainerID:  fmt.Sprintf("sim://%s/%s", uid, c.Name),
		Ready:        true,
		Started:      boolPtr(true),
		RestartCount: 0,
		State:        corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
	}
}

// succeededStatus turns a running pod's status into that of one whose
// containers all exited 0.
func succeededStatus(pod *corev1.Pod, now metav1.Time) {
	st := &pod.Status
	st.Phase = corev1.PodSucceeded
	for i := range st.ContainerStatuses {
		cs := &st.ContainerStatuses[i]
		startedAt := now
		if cs.State.Running != nil {
			startedAt = cs.State.Running.StartedAt
		}
		cs.Ready, cs.Started = false, boolPtr(false)
		cs.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 0, Reason: "Completed", StartedAt: startedAt, FinishedAt: now, ContainerID: cs.ContainerID,
		}}
	}
	for _, t := range []corev1.PodConditionType{corev1.ContainersReady, corev1.PodReady, corev1.PodReadyToStartContainers} {
		setPodCondition(st, corev1.PodCondition{Type: t, Status: corev1.ConditionFalse, Reason: "PodCompleted"}, now)
	}
}

// setPodCondition sets one condition, moving its transition time only when
// its status changes.
func setPodCondition(st *corev1.PodStatus, c corev1.PodCondition, now metav1.Time) {
	c.LastTransitionTime = now
	for i := range st.Conditions {
		if st.Conditions[i].Type != c.Type {
			continue
		}
		if st.Conditions[i].Status == c.Status {
			c.LastTransitionTime = st.Conditions[i].LastTransitionTime
		}
		c.LastProbeTime = st.Conditions[i].LastProbeTime
		st.Conditions[i] = c
		return
	}
	st.Conditions = append(st.Conditions, c)
}

func boolPtr(b bool) *bool { return &b }
