package apiserver

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"

	"github.com/skiff-sh/skiff/internal/openapi"
	"github.com/skiff-sh/skiff/internal/registry"
)

// fieldManagers tracks managedFields and performs server-side apply, one
// manager per resource and subresource, built at start and read-only after.
type fieldManagers struct {
	managers map[fieldManagerKey]*managedfields.FieldManager
}

type fieldManagerKey struct {
	gvk         schema.GroupVersionKind
	subresource string
}

// noDefaults stands in for scheme defaulting: the registry applies Skiff's
// defaults itself after the field manager has run.
type noDefaults struct{}

func (noDefaults) Default(runtime.Object) {}

func newFieldManagers(spec *openapi.Spec, scheme *runtime.Scheme, resources []*registry.Resource) (*fieldManagers, error) {
	tc, err := managedfields.NewTypeConverter(spec.Definitions(), false)
	if err != nil {
		return nil, fmt.Errorf("build type converter: %w", err)
	}
	f := &fieldManagers{managers: map[fieldManagerKey]*managedfields.FieldManager{}}
	for _, res := range resources {
		gvk := res.GVK()
		subs := []string{""}
		if res.Status {
			subs = append(subs, "status")
		}
		for _, sub := range subs {
			fm, err := managedfields.NewDefaultFieldManager(tc, scheme, noDefaults{}, scheme, gvk, gvk.GroupVersion(), sub, nil)
			if err != nil {
				return nil, fmt.Errorf("field manager for %v: %w", gvk, err)
			}
			f.managers[fieldManagerKey{gvk, sub}] = fm
		}
	}
	return f, nil
}

// update records an update by manager in newObj's managedFields. Tracking is
// best effort, as upstream: a failure leaves the fields as they were.
func (f *fieldManagers) update(res *registry.Resource, sub string, live, newObj runtime.Object, manager string) runtime.Object {
	fm, ok := f.managers[fieldManagerKey{res.GVK(), sub}]
	if !ok {
		return newObj
	}
	return fm.UpdateNoErrors(live, newObj, manager)
}

// apply performs a server-side apply of applied onto live.
func (f *fieldManagers) apply(res *registry.Resource, sub string, live, applied runtime.Object, manager string, force bool) (runtime.Object, error) {
	fm, ok := f.managers[fieldManagerKey{res.GVK(), sub}]
	if !ok {
		return nil, fmt.Errorf("no field manager for %v %q", res.GVK(), sub)
	}
	return fm.Apply(live, applied, manager, force)
}
