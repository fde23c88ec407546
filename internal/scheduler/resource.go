package scheduler

import (
	corev1 "k8s.io/api/core/v1"
)

// Defaults the scorers use for containers that request nothing, so that
// many zero-request pods do not all pile onto one "empty" node (upstream
// uses the same values).
const (
	defaultMilliCPURequest = 100               // 0.1 core
	defaultMemoryRequest   = 200 * 1024 * 1024 // 200 MiB
)

// Resource is an amount of schedulable resources in integer units: milli
// cores, bytes, and plain counts for everything else.
type Resource struct {
	MilliCPU         int64
	Memory           int64
	EphemeralStorage int64
	// Pods is the number of pods allowed; only used for allocatable.
	Pods int64
	// Scalar holds extended resources and hugepages.
	Scalar map[corev1.ResourceName]int64
}

func (r *Resource) isZero() bool {
	if r.MilliCPU != 0 || r.Memory != 0 || r.EphemeralStorage != 0 {
		return false
	}
	for _, v := range r.Scalar {
		if v != 0 {
			return false
		}
	}
	return true
}

// add adds o into r.
func (r *Resource) add(o *Resource) {
	r.MilliCPU += o.MilliCPU
	r.Memory += o.Memory
	r.EphemeralStorage += o.EphemeralStorage
	r.Pods += o.Pods
	for k, v := range o.Scalar {
		if r.Scalar == nil {
			r.Scalar = make(map[corev1.ResourceName]int64, len(o.Scalar))
		}
		r.Scalar[k] += v
	}
}

// sub subtracts o from r.
func (r *Resource) sub(o *Resource) {
	r.MilliCPU -= o.MilliCPU
	r.Memory -= o.Memory
	r.EphemeralStorage -= o.EphemeralStorage
	r.Pods -= o.Pods
	for k, v := range o.Scalar {
		if r.Scalar == nil {
			r.Scalar = make(map[corev1.ResourceName]int64)
		}
		r.Scalar[k] -= v
	}
}

// setMax raises every amount of r to at least that of o.
func (r *Resource) setMax(o *Resource) {
	r.MilliCPU = max(r.MilliCPU, o.MilliCPU)
	r.Memory = max(r.Memory, o.Memory)
	r.EphemeralStorage = max(r.EphemeralStorage, o.EphemeralStorage)
	for k, v := range o.Scalar {
		if r.Scalar == nil {
			r.Scalar = make(map[corev1.ResourceName]int64, len(o.Scalar))
		}
		if v > r.Scalar[k] {
			r.Scalar[k] = v
		}
	}
}

func (r *Resource) clone() Resource {
	c := *r
	if r.Scalar != nil {
		c.Scalar = make(map[corev1.ResourceName]int64, len(r.Scalar))
		for k, v := range r.Scalar {
			c.Scalar[k] = v
		}
	}
	return c
}

// resourceFromList converts a ResourceList. Only resources the scheduler
// accounts for are kept: the standard ones, hugepages and extended
// resources (names with a domain prefix).
func resourceFromList(rl corev1.ResourceList) Resource {
	var r Resource
	for name, q := range rl {
		switch name {
		case corev1.ResourceCPU:
			r.MilliCPU = q.MilliValue()
		case corev1.ResourceMemory:
			r.Memory = q.Value()
		case corev1.ResourceEphemeralStorage:
			r.EphemeralStorage = q.Value()
		case corev1.ResourcePods:
			r.Pods = q.Value()
		default:
			if isScalarResource(name) {
				if r.Scalar == nil {
					r.Scalar = make(map[corev1.ResourceName]int64)
				}
				r.Scalar[name] = q.Value()
			}
		}
	}
	return r
}

// isScalarResource reports whether name is hugepages or an extended
// resource; those are the only other names the fit check compares.
func isScalarResource(name corev1.ResourceName) bool {
	s := string(name)
	if len(s) > len(corev1.ResourceHugePagesPrefix) && s[:len(corev1.ResourceHugePagesPrefix)] == corev1.ResourceHugePagesPrefix {
		return true
	}
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			// kubernetes.io/ names other than the ones handled above are
			// not extended resources.
			return !(i >= len("kubernetes.io") && s[i-len("kubernetes.io"):i] == "kubernetes.io")
		}
	}
	return false
}

// podRequests computes what a pod asks of a node: the larger of the sum
// over app containers (plus restartable init "sidecar" containers) and the
// largest single init container (plus the sidecars started before it),
// plus the pod overhead. Pod-level resources, when set, win for cpu and
// memory. nonZero applies the scoring defaults per container.
func podRequests(pod *corev1.Pod) (req, nonZero Resource) {
	var sidecars, sidecarsNZ Resource
	var initMax, initMaxNZ Resource
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		r := resourceFromList(c.Resources.Requests)
		nz := nonZeroOf(r)
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars.add(&r)
			sidecarsNZ.add(&nz)
			// A sidecar keeps running alongside later init containers.
			initMax.setMax(&sidecars)
			initMaxNZ.setMax(&sidecarsNZ)
			continue
		}
		r.add(&sidecars)
		nz.add(&sidecarsNZ)
		initMax.setMax(&r)
		initMaxNZ.setMax(&nz)
	}
	req, nonZero = sidecars.clone(), sidecarsNZ.clone()
	for i := range pod.Spec.Containers {
		r := resourceFromList(pod.Spec.Containers[i].Resources.Requests)
		nz := nonZeroOf(r)
		req.add(&r)
		nonZero.add(&nz)
	}
	req.setMax(&initMax)
	nonZero.setMax(&initMaxNZ)

	if pr := pod.Spec.Resources; pr != nil && len(pr.Requests) > 0 {
		p := resourceFromList(pr.Requests)
		if _, ok := pr.Requests[corev1.ResourceCPU]; ok {
			req.MilliCPU, nonZero.MilliCPU = p.MilliCPU, max(p.MilliCPU, defaultMilliCPURequest)
		}
		if _, ok := pr.Requests[corev1.ResourceMemory]; ok {
			req.Memory, nonZero.Memory = p.Memory, max(p.Memory, defaultMemoryRequest)
		}
	}
	if len(pod.Spec.Overhead) > 0 {
		o := resourceFromList(pod.Spec.Overhead)
		o.Pods = 0
		req.add(&o)
		nonZero.add(&o)
	}
	req.Pods, nonZero.Pods = 0, 0
	return req, nonZero
}

// nonZeroOf returns r with the scoring defaults for cpu and memory.
func nonZeroOf(r Resource) Resource {
	nz := Resource{MilliCPU: r.MilliCPU, Memory: r.Memory}
	if nz.MilliCPU == 0 {
		nz.MilliCPU = defaultMilliCPURequest
	}
	if nz.Memory == 0 {
		nz.Memory = defaultMemoryRequest
	}
	return nz
}
