package endpoints

import (
	"context"
	"fmt"
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/controller/endpointutil"
)

// overCapacity is the endpoints.kubernetes.io/over-capacity value of an
// Endpoints object whose addresses were cut to maxAddresses.
const overCapacity = "truncated"

// sync brings one Service's Endpoints in line with its pods.
func (c *Controller) sync(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		c.log.Error("dropping malformed key", "key", key, "err", err)
		return nil
	}
	svc, err := c.services.Services(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		c.triggers.Forget(key)
		c.stale.forget(key)
		return c.deleteOwn(ctx, namespace, name)
	}
	if err != nil {
		return fmt.Errorf("get service %s: %w", key, err)
	}
	if !endpointutil.SelectsPods(svc) {
		// An object of this controller's dates from when the Service
		// selected pods; its addresses are stale.
		return c.deleteOwn(ctx, namespace, name)
	}
	pods, err := c.pods.Pods(namespace).List(labels.SelectorFromValidatedSet(svc.Spec.Selector))
	if err != nil {
		return fmt.Errorf("list pods of %s: %w", key, err)
	}
	// Observed on every sync, writing or not, so that the next write
	// reports only what changed after this one.
	trigger := c.triggers.Observe(key, svc, pods)

	cur, err := c.endpoints.Endpoints(namespace).Get(name)
	switch {
	case apierrors.IsNotFound(err):
		cur = nil
	case err != nil:
		return fmt.Errorf("get endpoints %s: %w", key, err)
	case c.stale.isStale(key, cur):
		return fmt.Errorf("endpoints %s: %w", key, endpointutil.ErrStaleCache)
	}
	want := desiredEndpoints(svc, cur, subsetsFor(svc, pods), trigger)
	if cur != nil && unchanged(cur, want) {
		return nil
	}
	return c.write(ctx, key, cur, want)
}

func (c *Controller) write(ctx context.Context, key string, cur, want *corev1.Endpoints) error {
	client := c.client.CoreV1().Endpoints(want.Namespace)
	if cur == nil {
		_, err := client.Create(ctx, want, metav1.CreateOptions{})
		if err == nil {
			return nil
		}
		if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			// Creations fail until the namespace is gone with the Service.
			return nil
		}
		c.recorder.Eventf(want, corev1.EventTypeWarning, "FailedToCreateEndpoint",
			"Failed to create endpoint for service %s: %v", key, err)
		return fmt.Errorf("create endpoints %s: %w", key, err)
	}
	updated, err := client.Update(ctx, want, metav1.UpdateOptions{})
	if err != nil {
		c.recorder.Eventf(want, corev1.EventTypeWarning, "FailedToUpdateEndpoint",
			"Failed to update endpoint %s: %v", key, err)
		return fmt.Errorf("update endpoints %s: %w", key, err)
	}
	c.stale.wrote(key, cur.ResourceVersion, updated.ResourceVersion)
	return nil
}

// deleteOwn deletes the Endpoints object of that name if this controller
// wrote it; one written by a user stays.
func (c *Controller) deleteOwn(ctx context.Context, namespace, name string) error {
	cached, err := c.endpoints.Endpoints(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get endpoints %s/%s: %w", namespace, name, err)
	}
	if !endpointutil.IsControllerEndpoints(cached) {
		return nil
	}
	err = c.client.CoreV1().Endpoints(namespace).Delete(ctx, name,
		metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &cached.UID}})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete endpoints %s/%s: %w", namespace, name, err)
	}
	return nil
}

// desiredEndpoints returns the Endpoints object the Service should have,
// built on a copy of cur so that what others set on it is kept.
func desiredEndpoints(svc *corev1.Service, cur *corev1.Endpoints, subsets []corev1.EndpointSubset, trigger time.Time) *corev1.Endpoints {
	var ep *corev1.Endpoints
	if cur != nil {
		ep = cur.DeepCopy()
	} else {
		ep = &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: svc.Name, Namespace: svc.Namespace}}
	}
	ep.Subsets = subsets
	ep.Labels = make(map[string]string, len(svc.Labels)+2)
	maps.Copy(ep.Labels, svc.Labels)
	ep.Labels[endpointutil.LabelEndpointsManagedBy] = endpointutil.EndpointsControllerName
	if endpointutil.IsHeadless(svc) {
		ep.Labels[corev1.IsHeadlessService] = ""
	} else {
		delete(ep.Labels, corev1.IsHeadlessService)
	}
	ep.Annotations = endpointutil.SetTriggerTime(ep.Annotations, trigger)
	var cut bool
	if ep.Subsets, cut = truncate(ep.Subsets, maxAddresses); cut {
		if ep.Annotations == nil {
			ep.Annotations = map[string]string{}
		}
		ep.Annotations[corev1.EndpointsOverCapacity] = overCapacity
	} else {
		delete(ep.Annotations, corev1.EndpointsOverCapacity)
	}
	return ep
}

// unchanged reports whether writing want over cur would change what
// consumers read. The trigger time alone is no reason to write.
func unchanged(cur, want *corev1.Endpoints) bool {
	return apiequality.Semantic.DeepEqual(cur.Subsets, want.Subsets) &&
		maps.Equal(cur.Labels, want.Labels) &&
		cur.Annotations[corev1.EndpointsOverCapacity] == want.Annotations[corev1.EndpointsOverCapacity]
}
