package garbagecollector

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// getLive reads ref from the API server. A missing object and an object
// that was recreated under another UID both come back as (nil, nil).
func (c *Controller) getLive(ctx context.Context, ref objectRef) (*metav1.PartialObjectMetadata, error) {
	info, err := c.resolver.forKind(ref.APIVersion, ref.Kind)
	if err != nil {
		return nil, err
	}
	obj, err := c.meta.Resource(info.gvr).Namespace(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", ref, err)
	}
	if obj.UID != ref.UID {
		return nil, nil
	}
	return obj, nil
}

// attemptToDeleteItem decides the fate of one object: verify virtual
// owners, release or advance a foreground deletion, or delete the object
// when none of its owners remains.
func (c *Controller) attemptToDeleteItem(ctx context.Context, ref objectRef) error {
	item, ok := c.graph.view(ref.UID)
	if !ok {
		return nil
	}
	// Someone else is deleting it and nothing waits on its dependents.
	if item.beingDeleted && !item.deletingDependents {
		return nil
	}
	latest, err := c.getLive(ctx, item.ref)
	if err != nil {
		return err
	}
	if latest == nil {
		// The informer may not have reported the deletion yet; the graph
		// should not wait for it to re-examine the dependents.
		c.changes.Add(&change{typ: changeVirtualDelete, ref: item.ref})
		return nil
	}
	if item.virtual {
		// The owner exists but no informer showed it yet: look again once it
		// has, so a virtual node never lingers.
		if err := c.collect(ctx, item, latest); err != nil {
			return err
		}
		return errRequeue
	}
	if item.deletingDependents {
		return c.processDeletingDependents(ctx, item)
	}
	return c.collect(ctx, item, latest)
}

// processDeletingDependents moves a foreground deletion along: once no
// dependent blocks the owner, its foregroundDeletion finalizer goes.
func (c *Controller) processDeletingDependents(ctx context.Context, item nodeView) error {
	blocking := item.blockingDependents()
	if len(blocking) == 0 {
		return c.removeFinalizer(ctx, item.ref, metav1.FinalizerDeleteDependents)
	}
	for _, d := range blocking {
		if !d.deletingDependents {
			c.attemptToDelete.Add(d.ref)
		}
	}
	return nil
}

// ownerStates sorts an object's owner references by what the live API says
// of each owner.
type ownerStates struct {
	solid, dangling, waiting []metav1.OwnerReference
}

// collect deletes latest when no owner of it remains, or drops references to
// owners that are gone or waiting for it while other owners remain.
func (c *Controller) collect(ctx context.Context, item nodeView, latest *metav1.PartialObjectMetadata) error {
	if len(latest.OwnerReferences) == 0 {
		return nil
	}
	states, err := c.classifyOwners(ctx, item.ref, latest.OwnerReferences)
	if err != nil {
		return err
	}
	switch {
	case len(states.solid) > 0:
		gone := append(slices.Clone(states.dangling), states.waiting...)
		if len(gone) == 0 {
			return nil
		}
		uids := make([]string, 0, len(gone))
		for _, o := range gone {
			uids = append(uids, string(o.UID))
		}
		c.log.Debug("removing references to owners that are gone or going", "object", item.ref.String(), "owners", uids)
		return c.removeOwnerRefs(ctx, item.ref, gone)
	case len(states.waiting) > 0 && len(item.dependents) > 0:
		// An owner waits for this object in the foreground, and this object
		// has dependents of its own: it goes in the foreground too. If one of
		// them also waits on its dependents, a cycle is possible; making this
		// object's references non-blocking breaks it.
		for _, d := range item.dependents {
			if d.deletingDependents {
				if err := c.unblockOwnerRefs(ctx, item.ref); err != nil {
					return err
				}
				break
			}
		}
		return c.deleteObject(ctx, item.ref, metav1.DeletePropagationForeground)
	default:
		return c.deleteObject(ctx, item.ref, propagationFor(latest))
	}
}

// propagationFor honours a deletion mode the object already asked for.
func propagationFor(obj *metav1.PartialObjectMetadata) metav1.DeletionPropagation {
	switch {
	case slices.Contains(obj.Finalizers, metav1.FinalizerOrphanDependents):
		return metav1.DeletePropagationOrphan
	case slices.Contains(obj.Finalizers, metav1.FinalizerDeleteDependents):
		return metav1.DeletePropagationForeground
	default:
		return metav1.DeletePropagationBackground
	}
}

func (c *Controller) classifyOwners(ctx context.Context, dep objectRef, owners []metav1.OwnerReference) (ownerStates, error) {
	var s ownerStates
	for _, o := range owners {
		info, err := c.resolver.forKind(o.APIVersion, o.Kind)
		if err != nil {
			// An owner of a kind Skiff does not serve cannot be verified:
			// keep the dependent rather than guess.
			s.solid = append(s.solid, o)
			continue
		}
		if info.namespaced && dep.Namespace == "" {
			c.recorder.Eventf(eventRef(dep), corev1.EventTypeWarning, "OwnerRefInvalidNamespace",
				"ownerRef [%s/%s, namespace: , name: %s, uid: %s] does not exist in namespace %q",
				o.APIVersion, o.Kind, o.Name, o.UID, dep.Namespace)
			s.dangling = append(s.dangling, o)
			continue
		}
		owner, err := c.getLive(ctx, c.ownerRef(dep, o))
		if err != nil {
			return ownerStates{}, err
		}
		switch {
		case owner == nil:
			s.dangling = append(s.dangling, o)
		case owner.DeletionTimestamp != nil && slices.Contains(owner.Finalizers, metav1.FinalizerDeleteDependents):
			s.waiting = append(s.waiting, o)
		default:
			s.solid = append(s.solid, o)
		}
	}
	return s, nil
}

// deleteObject deletes ref, never a newer object that took its name.
func (c *Controller) deleteObject(ctx context.Context, ref objectRef, policy metav1.DeletionPropagation) error {
	info, err := c.resolver.forKind(ref.APIVersion, ref.Kind)
	if err != nil {
		return err
	}
	uid := ref.UID
	c.log.Debug("deleting object", "object", ref.String(), "propagationPolicy", string(policy))
	err = c.meta.Resource(info.gvr).Namespace(ref.Namespace).Delete(ctx, ref.Name, metav1.DeleteOptions{
		Preconditions:     &metav1.Preconditions{UID: &uid},
		PropagationPolicy: &policy,
	})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		// Gone already, or the name now belongs to another object.
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete %s: %w", ref, err)
	}
	return nil
}

// eventRef is the object an event is about.
func eventRef(r objectRef) *corev1.ObjectReference {
	return &corev1.ObjectReference{
		APIVersion: r.APIVersion,
		Kind:       r.Kind,
		Namespace:  r.Namespace,
		Name:       r.Name,
		UID:        r.UID,
	}
}
