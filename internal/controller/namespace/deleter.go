package namespace

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

// contentRemainingError says content is still going away; estimate is the
// expected number of seconds left.
type contentRemainingError struct {
	estimate int64
}

func (e *contentRemainingError) Error() string {
	return fmt.Sprintf("some content remains in the namespace, estimate %d seconds before it is removed", e.estimate)
}

// finishDeletion works on the live namespace, since other controllers edit
// a terminating namespace too: mark it Terminating, empty it, drop the
// "kubernetes" finalizer, and delete it once nothing else holds it.
func (c *Controller) finishDeletion(ctx context.Context, name string) error {
	ns, err := c.client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("namespace %q: get: %w", name, err)
	}
	if ns.DeletionTimestamp == nil {
		return nil
	}
	if ns, err = c.ensureTerminating(ctx, ns); err != nil {
		return err
	}
	if len(ns.Spec.Finalizers) == 0 {
		return c.deleteNamespace(ctx, ns)
	}
	ns, estimate, err := c.deleteContent(ctx, ns)
	if err != nil {
		return err
	}
	if estimate > 0 {
		return &contentRemainingError{estimate: estimate}
	}
	ns, err = c.finalize(ctx, ns)
	if err != nil || ns == nil {
		return err
	}
	if len(ns.Spec.Finalizers) == 0 {
		return c.deleteNamespace(ctx, ns)
	}
	return nil
}

// ensureTerminating sets the Terminating phase when the API server has not.
func (c *Controller) ensureTerminating(ctx context.Context, ns *corev1.Namespace) (*corev1.Namespace, error) {
	if ns.Status.Phase == corev1.NamespaceTerminating {
		return ns, nil
	}
	ns = ns.DeepCopy()
	ns.Status.Phase = corev1.NamespaceTerminating
	out, err := c.client.CoreV1().Namespaces().UpdateStatus(ctx, ns, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("namespace %q: set phase Terminating: %w", ns.Name, err)
	}
	return out, nil
}

// finalize removes this controller's finalizer through the finalize
// subresource. A nil namespace means it is already gone.
func (c *Controller) finalize(ctx context.Context, ns *corev1.Namespace) (*corev1.Namespace, error) {
	var out *corev1.Namespace
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		if !slices.Contains(ns.Spec.Finalizers, corev1.FinalizerKubernetes) {
			out = ns
			return nil
		}
		next := ns.DeepCopy()
		next.Spec.Finalizers = slices.DeleteFunc(next.Spec.Finalizers, func(f corev1.FinalizerName) bool {
			return f == corev1.FinalizerKubernetes
		})
		var err error
		out, err = c.client.CoreV1().Namespaces().Finalize(ctx, next, metav1.UpdateOptions{})
		if !apierrors.IsConflict(err) {
			return err
		}
		latest, getErr := c.client.CoreV1().Namespaces().Get(ctx, ns.Name, metav1.GetOptions{})
		if getErr != nil {
			return getErr
		}
		if latest.UID != ns.UID {
			return fmt.Errorf("uid changed from %s to %s", ns.UID, latest.UID)
		}
		ns = latest
		return err
	})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("namespace %q: finalize: %w", ns.Name, err)
	}
	return out, nil
}

// deleteNamespace deletes the namespace again now that it is finalized;
// the precondition keeps a recreated namespace of the same name safe.
func (c *Controller) deleteNamespace(ctx context.Context, ns *corev1.Namespace) error {
	uid := ns.UID
	err := c.client.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &uid},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("namespace %q: delete: %w", ns.Name, err)
	}
	return nil
}
