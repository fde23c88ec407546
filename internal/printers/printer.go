// Package printers renders built-in Kubernetes objects as meta.k8s.io/v1
// Table rows, matching the columns and cell formatting of the upstream
// kube-apiserver so that `kubectl get` and `kubectl get -o wide` print the
// same output against Skiff as against a real cluster.
//
// Like upstream, the server always produces the wide (priority 1) cells;
// kubectl hides priority columns unless -o wide is requested.
package printers

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
)

// cellFunc computes one row's cells for an object of a registered kind.
type cellFunc func(obj runtime.Object) ([]interface{}, error)

// kindHandler pairs a kind's column definitions with its row builder.
type kindHandler struct {
	columns []metav1.TableColumnDefinition
	cells   cellFunc
}

// Printer builds Table columns and rows for the typed objects of k8s.io/api
// (the objects the API server decodes from storage).
type Printer struct {
	now      func() time.Time
	handlers map[schema.GroupKind]kindHandler
}

// New returns a Printer whose AGE-style cells are computed relative to now.
// A nil now means time.Now.
func New(now func() time.Time) *Printer {
	if now == nil {
		now = time.Now
	}
	p := &Printer{now: now}
	p.handlers = p.registry()
	return p
}

// Columns returns the column definitions for a kind, always including the
// wide (priority 1) ones. Kinds without a dedicated printer get upstream's
// default table (Name, Created At).
func (p *Printer) Columns(gk schema.GroupKind) []metav1.TableColumnDefinition {
	cols := defaultColumns()
	if h, ok := p.handlers[gk]; ok {
		cols = h.columns
	}
	out := make([]metav1.TableColumnDefinition, len(cols))
	copy(out, cols)
	return out
}

// Cells returns one row's cells for a typed object (e.g. *corev1.Pod), in
// Columns order.
func (p *Printer) Cells(obj runtime.Object) ([]interface{}, error) {
	if obj == nil {
		return nil, fmt.Errorf("printers: nil object")
	}
	gk, ok := groupKindOf(obj)
	if ok {
		if h, found := p.handlers[gk]; found {
			cells, err := h.cells(obj)
			if err != nil {
				return nil, fmt.Errorf("printers: %s: %w", gk, err)
			}
			return cells, nil
		}
	}
	return defaultCells(obj)
}

// Known reports whether gk has a dedicated printer (as opposed to the
// default Name/Created At table).
func (p *Printer) Known(gk schema.GroupKind) bool {
	_, ok := p.handlers[gk]
	return ok
}

// Table builds a full meta.k8s.io/v1 Table for obj, which may be a single
// object or a list. include says what each row's object carries, as the
// includeObject query parameter does (empty means Metadata, kubectl's
// default): nothing, a PartialObjectMetadata, or the full object with its
// kind set so clients can decode it.
func (p *Printer) Table(gk schema.GroupKind, obj runtime.Object, include metav1.IncludeObjectPolicy) (*metav1.Table, error) {
	items := []runtime.Object{obj}
	if meta.IsListType(obj) {
		var err error
		if items, err = meta.ExtractList(obj); err != nil {
			return nil, fmt.Errorf("printers: extracting list items: %w", err)
		}
	}
	table := &metav1.Table{
		TypeMeta:          metav1.TypeMeta{Kind: "Table", APIVersion: metav1.SchemeGroupVersion.String()},
		ColumnDefinitions: p.Columns(gk),
		Rows:              make([]metav1.TableRow, 0, len(items)),
	}
	for _, item := range items {
		cells, err := p.Cells(item)
		if err != nil {
			return nil, err
		}
		rowObj, err := rowObject(item, include)
		if err != nil {
			return nil, err
		}
		table.Rows = append(table.Rows, metav1.TableRow{Cells: cells, Conditions: rowConditions(item), Object: rowObj})
	}
	if lm, err := meta.ListAccessor(obj); err == nil {
		table.ResourceVersion = lm.GetResourceVersion()
		table.Continue = lm.GetContinue()
		table.RemainingItemCount = lm.GetRemainingItemCount()
	}
	return table, nil
}

