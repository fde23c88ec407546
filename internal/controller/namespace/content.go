package namespace

import (
	"context"
	"errors"
	"fmt"
	"math"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/metadata"
)

// finalizerEstimateSeconds is upstream's guess of how long content held by
// finalizers takes to go.
const finalizerEstimateSeconds int64 = 15

// resourceResult is what one resource's deletion pass left behind.
type resourceResult struct {
	gvr schema.GroupVersionResource
	// estimate is the seconds expected until the remaining items are gone.
	estimate   int64
	remaining  int
	finalizers map[string]int
	err        error
}

// deleteContent deletes everything in ns and reports in its conditions what
// remains; it returns the namespace as last written. Pods go first and the rest only once they are gone, so that
// running pods never outlive the policies and secrets they use.
func (c *Controller) deleteContent(ctx context.Context, ns *corev1.Namespace) (*corev1.Namespace, int64, error) {
	var pods, others []schema.GroupVersionResource
	for _, gvr := range c.resources {
		if gvr.Group == "" && gvr.Resource == "pods" {
			pods = append(pods, gvr)
		} else {
			others = append(others, gvr)
		}
	}
	var results []resourceResult
	for _, gvr := range pods {
		results = append(results, c.deleteResource(ctx, gvr, ns.Name))
	}
	if settled(results) {
		for _, gvr := range others {
			results = append(results, c.deleteResource(ctx, gvr, ns.Name))
		}
	}
	var (
		estimate int64
		errs     []error
	)
	for _, r := range results {
		estimate = max(estimate, r.estimate)
		if r.err != nil {
			errs = append(errs, r.err)
		}
	}
	ns, err := c.reportConditions(ctx, ns, results)
	if err != nil {
		errs = append(errs, err)
	}
	return ns, estimate, errors.Join(errs...)
}

// settled reports that every resource was emptied without error.
func settled(results []resourceResult) bool {
	for _, r := range results {
		if r.err != nil || r.remaining > 0 {
			return false
		}
	}
	return true
}

// deleteResource deletes all items of one resource in namespace, then lists
// what is left and estimates how long it will take to go.
func (c *Controller) deleteResource(ctx context.Context, gvr schema.GroupVersionResource, namespace string) resourceResult {
	r := resourceResult{gvr: gvr, finalizers: map[string]int{}}
	client := c.meta.Resource(gvr).Namespace(namespace)
	if err := c.deleteAll(ctx, client, gvr); err != nil {
		r.err = fmt.Errorf("failed to delete %s: %w", gvr.GroupResource(), err)
		return r
	}
	list, err := client.List(ctx, metav1.ListOptions{})
	if unsupported(err) {
		return r
	}
	if err != nil {
		r.err = fmt.Errorf("failed to list %s: %w", gvr.GroupResource(), err)
		return r
	}
	now := c.clock.Now()
	unexplained := false
	for _, item := range list.Items {
		r.remaining++
		for _, f := range item.Finalizers {
			r.finalizers[f]++
		}
		switch {
		case len(item.Finalizers) > 0:
			r.estimate = max(r.estimate, finalizerEstimateSeconds)
		case item.DeletionTimestamp != nil:
			// A graceful deletion: the timestamp is when the grace period
			// ends.
			left := int64(math.Ceil(item.DeletionTimestamp.Sub(now).Seconds()))
			r.estimate = max(r.estimate, left, 1)
		default:
			unexplained = true
		}
	}
	if unexplained && r.estimate == 0 {
		r.err = fmt.Errorf("unexpected items still remain in namespace: %s for gvr: %v", namespace, gvr)
	}
	return r
}

// deleteAll deletes the collection, or item by item where the server does
// not support deletecollection.
func (c *Controller) deleteAll(ctx context.Context, client metadata.ResourceInterface, gvr schema.GroupVersionResource) error {
	background := metav1.DeletePropagationBackground
	opts := metav1.DeleteOptions{PropagationPolicy: &background}
	if c.deleteCollectionSupported(gvr) {
		err := client.DeleteCollection(ctx, opts, metav1.ListOptions{})
		if !unsupported(err) {
			return err
		}
		c.markNoDeleteCollection(gvr)
	}
	list, err := client.List(ctx, metav1.ListOptions{})
	if unsupported(err) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, item := range list.Items {
		err := client.Delete(ctx, item.Name, opts)
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

// unsupported recognises a resource that does not offer the verb; upstream
// treats a NotFound on the collection the same way.
func unsupported(err error) bool {
	return apierrors.IsMethodNotSupported(err) || apierrors.IsNotFound(err)
}

func (c *Controller) deleteCollectionSupported(gvr schema.GroupVersionResource) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.noDeleteCollection[gvr]
}

func (c *Controller) markNoDeleteCollection(gvr schema.GroupVersionResource) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.noDeleteCollection[gvr] = true
}
