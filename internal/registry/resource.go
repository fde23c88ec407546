// Package registry knows every API resource Skiff serves: how it is named,
// which Go type holds it, and what happens to an object on create, update and
// delete (defaults, validation, status rules, allocations), on top of the
// storage layer.
package registry

import (
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Resource describes one served resource.
type Resource struct {
	GVR        schema.GroupVersionResource
	Kind       string
	Singular   string
	Namespaced bool
	ShortNames []string
	Categories []string
	New        func() runtime.Object
	NewList    func() runtime.Object

	// Status says the resource has a status subresource: the main resource
	// ignores status changes and the subresource ignores everything else.
	Status bool
	// KeepStatusOnCreate lets creators set status (nodes register with theirs).
	KeepStatusOnCreate bool
	// StatusWritesAnnotations lets status writes change annotations too, as
	// upstream's apps strategies allow: the Deployment controller records
	// the revision that way.
	StatusWritesAnnotations bool
	// Scale says the resource has an autoscaling/v1 Scale subresource.
	Scale bool
	// Generation says spec changes bump metadata.generation.
	Generation bool
	// CreateOnUpdate lets PUT create a missing object.
	CreateOnUpdate bool
	// Fields returns the kind's selectable fields beyond metadata.name and
	// metadata.namespace; nil means only those two.
	Fields func(obj runtime.Object) fields.Set
	// ViewOf names the resource whose stored objects this one serves, at
	// another version, through Conversion. Empty for stored resources.
	ViewOf     schema.GroupVersionResource
	Conversion Converter
	// ExtraSubresources lists the subresources with their own handlers (binding,
	// eviction, log, exec...), for discovery.
	ExtraSubresources []Subresource
}

// Subresource is a subresource served by a special handler.
type Subresource struct {
	Name  string
	Kind  schema.GroupVersionKind
	Verbs []string
}

// GroupResource is the resource's group and plural name, as errors name it.
func (r *Resource) GroupResource() schema.GroupResource { return r.GVR.GroupResource() }

// GVK is the kind stored and served at the resource's version.
func (r *Resource) GVK() schema.GroupVersionKind { return r.GVR.GroupVersion().WithKind(r.Kind) }

// Verbs are the verbs of the main resource, as discovery lists them.
func (r *Resource) Verbs() []string {
	return []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
}
