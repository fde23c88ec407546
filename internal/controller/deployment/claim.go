package deployment

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// claimer decides which ReplicaSets belong to one Deployment, adopting
// matching orphans and releasing owned ones that no longer match, the way
// upstream's ControllerRefManager does.
type claimer struct {
	dc       *Controller
	d        *appsv1.Deployment
	selector labels.Selector

	// adoptChecked/adoptErr cache the one fresh read that proves the
	// Deployment is still alive before anything is adopted.
	adoptChecked bool
	adoptErr     error
}

// replicaSetsForDeployment returns the ReplicaSets d controls after
// adoption and release.
func (dc *Controller) replicaSetsForDeployment(ctx context.Context, d *appsv1.Deployment) ([]*appsv1.ReplicaSet, error) {
	all, err := dc.rsLister.ReplicaSets(d.Namespace).List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("list replica sets: %w", err)
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("deployment %s/%s has invalid label selector: %w", d.Namespace, d.Name, err)
	}
	c := &claimer{dc: dc, d: d, selector: sel}
	var claimed []*appsv1.ReplicaSet
	var errs []error
	for _, rs := range all {
		owned, err := c.claim(ctx, rs)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if owned != nil {
			claimed = append(claimed, owned)
		}
	}
	if len(errs) > 0 {
		return claimed, fmt.Errorf("claim replica sets: %w", errs[0])
	}
	return claimed, nil
}

// claim returns rs (as last written) when it belongs to the Deployment,
// or nil, fixing its owner reference when it should change hands.
func (c *claimer) claim(ctx context.Context, rs *appsv1.ReplicaSet) (*appsv1.ReplicaSet, error) {
	matches := c.selector.Matches(labels.Set(rs.Labels))
	if ref := metav1.GetControllerOf(rs); ref != nil {
		switch {
		case ref.UID != c.d.UID:
			return nil, nil
		case matches:
			return rs, nil
		case c.d.DeletionTimestamp != nil:
			return nil, nil
		}
		return nil, c.release(ctx, rs)
	}
	if c.d.DeletionTimestamp != nil || !matches || rs.DeletionTimestamp != nil {
		return nil, nil
	}
	adopted, err := c.adopt(ctx, rs)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return adopted, err
}

// canAdopt re-reads the Deployment from the server: adopting on behalf of a
// Deployment that is being deleted or was replaced would leak ReplicaSets.
func (c *claimer) canAdopt(ctx context.Context) error {
	if c.adoptChecked {
		return c.adoptErr
	}
	c.adoptChecked = true
	fresh, err := c.dc.client.AppsV1().Deployments(c.d.Namespace).Get(ctx, c.d.Name, metav1.GetOptions{})
	switch {
	case err != nil:
		c.adoptErr = fmt.Errorf("get deployment %s/%s: %w", c.d.Namespace, c.d.Name, err)
	case fresh.UID != c.d.UID:
		c.adoptErr = fmt.Errorf("original deployment %s/%s is gone: got uid %s, wanted %s", c.d.Namespace, c.d.Name, fresh.UID, c.d.UID)
	case fresh.DeletionTimestamp != nil:
		c.adoptErr = fmt.Errorf("deployment %s/%s is being deleted", c.d.Namespace, c.d.Name)
	}
	return c.adoptErr
}

// adopt makes the Deployment rs's controller and returns the stored copy,
// so later writes in this sync build on the adoption instead of undoing it.
func (c *claimer) adopt(ctx context.Context, rs *appsv1.ReplicaSet) (*appsv1.ReplicaSet, error) {
	if err := c.canAdopt(ctx); err != nil {
		return nil, fmt.Errorf("can't adopt replica set %s/%s: %w", rs.Namespace, rs.Name, err)
	}
	cp := rs.DeepCopy()
	cp.OwnerReferences = append(cp.OwnerReferences, *metav1.NewControllerRef(c.d, controllerKind))
	out, err := c.dc.client.AppsV1().ReplicaSets(rs.Namespace).Update(ctx, cp, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("adopt replica set %s/%s: %w", rs.Namespace, rs.Name, err)
	}
	return out, nil
}

func (c *claimer) release(ctx context.Context, rs *appsv1.ReplicaSet) error {
	cp := rs.DeepCopy()
	var refs []metav1.OwnerReference
	for _, r := range cp.OwnerReferences {
		if r.UID != c.d.UID {
			refs = append(refs, r)
		}
	}
	cp.OwnerReferences = refs
	_, err := c.dc.client.AppsV1().ReplicaSets(rs.Namespace).Update(ctx, cp, metav1.UpdateOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("release replica set %s/%s: %w", rs.Namespace, rs.Name, err)
	}
	return nil
}

// podsByReplicaSet groups the Deployment's pods by the name of the
// ReplicaSet controlling them (matched by UID, so a pod of a replaced
// ReplicaSet of the same name does not count); Recreate uses it to see old
// pods linger.
func (dc *Controller) podsByReplicaSet(d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) (map[string][]*corev1.Pod, error) {
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("deployment %s/%s has invalid label selector: %w", d.Namespace, d.Name, err)
	}
	pods, err := dc.podLister.Pods(d.Namespace).List(sel)
	if err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	byUID := make(map[string]string, len(rsList))
	out := make(map[string][]*corev1.Pod, len(rsList))
	for _, rs := range rsList {
		byUID[string(rs.UID)] = rs.Name
		out[rs.Name] = nil
	}
	for _, pod := range pods {
		ref := metav1.GetControllerOf(pod)
		if ref == nil {
			continue
		}
		if name, ok := byUID[string(ref.UID)]; ok {
			out[name] = append(out[name], pod)
		}
	}
	return out, nil
}
