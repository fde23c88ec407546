package garbagecollector

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
)

// attemptToOrphanItem carries out an orphan deletion: every dependent loses
// its reference to the owner, then the owner loses its orphan finalizer and
// the API server removes it.
func (c *Controller) attemptToOrphanItem(ctx context.Context, ref objectRef) error {
	owner, ok := c.graph.view(ref.UID)
	if !ok {
		return nil
	}
	for _, d := range owner.dependents {
		err := c.removeOwnerRefs(ctx, d.ref, []metav1.OwnerReference{{UID: owner.ref.UID}})
		if err != nil {
			return fmt.Errorf("orphan dependents of %s: %w", owner.ref, err)
		}
	}
	return c.removeFinalizer(ctx, owner.ref, metav1.FinalizerOrphanDependents)
}

// metadataPatch is a JSON merge patch of metadata fields. The
// resourceVersion makes it conditional, so a list is never rewritten from a
// stale read.
type metadataPatch struct {
	Metadata metadataPatchFields `json:"metadata"`
}

type metadataPatchFields struct {
	ResourceVersion string                   `json:"resourceVersion"`
	Finalizers      *[]string                `json:"finalizers,omitempty"`
	OwnerReferences *[]metav1.OwnerReference `json:"ownerReferences,omitempty"`
}

// updateMetadata reads ref, lets edit change its metadata, and writes the
// result back as a conditional patch, retrying on conflicts. edit reports
// whether there is anything to write. A missing or recreated object is done.
func (c *Controller) updateMetadata(ctx context.Context, ref objectRef, edit func(*metav1.PartialObjectMetadata, *metadataPatchFields) bool) error {
	info, err := c.resolver.forKind(ref.APIVersion, ref.Kind)
	if err != nil {
		return err
	}
	client := c.meta.Resource(info.gvr).Namespace(ref.Namespace)
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		obj, err := c.getLive(ctx, ref)
		if err != nil || obj == nil {
			return err
		}
		fields := metadataPatchFields{ResourceVersion: obj.ResourceVersion}
		if !edit(obj, &fields) {
			return nil
		}
		data, err := json.Marshal(metadataPatch{Metadata: fields})
		if err != nil {
			return fmt.Errorf("patch %s: %w", ref, err)
		}
		_, err = client.Patch(ctx, ref.Name, types.MergePatchType, data, metav1.PatchOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil && !apierrors.IsConflict(err) {
			return fmt.Errorf("patch %s: %w", ref, err)
		}
		return err
	})
}

// removeFinalizer drops one finalizer from ref.
func (c *Controller) removeFinalizer(ctx context.Context, ref objectRef, finalizer string) error {
	return c.updateMetadata(ctx, ref, func(obj *metav1.PartialObjectMetadata, p *metadataPatchFields) bool {
		if !slices.Contains(obj.Finalizers, finalizer) {
			return false
		}
		kept := slices.DeleteFunc(slices.Clone(obj.Finalizers), func(f string) bool { return f == finalizer })
		p.Finalizers = &kept
		return true
	})
}

// removeOwnerRefs drops the references to the given owners (matched by UID)
// from ref.
func (c *Controller) removeOwnerRefs(ctx context.Context, ref objectRef, owners []metav1.OwnerReference) error {
	return c.updateMetadata(ctx, ref, func(obj *metav1.PartialObjectMetadata, p *metadataPatchFields) bool {
		kept := slices.DeleteFunc(slices.Clone(obj.OwnerReferences), func(o metav1.OwnerReference) bool {
			return findOwner(owners, o.UID) != nil
		})
		if len(kept) == len(obj.OwnerReferences) {
			return false
		}
		p.OwnerReferences = &kept
		return true
	})
}

// unblockOwnerRefs makes all of ref's owner references non-blocking.
func (c *Controller) unblockOwnerRefs(ctx context.Context, ref objectRef) error {
	return c.updateMetadata(ctx, ref, func(obj *metav1.PartialObjectMetadata, p *metadataPatchFields) bool {
		refs := slices.Clone(obj.OwnerReferences)
		changed := false
		for i := range refs {
			if blocks(refs[i]) {
				refs[i].BlockOwnerDeletion = new(false)
				changed = true
			}
		}
		if !changed {
			return false
		}
		p.OwnerReferences = &refs
		return true
	})
}
