package kubelet

import (
	"context"
	"errors"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// keepPerContainer is how many instances of each container stay in the
// runtime: the newest, and the one before it that lastState describes.
const keepPerContainer = 2

// prune removes what a pod no longer needs from the runtime: exited
// instances of a container beyond the newest two, and sandboxes that are
// neither the newest nor hold a container.
func (k *Kubelet) prune(ctx context.Context, rt *runtimePod) error {
	var errs []error
	seen := map[string]int{}
	kept := map[string]bool{}
	for _, c := range rt.containers {
		name := c.GetMetadata().GetName()
		seen[name]++
		if seen[name] <= keepPerContainer || c.GetState() != runtimeapi.ContainerState_CONTAINER_EXITED {
			kept[rt.sandboxOf[c.GetId()]] = true
			continue
		}
		if err := k.removeContainer(ctx, c.GetId()); err != nil {
			errs = append(errs, err)
		}
	}
	for i, s := range rt.sandboxes {
		if i == 0 || kept[s.GetId()] || s.GetState() == runtimeapi.PodSandboxState_SANDBOX_READY {
			continue
		}
		if err := k.removeSandbox(ctx, s.GetId()); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
