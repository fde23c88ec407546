package nodelifecycle

import (
	"context"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// evictionTime says when a pod must leave a node with the given NoExecute
// taints: at once when it does not tolerate one of them, never (ok false)
// when it tolerates all without a time limit, else when the shortest
// tolerationSeconds counted from its taint's TimeAdded runs out.
func evictionTime(tolerations []corev1.Toleration, taints []corev1.Taint, now time.Time) (time.Time, bool) {
	var at time.Time
	limited := false
	for i := range taints {
		taint := &taints[i]
		added := now
		if taint.TimeAdded != nil {
			added = taint.TimeAdded.Time
		}
		tolerated := false
		for j := range tolerations {
			tol := &tolerations[j]
			if !tol.ToleratesTaint(logr.Discard(), taint, true) {
				continue
			}
			tolerated = true
			if tol.TolerationSeconds == nil {
				continue
			}
			// A non-positive limit means leave at once, as upstream.
			deadline := added.Add(time.Duration(max(*tol.TolerationSeconds, 0)) * time.Second)
			if !limited || deadline.Before(at) {
				at, limited = deadline, true
			}
		}
		if !tolerated {
			return now, true
		}
	}
	return at, limited
}

func noExecuteTaints(node *corev1.Node) []corev1.Taint {
	var out []corev1.Taint
	for _, t := range node.Spec.Taints {
		if t.Effect == corev1.TaintEffectNoExecute {
			out = append(out, t)
		}
	}
	return out
}

// syncPod evicts the pod if its node has a NoExecute taint it does not
// tolerate, or checks back when its toleration runs out.
func (c *Controller) syncPod(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pod, err := c.pods.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("nodelifecycle: get pod %s: %w", key, err)
	}
	if pod.DeletionTimestamp != nil || pod.Spec.NodeName == "" {
		return nil
	}
	node, err := c.nodes.Get(pod.Spec.NodeName)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("nodelifecycle: get node %q: %w", pod.Spec.NodeName, err)
	}
	taints := noExecuteTaints(node)
	if len(taints) == 0 {
		return nil
	}
	now := c.clock.Now()
	at, evict := evictionTime(pod.Spec.Tolerations, taints, now)
	if !evict {
		return nil
	}
	if wait := at.Sub(now); wait > 0 {
		c.podQueue.AddAfter(key, wait)
		return nil
	}
	return c.evict(ctx, pod)
}

// evict marks the pod as disrupted and deletes it gracefully, as
// upstream's taint eviction does; the kubelet finishes the deletion.
func (c *Controller) evict(ctx context.Context, pod *corev1.Pod) error {
	c.podRecorder.Eventf(pod, corev1.EventTypeNormal, "TaintManagerEviction", "Marking for deletion Pod %s/%s", pod.Namespace, pod.Name)
	if podConditionIndex(pod, corev1.DisruptionTarget) < 0 {
		updated := pod.DeepCopy()
		updated.Status.Conditions = append(updated.Status.Conditions, corev1.PodCondition{
			Type:               corev1.DisruptionTarget,
			Status:             corev1.ConditionTrue,
			Reason:             "DeletionByTaintManager",
			Message:            "Taint manager: deleting due to NoExecute taint",
			LastTransitionTime: metav1.NewTime(c.clock.Now()),
		})
		_, err := c.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("nodelifecycle: mark pod %s/%s disrupted: %w", pod.Namespace, pod.Name, err)
		}
	}
	uid := pod.UID
	err := c.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &uid},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("nodelifecycle: evict pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}
