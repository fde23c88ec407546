package kubelet

import (
	"fmt"
	"hash/fnv"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// podActions is what one sync must do to bring the runtime to the pod's
// spec; computeActions decides it from the runtime's state alone, as
// upstream's computePodActions does.
type podActions struct {
	// killPod stops every container and the sandbox: the sandbox must be
	// replaced, or nothing is left to run.
	killPod bool
	// createSandbox asks for a new sandbox with attempt attempt.
	createSandbox bool
	attempt       uint32
	// sandboxID is the sandbox to start containers in when none is created,
	// and the one being replaced when one is.
	sandboxID string
	// nextInit is the init container to start; init containers run one at
	// a time, and no app container starts before they all succeeded.
	nextInit *corev1.Container
	// start are the app containers to start.
	start []*corev1.Container
	// kill are containers to stop first.
	kill []killTarget
}

type killTarget struct {
	status *runtimeapi.ContainerStatus
	reason string
}

// sandboxChanged reports whether the pod needs a new sandbox, the attempt
// the current or new one has, and the current one's ID.
func sandboxChanged(pod *corev1.Pod, rt *runtimePod) (bool, uint32, string) {
	if len(rt.sandboxes) == 0 || rt.sandbox == nil {
		return true, 0, ""
	}
	ready := 0
	for _, s := range rt.sandboxes {
		if s.GetState() == runtimeapi.PodSandboxState_SANDBOX_READY {
			ready++
		}
	}
	s := rt.sandbox
	next := s.GetMetadata().GetAttempt() + 1
	switch {
	case ready > 1:
		// Two live sandboxes for one pod: start over with one.
		return true, next, s.GetId()
	case s.GetState() != runtimeapi.PodSandboxState_SANDBOX_READY:
		return true, next, s.GetId()
	case s.GetLinux().GetNamespaces().GetOptions().GetNetwork() != networkMode(pod):
		return true, next, s.GetId()
	case !pod.Spec.HostNetwork && s.GetNetwork().GetIp() == "":
		return true, next, s.GetId()
	}
	return false, s.GetMetadata().GetAttempt(), s.GetId()
}

// computeActions decides a sync of a pod that is neither terminating nor
// finished.
func computeActions(pod *corev1.Pod, rt *runtimePod) podActions {
	changed, attempt, sandboxID := sandboxChanged(pod, rt)
	a := podActions{killPod: changed, createSandbox: changed, attempt: attempt, sandboxID: sandboxID}
	if changed {
		// A pod that never restarts and already ran gets no second sandbox.
		if pod.Spec.RestartPolicy == corev1.RestartPolicyNever && attempt != 0 && len(rt.containers) != 0 {
			a.createSandbox = false
			return a
		}
		if len(pod.Spec.InitContainers) != 0 {
			a.nextInit = &pod.Spec.InitContainers[0]
			return a
		}
		for i := range pod.Spec.Containers {
			c := &pod.Spec.Containers[i]
			if pod.Spec.RestartPolicy == corev1.RestartPolicyOnFailure && succeeded(rt.latest(c.Name)) {
				continue
			}
			a.start = append(a.start, c)
		}
		if len(a.start) == 0 {
			a.createSandbox = false
		}
		return a
	}

	failed, next, done := nextInitContainer(pod, rt)
	if !done {
		if next == nil {
			return a // an init container is running
		}
		if failed != nil && pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
			a.killPod = true
			return a
		}
		if failed != nil && failed.GetState() == runtimeapi.ContainerState_CONTAINER_UNKNOWN {
			a.kill = append(a.kill, killTarget{status: failed, reason: "Init container is in unknown state, try killing it before restart"})
		}
		a.nextInit = next
		return a
	}

	keep := 0
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		st := rt.latest(c.Name)
		if st == nil || st.GetState() != runtimeapi.ContainerState_CONTAINER_RUNNING {
			if shouldRestart(c, pod, rt) {
				a.start = append(a.start, c)
				if st != nil && st.GetState() == runtimeapi.ContainerState_CONTAINER_UNKNOWN {
					// Maybe still running: never run two of one container.
					a.kill = append(a.kill, killTarget{status: st, reason: "Container is in unknown state, try killing it before restart"})
				}
			}
			continue
		}
		if st.GetAnnotations()[annotationContainerHash] != containerHash(c) {
			// A new image: restart whatever the restart policy says.
			a.kill = append(a.kill, killTarget{status: st, reason: fmt.Sprintf("Container %s definition changed, will be restarted", c.Name)})
			a.start = append(a.start, c)
			continue
		}
		keep++
	}
	if keep == 0 && len(a.start) == 0 {
		a.killPod = true
	}
	return a
}

