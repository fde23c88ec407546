package kubelet

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/skiff-sh/skiff/internal/kubelet/labels"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Annotations the kubelet puts on runtime objects, upstream's as the labels
// in package labels are.
const (
	annotationContainerHash            = "io.kubernetes.container.hash"
	annotationRestartCount             = "io.kubernetes.container.restartCount"
	annotationTerminationMessagePath   = "io.kubernetes.container.terminationMessagePath"
	annotationTerminationMessagePolicy = "io.kubernetes.container.terminationMessagePolicy"
	annotationTerminationGracePeriod   = "io.kubernetes.pod.terminationGracePeriod"
)

// runtimePod is what the runtime holds for one pod UID.
type runtimePod struct {
	// sandboxes are newest first.
	sandboxes []*runtimeapi.PodSandbox
	// sandbox is the status of sandboxes[0]; nil when there is none.
	sandbox *runtimeapi.PodSandboxStatus
	// containers are every container of the pod, in any sandbox, newest
	// first.
	containers []*runtimeapi.ContainerStatus
	// sandboxOf maps container IDs to their sandbox IDs.
	sandboxOf map[string]string
}

// inspect reads the pod's sandboxes and containers from the runtime.
func (k *Kubelet) inspect(ctx context.Context, uid types.UID) (*runtimePod, error) {
	selector := map[string]string{labels.PodUID: string(uid)}
	sbs, err := k.runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{
		Filter: &runtimeapi.PodSandboxFilter{LabelSelector: selector},
	})
	if err != nil {
		return nil, fmt.Errorf("list sandboxes of pod %s: %w", uid, err)
	}
	cs, err := k.runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{
		Filter: &runtimeapi.ContainerFilter{LabelSelector: selector},
	})
	if err != nil {
		return nil, fmt.Errorf("list containers of pod %s: %w", uid, err)
	}
	rt := &runtimePod{sandboxes: sbs.GetItems(), sandboxOf: map[string]string{}}
	slices.SortStableFunc(rt.sandboxes, func(a, b *runtimeapi.PodSandbox) int {
		return cmp.Compare(b.GetCreatedAt(), a.GetCreatedAt())
	})
	if len(rt.sandboxes) > 0 {
		resp, err := k.runtime.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: rt.sandboxes[0].GetId()})
		switch {
		case isNotFound(err):
			// Removed since the list; the next relist notices.
		case err != nil:
			return nil, fmt.Errorf("status of sandbox %s: %w", rt.sandboxes[0].GetId(), err)
		default:
			rt.sandbox = resp.GetStatus()
		}
	}
	for _, c := range cs.GetContainers() {
		rt.sandboxOf[c.GetId()] = c.GetPodSandboxId()
		resp, err := k.runtime.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: c.GetId()})
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("status of container %s: %w", c.GetId(), err)
		}
		st := resp.GetStatus()
		if st.GetLabels() == nil {
			// ContainerStatus answers labels since CRI v1; the list always did.
			st.Labels, st.Annotations = c.GetLabels(), c.GetAnnotations()
		}
		rt.containers = append(rt.containers, st)
	}
	slices.SortStableFunc(rt.containers, func(a, b *runtimeapi.ContainerStatus) int {
		return cmp.Compare(b.GetCreatedAt(), a.GetCreatedAt())
	})
	return rt, nil
}

func isNotFound(err error) bool {
	return err != nil && status.Code(err) == codes.NotFound
}

// latest returns the newest container named name, or nil.
func (r *runtimePod) latest(name string) *runtimeapi.ContainerStatus {
	for _, c := range r.containers {
		if c.GetMetadata().GetName() == name {
			return c
		}
	}
	return nil
}

// instances returns every container named name, newest first.
func (r *runtimePod) instances(name string) []*runtimeapi.ContainerStatus {
	var out []*runtimeapi.ContainerStatus
	for _, c := range r.containers {
		if c.GetMetadata().GetName() == name {
			out = append(out, c)
		}
	}
	return out
}

// active reports whether any container runs or any sandbox is ready.
func (r *runtimePod) active() bool {
	for _, c := range r.containers {
		if c.GetState() == runtimeapi.ContainerState_CONTAINER_RUNNING || c.GetState() == runtimeapi.ContainerState_CONTAINER_UNKNOWN {
			return true
		}
	}
	for _, s := range r.sandboxes {
		if s.GetState() == runtimeapi.PodSandboxState_SANDBOX_READY {
			return true
		}
	}
	return false
}

// empty reports whether the runtime holds nothing of the pod.
func (r *runtimePod) empty() bool {
	return len(r.sandboxes) == 0 && len(r.containers) == 0
}

// sandboxIPs returns the IPs of the newest sandbox while it is ready.
func (r *runtimePod) sandboxIPs() []string {
	if r.sandbox == nil || r.sandbox.GetState() != runtimeapi.PodSandboxState_SANDBOX_READY {
		return nil
	}
	return networkIPs(r.sandbox)
}

func networkIPs(s *runtimeapi.PodSandboxStatus) []string {
	var ips []string
	if ip := s.GetNetwork().GetIp(); ip != "" {
		ips = append(ips, ip)
	}
	for _, ip := range s.GetNetwork().GetAdditionalIps() {
		if ip.GetIp() != "" {
			ips = append(ips, ip.GetIp())
		}
	}
	return ips
}

// restartCount is the restart count a container was created with.
func restartCount(c *runtimeapi.ContainerStatus) int32 {
	if n, err := strconv.ParseInt(c.GetAnnotations()[annotationRestartCount], 10, 32); err == nil {
		return int32(n)
	}
	return int32(c.GetMetadata().GetAttempt())
}

func nanoTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}
