package apiserver

import (
	"fmt"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiff-sh/skiff/internal/registry"
)

// bind assigns a pod to a node (pods/binding), as the scheduler does.
func (s *Server) bind(w http.ResponseWriter, r *http.Request, st *registry.Store, info requestInfo) error {
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	b := &corev1.Binding{}
	if err := s.decodeInto(w, r, body, r.Header.Get("Content-Type"), corev1.SchemeGroupVersion.WithKind("Binding"), b); err != nil {
		return err
	}
	if b.Target.Kind != "" && b.Target.Kind != "Node" {
		return apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Binding").GroupKind(), b.Name, fieldErrs("target.kind", b.Target.Kind, "must be empty or 'Node'"))
	}
	if b.Target.Name == "" {
		return apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Binding").GroupKind(), b.Name, fieldErrs("target.name", "", "must not be empty"))
	}
	if b.Name != "" && b.Name != info.Name {
		return apierrors.NewBadRequest(fmt.Sprintf("binding name %q does not match pod name %q", b.Name, info.Name))
	}
	fn := func(cur runtime.Object) (runtime.Object, error) {
		pod := cur.(*corev1.Pod)
		if pod.DeletionTimestamp != nil {
			return nil, apierrors.NewConflict(corev1.Resource("pods/binding"), info.Name, fmt.Errorf("pod %s is being deleted, cannot be assigned to a host", info.Name))
		}
		if pod.Spec.NodeName != "" {
			return nil, apierrors.NewConflict(corev1.Resource("pods/binding"), info.Name, fmt.Errorf("pod %s is already assigned to node %q", info.Name, pod.Spec.NodeName))
		}
		if b.UID != "" && b.UID != pod.UID {
			return nil, apierrors.NewConflict(corev1.Resource("pods/binding"), info.Name, fmt.Errorf("precondition failed: UID in binding %s, UID of pod %s", b.UID, pod.UID))
		}
		pod.Spec.NodeName = b.Target.Name
		for k, v := range b.Annotations {
			if pod.Annotations == nil {
				pod.Annotations = map[string]string{}
			}
			pod.Annotations[k] = v
		}
		setPodCondition(pod, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(s.cfg.Now())})
		pod.ResourceVersion = ""
		return pod, nil
	}
	dry, err := dryRun(r)
	if err != nil {
		return err
	}
	if _, _, err := st.Update(r.Context(), info.Namespace, info.Name, registry.SubresourceBinding, fn, registry.WriteOptions{DryRun: dry}); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, successStatus(http.StatusCreated))
	return nil
}

func setPodCondition(pod *corev1.Pod, c corev1.PodCondition) {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == c.Type {
			pod.Status.Conditions[i] = c
			return
		}
	}
	pod.Status.Conditions = append(pod.Status.Conditions, c)
}

// evict deletes a pod through the eviction subresource. Disruption budgets
// are enforced by the disruption controller's status, which arrives with the
// controller manager; until then an eviction is a delete with its options.
func (s *Server) evict(w http.ResponseWriter, r *http.Request, st *registry.Store, info requestInfo) error {
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	ev := &policyv1.Eviction{}
	if err := s.decodeInto(w, r, body, r.Header.Get("Content-Type"), policyv1.SchemeGroupVersion.WithKind("Eviction"), ev); err != nil {
		return err
	}
	if ev.Name != "" && ev.Name != info.Name {
		return apierrors.NewBadRequest("name in URL does not match name in Eviction object")
	}
	opts := ev.DeleteOptions
	if opts == nil {
		opts = &metav1.DeleteOptions{}
	}
	dry, err := dryRun(r)
	if err != nil {
		return err
	}
	if _, err := st.Delete(r.Context(), info.Namespace, info.Name, opts, dry); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, successStatus(http.StatusCreated))
	return nil
}

func successStatus(code int32) *metav1.Status {
	return &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusSuccess, Code: code}
}
