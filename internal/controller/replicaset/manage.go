package replicaset

import (
	"context"
	"errors"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// slowStartInitialBatch is the first creation batch; batches double after
// each fully successful one, so a quota or admission failure costs one call
// rather than hundreds.
const slowStartInitialBatch = 1

// manageReplicas creates or deletes pods so that pods reaches v.replicas,
// at most BurstReplicas per call.
func (c *Controller) manageReplicas(ctx context.Context, v *view, key string, pods []*corev1.Pod) error {
	diff := len(pods) - int(v.replicas)
	switch {
	case diff < 0:
		return c.scaleUp(ctx, v, key, min(-diff, c.cfg.BurstReplicas))
	case diff > 0:
		return c.scaleDown(ctx, v, key, pods, min(diff, c.cfg.BurstReplicas))
	}
	return nil
}

func (c *Controller) scaleUp(ctx context.Context, v *view, key string, n int) error {
	// Expect all n before the first call: the informer may report a new pod
	// before Create returns.
	c.exp.expectCreations(key, n)
	created, err := slowStartBatch(n, slowStartInitialBatch, func() error {
		return c.createPod(ctx, v)
	})
	// Creations never attempted will never be observed.
	for range n - created {
		c.exp.creationObserved(key)
	}
	if err != nil && apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
		// The namespace is going away; nothing to retry.
		return nil
	}
	return err
}

func (c *Controller) scaleDown(ctx context.Context, v *view, key string, pods []*corev1.Pod, n int) error {
	related, err := c.relatedPods(v, pods)
	if err != nil {
		return err
	}
	victims := podsToDelete(pods, related, n, c.clock.Now())
	keys := make([]string, len(victims))
	for i, p := range victims {
		keys[i] = podKey(p)
	}
	c.exp.expectDeletions(key, keys)

	errs := make([]error, len(victims))
	var wg sync.WaitGroup
	for i, p := range victims {
		wg.Go(func() {
			if err := c.deletePod(ctx, v, p); err != nil {
				// The informer will not report a delete that did not happen.
				c.exp.deletionObserved(key, podKey(p))
				if !apierrors.IsNotFound(err) {
					errs[i] = err
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// slowStartBatch calls fn count times in batches of growing size, in
// parallel within a batch, and stops after the first batch with an error.
// It returns the number of successful calls.
func slowStartBatch(count, initial int, fn func() error) (int, error) {
	remaining := count
	successes := 0
	for batch := min(remaining, initial); batch > 0; batch = min(2*batch, remaining) {
		errs := make([]error, batch)
		var wg sync.WaitGroup
		for i := range batch {
			wg.Go(func() { errs[i] = fn() })
		}
		wg.Wait()
		failed := 0
		for _, err := range errs {
			if err != nil {
				failed++
			}
		}
		successes += batch - failed
		if failed > 0 {
			return successes, errors.Join(errs...)
		}
		remaining -= batch
	}
	return successes, nil
}

// createPod creates one pod from v's template and records the outcome.
func (c *Controller) createPod(ctx context.Context, v *view) error {
	pod, err := c.podFromTemplate(v)
	if err != nil {
		c.recorder.Eventf(v.obj, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
		return err
	}
	created, err := c.client.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		// A terminating namespace refuses everything; not worth an event.
		if !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			c.recorder.Eventf(v.obj, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
		}
		return fmt.Errorf("create pod for %s: %w", setKey(v), err)
	}
	c.recorder.Eventf(v.obj, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %v", created.Name)
	return nil
}

func (c *Controller) deletePod(ctx context.Context, v *view, p *corev1.Pod) error {
	err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return err
		}
		c.recorder.Eventf(v.obj, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
		return fmt.Errorf("delete pod %s: %w", podKey(p), err)
	}
	c.recorder.Eventf(v.obj, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %v", p.Name)
	return nil
}

// podFromTemplate builds a new pod for v: the template's labels,
// annotations, finalizers and spec, a generated name prefixed by the set's
// name, and v as its controller.
func (c *Controller) podFromTemplate(v *view) (*corev1.Pod, error) {
	if v.template == nil {
		return nil, errors.New("no pod template")
	}
	t := v.template.DeepCopy()
	if len(t.Labels) == 0 {
		return nil, errors.New("unable to create pods, no labels")
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:       v.meta.GetNamespace(),
			GenerateName:    generateNamePrefix(v.meta.GetName()),
			Labels:          t.Labels,
			Annotations:     t.Annotations,
			Finalizers:      t.Finalizers,
			OwnerReferences: []metav1.OwnerReference{*c.controllerRef(v)},
		},
		Spec: t.Spec,
	}
	return pod, nil
}

// maxGeneratedPrefix is the longest base the API server's name generator
// keeps (63 minus its 5-character random suffix).
const maxGeneratedPrefix = 58

// generateNamePrefix returns "<name>-", shortened as the name generator
// would shorten it.
func generateNamePrefix(name string) string {
	prefix := name + "-"
	if len(prefix) > maxGeneratedPrefix {
		prefix = prefix[:maxGeneratedPrefix]
	}
	return prefix
}
