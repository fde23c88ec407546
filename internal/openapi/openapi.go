// Package openapi builds the OpenAPI v2 and v3 documents of the built-in
// Kubernetes kinds at run time, by reflection over the k8s.io/api Go types,
// and serves them the way kube-apiserver does so that kubectl can validate,
// explain and compute strategic merge patches.
package openapi

import (
	"fmt"
	"reflect"
	"sort"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// Resource is one REST resource to publish.
type Resource struct {
	GroupVersionKind schema.GroupVersionKind
	Resource         string // plural, e.g. "deployments"
	Namespaced       bool
	Object           runtime.Object // e.g. &appsv1.Deployment{}
	List             runtime.Object // e.g. &appsv1.DeploymentList{}
	Verbs            []string       // subset of get list watch create update patch delete deletecollection
	Subresources     []Subresource
}

// Subresource is a subresource of a Resource, e.g. "status" or "scale".
type Subresource struct {
	Name             string                  // "status", "scale", "binding", "eviction", "log"...
	GroupVersionKind schema.GroupVersionKind // kind served by the subresource (Scale is autoscaling/v1 Scale)
	Object           runtime.Object          // nil for streaming subresources (log, exec)
	Verbs            []string
}

// Spec holds the definitions and paths of every published resource.
// Documents are serialised on first use and cached.
type Spec struct {
	defs  map[string]*spec.Schema
	paths []pathItem

	v2Types map[string][]string

	v2Once sync.Once
	v2     servedDoc
	v2Err  error

	v3Once  sync.Once
	v3Index servedDoc
	v3Docs  map[string]*v3Doc // keyed by "api/v1", "apis/apps/v1"
	v3Err   error
}

// metaKinds are the apimachinery kinds every group version serves
// (upstream tags them with each group version's GVK).
var metaKinds = []runtime.Object{&metav1.DeleteOptions{}, &metav1.WatchEvent{}}

// Build reflects over the resources' Go types and assembles the paths.
func Build(resources []Resource) (*Spec, error) {
	b := newSchemaBuilder()
	gvks := map[string]map[schema.GroupVersionKind]bool{}
	tag := func(name string, gvk schema.GroupVersionKind) {
		if gvks[name] == nil {
			gvks[name] = map[schema.GroupVersionKind]bool{}
		}
		gvks[name][gvk] = true
	}
	groupVersions := map[schema.GroupVersion]bool{}
	for _, r := range resources {
		if err := b.addResource(r, tag); err != nil {
			return nil, fmt.Errorf("resource %s: %w", r.Resource, err)
		}
		groupVersions[r.GroupVersionKind.GroupVersion()] = true
	}
	if err := b.addMetaKinds(groupVersions, tag); err != nil {
		return nil, err
	}
	for name, set := range gvks {
		b.defs[name].AddExtension(extGVK, gvkExtension(set))
	}
	s := &Spec{defs: b.defs, v2Types: b.v2Types}
	for _, r := range resources {
		s.paths = append(s.paths, resourcePaths(r, typeNameOf(r.Object), typeNameOf(r.List))...)
	}
	return s, nil
}

func (b *schemaBuilder) addResource(r Resource, tag func(string, schema.GroupVersionKind)) error {
	if r.Object == nil {
		return fmt.Errorf("no object type")
	}
	name, err := b.addType(reflect.TypeOf(r.Object))
	if err != nil {
		return err
	}
	tag(name, r.GroupVersionKind)
	if r.List != nil {
		listName, err := b.addType(reflect.TypeOf(r.List))
		if err != nil {
			return err
		}
		tag(listName, r.GroupVersionKind.GroupVersion().WithKind(r.GroupVersionKind.Kind+"List"))
	}
	for _, sub := range r.Subresources {
		if sub.Object == nil {
			continue
		}
		subName, err := b.addType(reflect.TypeOf(sub.Object))
		if err != nil {
			return fmt.Errorf("subresource %s: %w", sub.Name, err)
		}
		tag(subName, sub.GroupVersionKind)
	}
	return nil
}

// addMetaKinds adds the apimachinery types that paths reference
// (DeleteOptions bodies, Status responses, the PATCH body placeholder).
func (b *schemaBuilder) addMetaKinds(gvs map[schema.GroupVersion]bool, tag func(string, schema.GroupVersionKind)) error {
	for _, obj := range metaKinds {
		t := reflect.TypeOf(obj).Elem()
		name, err := b.addType(t)
		if err != nil {
			return err
		}
		for gv := range gvs {
			tag(name, gv.WithKind(t.Name()))
		}
	}
	status, err := b.addType(reflect.TypeFor[metav1.Status]())
	if err != nil {
		return err
	}
	tag(status, schema.GroupVersionKind{Version: "v1", Kind: "Status"})
	if _, err := b.addType(reflect.TypeFor[metav1.Patch]()); err != nil {
		return err
	}
	return nil
}

// gvkExtension renders a GVK set in the generic JSON shape that both
// kubectl and managedfields parse, in a stable order.
func gvkExtension(set map[schema.GroupVersionKind]bool) []any {
	list := make([]schema.GroupVersionKind, 0, len(set))
	for gvk := range set {
		list = append(list, gvk)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].String() < list[j].String() })
	out := make([]any, len(list))
	for i, gvk := range list {
		out[i] = map[string]any{"group": gvk.Group, "version": gvk.Version, "kind": gvk.Kind}
	}
	return out
}

func typeNameOf(obj runtime.Object) string {
	if obj == nil {
		return ""
	}
	return definitionName(reflect.TypeOf(obj).Elem())
}

// Definitions returns the schemas keyed by upstream definition name, in
// OpenAPI v3 form (references are "#/components/schemas/NAME"), suitable for
// managedfields.NewTypeConverter. Callers must not modify them.
func (s *Spec) Definitions() map[string]*spec.Schema {
	return s.defs
}