// nextInitContainer returns the init container to start next, the failed
// instance it replaces if any, and whether initialisation is complete.
func nextInitContainer(pod *corev1.Pod, rt *runtimePod) (*runtimeapi.ContainerStatus, *corev1.Container, bool) {
	inits := pod.Spec.InitContainers
	if len(inits) == 0 {
		return nil, nil, true
	}
	// A running app container means initialisation finished long ago,
	// even if its init containers were removed since.
	for _, c := range pod.Spec.Containers {
		if st := rt.latest(c.Name); st != nil && st.GetState() == runtimeapi.ContainerState_CONTAINER_RUNNING {
			return nil, nil, true
		}
	}
	for i := len(inits) - 1; i >= 0; i-- {
		if st := rt.latest(inits[i].Name); st != nil && initFailed(st) {
			return st, &inits[i], false
		}
	}
	for i := len(inits) - 1; i >= 0; i-- {
		st := rt.latest(inits[i].Name)
		if st == nil {
			continue
		}
		switch st.GetState() {
		case runtimeapi.ContainerState_CONTAINER_RUNNING:
			return nil, nil, false
		case runtimeapi.ContainerState_CONTAINER_EXITED:
			if i == len(inits)-1 {
				return nil, nil, true
			}
			return nil, &inits[i+1], false
		}
	}
	return nil, &inits[0], false
}

func initFailed(st *runtimeapi.ContainerStatus) bool {
	switch {
	case st.GetReason() == reasonOOMKilled:
		return true
	case st.GetState() == runtimeapi.ContainerState_CONTAINER_EXITED && st.GetExitCode() != 0:
		return true
	}
	return st.GetState() == runtimeapi.ContainerState_CONTAINER_UNKNOWN
}

func succeeded(st *runtimeapi.ContainerStatus) bool {
	return st != nil && st.GetState() == runtimeapi.ContainerState_CONTAINER_EXITED && st.GetExitCode() == 0
}

// shouldRestart reports whether a container that is not running must be
// (re)started, by the pod's restart policy.
func shouldRestart(c *corev1.Container, pod *corev1.Pod, rt *runtimePod) bool {
	if pod.DeletionTimestamp != nil {
		return false
	}
	st := rt.latest(c.Name)
	if st == nil {
		return true
	}
	switch st.GetState() {
	case runtimeapi.ContainerState_CONTAINER_RUNNING:
		return false
	case runtimeapi.ContainerState_CONTAINER_CREATED, runtimeapi.ContainerState_CONTAINER_UNKNOWN:
		return true
	}
	switch pod.Spec.RestartPolicy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return st.GetExitCode() != 0
	}
	return true
}

// containerHash identifies what of a container can change while its pod
// runs: only the image is mutable, and hashing no more keeps an API
// upgrade that adds defaulted fields from restarting every container.
func containerHash(c *corev1.Container) string {
	h := fnv.New32a()
	h.Write([]byte(c.Name))
	h.Write([]byte{0})
	h.Write([]byte(c.Image))
	return strconv.FormatUint(uint64(h.Sum32()), 16)
}

func networkMode(pod *corev1.Pod) runtimeapi.NamespaceMode {
	if pod.Spec.HostNetwork {
		return runtimeapi.NamespaceMode_NODE
	}
	return runtimeapi.NamespaceMode_POD
}
