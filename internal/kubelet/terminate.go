package kubelet

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/skiff-sh/skiff/internal/kubelet/labels"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// defaultGracePeriod applies when neither pod nor container says.
const defaultGracePeriod = 30

// killPod stops every running container of the pod, each with grace
// seconds (nil: each container's own) and in the order sidecars need,
// then its sandboxes.
func (k *Kubelet) killPod(ctx context.Context, pod *corev1.Pod, rt *runtimePod, grace *int64) error {
	var running []*runtimeapi.ContainerStatus
	for _, c := range rt.containers {
		if c.GetState() == runtimeapi.ContainerState_CONTAINER_RUNNING || c.GetState() == runtimeapi.ContainerState_CONTAINER_UNKNOWN {
			running = append(running, c)
		}
	}
	ips := rt.sandboxIPs()
	if pod != nil {
		ips = k.podIPs(pod, ips)
	}
	order := newStopOrder(pod, running)
	var wg sync.WaitGroup
	errs := make([]error, len(running))
	for i, c := range running {
		kill := containerKill{pod: pod, status: c, grace: containerGrace(pod, c), ips: ips}
		if grace != nil {
			kill.grace = *grace
		}
		wg.Go(func() { errs[i] = k.killContainer(ctx, kill, order) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		if pod != nil {
			k.recorder.Eventf(pod, corev1.EventTypeWarning, "FailedKillPod", "error killing pod: %v", err)
		}
		return err
	}
	// A sandbox that died still holds its network until stopped.
	for _, s := range rt.sandboxes {
		if err := k.stopSandbox(ctx, s.GetId()); err != nil {
			return err
		}
	}
	return nil
}

// containerGrace is the pod's termination grace period, or for an orphan
// the one its container was created with.
func containerGrace(pod *corev1.Pod, c *runtimeapi.ContainerStatus) int64 {
	if pod != nil {
		if g := pod.Spec.TerminationGracePeriodSeconds; g != nil {
			return *g
		}
		return defaultGracePeriod
	}
	if g, err := strconv.ParseInt(c.GetAnnotations()[annotationTerminationGracePeriod], 10, 64); err == nil {
		return g
	}
	return defaultGracePeriod
}

// remainingGrace is what is left of a deleted pod's grace period: the API
// server set deletionTimestamp to the deletion time plus the period.
func (k *Kubelet) remainingGrace(pod *corev1.Pod) *int64 {
	if pod.DeletionGracePeriodSeconds == nil {
		return nil
	}
	g := *pod.DeletionGracePeriodSeconds
	if pod.DeletionTimestamp != nil {
		left := int64(math.Ceil(pod.DeletionTimestamp.Sub(k.clock.Now()).Seconds()))
		g = min(g, max(left, 0))
	}
	return &g
}

// syncTerminating finishes a graceful deletion: stop the containers
// within what is left of the grace period, report the final status, remove
// the pod's runtime objects and files, and delete the pod object, which
// the API server keeps until the kubelet does so.
func (k *Kubelet) syncTerminating(ctx context.Context, st *podState, pod *corev1.Pod, rt *runtimePod) (syncResult, error) {
	k.probes.removePod(pod.UID)
	if rt.active() {
		if err := k.killPod(ctx, pod, rt, k.remainingGrace(pod)); err != nil {
			return syncResult{}, err
		}
		var err error
		if rt, err = k.inspect(ctx, pod.UID); err != nil {
			return syncResult{}, err
		}
	}
	if err := k.updateStatus(ctx, st, pod, rt, true); err != nil {
		return syncResult{}, err
	}
	if err := k.removePod(ctx, pod, rt); err != nil {
		return syncResult{}, err
	}
	zero := int64(0)
	err := k.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: &zero,
		// A same-named successor must survive.
		Preconditions: &metav1.Preconditions{UID: &pod.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return syncResult{}, fmt.Errorf("delete pod %s: %w", podDesc(pod), err)
	}
	k.log.Info("pod terminated", "pod", podDesc(pod))
	return syncResult{done: true}, nil
}

// syncGone cleans up after a pod the API no longer has (deleted at once,
// or an orphan from before a restart; pod is then nil or its last state).
func (k *Kubelet) syncGone(ctx context.Context, pod *corev1.Pod, uid types.UID, rt *runtimePod) (syncResult, error) {
	k.probes.removePod(uid)
	if rt.empty() {
		if pod == nil {
			return syncResult{done: true}, nil
		}
		return syncResult{done: true}, k.removePodFiles(rt.identity(pod))
	}
	var grace *int64
	if pod != nil && pod.DeletionGracePeriodSeconds != nil {
		grace = k.remainingGrace(pod)
	}
	if err := k.killPod(ctx, pod, rt, grace); err != nil {
		return syncResult{}, err
	}
	rt, err := k.inspect(ctx, uid)
	if err != nil {
		return syncResult{}, err
	}
	if err := k.removePod(ctx, pod, rt); err != nil {
		return syncResult{}, err
	}
	k.log.Info("removed pod no longer in the API", "pod", podDesc(pod), "podUID", uid)
	return syncResult{done: true}, nil
}

// removePod removes the pod's sandboxes (and with them their containers),
// any container left outside them, and the pod's files.
func (k *Kubelet) removePod(ctx context.Context, pod *corev1.Pod, rt *runtimePod) error {
	removed := map[string]bool{}
	for _, s := range rt.sandboxes {
		if s.GetState() == runtimeapi.PodSandboxState_SANDBOX_READY {
			if err := k.stopSandbox(ctx, s.GetId()); err != nil {
				return err
			}
		}
		if err := k.removeSandbox(ctx, s.GetId()); err != nil {
			return err
		}
		removed[s.GetId()] = true
	}
	for _, c := range rt.containers {
		if removed[rt.sandboxOf[c.GetId()]] {
			continue
		}
		if err := k.removeContainer(ctx, c.GetId()); err != nil {
			return err
		}
	}
	return k.removePodFiles(rt.identity(pod))
}

func (k *Kubelet) removeContainer(ctx context.Context, id string) error {
	if _, err := k.runtime.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil && !isNotFound(err) {
		return fmt.Errorf("remove container %s: %w", id, err)
	}
	return nil
}

// podIdentity names a pod's directories; an orphan's comes from its
// runtime labels.
type podIdentity struct {
	namespace, name string
	uid             types.UID
}

// identity is pod's identity, or the one the runtime objects carry.
func (r *runtimePod) identity(pod *corev1.Pod) podIdentity {
	if pod != nil {
		return podIdentity{namespace: pod.Namespace, name: pod.Name, uid: pod.UID}
	}
	var l map[string]string
	if len(r.sandboxes) > 0 {
		l = r.sandboxes[0].GetLabels()
	} else if len(r.containers) > 0 {
		l = r.containers[0].GetLabels()
	}
	return podIdentity{namespace: l[labels.PodNamespace], name: l[labels.PodName], uid: types.UID(l[labels.PodUID])}
}

// removePodFiles removes the pod's directory and log directory.
func (k *Kubelet) removePodFiles(id podIdentity) error {
	if id.uid == "" {
		return nil
	}
	if id.name != "" {
		logs := k.podLogDir(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: id.namespace, Name: id.name, UID: id.uid}})
		if err := os.RemoveAll(logs); err != nil {
			return fmt.Errorf("remove pod logs: %w", err)
		}
	}
	dir := filepath.Join(k.cfg.PodsDir, string(id.uid))
	if err := unmountUnder(dir); err != nil {
		return fmt.Errorf("remove pod directory: %w", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove pod directory: %w", err)
	}
	return nil
}
