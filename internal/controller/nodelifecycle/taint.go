package nodelifecycle

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// taintKey identifies a taint this controller owns.
type taintKey struct {
	key    string
	effect corev1.TaintEffect
}

// conditionTaints maps a node condition in a given status to the NoSchedule
// taint that keeps new pods off the node (upstream TaintNodesByCondition).
var conditionTaints = []struct {
	cond   corev1.NodeConditionType
	status corev1.ConditionStatus
	key    string
}{
	{corev1.NodeReady, corev1.ConditionFalse, corev1.TaintNodeNotReady},
	{corev1.NodeReady, corev1.ConditionUnknown, corev1.TaintNodeUnreachable},
	{corev1.NodeMemoryPressure, corev1.ConditionTrue, corev1.TaintNodeMemoryPressure},
	{corev1.NodeDiskPressure, corev1.ConditionTrue, corev1.TaintNodeDiskPressure},
	{corev1.NodePIDPressure, corev1.ConditionTrue, corev1.TaintNodePIDPressure},
	{corev1.NodeNetworkUnavailable, corev1.ConditionTrue, corev1.TaintNodeNetworkUnavailable},
}

// ownedTaints are every taint this controller adds and removes.
var ownedTaints = map[taintKey]bool{
	{corev1.TaintNodeNotReady, corev1.TaintEffectNoSchedule}:           true,
	{corev1.TaintNodeUnreachable, corev1.TaintEffectNoSchedule}:        true,
	{corev1.TaintNodeMemoryPressure, corev1.TaintEffectNoSchedule}:     true,
	{corev1.TaintNodeDiskPressure, corev1.TaintEffectNoSchedule}:       true,
	{corev1.TaintNodePIDPressure, corev1.TaintEffectNoSchedule}:        true,
	{corev1.TaintNodeNetworkUnavailable, corev1.TaintEffectNoSchedule}: true,
	{corev1.TaintNodeUnschedulable, corev1.TaintEffectNoSchedule}:      true,
	{corev1.TaintNodeNotReady, corev1.TaintEffectNoExecute}:            true,
	{corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute}:         true,
}

// wantedTaints are the owned taints the node's conditions call for.
func wantedTaints(node *corev1.Node) []taintKey {
	var out []taintKey
	for _, ct := range conditionTaints {
		if c := condition(node, ct.cond); c != nil && c.Status == ct.status {
			out = append(out, taintKey{ct.key, corev1.TaintEffectNoSchedule})
		}
	}
	if node.Spec.Unschedulable {
		out = append(out, taintKey{corev1.TaintNodeUnschedulable, corev1.TaintEffectNoSchedule})
	}
	// NoExecute taints drive eviction of pods already on the node.
	if ready := condition(node, corev1.NodeReady); ready != nil {
		switch ready.Status {
		case corev1.ConditionFalse:
			out = append(out, taintKey{corev1.TaintNodeNotReady, corev1.TaintEffectNoExecute})
		case corev1.ConditionUnknown:
			out = append(out, taintKey{corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute})
		}
	}
	return out
}

// reconcileTaints returns the node's taints with the owned ones set as
// wanted, keeping the time already-present taints were added, and whether
// that differs from what the node has.
func reconcileTaints(node *corev1.Node, now metav1.Time) ([]corev1.Taint, bool) {
	want := map[taintKey]bool{}
	for _, k := range wantedTaints(node) {
		want[k] = true
	}
	var out []corev1.Taint
	changed := false
	for _, t := range node.Spec.Taints {
		k := taintKey{t.Key, t.Effect}
		if ownedTaints[k] && !want[k] {
			changed = true
			continue
		}
		delete(want, k)
		out = append(out, t)
	}
	for _, k := range wantedTaints(node) {
		if !want[k] {
			continue
		}
		t := corev1.Taint{Key: k.key, Effect: k.effect}
		if k.effect == corev1.TaintEffectNoExecute {
			added := now
			t.TimeAdded = &added
		}
		out = append(out, t)
		changed = true
	}
	return out, changed
}

// syncNode brings the node's condition taints up to date and, when the
// node is not ready, marks its pods not ready.
func (c *Controller) syncNode(ctx context.Context, name string) error {
	node, err := c.nodes.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("nodelifecycle: get node %q: %w", name, err)
	}
	if taints, changed := reconcileTaints(node, metav1.NewTime(c.clock.Now())); changed {
		updated := node.DeepCopy()
		updated.Spec.Taints = taints
		if _, err := c.client.CoreV1().Nodes().Update(ctx, updated, metav1.UpdateOptions{}); err != nil {
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("nodelifecycle: taint node %q: %w", name, err)
		}
	}
	if ready := condition(node, corev1.NodeReady); ready != nil && ready.Status != corev1.ConditionTrue {
		return c.markPodsNotReady(ctx, node)
	}
	return nil
}

// markPodsNotReady flips the Ready condition of the node's pods to False,
// so Services stop sending them traffic while nobody can vouch for them.
func (c *Controller) markPodsNotReady(ctx context.Context, node *corev1.Node) error {
	objs, err := c.podIndexer.ByIndex(nodeNameIndex, node.Name)
	if err != nil {
		return fmt.Errorf("nodelifecycle: pods on node %q: %w", node.Name, err)
	}
	var errs []error
	for _, obj := range objs {
		pod, ok := obj.(*corev1.Pod)
		if !ok || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		i := podConditionIndex(pod, corev1.PodReady)
		if i < 0 || pod.Status.Conditions[i].Status == corev1.ConditionFalse {
			continue
		}
		updated := pod.DeepCopy()
		cond := &updated.Status.Conditions[i]
		cond.Status = corev1.ConditionFalse
		cond.LastTransitionTime = metav1.NewTime(c.clock.Now())
		_, err := c.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("mark pod %s/%s not ready: %w", pod.Namespace, pod.Name, err))
			continue
		}
		c.nodeRecorder.Event(pod, corev1.EventTypeWarning, "NodeNotReady", "Node is not ready")
	}
	if len(errs) > 0 {
		return fmt.Errorf("nodelifecycle: %w", errors.Join(errs...))
	}
	return nil
}

func podConditionIndex(pod *corev1.Pod, t corev1.PodConditionType) int {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == t {
			return i
		}
	}
	return -1
}
