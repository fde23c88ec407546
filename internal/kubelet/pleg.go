package kubelet

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/skiff-sh/skiff/internal/kubelet/labels"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// runPLEG relists the runtime every RelistPeriod; it stands in for CRI
// container events, which containerd 1.6 does not send.
func (k *Kubelet) runPLEG(ctx context.Context) {
	t := k.clock.NewTicker(k.cfg.RelistPeriod)
	defer t.Stop()
	for {
		if err := k.relist(ctx); err != nil && ctx.Err() == nil {
			k.log.Info("relist failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}

// relist lists every sandbox and container and wakes the worker of each pod
// whose runtime objects changed since the previous relist. A pod UID the API
// does not know gets a worker too, which removes what it finds (orphans);
// on the first relist after a start that covers every pod, so the workers
// adopt what is still running.
func (k *Kubelet) relist(ctx context.Context) error {
	sandboxes, err := k.runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return fmt.Errorf("list sandboxes: %w", err)
	}
	containers, err := k.runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	if err != nil {
		return fmt.Errorf("list containers: %w", err)
	}
	entries := map[types.UID][]string{}
	for _, s := range sandboxes.GetItems() {
		if uid := types.UID(s.GetLabels()[labels.PodUID]); uid != "" {
			entries[uid] = append(entries[uid], fmt.Sprintf("s/%s/%d", s.GetId(), s.GetState()))
		}
	}
	for _, c := range containers.GetContainers() {
		if uid := types.UID(c.GetLabels()[labels.PodUID]); uid != "" {
			entries[uid] = append(entries[uid], fmt.Sprintf("c/%s/%d", c.GetId(), c.GetState()))
		}
	}
	seen := make(map[types.UID]string, len(entries))
	for uid, e := range entries {
		slices.Sort(e)
		seen[uid] = strings.Join(e, ",")
	}

	k.mu.Lock()
	defer k.mu.Unlock()
	for uid, fp := range seen {
		if k.relisted[uid] != fp {
			k.wakeLocked(uid)
		}
	}
	for uid := range k.relisted {
		if _, still := seen[uid]; still {
			continue
		}
		// Everything of this pod vanished; only a pod the kubelet still
		// runs cares (a cleaned-up orphan needs no new worker).
		if _, known := k.pods[uid]; known || k.workers[uid] != nil {
			k.wakeLocked(uid)
		}
	}
	k.relisted = seen
	return nil
}
