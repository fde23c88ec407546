package replicaset

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/controller/podutil"
)

// sync brings one set's pods and status in line with its spec.
func (c *Controller) sync(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		c.log.Error("dropping malformed key", "key", key, "err", err)
		return nil
	}
	v, err := c.sets.get(namespace, name)
	if apierrors.IsNotFound(err) {
		c.exp.forget(key)
		return nil
	}
	if err != nil {
		return fmt.Errorf("get %s %s: %w", c.sets.gvk().Kind, key, err)
	}
	if v.selectorErr != nil {
		// A selector the API server accepted but we cannot parse will not
		// heal by retrying.
		c.log.Error("invalid selector", "key", key, "err", v.selectorErr)
		return nil
	}
	// Read before listing pods: expectations met now guarantee the list
	// below already holds this controller's earlier writes.
	needsSync := c.exp.satisfied(key)

	all, err := c.pods.Pods(namespace).List(labels.Everything())
	if err != nil {
		return fmt.Errorf("list pods in %q: %w", namespace, err)
	}
	pods, err := c.claimPods(ctx, v, activePods(all))
	if err != nil {
		return fmt.Errorf("%s %s: claim pods: %w", c.sets.gvk().Kind, key, err)
	}

	var manageErr error
	if needsSync && v.meta.GetDeletionTimestamp() == nil {
		manageErr = c.manageReplicas(ctx, v, key, pods)
	}
	st := c.calculateStatus(v, pods, manageErr)
	if err := c.writeStatus(ctx, v, st); err != nil {
		return fmt.Errorf("%s %s: update status: %w", c.sets.gvk().Kind, key, err)
	}
	if manageErr == nil {
		if wait, ok := c.nextAvailable(v, pods); ok {
			c.queue.AddAfter(key, wait)
		}
	}
	return manageErr
}

// activePods drops pods that can no longer run: finished ones (a failed pod
// is replaced, not counted) and ones already terminating.
func activePods(pods []*corev1.Pod) []*corev1.Pod {
	out := make([]*corev1.Pod, 0, len(pods))
	for _, p := range pods {
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		if p.DeletionTimestamp != nil {
			continue
		}
		out = append(out, p)
	}
	return out
}

// calculateStatus counts the set's pods and sets or clears ReplicaFailure.
func (c *Controller) calculateStatus(v *view, pods []*corev1.Pod, manageErr error) setStatus {
	now := c.clock.Now()
	st := setStatus{
		Replicas:           int32(len(pods)),
		ObservedGeneration: v.meta.GetGeneration(),
		Conditions:         v.status.Conditions,
	}
	var templateLabels labels.Selector = labels.Nothing()
	if v.template != nil {
		templateLabels = labels.SelectorFromSet(v.template.Labels)
	}
	for _, p := range pods {
		if templateLabels.Matches(labels.Set(p.Labels)) {
			st.FullyLabeledReplicas++
		}
		if podutil.IsPodReady(p) {
			st.ReadyReplicas++
			if podutil.IsPodAvailable(p, v.minReadySeconds, now) {
				st.AvailableReplicas++
			}
		}
	}
	failed := findCondition(st.Conditions, conditionReplicaFailure) >= 0
	switch {
	case manageErr != nil && !failed:
		reason := "FailedDelete"
		if int32(len(pods)) < v.replicas {
			reason = "FailedCreate"
		}
		st.Conditions = append(append([]setCondition(nil), st.Conditions...), setCondition{
			Type: conditionReplicaFailure, Status: corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(now), Reason: reason, Message: manageErr.Error(),
		})
	case manageErr == nil && failed:
		st.Conditions = removeCondition(st.Conditions, conditionReplicaFailure)
	}
	return st
}

// writeStatus updates the status subresource only when it changed.
func (c *Controller) writeStatus(ctx context.Context, v *view, st setStatus) error {
	if statusEqual(v.status, st) {
		return nil
	}
	return c.sets.updateStatus(ctx, v, st)
}

// nextAvailable returns when the next ready pod becomes available, so the
// set is re-counted then; false when no pod is waiting on minReadySeconds.
func (c *Controller) nextAvailable(v *view, pods []*corev1.Pod) (time.Duration, bool) {
	now := c.clock.Now()
	var soonest time.Duration
	found := false
	for _, p := range pods {
		wait, ok := podutil.AvailableIn(p, v.minReadySeconds, now)
		if ok && (!found || wait < soonest) {
			soonest, found = wait, true
		}
	}
	// IsPodAvailable needs strictly more than minReadySeconds; the extra
	// second makes the recheck land after that edge, not on it.
	return soonest + time.Second, found
}

func findCondition(conds []setCondition, t string) int {
	for i, c := range conds {
		if c.Type == t {
			return i
		}
	}
	return -1
}

func removeCondition(conds []setCondition, t string) []setCondition {
	var out []setCondition
	for _, c := range conds {
		if c.Type != t {
			out = append(out, c)
		}
	}
	return out
}

func statusEqual(a, b setStatus) bool {
	if a.Replicas != b.Replicas || a.FullyLabeledReplicas != b.FullyLabeledReplicas ||
		a.ReadyReplicas != b.ReadyReplicas || a.AvailableReplicas != b.AvailableReplicas ||
		a.ObservedGeneration != b.ObservedGeneration || len(a.Conditions) != len(b.Conditions) {
		return false
	}
	for i := range a.Conditions {
		ca, cb := a.Conditions[i], b.Conditions[i]
		if ca.Type != cb.Type || ca.Status != cb.Status || ca.Reason != cb.Reason ||
			ca.Message != cb.Message || !ca.LastTransitionTime.Equal(&cb.LastTransitionTime) {
			return false
		}
	}
	return true
}
