package kubelet

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// podActions is what one sync must do to bring the runtime to the pod's
// spec; computeActions decides it from the runtime's state and the probes'
// results alone, as upstream's computePodActions does.
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
	// initStart are the init containers to start, in spec order: the next
	// one while the pod initialises, and sidecars to restart.
	initStart []*corev1.Container
	// start are the app containers to start; none before initialisation
	// completed.
	start []*corev1.Container
	// kill are containers to stop first.
	kill []killTarget
}

type killTarget struct {
	status *runtimeapi.ContainerStatus
	// message is the Killing event's.
	message string
	grace   int64
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
func computeActions(pod *corev1.Pod, rt *runtimePod, probes probeResults) podActions {
	changed, attempt, sandboxID := sandboxChanged(pod, rt)
	a := podActions{killPod: changed, createSandbox: changed, attempt: attempt, sandboxID: sandboxID}
	if changed {
		// A pod that never restarts and already ran gets no second sandbox.
		if pod.Spec.RestartPolicy == corev1.RestartPolicyNever && attempt != 0 && len(rt.containers) != 0 {
			a.createSandbox = false
			return a
		}
		if len(pod.Spec.InitContainers) != 0 {
			a.initStart = []*corev1.Container{&pod.Spec.InitContainers[0]}
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

	if initialized := initActions(pod, rt, probes, &a); a.killPod || !initialized {
		return a
	}

	keep := 0
	restart := pod.Spec.RestartPolicy != corev1.RestartPolicyNever
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		st := rt.latest(c.Name)
		if st == nil || st.GetState() != runtimeapi.ContainerState_CONTAINER_RUNNING {
			if shouldRestart(c, pod, rt) {
				a.start = append(a.start, c)
				if st != nil && st.GetState() == runtimeapi.ContainerState_CONTAINER_UNKNOWN {
					// Maybe still running: never run two of one container.
					a.kill = append(a.kill, killTarget{status: st, message: "Container is in unknown state, try killing it before restart", grace: containerGrace(pod, st)})
				}
			}
			continue
		}
		var why string
		var probe *corev1.Probe
		switch {
		case st.GetAnnotations()[annotationContainerHash] != containerHash(c):
			// A new image: restart whatever the restart policy says.
			a.kill = append(a.kill, killTarget{status: st, message: fmt.Sprintf("Container %s definition changed, will be restarted", c.Name), grace: containerGrace(pod, st)})
			a.start = append(a.start, c)
			continue
		case probes.result(pod.UID, st.GetId(), probeLiveness) == resultFailure:
			why, probe = "liveness", c.LivenessProbe
		case probes.result(pod.UID, st.GetId(), probeStartup) == resultFailure:
			why, probe = "startup", c.StartupProbe
		default:
			keep++
			continue
		}
		t := killTarget{status: st, message: fmt.Sprintf("Container %s failed %s probe", c.Name, why), grace: probeGrace(pod, st, probe)}
		if restart {
			t.message += ", will be restarted"
			a.start = append(a.start, c)
		}
		a.kill = append(a.kill, t)
	}
	if keep == 0 && len(a.start) == 0 {
		// Every app container finished for good: sidecars must not keep
		// the pod alive.
		a.killPod = true
		a.initStart = nil
	}
	return a
}

// initActions adds the init containers' part of a sync to a, as
// upstream's computeInitContainerActions: start the next init container
// once the previous one succeeded (or, for a sidecar, started), restart
// sidecars that exited or failed a probe, and give up on the pod when an
// init container failed and the pod never restarts. It reports whether
// initialisation completed.
//
// Init containers are looked at newest first, since the runtime may have
// lost older ones: whatever comes before one that ran counts as done.
func initActions(pod *corev1.Pod, rt *runtimePod, probes probeResults, a *podActions) bool {
	inits := pod.Spec.InitContainers
	if len(inits) == 0 {
		return true
	}
	initialized := false
	for _, c := range pod.Spec.Containers {
		if st := rt.latest(c.Name); st != nil && (st.GetState() == runtimeapi.ContainerState_CONTAINER_CREATED || st.GetState() == runtimeapi.ContainerState_CONTAINER_RUNNING) {
			// App containers ran: initialisation completed long ago, even if
			// the init containers were removed since. (Exited ones prove
			// nothing: they may be from a sandbox since replaced.)
			initialized = true
			break
		}
	}
	restartOnFailure := pod.Spec.RestartPolicy != corev1.RestartPolicyNever
	before := initialized // whether the init containers before i are done
	var start []int
	kill := func(st *runtimeapi.ContainerStatus, i int, message string, probe *corev1.Probe) {
		a.kill = append(a.kill, killTarget{status: st, message: message, grace: probeGrace(pod, st, probe)})
		start = append(start, i)
	}
	for i := len(inits) - 1; i >= 0; i-- {
		c := &inits[i]
		sidecar := isSidecar(c)
		last := i == len(inits)-1
		st := rt.latest(c.Name)
		if st == nil {
			if before && sidecar {
				start = append(start, i)
			}
			continue
		}
		if before && !sidecar {
			continue
		}
		switch st.GetState() {
		case runtimeapi.ContainerState_CONTAINER_CREATED:
			// Created but never started: start it (again).
			start = append(start, i)
		case runtimeapi.ContainerState_CONTAINER_RUNNING:
			if !sidecar {
				break // wait for it to finish
			}
			if c.StartupProbe != nil {
				r := probes.result(pod.UID, st.GetId(), probeStartup)
				if r == resultFailure {
					kill(st, i, fmt.Sprintf("Init container %s failed startup probe", c.Name), c.StartupProbe)
				}
				if r != resultSuccess {
					break // not started (yet)
				}
			}
			if last {
				initialized = true
			} else if !before {
				start = append(start, i+1)
			}
			switch {
			case st.GetAnnotations()[annotationContainerHash] != containerHash(c):
				kill(st, i, fmt.Sprintf("Init container %s definition changed", c.Name), nil)
			case probes.result(pod.UID, st.GetId(), probeLiveness) == resultFailure:
				kill(st, i, fmt.Sprintf("Init container %s failed liveness probe", c.Name), c.LivenessProbe)
			}
		case runtimeapi.ContainerState_CONTAINER_EXITED:
			switch {
			case sidecar:
				// Sidecars restart whatever the pod's restart policy.
				start = append(start, i)
			case initFailed(st):
				if !restartOnFailure {
					a.killPod, a.initStart = true, nil
					return false
				}
				start = append(start, i)
			case last:
				initialized = true
			default:
				start = append(start, i+1)
			}
		default:
			if !sidecar && !restartOnFailure {
				a.killPod, a.initStart = true, nil
				return false
			}
			kill(st, i, "Init container is in unknown state, try killing it before restart", nil)
		}
		before = true
	}
	if !before {
		start = append(start, 0)
	}
	for _, i := range slices.Backward(start) {
		a.initStart = append(a.initStart, &inits[i])
	}
	return initialized
}

// isSidecar reports whether init container c is a sidecar: restarted
// whenever it exits and kept running beside the app containers.
func isSidecar(c *corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

// probeGrace is the grace period for killing st: the failed probe's own
// terminationGracePeriodSeconds when it sets one, else the pod's.
func probeGrace(pod *corev1.Pod, st *runtimeapi.ContainerStatus, probe *corev1.Probe) int64 {
	if probe != nil && probe.TerminationGracePeriodSeconds != nil && pod.DeletionGracePeriodSeconds == nil {
		return *probe.TerminationGracePeriodSeconds
	}
	return containerGrace(pod, st)
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
