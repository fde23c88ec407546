package kubelet

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// syncPod brings the runtime in line with one pod and reports its status.
// pod is the informer's latest object (nil for an orphan); deleted says
// the API no longer has it.
func (k *Kubelet) syncPod(ctx context.Context, w *podWorker, pod *corev1.Pod, deleted bool) (syncResult, error) {
	rt, err := k.inspect(ctx, w.uid)
	if err != nil {
		return syncResult{}, err
	}
	switch {
	case deleted || pod == nil:
		return k.syncGone(ctx, pod, w.uid, rt)
	case pod.DeletionTimestamp != nil:
		return k.syncTerminating(ctx, &w.podState, pod, rt)
	}
	return k.syncActive(ctx, &w.podState, pod, rt)
}

// syncActive runs a pod that is not being deleted: it starts and restarts
// containers until the pod finishes, then keeps it stopped.
func (k *Kubelet) syncActive(ctx context.Context, st *podState, pod *corev1.Pod, rt *runtimePod) (syncResult, error) {
	var res syncResult
	var errs []error
	changed := false
	if k.finished(st, pod) {
		// A finished pod's containers stay, stopped, for their logs and
		// status until the pod is deleted.
		k.probes.removePod(pod.UID)
		if rt.active() {
			if err := k.killPod(ctx, pod, rt, nil); err != nil {
				errs = append(errs, err)
			}
			changed = true
		}
	} else {
		var err error
		res.requeue, changed, err = k.apply(ctx, st, pod, rt, computeActions(pod, rt, k.probes))
		if err != nil {
			errs = append(errs, err)
		}
	}
	if err := ctx.Err(); err != nil {
		// Interrupted by the pod's deletion: the next sync takes over, and
		// a status from the pod as it was must not overwrite the API's.
		return res, errors.Join(append(errs, err)...)
	}
	if changed {
		fresh, err := k.inspect(ctx, pod.UID)
		if err != nil {
			return res, errors.Join(append(errs, err)...)
		}
		rt = fresh
	}
	if !k.finished(st, pod) {
		k.probes.sync(ctx, pod, rt, k.podIPs(pod, rt.sandboxIPs()))
	}
	if err := k.updateStatus(ctx, st, pod, rt, false); err != nil {
		errs = append(errs, err)
	}
	if err := k.prune(ctx, rt); err != nil {
		errs = append(errs, err)
	}
	return res, errors.Join(errs...)
}

// finished reports whether the pod reached Succeeded or Failed, in the API
// or in the last status this kubelet wrote.
func (k *Kubelet) finished(st *podState, pod *corev1.Pod) bool {
	if isTerminalPhase(pod.Status.Phase) {
		return true
	}
	return st.written != nil && isTerminalPhase(st.written.status.Phase)
}

// apply carries out a, reporting whether the runtime changed and when a
// back-off asks for the next sync.
func (k *Kubelet) apply(ctx context.Context, st *podState, pod *corev1.Pod, rt *runtimePod, a podActions) (time.Duration, bool, error) {
	changed := false
	if a.createSandbox && a.sandboxID != "" {
		k.recorder.Event(pod, corev1.EventTypeNormal, "SandboxChanged", "Pod sandbox changed, it will be killed and re-created.")
	}
	if a.killPod {
		changed = true
		if err := k.killPod(ctx, pod, rt, nil); err != nil {
			return 0, changed, err
		}
		if !a.createSandbox {
			return 0, changed, nil
		}
	}
	ips := k.podIPs(pod, rt.sandboxIPs())
	for _, t := range a.kill {
		changed = true
		kill := containerKill{pod: pod, status: t.status, grace: t.grace, message: t.message, ips: ips}
		if err := k.killContainer(ctx, kill, nil); err != nil {
			return 0, changed, err
		}
	}
	if len(a.initStart) == 0 && len(a.start) == 0 {
		return 0, changed, nil
	}

	src := k.newObjectSource(ctx, pod.Namespace)
	vols, err := k.setupVolumes(pod, src)
	if err != nil {
		k.recorder.Eventf(pod, corev1.EventTypeWarning, "FailedMount", "MountVolume.SetUp failed: %v", err)
		return 0, changed, fmt.Errorf("set up volumes: %w", err)
	}
	var sb sandboxTarget
	if a.createSandbox {
		changed = true
		if sb, err = k.createSandbox(ctx, pod, a.attempt); err != nil {
			k.recorder.Eventf(pod, corev1.EventTypeWarning, "FailedCreatePodSandBox", "Failed to create pod sandbox: %v", err)
			return 0, changed, err
		}
	} else {
		cfg, err := k.sandboxConfig(pod, a.attempt)
		if err != nil {
			return 0, changed, err
		}
		sb = sandboxTarget{id: a.sandboxID, config: cfg, ips: k.podIPs(pod, rt.sandboxIPs())}
	}

	var requeue time.Duration
	var errs []error
	later := func(wait time.Duration) {
		if wait > 0 && (requeue == 0 || wait < requeue) {
			requeue = wait
		}
	}
	for _, c := range a.initStart {
		changed = true
		wait, err := k.startContainer(ctx, st, pod, c, kindInit, sb, rt, vols, src)
		later(wait)
		if err != nil {
			errs = append(errs, err)
		}
		if (err != nil || wait > 0) && !isSidecar(c) {
			// Initialisation cannot go on past an init container that did
			// not start.
			return requeue, changed, errors.Join(errs...)
		}
	}
	for _, c := range a.start {
		changed = true
		wait, err := k.startContainer(ctx, st, pod, c, kindApp, sb, rt, vols, src)
		later(wait)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return requeue, changed, errors.Join(errs...)
}
