package registry

import (
	"reflect"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/uuid"
)

// prepareCreate sets the metadata the server owns on a new object and clears
// what a creator may not set.
func (s *Store) prepareCreate(obj runtime.Object, a metav1.Object) {
	a.SetUID(uuid.NewUUID())
	a.SetCreationTimestamp(metav1.NewTime(s.now().Truncate(time.Second)))
	a.SetDeletionTimestamp(nil)
	a.SetDeletionGracePeriodSeconds(nil)
	a.SetGeneration(0)
	if s.res.Generation {
		a.SetGeneration(1)
	}
	if s.res.Status && !s.res.KeepStatusOnCreate {
		setField(obj, "Status", reflect.Value{})
	}
}

// prepareUpdate keeps what an update of the main resource may not change:
// server-owned metadata and, where a status subresource exists, the status.
func (s *Store) prepareUpdate(obj, cur runtime.Object) {
	a, _ := meta.Accessor(obj)
	c, _ := meta.Accessor(cur)
	a.SetUID(c.GetUID())
	a.SetCreationTimestamp(c.GetCreationTimestamp())
	a.SetDeletionTimestamp(c.GetDeletionTimestamp())
	a.SetDeletionGracePeriodSeconds(c.GetDeletionGracePeriodSeconds())
	a.SetGeneration(c.GetGeneration())
	if s.res.Status {
		setField(obj, "Status", fieldOf(cur, "Status"))
	}
	if s.res.Generation && !specEqual(obj, cur) {
		a.SetGeneration(c.GetGeneration() + 1)
	}
}

// prepareStatusUpdate returns the current object with obj's status: a status
// write changes nothing else.
func (s *Store) prepareStatusUpdate(obj, cur runtime.Object) runtime.Object {
	out := cur.DeepCopyObject()
	setField(out, "Status", fieldOf(obj, "Status"))
	a, _ := meta.Accessor(obj)
	o, _ := meta.Accessor(out)
	o.SetResourceVersion(a.GetResourceVersion())
	if s.res.StatusWritesAnnotations {
		o.SetAnnotations(a.GetAnnotations())
	}
	return out
}

// specEqual compares everything but metadata and status: what upstream calls
// a spec change for the purpose of metadata.generation.
func specEqual(a, b runtime.Object) bool {
	va, vb := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	t := va.Type()
	for i := 0; i < t.NumField(); i++ {
		switch t.Field(i).Name {
		case "TypeMeta", "ObjectMeta", "Status":
			continue
		}
		if !equality.Semantic.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			return false
		}
	}
	return true
}

func fieldOf(obj runtime.Object, name string) reflect.Value {
	return reflect.ValueOf(obj).Elem().FieldByName(name)
}

// setField sets a top-level struct field; an invalid v sets the zero value.
func setField(obj runtime.Object, name string, v reflect.Value) {
	f := reflect.ValueOf(obj).Elem().FieldByName(name)
	if !f.IsValid() || !f.CanSet() {
		return
	}
	if !v.IsValid() {
		f.SetZero()
		return
	}
	f.Set(v)
}

// markDeleting applies a delete request to obj and reports whether the object
// must stay (marked with a deletionTimestamp) instead of being removed now:
// because of finalizers, a namespace's spec finalizers, or a running pod's
// grace period.
func (s *Store) markDeleting(obj runtime.Object, a metav1.Object, opts *metav1.DeleteOptions) bool {
	finalizers := a.GetFinalizers()
	switch propagation(opts) {
	case metav1.DeletePropagationOrphan:
		finalizers = addOnce(finalizers, metav1.FinalizerOrphanDependents)
		finalizers = slices.DeleteFunc(finalizers, func(f string) bool { return f == metav1.FinalizerDeleteDependents })
	case metav1.DeletePropagationForeground:
		finalizers = addOnce(finalizers, metav1.FinalizerDeleteDependents)
		finalizers = slices.DeleteFunc(finalizers, func(f string) bool { return f == metav1.FinalizerOrphanDependents })
	case metav1.DeletePropagationBackground:
		finalizers = slices.DeleteFunc(finalizers, func(f string) bool {
			return f == metav1.FinalizerOrphanDependents || f == metav1.FinalizerDeleteDependents
		})
	}
	a.SetFinalizers(finalizers)
	now := metav1.NewTime(s.now().Truncate(time.Second))
	zero := int64(0)

	if pod, ok := obj.(*corev1.Pod); ok {
		if grace, ok := podGrace(pod, opts); ok && grace > 0 {
			if cur := a.GetDeletionGracePeriodSeconds(); cur == nil || *cur > grace {
				ts := metav1.NewTime(s.now().Add(time.Duration(grace) * time.Second).Truncate(time.Second))
				a.SetDeletionTimestamp(&ts)
				a.SetDeletionGracePeriodSeconds(&grace)
			}
			return true
		}
	}
	if ns, ok := obj.(*corev1.Namespace); ok && len(ns.Spec.Finalizers) > 0 {
		if a.GetDeletionTimestamp() == nil {
			a.SetDeletionTimestamp(&now)
			a.SetDeletionGracePeriodSeconds(&zero)
		}
		ns.Status.Phase = corev1.NamespaceTerminating
		return true
	}
	if len(a.GetFinalizers()) > 0 {
		if a.GetDeletionTimestamp() == nil {
			a.SetDeletionTimestamp(&now)
			a.SetDeletionGracePeriodSeconds(&zero)
		} else {
			a.SetDeletionGracePeriodSeconds(&zero)
		}
		return true
	}
	return false
}

// podGrace is the grace period a pod gets: none for a pod no node runs (it
// has nothing to stop), else the request's or the pod's own.
func podGrace(pod *corev1.Pod, opts *metav1.DeleteOptions) (int64, bool) {
	if pod.Spec.NodeName == "" || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return 0, false
	}
	if opts.GracePeriodSeconds != nil {
		return *opts.GracePeriodSeconds, true
	}
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		return *pod.Spec.TerminationGracePeriodSeconds, true
	}
	return corev1.DefaultTerminationGracePeriodSeconds, true
}

func propagation(opts *metav1.DeleteOptions) metav1.DeletionPropagation {
	if opts.PropagationPolicy != nil {
		return *opts.PropagationPolicy
	}
	if opts.OrphanDependents != nil {
		if *opts.OrphanDependents {
			return metav1.DeletePropagationOrphan
		}
		return metav1.DeletePropagationBackground
	}
	return ""
}

func addOnce(list []string, v string) []string {
	if slices.Contains(list, v) {
		return list
	}
	return append(slices.Clone(list), v)
}
