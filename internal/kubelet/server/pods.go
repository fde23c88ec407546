package server

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/skiff-sh/skiff/internal/kubelet/labels"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// podRef names a pod as a request does; uid is optional.
type podRef struct {
	namespace, name, uid string
}

// findSandbox returns the pod's sandbox: a ready one if there is one, else
// the newest. A pod deleted and created again under the same name has
// sandboxes of both UIDs until the old ones are removed; the ready one is
// the pod that exists now.
func (s *Server) findSandbox(ctx context.Context, pod podRef) (*runtimeapi.PodSandbox, error) {
	selector := map[string]string{labels.PodNamespace: pod.namespace, labels.PodName: pod.name}
	if pod.uid != "" {
		selector[labels.PodUID] = pod.uid
	}
	resp, err := s.rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{
		Filter: &runtimeapi.PodSandboxFilter{LabelSelector: selector},
	})
	if err != nil {
		return nil, fmt.Errorf("list sandboxes of pod %s/%s: %w", pod.namespace, pod.name, err)
	}
	items := resp.GetItems()
	if len(items) == 0 {
		return nil, notFound("pod %q does not exist", pod.name)
	}
	return slices.MaxFunc(items, func(a, b *runtimeapi.PodSandbox) int {
		return cmp.Or(
			cmp.Compare(ready(a), ready(b)),
			cmp.Compare(a.GetCreatedAt(), b.GetCreatedAt()),
		)
	}), nil
}

// sandboxUID is the UID of the pod a sandbox belongs to, as the label that
// containers are found by has it.
func sandboxUID(sb *runtimeapi.PodSandbox) string {
	if uid := sb.GetLabels()[labels.PodUID]; uid != "" {
		return uid
	}
	return sb.GetMetadata().GetUid()
}

func ready(sb *runtimeapi.PodSandbox) int {
	if sb.GetState() == runtimeapi.PodSandboxState_SANDBOX_READY {
		return 1
	}
	return 0
}

// instances returns every instance of the named container of the pod with
// the given UID, in any of its sandboxes, newest first.
func (s *Server) instances(ctx context.Context, uid, container string) ([]*runtimeapi.Container, error) {
	resp, err := s.rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{
		Filter: &runtimeapi.ContainerFilter{LabelSelector: map[string]string{
			labels.PodUID:        uid,
			labels.ContainerName: container,
		}},
	})
	if err != nil {
		return nil, fmt.Errorf("list containers %q of pod %s: %w", container, uid, err)
	}
	var out []*runtimeapi.Container
	for _, c := range resp.GetContainers() {
		// The label is the filter; the name is the check, for runtimes
		// that filter loosely.
		if c.GetMetadata().GetName() == container {
			out = append(out, c)
		}
	}
	slices.SortStableFunc(out, func(a, b *runtimeapi.Container) int {
		return cmp.Or(
			cmp.Compare(b.GetMetadata().GetAttempt(), a.GetMetadata().GetAttempt()),
			cmp.Compare(b.GetCreatedAt(), a.GetCreatedAt()),
		)
	})
	return out, nil
}

// runningContainer returns the running instance of the named container, as
// exec and attach need.
func (s *Server) runningContainer(ctx context.Context, pod podRef, container string) (*runtimeapi.Container, error) {
	sb, err := s.findSandbox(ctx, pod)
	if err != nil {
		return nil, err
	}
	cs, err := s.instances(ctx, sandboxUID(sb), container)
	if err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return nil, notFound("container %q not found in pod %q", container, pod.name)
	}
	for _, c := range cs {
		if c.GetState() == runtimeapi.ContainerState_CONTAINER_RUNNING {
			return c, nil
		}
	}
	return nil, badRequest("container %q in pod %q is not running", container, pod.name)
}
