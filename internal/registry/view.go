package registry

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiff-sh/skiff/internal/storage/watchcache"
)

// Converter converts between a served version and the stored one.
type Converter struct {
	ToStorage   func(runtime.Object) (runtime.Object, error)
	FromStorage func(runtime.Object) (runtime.Object, error)
}

// view makes a Store serve another version of a base store's objects: every
// read converts from the stored version, every write converts to it. There is
// one copy of the data and one watch cache.
type view struct {
	base *Store
	conv Converter
}

// Convert returns the served form of a cached object: o itself for the
// storage version, a converted copy for a view.
func (s *Store) Convert(o *watchcache.Object) (*watchcache.Object, error) {
	if s.view == nil {
		return o, nil
	}
	obj, err := s.view.conv.FromStorage(o.Obj)
	if err != nil {
		return nil, apierrors.NewInternalError(fmt.Errorf("convert %s to %s: %w", o.Key, s.res.GVK(), err))
	}
	obj.GetObjectKind().SetGroupVersionKind(s.res.GVK())
	return &watchcache.Object{Key: o.Key, Obj: obj, Rev: o.Rev, Labels: o.Labels, Fields: o.Fields}, nil
}

func (s *Store) convertAll(items []*watchcache.Object) ([]*watchcache.Object, error) {
	if s.view == nil {
		return items, nil
	}
	out := make([]*watchcache.Object, len(items))
	for i, o := range items {
		c, err := s.Convert(o)
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

func (v *view) toStorage(obj runtime.Object) (runtime.Object, error) {
	out, err := v.conv.ToStorage(obj)
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("convert to %s: %v", v.base.res.GVK(), err))
	}
	return out, nil
}

func (v *view) fromStorage(obj runtime.Object) (runtime.Object, error) {
	out, err := v.conv.FromStorage(obj)
	if err != nil {
		return nil, apierrors.NewInternalError(fmt.Errorf("convert from %s: %w", v.base.res.GVK(), err))
	}
	return out, nil
}

func (v *view) create(ctx context.Context, ns string, obj runtime.Object, opts WriteOptions) (runtime.Object, error) {
	stored, err := v.toStorage(obj)
	if err != nil {
		return nil, err
	}
	created, err := v.base.Create(ctx, ns, stored, opts)
	if err != nil {
		return nil, err
	}
	return v.fromStorage(created)
}

func (v *view) update(ctx context.Context, ns, name, subresource string, fn UpdateFunc, opts WriteOptions) (runtime.Object, bool, error) {
	baseFn := func(cur runtime.Object) (runtime.Object, error) {
		var served runtime.Object
		if cur != nil {
			var err error
			if served, err = v.fromStorage(cur); err != nil {
				return nil, err
			}
		}
		next, err := fn(served)
		if err != nil {
			return nil, err
		}
		return v.toStorage(next)
	}
	out, created, err := v.base.Update(ctx, ns, name, subresource, baseFn, opts)
	if err != nil {
		return nil, false, err
	}
	served, err := v.fromStorage(out)
	return served, created, err
}

func (v *view) delete(ctx context.Context, ns, name string, opts *metav1.DeleteOptions, dryRun bool) (DeleteResult, error) {
	res, err := v.base.Delete(ctx, ns, name, opts, dryRun)
	if err != nil {
		return res, err
	}
	res.Object, err = v.fromStorage(res.Object)
	return res, err
}
