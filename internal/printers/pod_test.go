package printers

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func quantity(s string) *resource.Quantity {
	q := resource.MustParse(s)
	return &q
}

func running() corev1.ContainerState {
	return corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: ago(9 * time.Minute)}}
}

func waiting(reason string) corev1.ContainerState {
	return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}
}

func terminated(reason string, exit, signal int32) corev1.ContainerState {
	return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: reason, ExitCode: exit, Signal: signal}}
}

// runningPod is a two-container pod with one ready container.
func runningPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: objMeta("web"),
		Spec: corev1.PodSpec{
			NodeName:   "node-1",
			Containers: []corev1.Container{{Name: "app", Image: "nginx"}, {Name: "log", Image: "busybox"}},
		},
		Status: corev1.PodStatus{
			Phase:  corev1.PodRunning,
			PodIPs: []corev1.PodIP{{IP: "10.0.0.5"}},
			ContainerStatuses: []corev1.ContainerStatus{
				{Name: "app", Ready: true, State: running()},
				{Name: "log", Ready: false, State: running()},
			},
		},
	}
}

func TestPodCells(t *testing.T) {
	p := newTestPrinter()
	gk := schema.GroupKind{Kind: "Pod"}
	tests := []struct {
		name   string
		mutate func(*corev1.Pod)
		want   map[string]interface{}
	}{
		{
			name:   "running, one of two ready",
			mutate: func(*corev1.Pod) {},
			want: map[string]interface{}{
				"Name": "web", "Ready": "1/2", "Status": "Running", "Restarts": "0", "Age": "10m",
				"IP": "10.0.0.5", "Node": "node-1", "Nominated Node": "<none>", "Readiness Gates": "<none>",
			},
		},
		{
			name: "crash loop with restarts and last restart time",
			mutate: func(pod *corev1.Pod) {
				pod.Status.ContainerStatuses[0] = corev1.ContainerStatus{
					Name: "app", RestartCount: 3, State: waiting("CrashLoopBackOff"),
					LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, FinishedAt: ago(5 * time.Minute)}},
				}
			},
			want: map[string]interface{}{"Ready": "0/2", "Status": "CrashLoopBackOff", "Restarts": "3 (5m ago)"},
		},
		{
			name: "restarts without a termination time",
			mutate: func(pod *corev1.Pod) {
				pod.Status.ContainerStatuses[1].RestartCount = 2
			},
			want: map[string]interface{}{"Restarts": "2"},
		},
		{
			name: "pending and unscheduled",
			mutate: func(pod *corev1.Pod) {
				pod.Spec.NodeName = ""
				pod.Status = corev1.PodStatus{Phase: corev1.PodPending}
			},
			want: map[string]interface{}{"Ready": "0/2", "Status": "Pending", "IP": "<none>", "Node": "<none>"},
		},
		{
			name: "image pull backoff",
			mutate: func(pod *corev1.Pod) {
				pod.Status.Phase = corev1.PodPending
				pod.Status.ContainerStatuses[0].Ready = false
				pod.Status.ContainerStatuses[0].State = waiting("ImagePullBackOff")
				pod.Status.ContainerStatuses[1].State = waiting("ContainerCreating")
			},
			want: map[string]interface{}{"Ready": "0/2", "Status": "ImagePullBackOff"},
		},
		{
			name: "init container running",
			mutate: func(pod *corev1.Pod) {
				pod.Spec.InitContainers = []corev1.Container{{Name: "migrate"}}
				pod.Status.Phase = corev1.PodPending
				pod.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "migrate", State: running()}}
				pod.Status.ContainerStatuses = []corev1.ContainerStatus{
					{Name: "app", State: waiting("PodInitializing")},
					{Name: "log", State: waiting("PodInitializing")},
				}
			},
			want: map[string]interface{}{"Ready": "0/2", "Status": "Init:0/1"},
		},
		{
			name: "second of two init containers waiting",
			mutate: func(pod *corev1.Pod) {
				pod.Spec.InitContainers = []corev1.Container{{Name: "a"}, {Name: "b"}}
				pod.Status.Phase = corev1.PodPending
				pod.Status.InitContainerStatuses = []corev1.ContainerStatus{
					{Name: "a", State: terminated("Completed", 0, 0)},
					{Name: "b", State: waiting("PodInitializing")},
				}
				pod.Status.ContainerStatuses = nil
			},
			want: map[string]interface{}{"Status": "Init:1/2"},
		},
		{
			name: "init container crash looping",
			mutate: func(pod *corev1.Pod) {
				pod.Spec.InitContainers = []corev1.Container{{Name: "migrate"}}
				pod.Status.Phase = corev1.PodPending
				pod.Status.InitContainerStatuses = []corev1.ContainerStatus{{
					Name: "migrate", RestartCount: 4, State: waiting("CrashLoopBackOff"),
					LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, FinishedAt: ago(time.Minute)}},
				}}
				pod.Status.ContainerStatuses = nil
			},
			want: map[string]interface{}{"Status": "Init:CrashLoopBackOff", "Restarts": "4 (60s ago)"},
		},
		{
			name: "init container failed without reason",
			mutate: func(pod *corev1.Pod) {
				pod.Spec.InitContainers = []corev1.Container{{Name: "migrate"}}
				pod.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "migrate", State: terminated("", 2, 0)}}
				pod.Status.ContainerStatuses = nil
			},
			want: map[string]interface{}{"Status": "Init:ExitCode:2"},
		},
		{
			name: "init container killed by signal",
			mutate: func(pod *corev1.Pod) {
				pod.Spec.InitContainers = []corev1.Container{{Name: "migrate"}}
				pod.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "migrate", State: terminated("", 137, 9)}}
				pod.Status.ContainerStatuses = nil
			},
			want: map[string]interface{}{"Status": "Init:Signal:9"},
		},
		{
			name: "started sidecar counts as a ready container",
			mutate: func(pod *corev1.Pod) {
				always := corev1.ContainerRestartPolicyAlways
				pod.Spec.InitContainers = []corev1.Container{{Name: "proxy", RestartPolicy: &always}}
				pod.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "proxy", Ready: true, Started: ptr(true), RestartCount: 1, State: running()}}
				pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodInitialized, Status: corev1.ConditionTrue}}
			},
			want: map[string]interface{}{"Ready": "2/3", "Status": "Running", "Restarts": "1"},
		},
		{
			name: "completed",
			mutate: func(pod *corev1.Pod) {
				pod.Status.Phase = corev1.PodSucceeded
				pod.Status.ContainerStatuses[0].State = terminated("Completed", 0, 0)
				pod.Status.ContainerStatuses[1].State = terminated("Completed", 0, 0)
			},
			want: map[string]interface{}{"Ready": "0/2", "Status": "Completed"},
		},
		{
			name: "error exit",
			mutate: func(pod *corev1.Pod) {
				pod.Status.Phase = corev1.PodFailed
				pod.Status.ContainerStatuses[0].State = terminated("Error", 1, 0)
				pod.Status.ContainerStatuses[1].State = terminated("Error", 1, 0)
			},
			want: map[string]interface{}{"Status": "Error"},
		},
		{
			name: "terminated without reason reports exit code",
			mutate: func(pod *corev1.Pod) {
				pod.Status.ContainerStatuses[0].State = terminated("", 3, 0)
				pod.Status.ContainerStatuses[1].State = terminated("", 3, 0)
			},
			want: map[string]interface{}{"Status": "ExitCode:3"},
		},
		{
			name: "one container completed, one still running and pod ready",
			mutate: func(pod *corev1.Pod) {
				pod.Status.ContainerStatuses[0].State = terminated("Completed", 0, 0)
				pod.Status.ContainerStatuses[0].Ready = false
				pod.Status.ContainerStatuses[1].Ready = true
				pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
			},
			want: map[string]interface{}{"Ready": "1/2", "Status": "Running"},
		},
		{
			name: "one container completed, one still running and pod not ready",
			mutate: func(pod *corev1.Pod) {
				pod.Status.ContainerStatuses[0].State = terminated("Completed", 0, 0)
				pod.Status.ContainerStatuses[0].Ready = false
				pod.Status.ContainerStatuses[1].Ready = true
			},
			want: map[string]interface{}{"Status": "NotReady"},
		},
		{
			name: "terminating",
			mutate: func(pod *corev1.Pod) {
				ts := ago(time.Second)
				pod.DeletionTimestamp = &ts
			},
			want: map[string]interface{}{"Status": "Terminating"},
		},
		{
			name: "deleting a finished pod keeps its status",
			mutate: func(pod *corev1.Pod) {
				ts := ago(time.Second)
				pod.DeletionTimestamp = &ts
				pod.Status.Phase = corev1.PodSucceeded
				pod.Status.ContainerStatuses[0].State = terminated("Completed", 0, 0)
				pod.Status.ContainerStatuses[1].State = terminated("Completed", 0, 0)
			},
			want: map[string]interface{}{"Status": "Completed"},
		},
		{
			name: "node lost while deleting",
			mutate: func(pod *corev1.Pod) {
				ts := ago(time.Second)
				pod.DeletionTimestamp = &ts
				pod.Status.Reason = nodeLostReason
			},
			want: map[string]interface{}{"Status": "Unknown"},
		},
		{
			name: "evicted reason overrides phase",
			mutate: func(pod *corev1.Pod) {
				pod.Status = corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted"}
			},
			want: map[string]interface{}{"Status": "Evicted", "Ready": "0/2"},
		},
		{
			name: "scheduling gated",
			mutate: func(pod *corev1.Pod) {
				pod.Status = corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{
					{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonSchedulingGated},
				}}
			},
			want: map[string]interface{}{"Status": "SchedulingGated"},
		},
		{
			name: "legacy podIP, nominated node and readiness gates",
			mutate: func(pod *corev1.Pod) {
				pod.Status.PodIPs = nil
				pod.Status.PodIP = "10.0.0.9"
				pod.Status.NominatedNodeName = "node-2"
				pod.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "a"}, {ConditionType: "b"}}
				pod.Status.Conditions = []corev1.PodCondition{{Type: "a", Status: corev1.ConditionTrue}, {Type: "b", Status: corev1.ConditionFalse}}
			},
			want: map[string]interface{}{"IP": "10.0.0.9", "Nominated Node": "node-2", "Readiness Gates": "1/2"},
		},
		{
			name: "zero creation timestamp",
			mutate: func(pod *corev1.Pod) {
				pod.CreationTimestamp = metav1.Time{}
			},
			want: map[string]interface{}{"Age": "<unknown>"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := runningPod()
			tc.mutate(pod)
			expectCells(t, cellsOf(t, p, gk, pod), tc.want)
		})
	}
}
