package apiserver

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiff-sh/skiff/internal/registry"
)

var scaleGVK = autoscalingv1.SchemeGroupVersion.WithKind("Scale")

// scaleOf is the autoscaling/v1 Scale view of a scalable object.
func scaleOf(obj runtime.Object) (*autoscalingv1.Scale, error) {
	var (
		meta     metav1.ObjectMeta
		spec     *int32
		replicas int32
		selector string
	)
	switch o := obj.(type) {
	case *appsv1.Deployment:
		meta, spec, replicas = o.ObjectMeta, o.Spec.Replicas, o.Status.Replicas
		selector = selectorString(o.Spec.Selector)
	case *appsv1.ReplicaSet:
		meta, spec, replicas = o.ObjectMeta, o.Spec.Replicas, o.Status.Replicas
		selector = selectorString(o.Spec.Selector)
	case *appsv1.StatefulSet:
		meta, spec, replicas = o.ObjectMeta, o.Spec.Replicas, o.Status.Replicas
		selector = selectorString(o.Spec.Selector)
	case *corev1.ReplicationController:
		meta, spec, replicas = o.ObjectMeta, o.Spec.Replicas, o.Status.Replicas
		selector = labels.SelectorFromSet(o.Spec.Selector).String()
	default:
		return nil, fmt.Errorf("%T has no scale subresource", obj)
	}
	s := &autoscalingv1.Scale{
		TypeMeta: metav1.TypeMeta{Kind: scaleGVK.Kind, APIVersion: scaleGVK.GroupVersion().String()},
		ObjectMeta: metav1.ObjectMeta{
			Name: meta.Name, Namespace: meta.Namespace, UID: meta.UID,
			ResourceVersion: meta.ResourceVersion, CreationTimestamp: meta.CreationTimestamp,
		},
		Status: autoscalingv1.ScaleStatus{Replicas: replicas, Selector: selector},
	}
	if spec != nil {
		s.Spec.Replicas = *spec
	}
	return s, nil
}

func selectorString(sel *metav1.LabelSelector) string {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return ""
	}
	return s.String()
}

func setReplicas(obj runtime.Object, n int32) {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		o.Spec.Replicas = &n
	case *appsv1.ReplicaSet:
		o.Spec.Replicas = &n
	case *appsv1.StatefulSet:
		o.Spec.Replicas = &n
	case *corev1.ReplicationController:
		o.Spec.Replicas = &n
	}
}

func (s *Server) serveScale(w http.ResponseWriter, r *http.Request, st *registry.Store, info requestInfo) error {
	switch r.Method {
	case http.MethodGet:
		o, err := st.Get(r.Context(), info.Namespace, info.Name, r.URL.Query().Get("resourceVersion"))
		if err != nil {
			return err
		}
		sc, err := scaleOf(o.Obj)
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		writeJSON(w, http.StatusOK, sc)
		return nil
	case http.MethodPut, http.MethodPatch:
	default:
		return apierrors.NewMethodNotSupported(st.Resource().GroupResource(), r.Method)
	}
	dry, err := dryRun(r)
	if err != nil {
		return err
	}
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	var result *autoscalingv1.Scale
	fn := func(cur runtime.Object) (runtime.Object, error) {
		curScale, err := scaleOf(cur)
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		want, err := s.newScale(w, r, curScale, body)
		if err != nil {
			return nil, err
		}
		if want.Spec.Replicas < 0 {
			return nil, apierrors.NewInvalid(scaleGVK.GroupKind(), info.Name, fieldErrs("spec.replicas", want.Spec.Replicas, "must be greater than or equal to 0"))
		}
		next := cur.DeepCopyObject()
		setReplicas(next, want.Spec.Replicas)
		a := next.(metav1.Object)
		if want.ResourceVersion == curScale.ResourceVersion {
			a.SetResourceVersion("")
		} else {
			a.SetResourceVersion(want.ResourceVersion)
		}
		return next, nil
	}
	out, _, err := st.Update(r.Context(), info.Namespace, info.Name, "", fn, registry.WriteOptions{DryRun: dry})
	if err != nil {
		return err
	}
	if result, err = scaleOf(out); err != nil {
		return apierrors.NewInternalError(err)
	}
	writeJSON(w, http.StatusOK, result)
	return nil
}

// newScale is the Scale a PUT or PATCH of the scale subresource asks for.
func (s *Server) newScale(w http.ResponseWriter, r *http.Request, cur *autoscalingv1.Scale, body []byte) (*autoscalingv1.Scale, error) {
	want := &autoscalingv1.Scale{}
	if r.Method == http.MethodPut {
		if err := s.decodeInto(w, r, body, r.Header.Get("Content-Type"), scaleGVK, want); err != nil {
			return nil, err
		}
		return want, nil
	}
	pt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return nil, unsupportedMediaType(r.Header.Get("Content-Type"))
	}
	patched, err := patchJSON(types.PatchType(pt), cur, body)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(patched, want); err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	return want, nil
}
