package registry

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-sh/skiff/internal/defaulting"
	"github.com/skiff-sh/skiff/internal/validation"
)

// allocator takes unique values (cluster IPs, node ports) for the objects of
// one kind. What it takes is held by claim keys written atomically with the
// object, so a crash can never leak or double-book a value.
type allocator interface {
	// allocate fills in the values obj needs (old is nil on create) and
	// returns the claims to take and the claims old held that obj no longer
	// needs.
	allocate(ctx context.Context, obj, old runtime.Object) (claims, releases []string, err error)
	// held returns the claims obj holds, released when it is deleted.
	held(obj runtime.Object) []string
}

// hooks is the per-kind behaviour around the generic store's writes.
type hooks struct {
	alloc allocator
	pods  *podAdmission
}

// admit applies admission to a new object, after defaulting.
func (h hooks) admit(ctx context.Context, obj runtime.Object) error {
	if pod, ok := obj.(*corev1.Pod); ok && h.pods != nil {
		return h.pods.admit(ctx, pod)
	}
	return nil
}

func (h hooks) defaults(obj runtime.Object) { defaulting.Default(obj) }

func (h hooks) validate(obj runtime.Object, res *Resource) field.ErrorList {
	return validation.ValidateCreate(obj, res.Namespaced)
}

func (h hooks) validateUpdate(obj, old runtime.Object, subresource string, res *Resource) field.ErrorList {
	if subresource == "status" {
		return validation.ValidateStatusUpdate(obj, old, res.Namespaced)
	}
	return validation.ValidateUpdate(obj, old, res.Namespaced)
}

func (h hooks) beforeCreate(ctx context.Context, obj runtime.Object) ([]string, error) {
	if h.alloc == nil {
		return nil, nil
	}
	claims, _, err := h.alloc.allocate(ctx, obj, nil)
	return claims, err
}

func (h hooks) beforeUpdate(ctx context.Context, obj, old runtime.Object) ([]string, []string, error) {
	if h.alloc == nil {
		return nil, nil, nil
	}
	return h.alloc.allocate(ctx, obj, old)
}

func (h hooks) releases(obj runtime.Object) []string {
	if h.alloc == nil {
		return nil
	}
	return h.alloc.held(obj)
}
