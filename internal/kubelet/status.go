package kubelet

import (
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/ptr"
)

// Container state reasons the kubelet itself gives.
const (
	reasonContainerCreating = "ContainerCreating"
	reasonPodInitializing   = "PodInitializing"
	reasonCompleted         = "Completed"
	reasonError             = "Error"
	reasonOOMKilled         = "OOMKilled"
	reasonStatusUnknown     = "ContainerStatusUnknown"
)

// runtimeName prefixes container IDs in the API, as containerd's are.
const runtimeName = "containerd"

// generateStatus computes the pod's status from the runtime, as upstream's
// generateAPIPodStatus does. terminal says the pod's containers will not
// run again (it is being deleted), so the phase must end Succeeded or
// Failed. The conditions' transition times are not set here.
func (k *Kubelet) generateStatus(st *podState, pod *corev1.Pod, rt *runtimePod, old corev1.PodStatus, terminal bool) corev1.PodStatus {
	s := corev1.PodStatus{
		ObservedGeneration: pod.Generation,
		QOSClass:           pod.Status.QOSClass,
		NominatedNodeName:  pod.Status.NominatedNodeName,
		StartTime:          old.StartTime,
	}
	if s.QOSClass == "" {
		s.QOSClass = qosClass(pod)
	}
	if s.StartTime == nil {
		s.StartTime = ptr.To(apiTime(k.clock.Now()))
	}
	for _, ip := range k.cfg.HostIPs {
		s.HostIPs = append(s.HostIPs, corev1.HostIP{IP: ip})
	}
	if len(k.cfg.HostIPs) > 0 {
		s.HostIP = k.cfg.HostIPs[0]
	}
	ips := k.podIPs(pod, rt.sandboxIPs())
	if len(ips) == 0 {
		// A stopped or replaced sandbox loses its address; the pod keeps
		// reporting its last one until a new one exists.
		for _, ip := range old.PodIPs {
			ips = append(ips, ip.IP)
		}
	}
	for _, ip := range ips {
		s.PodIPs = append(s.PodIPs, corev1.PodIP{IP: ip})
	}
	if len(ips) > 0 {
		s.PodIP = ips[0]
	}

	hasInit := len(pod.Spec.InitContainers) > 0
	s.InitContainerStatuses = k.containerStatuses(st, pod, rt, pod.Spec.InitContainers, old.InitContainerStatuses, hasInit, true)
	s.ContainerStatuses = k.containerStatuses(st, pod, rt, pod.Spec.Containers, old.ContainerStatuses, hasInit, false)
	slices.SortFunc(s.ContainerStatuses, func(a, b corev1.ContainerStatus) int { return strings.Compare(a.Name, b.Name) })

	all := append(slices.Clone(s.ContainerStatuses), s.InitContainerStatuses...)
	s.Phase = podPhase(pod, all, terminal)
	// A pod never leaves Succeeded or Failed.
	for _, p := range []corev1.PodPhase{old.Phase, pod.Status.Phase} {
		if isTerminalPhase(p) && s.Phase != p {
			s.Phase = p
			break
		}
	}
	if s.Phase == old.Phase {
		s.Reason, s.Message = old.Reason, old.Message
	}

	// Conditions owned by others (readiness gates, DisruptionTarget, ...)
	// are kept; the kubelet's own are recomputed.
	for _, c := range pod.Status.Conditions {
		if !kubeletCondition(c.Type) {
			s.Conditions = append(s.Conditions, c)
		}
	}
	sandboxNeeded, _, _ := sandboxChanged(pod, rt)
	ready := corev1.ConditionTrue
	if sandboxNeeded {
		ready = corev1.ConditionFalse
	}
	allInit := append(slices.Clone(s.InitContainerStatuses), s.ContainerStatuses...)
	own := []corev1.PodCondition{
		{Type: corev1.PodReadyToStartContainers, Status: ready},
		initializedCondition(pod, allInit, s.Phase),
		readyCondition(pod, s.Conditions, allInit, s.Phase),
		containersReadyCondition(pod, allInit, s.Phase),
	}
	for _, c := range own {
		c.ObservedGeneration = pod.Generation
		s.Conditions = append(s.Conditions, c)
	}
	scheduled := corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}
	if i := slices.IndexFunc(pod.Status.Conditions, func(c corev1.PodCondition) bool { return c.Type == corev1.PodScheduled }); i >= 0 {
		scheduled = pod.Status.Conditions[i]
	}
	s.Conditions = append(s.Conditions, scheduled)
	setTransitionTimes(s.Conditions, old.Conditions, apiTime(k.clock.Now()))
	return s
}

func isTerminalPhase(p corev1.PodPhase) bool {
	return p == corev1.PodSucceeded || p == corev1.PodFailed
}

func kubeletCondition(t corev1.PodConditionType) bool {
	switch t {
	case corev1.PodScheduled, corev1.PodReady, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReadyToStartContainers:
		return true
	}
	return false
}

// setTransitionTimes keeps a condition's transition time while its status
// stays, and stamps now when it changes.
func setTransitionTimes(conds, old []corev1.PodCondition, now metav1.Time) {
	for i := range conds {
		if !conds[i].LastTransitionTime.IsZero() {
			continue
		}
		conds[i].LastTransitionTime = now
		for _, o := range old {
			if o.Type == conds[i].Type && o.Status == conds[i].Status {
				conds[i].LastTransitionTime = o.LastTransitionTime
			}
		}
	}
}

// apiTime truncates to the second the API keeps, so that a status read
// back compares equal to the one written.
func apiTime(t time.Time) metav1.Time {
	return metav1.NewTime(t).Rfc3339Copy()
}

