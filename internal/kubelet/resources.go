package kubelet

import (
	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// CPU and OOM constants of upstream's kubelet: cgroup cpu.shares bounds,
// the CFS period, and the oom_score_adj of each QoS class.
const (
	minShares     = 2
	maxShares     = 262144
	sharesPerCPU  = 1024
	milliPerCPU   = 1000
	quotaPeriodUS = 100000
	minQuotaUS    = 1000

	guaranteedOOMScoreAdj = -997
	bestEffortOOMScoreAdj = 1000
)

// linuxResources computes a container's cgroup settings: cpu.shares from
// the CPU request (or limit when only that is set), a CFS quota over a
// 100 ms period from the CPU limit, the memory limit, and oom_score_adj by
// QoS class. memCapacity is the node's memory in bytes, 0 if unknown.
func linuxResources(pod *corev1.Pod, c *corev1.Container, memCapacity int64) *runtimeapi.LinuxContainerResources {
	cpuReq := c.Resources.Requests.Cpu()
	cpuLim := c.Resources.Limits.Cpu()
	shares := milliCPUToShares(cpuReq.MilliValue())
	if cpuReq.IsZero() && !cpuLim.IsZero() {
		shares = milliCPUToShares(cpuLim.MilliValue())
	}
	return &runtimeapi.LinuxContainerResources{
		CpuShares:          shares,
		CpuPeriod:          quotaPeriodUS,
		CpuQuota:           milliCPUToQuota(cpuLim.MilliValue(), quotaPeriodUS),
		MemoryLimitInBytes: c.Resources.Limits.Memory().Value(),
		OomScoreAdj:        oomScoreAdj(pod, c, memCapacity),
	}
}

func milliCPUToShares(milli int64) int64 {
	if milli == 0 {
		return minShares
	}
	shares := milli * sharesPerCPU / milliPerCPU
	return min(max(shares, minShares), maxShares)
}

func milliCPUToQuota(milli, period int64) int64 {
	if milli == 0 {
		return 0
	}
	return max(milli*period/milliPerCPU, minQuotaUS)
}

// oomScoreAdj makes the kernel kill BestEffort containers first and
// Guaranteed ones last; a Burstable container scores lower the more memory
// it requested. Without the node's capacity a Burstable container scores
// just below BestEffort.
func oomScoreAdj(pod *corev1.Pod, c *corev1.Container, memCapacity int64) int64 {
	switch qosClass(pod) {
	case corev1.PodQOSGuaranteed:
		return guaranteedOOMScoreAdj
	case corev1.PodQOSBestEffort:
		return bestEffortOOMScoreAdj
	}
	if memCapacity <= 0 {
		return bestEffortOOMScoreAdj - 1
	}
	adj := 1000 - 1000*c.Resources.Requests.Memory().Value()/memCapacity
	if adj < 1000+guaranteedOOMScoreAdj {
		return 1000 + guaranteedOOMScoreAdj
	}
	if adj == bestEffortOOMScoreAdj {
		return adj - 1
	}
	return adj
}

// qosClass computes the pod's QoS class from CPU and memory of all its
// containers: Guaranteed when every container limits both and requests
// equal limits, BestEffort when nothing is requested or limited.
func qosClass(pod *corev1.Pod) corev1.PodQOSClass {
	requests := corev1.ResourceList{}
	limits := corev1.ResourceList{}
	guaranteed := true
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range cs {
			for name, q := range c.Resources.Requests {
				if qosResource(name) && q.Sign() > 0 {
					sum := requests[name]
					sum.Add(q)
					requests[name] = sum
				}
			}
			limited := 0
			for name, q := range c.Resources.Limits {
				if qosResource(name) && q.Sign() > 0 {
					limited++
					sum := limits[name]
					sum.Add(q)
					limits[name] = sum
				}
			}
			if limited < 2 {
				guaranteed = false
			}
		}
	}
	if len(requests) == 0 && len(limits) == 0 {
		return corev1.PodQOSBestEffort
	}
	if guaranteed {
		for name, req := range requests {
			if lim, ok := limits[name]; !ok || lim.Cmp(req) != 0 {
				guaranteed = false
				break
			}
		}
	}
	if guaranteed && len(requests) == len(limits) {
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}

func qosResource(name corev1.ResourceName) bool {
	return name == corev1.ResourceCPU || name == corev1.ResourceMemory
}
