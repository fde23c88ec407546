package endpointutil

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SliceClient is the part of a namespace's EndpointSlice client that
// WriteSlices uses.
type SliceClient interface {
	Create(ctx context.Context, s *discoveryv1.EndpointSlice, opts metav1.CreateOptions) (*discoveryv1.EndpointSlice, error)
	Update(ctx context.Context, s *discoveryv1.EndpointSlice, opts metav1.UpdateOptions) (*discoveryv1.EndpointSlice, error)
	Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error
}

// SliceWrites is what one sync writes to an owner's slices.
type SliceWrites struct {
	Create, Update, Delete []*discoveryv1.EndpointSlice
}

// WriteSlices makes the writes in order, creations first, and records each
// in tracker under the owner's key. Deletions carry the slice's UID, so
// that a slice re-created under the same name meanwhile survives. Once a
// creation fails because the namespace is terminating, the rest is left
// undone without error: the namespace takes the slices with it.
func WriteSlices(ctx context.Context, client SliceClient, tracker *SliceTracker, key string, w SliceWrites) error {
	for _, s := range w.Create {
		created, err := client.Create(ctx, s, metav1.CreateOptions{})
		if err != nil {
			if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
				return nil
			}
			return fmt.Errorf("create endpointslice: %w", err)
		}
		tracker.Written(key, created, "")
	}
	for _, s := range w.Update {
		replaced := s.ResourceVersion
		updated, err := client.Update(ctx, s, metav1.UpdateOptions{})
		if err != nil {
			return fmt.Errorf("update endpointslice %q: %w", s.Name, err)
		}
		tracker.Written(key, updated, replaced)
	}
	for _, s := range w.Delete {
		err := client.Delete(ctx, s.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &s.UID}})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("delete endpointslice %q: %w", s.Name, err)
		}
		tracker.Deleting(key, s)
	}
	return nil
}