// containerStatuses converts the runtime's view of containers into API
// statuses: the newest instance gives state, the one before it lastState,
// and a container waiting to be (re)started shows why.
func (k *Kubelet) containerStatuses(st *podState, pod *corev1.Pod, rt *runtimePod, containers []corev1.Container, old []corev1.ContainerStatus, hasInit, isInit bool) []corev1.ContainerStatus {
	if len(containers) == 0 {
		return nil
	}
	oldByName := map[string]corev1.ContainerStatus{}
	for _, o := range old {
		oldByName[o.Name] = o
	}
	defaultReason := reasonContainerCreating
	if hasInit {
		defaultReason = reasonPodInitializing
	}
	out := make([]corev1.ContainerStatus, 0, len(containers))
	for i := range containers {
		c := &containers[i]
		s := corev1.ContainerStatus{
			Name:    c.Name,
			Image:   c.Image,
			State:   corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: defaultReason}},
			Started: ptr.To(false),
		}
		o, hadOld := oldByName[c.Name]
		instances := rt.instances(c.Name)
		switch {
		case len(instances) > 0:
			k.fillFromRuntime(&s, c, instances, o, hadOld)
		case hadOld && o.State.Terminated != nil:
			// The runtime lost the container; what it last showed stands.
			s = o
		case hadOld && o.State.Running != nil:
			// It ran and vanished: it ended, how is unknown.
			s.RestartCount = o.RestartCount
			s.LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				Reason:   reasonStatusUnknown,
				Message:  "The container could not be located when the pod was deleted.  The container used to be Running",
				ExitCode: 137,
			}}
			if pod.DeletionTimestamp == nil {
				s.RestartCount++
			}
		case hadOld:
			s.RestartCount = o.RestartCount
			s.LastTerminationState = o.LastTerminationState
		}
		if w, ok := st.waiting[c.Name]; ok && s.State.Running == nil && waitsForStart(c, pod, rt, isInit) {
			if s.State.Terminated != nil {
				s.LastTerminationState = s.State
			}
			s.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: w.reason, Message: w.message}}
		}
		// A running container has started once its startup probe, if any,
		// passed, and is ready once started and its readiness probe, if
		// any, passed. A regular init container is ready once it succeeded.
		started := s.State.Running != nil
		if started && (!isInit || isSidecar(c)) {
			started = k.probes.hasStarted(pod.UID, instances[0].GetId(), c)
		}
		s.Started = ptr.To(started)
		if isInit && !isSidecar(c) {
			s.Ready = s.State.Terminated != nil && s.State.Terminated.ExitCode == 0
		} else {
			s.Ready = started && k.probes.ready(pod.UID, instances[0].GetId(), c)
		}
		out = append(out, s)
	}
	return out
}

// waitsForStart reports whether the kubelet means to start the container
// again, so that the reason its last start failed is what status shows.
func waitsForStart(c *corev1.Container, pod *corev1.Pod, rt *runtimePod, isInit bool) bool {
	if isInit && isSidecar(c) {
		st := rt.latest(c.Name)
		return pod.DeletionTimestamp == nil && (st == nil || st.GetState() != runtimeapi.ContainerState_CONTAINER_RUNNING)
	}
	if isInit && succeeded(rt.latest(c.Name)) {
		return false
	}
	return shouldRestart(c, pod, rt)
}

// fillFromRuntime sets state, lastState, restart count, image and IDs from
// the container's instances, newest first.
func (k *Kubelet) fillFromRuntime(s *corev1.ContainerStatus, c *corev1.Container, instances []*runtimeapi.ContainerStatus, old corev1.ContainerStatus, hadOld bool) {
	newest := instances[0]
	s.ContainerID = runtimeName + "://" + newest.GetId()
	s.RestartCount = restartCount(newest)
	if img := newest.GetImage().GetImage(); img != "" {
		s.Image = img
	}
	s.ImageID = newest.GetImageRef()
	var oldState *corev1.ContainerState
	if hadOld && old.ContainerID == s.ContainerID {
		oldState = &old.State
	}
	s.State = k.containerState(c, newest, oldState)
	if len(instances) > 1 {
		s.LastTerminationState = k.containerState(c, instances[1], nil)
	} else if hadOld && old.ContainerID != s.ContainerID && old.State.Terminated != nil {
		// The previous instance was removed; the API still remembers it.
		s.LastTerminationState = old.State
	} else if hadOld {
		s.LastTerminationState = old.LastTerminationState
	}
}

// containerState converts one instance's runtime state. old is what the
// API showed for the same instance, if anything.
func (k *Kubelet) containerState(c *corev1.Container, cs *runtimeapi.ContainerStatus, old *corev1.ContainerState) corev1.ContainerState {
	id := runtimeName + "://" + cs.GetId()
	switch cs.GetState() {
	case runtimeapi.ContainerState_CONTAINER_RUNNING:
		return corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: apiTime(nanoTime(cs.GetStartedAt()))}}
	case runtimeapi.ContainerState_CONTAINER_EXITED:
		reason := cs.GetReason()
		if reason == "" {
			reason = reasonCompleted
			if cs.GetExitCode() != 0 {
				reason = reasonError
			}
		}
		return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode:    cs.GetExitCode(),
			Reason:      reason,
			Message:     terminationMessage(c, cs),
			StartedAt:   apiTime(nanoTime(cs.GetStartedAt())),
			FinishedAt:  apiTime(nanoTime(cs.GetFinishedAt())),
			ContainerID: id,
		}}
	case runtimeapi.ContainerState_CONTAINER_UNKNOWN:
		if old != nil && old.Running != nil {
			// It was running and the runtime lost track: it ended.
			return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				Reason:   reasonStatusUnknown,
				Message:  "The container could not be located when the pod was terminated",
				ExitCode: 137,
			}}
		}
	}
	// Created but not started is waiting to run.
	return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{}}
}
