package kubelet

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
)

// podWorker serialises the syncs of one pod UID: a goroutine that syncs
// whenever it is woken (pod update, runtime change, resync) or a requested
// delay is up, and ends once the pod is gone from both API and runtime.
type podWorker struct {
	uid  types.UID
	wake chan struct{}

	// pod, deleted and cancel are guarded by Kubelet.mu. pod is the latest
	// object the informer delivered; nil for an orphan the API never
	// showed us.
	pod     *corev1.Pod
	deleted bool
	// cancel ends the sync in progress while it runs a pod not being
	// deleted: a deletion must not wait for it (a postStart hook that
	// never returns, a slow pull), as upstream's pod workers do not.
	cancel context.CancelFunc

	// The rest belongs to the worker goroutine.
	podState
}

// podState is what the kubelet remembers about a pod between syncs; like
// upstream's, it is lost on restart and rebuilt from the runtime.
type podState struct {
	// waiting holds, by container name, why the container's last start
	// failed; status shows it while the container waits for its next start.
	waiting map[string]waitingReason
	// crash and pulls are the crash-loop and image-pull back-offs.
	crash *backoff
	pulls *backoff
	// pullErrs keeps each image's last pull error for ImagePullBackOff.
	pullErrs map[string]string
	// written is the last status this kubelet wrote, to skip rewriting it
	// while the informer has not caught up.
	written *writtenStatus
}

type waitingReason struct {
	reason  string
	message string
}

type writtenStatus struct {
	status corev1.PodStatus
	// basedOn is the resourceVersion of the pod the write replaced.
	basedOn string
}

func newPodState(cfg Config) podState {
	return podState{
		waiting:  map[string]waitingReason{},
		crash:    newBackoff(cfg.BackoffInitial, cfg.BackoffMax),
		pulls:    newBackoff(cfg.BackoffInitial, cfg.BackoffMax),
		pullErrs: map[string]string{},
	}
}

// interruptLocked cancels the sync in progress, if it may be; the pod is
// being deleted. Kubelet.mu must be held.
func (w *podWorker) interruptLocked() {
	if w.cancel != nil {
		w.cancel()
		w.cancel = nil
	}
}

// signal wakes the worker; wakes that arrive while it syncs collapse into
// one more sync.
func (w *podWorker) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// syncResult tells the worker what to do after a sync.
type syncResult struct {
	// requeue asks for another sync after this long even if nothing wakes
	// the worker (a back-off ending); zero asks for none.
	requeue time.Duration
	// done means the pod is gone and cleaned up: the worker ends.
	done bool
}

// workerLocked returns uid's worker, starting it if Run is running; nil
// before Run. k.mu must be held.
func (k *Kubelet) workerLocked(uid types.UID) *podWorker {
	if w := k.workers[uid]; w != nil {
		return w
	}
	ctx := k.runCtx
	if ctx == nil {
		return nil
	}
	pod := k.pods[uid]
	w := &podWorker{
		uid:      uid,
		wake:     make(chan struct{}, 1),
		pod:      pod,
		deleted:  pod == nil,
		podState: newPodState(k.cfg),
	}
	k.workers[uid] = w
	k.wg.Go(func() { k.runWorker(ctx, w) })
	return w
}

// wakeLocked wakes uid's worker, starting it if needed. k.mu must be held.
func (k *Kubelet) wakeLocked(uid types.UID) {
	if w := k.workerLocked(uid); w != nil {
		w.signal()
	}
}

func (k *Kubelet) runWorker(ctx context.Context, w *podWorker) {
	var timer clock.Timer
	var due <-chan time.Time
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	log := k.log.With("podUID", w.uid)
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		case <-due:
		}
		k.mu.Lock()
		pod, deleted := w.pod, w.deleted
		syncCtx, cancel := context.WithCancel(ctx)
		if !deleted && pod != nil && pod.DeletionTimestamp == nil {
			w.cancel = cancel
		}
		k.mu.Unlock()

		res, err := k.syncPod(syncCtx, w, pod, deleted)
		k.mu.Lock()
		w.cancel = nil
		k.mu.Unlock()
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			log.Info("pod sync failed, will retry", "pod", podDesc(pod), "err", err)
			if res.requeue <= 0 {
				res.requeue = k.cfg.BackoffInitial
			}
			res.done = false
		}
		if res.done {
			// Wakes are sent under k.mu: one pending now came after the
			// sync and must not be lost with the worker.
			k.mu.Lock()
			pending := len(w.wake) > 0
			if !pending {
				delete(k.workers, w.uid)
			}
			k.mu.Unlock()
			if !pending {
				return
			}
		}
		if timer != nil {
			timer.Stop()
			timer, due = nil, nil
		}
		if res.requeue > 0 {
			timer = k.clock.NewTimer(res.requeue)
			due = timer.C()
		}
	}
}
