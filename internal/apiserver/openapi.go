package apiserver

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/openapi"
	"github.com/skiff-sh/skiff/internal/registry"
)

// openAPIResources describes the served resources for the OpenAPI documents.
func openAPIResources(reg *registry.Registry, scheme *runtime.Scheme) []openapi.Resource {
	var out []openapi.Resource
	for _, st := range reg.Stores() {
		res := st.Resource()
		r := openapi.Resource{
			GroupVersionKind: res.GVK(),
			Resource:         res.GVR.Resource,
			Namespaced:       res.Namespaced,
			Object:           res.New(),
			List:             res.NewList(),
			Verbs:            res.Verbs(),
		}
		for _, sub := range subresources(res) {
			r.Subresources = append(r.Subresources, openapi.Subresource{
				Name:             sub.Name,
				GroupVersionKind: sub.Kind,
				Object:           newOrNil(scheme, sub.Kind, sub.Name),
				Verbs:            sub.Verbs,
			})
		}
		out = append(out, r)
	}
	return out
}

// newOrNil returns an object of kind, or nil for streaming subresources.
func newOrNil(scheme *runtime.Scheme, gvk schema.GroupVersionKind, sub string) runtime.Object {
	if sub == "log" {
		return nil
	}
	obj, err := scheme.New(gvk)
	if err != nil {
		return nil
	}
	return obj
}

func resourcesOf(reg *registry.Registry) []*registry.Resource {
	out := make([]*registry.Resource, 0, len(reg.Stores()))
	for _, st := range reg.Stores() {
		out = append(out, st.Resource())
	}
	return out
}
