package replicaset

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

// claimPods returns the pods v controls after adopting matching orphans and
// releasing owned pods whose labels no longer match. Pods controlled by
// anything else are left alone.
func (c *Controller) claimPods(ctx context.Context, v *view, pods []*corev1.Pod) ([]*corev1.Pod, error) {
	adopt := c.adoptionCheck(ctx, v)
	var claimed []*corev1.Pod
	var errs []error
	for _, p := range pods {
		ok, err := c.claimPod(ctx, v, p, adopt)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			claimed = append(claimed, p)
		}
	}
	return claimed, errors.Join(errs...)
}

func (c *Controller) claimPod(ctx context.Context, v *view, p *corev1.Pod, canAdopt func() error) (bool, error) {
	matches := v.matches(labels.Set(p.Labels))
	if ref := metav1.GetControllerOf(p); ref != nil {
		if ref.UID != v.meta.GetUID() {
			return false, nil
		}
		if matches {
			return true, nil
		}
		// A set being deleted keeps its pods so the garbage collector
		// deletes them with it instead of orphaning them here.
		if v.meta.GetDeletionTimestamp() != nil {
			return false, nil
		}
		return false, c.releasePod(ctx, v, p)
	}
	if !matches || v.meta.GetDeletionTimestamp() != nil || p.DeletionTimestamp != nil {
		return false, nil
	}
	if err := canAdopt(); err != nil {
		return false, err
	}
	if err := c.adoptPod(ctx, v, p); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// adoptionCheck returns a check, run at most once per sync, that the set
// still exists under the same UID and is not being deleted according to the
// API server itself: the cache may lag a delete, and adopting for a deleted
// set would hand the pod to the garbage collector.
func (c *Controller) adoptionCheck(ctx context.Context, v *view) func() error {
	var done bool
	var result error
	return func() error {
		if done {
			return result
		}
		done = true
		live, err := c.sets.getLive(ctx, v.meta.GetNamespace(), v.meta.GetName())
		switch {
		case err != nil:
			result = fmt.Errorf("recheck before adoption: %w", err)
		case live.GetUID() != v.meta.GetUID():
			result = fmt.Errorf("original %s %s/%s is gone: got uid %s, wanted %s",
				c.sets.gvk().Kind, v.meta.GetNamespace(), v.meta.GetName(), live.GetUID(), v.meta.GetUID())
		case live.GetDeletionTimestamp() != nil:
			result = fmt.Errorf("%s %s/%s has just been deleted at %v",
				c.sets.gvk().Kind, v.meta.GetNamespace(), v.meta.GetName(), live.GetDeletionTimestamp())
		}
		return result
	}
}

// ownerPatch is the strategic merge patch body for a pod's ownerReferences;
// the pod's UID makes it fail rather than touch a same-named successor.
type ownerPatch struct {
	Metadata struct {
		OwnerReferences []map[string]any `json:"ownerReferences"`
		UID             types.UID        `json:"uid"`
	} `json:"metadata"`
}

func (c *Controller) adoptPod(ctx context.Context, v *view, p *corev1.Pod) error {
	ref := c.controllerRef(v)
	var patch ownerPatch
	patch.Metadata.UID = p.UID
	patch.Metadata.OwnerReferences = []map[string]any{{
		"apiVersion": ref.APIVersion, "kind": ref.Kind, "name": ref.Name, "uid": ref.UID,
		"controller": true, "blockOwnerDeletion": true,
	}}
	if err := c.patchPod(ctx, p, patch); err != nil {
		return fmt.Errorf("adopt pod %s: %w", podKey(p), err)
	}
	return nil
}

func (c *Controller) releasePod(ctx context.Context, v *view, p *corev1.Pod) error {
	var patch ownerPatch
	patch.Metadata.UID = p.UID
	patch.Metadata.OwnerReferences = []map[string]any{{"$patch": "delete", "uid": v.meta.GetUID()}}
	err := c.patchPod(ctx, p, patch)
	// Gone or replaced pods need no release.
	if err == nil || apierrors.IsNotFound(err) || apierrors.IsInvalid(err) {
		return nil
	}
	return fmt.Errorf("release pod %s: %w", podKey(p), err)
}

func (c *Controller) patchPod(ctx context.Context, p *corev1.Pod, patch ownerPatch) error {
	body, err := json.Marshal(patch)
	if err != nil {
		return fmt.Errorf("encode patch: %w", err)
	}
	_, err = c.client.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.StrategicMergePatchType, body, metav1.PatchOptions{})
	return err
}

// controllerRef is the ownerReference pods of v carry.
func (c *Controller) controllerRef(v *view) *metav1.OwnerReference {
	return metav1.NewControllerRef(v.meta, c.sets.gvk())
}
