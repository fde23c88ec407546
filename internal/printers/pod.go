package printers

import (
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// nodeLostReason is what the node lifecycle controller sets on pods of an
// unreachable node; such pods print as Unknown while being deleted.
const nodeLostReason = "NodeLost"

func podColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(),
		col("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
		col("Status", "string", "The aggregate status of the containers in this pod."),
		col("Restarts", "string", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
		ageColumn(),
		wide(col("IP", "string", corev1.PodStatus{}.SwaggerDoc()["podIP"])),
		wide(col("Node", "string", corev1.PodSpec{}.SwaggerDoc()["nodeName"])),
		wide(col("Nominated Node", "string", corev1.PodStatus{}.SwaggerDoc()["nominatedNodeName"])),
		wide(col("Readiness Gates", "string", corev1.PodSpec{}.SwaggerDoc()["readinessGates"])),
	}
}

func (p *Printer) podRow(pod *corev1.Pod) []interface{} {
	s := summarizePod(pod)
	restarts := strconv.Itoa(s.restarts)
	if s.restarts != 0 && !s.lastRestart.IsZero() {
		restarts = fmt.Sprintf("%d (%s ago)", s.restarts, p.since(s.lastRestart))
	}
	return []interface{}{
		pod.Name,
		fmt.Sprintf("%d/%d", s.ready, s.total),
		s.reason,
		restarts,
		p.since(pod.CreationTimestamp),
		orNone(podIP(pod)),
		orNone(pod.Spec.NodeName),
		orNone(pod.Status.NominatedNodeName),
		readinessGates(pod),
	}
}

// podSummary is the aggregate of a pod's container statuses shown in the
// READY, STATUS and RESTARTS columns.
type podSummary struct {
	ready, total int
	restarts     int
	reason       string
	lastRestart  metav1.Time
}

func summarizePod(pod *corev1.Pod) podSummary {
	s := podSummary{total: len(pod.Spec.Containers), reason: podBaseReason(pod)}
	sidecars := map[string]bool{}
	for i := range pod.Spec.InitContainers {
		if isSidecar(&pod.Spec.InitContainers[i]) {
			sidecars[pod.Spec.InitContainers[i].Name] = true
			s.total++
		}
	}
	initializing, sidecarRestarts, sidecarLast := s.scanInitContainers(pod, sidecars)
	if !initializing || podConditionTrue(pod.Status.Conditions, corev1.PodInitialized) {
		// Once regular containers run, only sidecar restarts still count
		// among the init containers.
		s.restarts, s.lastRestart = sidecarRestarts, sidecarLast
		s.scanContainers(pod)
	}
	if pod.DeletionTimestamp != nil {
		switch {
		case pod.Status.Reason == nodeLostReason:
			s.reason = "Unknown"
		case pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed:
			s.reason = "Terminating"
		}
	}
	return s
}

func podBaseReason(pod *corev1.Pod) string {
	reason := string(pod.Status.Phase)
	if pod.Status.Reason != "" {
		reason = pod.Status.Reason
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Reason == corev1.PodReasonSchedulingGated {
			reason = corev1.PodReasonSchedulingGated
		}
	}
	return reason
}

// scanInitContainers walks init containers in order until the first one that
// has not finished, which then determines the Init:... status. It returns
// whether the pod is still initializing plus the sidecar-only restart tally.
func (s *podSummary) scanInitContainers(pod *corev1.Pod, sidecars map[string]bool) (bool, int, metav1.Time) {
	sidecarRestarts := 0
	var sidecarLast metav1.Time
	for i, st := range pod.Status.InitContainerStatuses {
		s.restarts += int(st.RestartCount)
		finished := lastTerminatedAt(st)
		s.lastRestart = later(s.lastRestart, finished)
		sidecar := sidecars[st.Name]
		if sidecar {
			sidecarRestarts += int(st.RestartCount)
			sidecarLast = later(sidecarLast, finished)
		}
		switch {
		case st.State.Terminated != nil && st.State.Terminated.ExitCode == 0:
			continue
		case sidecar && st.Started != nil && *st.Started:
			if st.Ready {
				s.ready++
			}
			continue
		case st.State.Terminated != nil:
			s.reason = "Init:" + terminationReason(st.State.Terminated)
		case st.State.Waiting != nil && st.State.Waiting.Reason != "" && st.State.Waiting.Reason != "PodInitializing":
			s.reason = "Init:" + st.State.Waiting.Reason
		default:
			s.reason = fmt.Sprintf("Init:%d/%d", i, len(pod.Spec.InitContainers))
		}
		return true, sidecarRestarts, sidecarLast
	}
	return false, sidecarRestarts, sidecarLast
}

// scanContainers walks regular containers last to first, so the first
// container's waiting/terminated reason wins, as upstream does.
func (s *podSummary) scanContainers(pod *corev1.Pod) {
	hasRunning := false
	for i := len(pod.Status.ContainerStatuses) - 1; i >= 0; i-- {
		st := pod.Status.ContainerStatuses[i]
		s.restarts += int(st.RestartCount)
		s.lastRestart = later(s.lastRestart, lastTerminatedAt(st))
		switch {
		case st.State.Waiting != nil && st.State.Waiting.Reason != "":
			s.reason = st.State.Waiting.Reason
		case st.State.Terminated != nil:
			s.reason = terminationReason(st.State.Terminated)
		case st.Ready && st.State.Running != nil:
			hasRunning = true
			s.ready++
		}
	}
	// A finished container next to a still running one is not "Completed".
	if s.reason == "Completed" && hasRunning {
		if podConditionTrue(pod.Status.Conditions, corev1.PodReady) {
			s.reason = "Running"
		} else {
			s.reason = "NotReady"
		}
	}
}

func terminationReason(t *corev1.ContainerStateTerminated) string {
	switch {
	case t.Reason != "":
		return t.Reason
	case t.Signal != 0:
		return fmt.Sprintf("Signal:%d", t.Signal)
	default:
		return fmt.Sprintf("ExitCode:%d", t.ExitCode)
	}
}

func lastTerminatedAt(st corev1.ContainerStatus) metav1.Time {
	if st.LastTerminationState.Terminated == nil {
		return metav1.Time{}
	}
	return st.LastTerminationState.Terminated.FinishedAt
}

func later(a, b metav1.Time) metav1.Time {
	if a.Before(&b) {
		return b
	}
	return a
}

func isSidecar(c *corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

// podConditionTrue reports the status of the first condition of type t.
func podConditionTrue(conds []corev1.PodCondition, t corev1.PodConditionType) bool {
	for _, c := range conds {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func podIP(pod *corev1.Pod) string {
	if len(pod.Status.PodIPs) > 0 {
		return pod.Status.PodIPs[0].IP
	}
	return pod.Status.PodIP
}

func readinessGates(pod *corev1.Pod) string {
	if len(pod.Spec.ReadinessGates) == 0 {
		return none
	}
	trueCount := 0
	for _, gate := range pod.Spec.ReadinessGates {
		if podConditionTrue(pod.Status.Conditions, gate.ConditionType) {
			trueCount++
		}
	}
	return fmt.Sprintf("%d/%d", trueCount, len(pod.Spec.ReadinessGates))
}

// rowConditions marks finished pods as Completed rows, which kubectl uses
// to tell terminal pods apart.
func rowConditions(obj runtime.Object) []metav1.TableRowCondition {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return nil
	}
	switch pod.Status.Phase {
	case corev1.PodSucceeded:
		return []metav1.TableRowCondition{{Type: metav1.RowCompleted, Status: metav1.ConditionTrue, Reason: string(corev1.PodSucceeded), Message: "The pod has completed successfully."}}
	case corev1.PodFailed:
		return []metav1.TableRowCondition{{Type: metav1.RowCompleted, Status: metav1.ConditionTrue, Reason: string(corev1.PodFailed), Message: "The pod failed."}}
	}
	return nil
}