// rowObject embeds obj in a row according to the includeObject policy.
// Typed objects usually have an empty TypeMeta, which clients cannot decode,
// so the kind is filled in on a copy.
func rowObject(obj runtime.Object, include metav1.IncludeObjectPolicy) (runtime.RawExtension, error) {
	switch include {
	case metav1.IncludeNone:
		return runtime.RawExtension{}, nil
	case metav1.IncludeObject:
		out := obj.DeepCopyObject()
		if out.GetObjectKind().GroupVersionKind().Empty() {
			if gvks, _, err := scheme.Scheme.ObjectKinds(obj); err == nil && len(gvks) > 0 {
				out.GetObjectKind().SetGroupVersionKind(gvks[0])
			}
		}
		return runtime.RawExtension{Object: out}, nil
	case "", metav1.IncludeMetadata:
		partial, err := partialMetadata(obj)
		if err != nil {
			return runtime.RawExtension{}, err
		}
		return runtime.RawExtension{Object: partial}, nil
	}
	return runtime.RawExtension{}, fmt.Errorf("printers: unknown includeObject policy %q", include)
}

func partialMetadata(obj runtime.Object) (*metav1.PartialObjectMetadata, error) {
	partial := &metav1.PartialObjectMetadata{
		TypeMeta: metav1.TypeMeta{Kind: "PartialObjectMetadata", APIVersion: metav1.SchemeGroupVersion.String()},
	}
	if oma, ok := obj.(metav1.ObjectMetaAccessor); ok {
		if om, ok := oma.GetObjectMeta().(*metav1.ObjectMeta); ok {
			partial.ObjectMeta = *om.DeepCopy()
			return partial, nil
		}
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, fmt.Errorf("printers: %T has no object metadata: %w", obj, err)
	}
	partial.ObjectMeta = metav1.ObjectMeta{
		Name: m.GetName(), Namespace: m.GetNamespace(), UID: m.GetUID(), ResourceVersion: m.GetResourceVersion(),
		Generation: m.GetGeneration(), CreationTimestamp: m.GetCreationTimestamp(), DeletionTimestamp: m.GetDeletionTimestamp(),
		Labels: m.GetLabels(), Annotations: m.GetAnnotations(), OwnerReferences: m.GetOwnerReferences(), Finalizers: m.GetFinalizers(),
	}
	return partial, nil
}

// groupKindOf resolves the GroupKind of a typed object from the client-go
// scheme (typed objects usually arrive with an empty TypeMeta), falling back
// to the object's own TypeMeta for anything the scheme does not know.
func groupKindOf(obj runtime.Object) (schema.GroupKind, bool) {
	if gvks, _, err := scheme.Scheme.ObjectKinds(obj); err == nil && len(gvks) > 0 {
		return gvks[0].GroupKind(), true
	}
	gvk := obj.GetObjectKind().GroupVersionKind()
	if gvk.Kind == "" {
		return schema.GroupKind{}, false
	}
	return gvk.GroupKind(), true
}

// typed adapts a row builder for one concrete Go type into a cellFunc.
func typed[T runtime.Object](row func(T) []interface{}) cellFunc {
	return func(obj runtime.Object) ([]interface{}, error) {
		t, ok := obj.(T)
		if !ok {
			var want T
			return nil, fmt.Errorf("expected %T, got %T", want, obj)
		}
		return row(t), nil
	}
}

// defaultColumns mirrors the generic apiserver table used for kinds without
// a dedicated printer.
func defaultColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "Created At", Type: "date", Description: objectMetaDoc("creationTimestamp")},
	}
}

func defaultCells(obj runtime.Object) ([]interface{}, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, fmt.Errorf("printers: %T has no object metadata: %w", obj, err)
	}
	return []interface{}{m.GetName(), m.GetCreationTimestamp().Time.UTC().Format(time.RFC3339)}, nil
}
