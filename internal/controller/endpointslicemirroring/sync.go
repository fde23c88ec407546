package endpointslicemirroring

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/controller/endpointutil"
)

// sync brings the mirrored slices of one Endpoints object in line with it.
func (c *Controller) sync(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		c.log.Error("dropping malformed key", "key", key, "err", err)
		return nil
	}
	// The cache is checked for staleness before any path, deletions
	// included: a slice created a moment ago and not yet cached would
	// otherwise outlive its Endpoints.
	live, err := c.tracker.LiveSlices(c.slices, ManagedBy, namespace, name)
	if err != nil {
		return fmt.Errorf("endpoints %s: %w", key, err)
	}

	ep, err := c.endpoints.Endpoints(namespace).Get(name)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("get endpoints %s: %w", key, err)
	}
	if ep == nil || !shouldMirror(ep) {
		return c.apply(ctx, key, nil, plan{delete: live})
	}
	svc, err := c.services.Services(namespace).Get(name)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("get service %s: %w", key, err)
	}
	if svc == nil || hasSelector(svc) {
		return c.apply(ctx, key, nil, plan{delete: live})
	}

	groups, sk := desired(ep, c.cfg.MaxEndpointsPerSubset)
	if sk.invalid > 0 {
		c.recorder.Eventf(ep, corev1.EventTypeWarning, "InvalidIPAddress",
			"Skipped %d invalid IP addresses when mirroring to EndpointSlices", sk.invalid)
	}
	if sk.overCap > 0 {
		c.recorder.Eventf(ep, corev1.EventTypeWarning, "TooManyAddressesToMirror",
			"A max of %d addresses can be mirrored to EndpointSlices per Endpoints subset. %d addresses were skipped",
			c.cfg.MaxEndpointsPerSubset, sk.overCap)
	}
	return c.apply(ctx, key, ep, planMirror(ep, live, groups))
}

// apply makes the plan's writes and records them in the tracker. ep is nil
// when the slices only go.
func (c *Controller) apply(ctx context.Context, key string, ep *corev1.Endpoints, p plan) error {
	// No new slices for Endpoints being deleted: the garbage collector
	// would race to remove them.
	if ep == nil || ep.DeletionTimestamp != nil {
		p.create = nil
	}
	namespace, _, _ := cache.SplitMetaNamespaceKey(key)
	err := endpointutil.WriteSlices(ctx, c.client.DiscoveryV1().EndpointSlices(namespace), c.tracker, key,
		endpointutil.SliceWrites{Create: p.create, Update: p.update, Delete: p.delete})
	if err != nil {
		return fmt.Errorf("endpoints %s: %w", key, err)
	}
	return nil
}
