package nodestatus

import (
	"fmt"
	goruntime "runtime"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Pressure thresholds, after upstream's default hard eviction thresholds
// (memory.available<100Mi, nodefs.available<10%); upstream sets none for
// PIDs by default, 90% of pid_max leaves room to act.
const (
	memoryAvailableMin = 100 << 20
	diskAvailableMin   = 0.10
	pidUsedMax         = 0.90
)

// Upstream reports every hugepage size the machine supports, at what the
// machine reserved. Skiff gives containers no hugepages, so it reports the
// common sizes with none to allocate, which keeps pods that ask for them
// from being scheduled here.
var hugePageResources = []corev1.ResourceName{
	corev1.ResourceHugePagesPrefix + "2Mi",
	corev1.ResourceHugePagesPrefix + "1Gi",
}

// setStatus brings st, the status the Node has, up to date with o. Fields
// this agent does not own (images, volumes, conditions others post) stay.
func (a *Agent) setStatus(st *corev1.NodeStatus, o observation) {
	now := metav1.NewTime(o.now)
	st.Addresses = slices.Clone(a.cfg.Addresses)
	a.setResources(st, o)
	a.setNodeInfo(&st.NodeInfo, o)
	st.DaemonEndpoints.KubeletEndpoint.Port = a.cfg.KubeletPort
	// Upstream's order: a new Node lists Ready last.
	setCondition(st, pressureCondition(corev1.NodeMemoryPressure, o.memoryPressure()), now)
	setCondition(st, pressureCondition(corev1.NodeDiskPressure, o.diskPressure()), now)
	setCondition(st, pressureCondition(corev1.NodePIDPressure, o.pidPressure()), now)
	setCondition(st, readyCondition(st, o), now)
}

// setResources sets the capacity it can read (an unreadable one keeps its
// last value) and derives the allocatable resources from the capacity.
// Extended resources others added to the capacity stay.
func (a *Agent) setResources(st *corev1.NodeStatus, o observation) {
	if st.Capacity == nil {
		st.Capacity = corev1.ResourceList{}
	}
	if st.Allocatable == nil {
		st.Allocatable = corev1.ResourceList{}
	}
	c := st.Capacity
	c[corev1.ResourceCPU] = *resource.NewQuantity(int64(o.cpus), resource.DecimalSI)
	c[corev1.ResourcePods] = *resource.NewQuantity(int64(a.cfg.MaxPods), resource.DecimalSI)
	if o.mem != nil {
		c[corev1.ResourceMemory] = *resource.NewQuantity(int64(o.mem.total), resource.BinarySI)
	}
	if o.fs != nil {
		c[corev1.ResourceEphemeralStorage] = *resource.NewQuantity(int64(o.fs.capacity), resource.BinarySI)
	}
	for _, hp := range hugePageResources {
		c[hp] = *resource.NewQuantity(0, resource.BinarySI)
	}
	for name, q := range c {
		v := q.DeepCopy()
		if r, ok := a.cfg.Reserved[name]; ok {
			v.Sub(r)
		}
		if v.Sign() < 0 {
			v = *resource.NewQuantity(0, q.Format)
		}
		st.Allocatable[name] = v
	}
}

func (a *Agent) setNodeInfo(info *corev1.NodeSystemInfo, o observation) {
	if o.sys != nil {
		info.MachineID = o.sys.machineID
		info.SystemUUID = o.sys.systemUUID
		info.BootID = o.sys.bootID
		info.KernelVersion = o.sys.kernelVersion
		info.OSImage = o.sys.osImage
	}
	if o.runtimeErr == nil && o.runtime.Version != "" {
		info.ContainerRuntimeVersion = o.runtime.Version
	}
	// kubeProxyVersion is deprecated (KEP-4004): upstream's kubelet no
	// longer reports it, and neither does this one.
	info.KubeletVersion = a.cfg.KubeletVersion
	info.OperatingSystem = goruntime.GOOS
	info.Architecture = goruntime.GOARCH
}

func (o observation) memoryPressure() bool {
	return o.mem != nil && o.mem.available < memoryAvailableMin
}

func (o observation) diskPressure() bool {
	return o.fs != nil && o.fs.capacity > 0 && float64(o.fs.available) < diskAvailableMin*float64(o.fs.capacity)
}

func (o observation) pidPressure() bool {
	return o.procs != nil && o.procs.max > 0 && float64(o.procs.running) > pidUsedMax*float64(o.procs.max)
}

// pressureCondition is the condition upstream's kubelet posts for a
// pressure, with its reasons and messages.
func pressureCondition(t corev1.NodeConditionType, pressure bool) corev1.NodeCondition {
	type text struct{ reason, message string }
	var yes, no text
	switch t {
	case corev1.NodeMemoryPressure:
		yes = text{"KubeletHasInsufficientMemory", "kubelet has insufficient memory available"}
		no = text{"KubeletHasSufficientMemory", "kubelet has sufficient memory available"}
	case corev1.NodeDiskPressure:
		yes = text{"KubeletHasDiskPressure", "kubelet has disk pressure"}
		no = text{"KubeletHasNoDiskPressure", "kubelet has no disk pressure"}
	case corev1.NodePIDPressure:
		yes = text{"KubeletHasInsufficientPID", "kubelet has insufficient PID available"}
		no = text{"KubeletHasSufficientPID", "kubelet has sufficient PID available"}
	}
	if pressure {
		return corev1.NodeCondition{Type: t, Status: corev1.ConditionTrue, Reason: yes.reason, Message: yes.message}
	}
	return corev1.NodeCondition{Type: t, Status: corev1.ConditionFalse, Reason: no.reason, Message: no.message}
}

// readyCondition is Ready as upstream's kubelet posts it: true when the
// runtime and its network are ready and the capacity is known; otherwise
// false with every reason, bracketed when there are several.
func readyCondition(st *corev1.NodeStatus, o observation) corev1.NodeCondition {
	var errs []string
	if o.runtimeErr != nil {
		errs = append(errs, "container runtime is down")
	} else {
		if !o.runtime.RuntimeReady {
			errs = append(errs, fmt.Sprintf("container runtime not ready: RuntimeReady=false reason:%s message:%s",
				o.runtime.RuntimeReason, o.runtime.RuntimeMessage))
		}
		if !o.runtime.NetworkReady {
			errs = append(errs, fmt.Sprintf("container runtime network not ready: NetworkReady=false reason:%s message:%s",
				o.runtime.NetworkReason, o.runtime.NetworkMessage))
		}
	}
	var missing []string
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourcePods, corev1.ResourceEphemeralStorage} {
		if _, ok := st.Capacity[r]; !ok {
			missing = append(missing, string(r))
		}
	}
	if len(missing) > 0 {
		errs = append(errs, "missing node capacity for resources: "+strings.Join(missing, ", "))
	}
	switch len(errs) {
	case 0:
		return corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue,
			Reason: "KubeletReady", Message: "kubelet is posting ready status"}
	case 1:
		return corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionFalse,
			Reason: "KubeletNotReady", Message: errs[0]}
	default:
		return corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionFalse,
			Reason: "KubeletNotReady", Message: "[" + strings.Join(errs, ", ") + "]"}
	}
}

// setCondition posts want at now: the heartbeat always moves, the transition
// time only when the status differs from the one the Node had.
func setCondition(st *corev1.NodeStatus, want corev1.NodeCondition, now metav1.Time) {
	want.LastHeartbeatTime = now
	want.LastTransitionTime = now
	for i := range st.Conditions {
		if st.Conditions[i].Type != want.Type {
			continue
		}
		if st.Conditions[i].Status == want.Status {
			want.LastTransitionTime = st.Conditions[i].LastTransitionTime
		}
		st.Conditions[i] = want
		return
	}
	st.Conditions = append(st.Conditions, want)
}
