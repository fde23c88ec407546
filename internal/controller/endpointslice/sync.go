package endpointslice

import (
	"context"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/controller/endpointutil"
)

// sync brings one Service's slices in line with its pods.
func (c *Controller) sync(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		c.log.Error("dropping malformed key", "key", key, "err", err)
		return nil
	}
	live, err := c.tracker.LiveSlices(c.slices, ManagedBy, namespace, name)
	if err != nil {
		return fmt.Errorf("service %s: %w", key, err)
	}

	svc, err := c.services.Services(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		// The garbage collector would remove the slices too, but only on
		// its own schedule; deleting them now stops proxies routing to a
		// Service that is gone.
		c.triggers.Forget(key)
		return c.apply(ctx, key, nil, plan{delete: live}, time.Time{})
	}
	if err != nil {
		return fmt.Errorf("get service %s: %w", key, err)
	}
	if !endpointutil.SelectsPods(svc) {
		// Its slices, if any, date from when it had a selector.
		return c.apply(ctx, key, svc, plan{delete: live}, time.Time{})
	}

	pods, err := c.pods.Pods(namespace).List(labels.SelectorFromValidatedSet(svc.Spec.Selector))
	if err != nil {
		return fmt.Errorf("list pods of %s: %w", key, err)
	}
	// Observed on every sync, writing or not, so that the next write
	// reports only what changed after this one.
	trigger := c.triggers.Observe(key, svc, pods)
	want, skipped := desired(svc, pods, c.nodes)
	if want == nil {
		return fmt.Errorf("service %s: %w", key, skipped)
	}
	p := planSlices(svc, live, want, c.cfg.MaxEndpointsPerSlice)
	if err := c.apply(ctx, key, svc, p, trigger); err != nil {
		c.recorder.Eventf(svc, corev1.EventTypeWarning, "FailedToUpdateEndpointSlices",
			"Error updating Endpoint Slices for Service %s: %v", key, err)
		return fmt.Errorf("service %s: %w", key, err)
	}
	if skipped != nil {
		return fmt.Errorf("service %s: %w", key, skipped)
	}
	return nil
}

// apply makes the plan's writes and records them in the tracker. svc is nil
// when the Service is gone, which leaves only deletions.
func (c *Controller) apply(ctx context.Context, key string, svc *corev1.Service, p plan, trigger time.Time) error {
	if len(p.create)+len(p.update)+len(p.delete) == 0 {
		return nil
	}
	// No new slices for a Service being deleted: the garbage collector
	// would race to remove them.
	if svc == nil || svc.DeletionTimestamp != nil {
		p.create = nil
	}
	for _, s := range slices.Concat(p.create, p.update) {
		s.Annotations = endpointutil.SetTriggerTime(s.Annotations, trigger)
	}
	namespace, _, _ := cache.SplitMetaNamespaceKey(key)
	err := endpointutil.WriteSlices(ctx, c.client.DiscoveryV1().EndpointSlices(namespace), c.tracker, key,
		endpointutil.SliceWrites{Create: p.create, Update: p.update, Delete: p.delete})
	if err != nil {
		return err
	}
	c.log.Debug("endpointslices written", "service", key,
		"created", len(p.create), "updated", len(p.update), "deleted", len(p.delete))
	return nil
}
