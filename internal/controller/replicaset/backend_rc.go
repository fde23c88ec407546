package replicaset

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	coreinformers "k8s.io/client-go/informers/core/v1"
	coreclient "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// replicationControllers adapts core/v1 ReplicationControllers to the engine:
// their selector is a plain label map and their template a pointer.
type replicationControllers struct {
	client coreclient.ReplicationControllersGetter
	inf    cache.SharedIndexInformer
	lister corelisters.ReplicationControllerLister
}

func newReplicationControllers(client coreclient.ReplicationControllersGetter, inf coreinformers.ReplicationControllerInformer) *replicationControllers {
	return &replicationControllers{client: client, inf: inf.Informer(), lister: inf.Lister()}
}

func (r *replicationControllers) gvk() schema.GroupVersionKind {
	return corev1.SchemeGroupVersion.WithKind("ReplicationController")
}

func (r *replicationControllers) informer() cache.SharedIndexInformer { return r.inf }

func (r *replicationControllers) get(namespace, name string) (*view, error) {
	rc, err := r.lister.ReplicationControllers(namespace).Get(name)
	if err != nil {
		return nil, err
	}
	return rcView(rc), nil
}

func (r *replicationControllers) list(namespace string) ([]*view, error) {
	rcs, err := r.lister.ReplicationControllers(namespace).List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("list replicationcontrollers in %q: %w", namespace, err)
	}
	out := make([]*view, 0, len(rcs))
	for _, rc := range rcs {
		out = append(out, rcView(rc))
	}
	return out, nil
}

func (r *replicationControllers) getLive(ctx context.Context, namespace, name string) (metav1.Object, error) {
	return r.client.ReplicationControllers(namespace).Get(ctx, name, metav1.GetOptions{})
}

func (r *replicationControllers) updateStatus(ctx context.Context, v *view, st setStatus) error {
	rc, ok := v.obj.(*corev1.ReplicationController)
	if !ok {
		return fmt.Errorf("replicationcontroller: view holds %T", v.obj)
	}
	rc = rc.DeepCopy()
	rc.Status.Replicas = st.Replicas
	rc.Status.FullyLabeledReplicas = st.FullyLabeledReplicas
	rc.Status.ReadyReplicas = st.ReadyReplicas
	rc.Status.AvailableReplicas = st.AvailableReplicas
	rc.Status.ObservedGeneration = st.ObservedGeneration
	rc.Status.Conditions = nil
	for _, c := range st.Conditions {
		rc.Status.Conditions = append(rc.Status.Conditions, corev1.ReplicationControllerCondition{
			Type: corev1.ReplicationControllerConditionType(c.Type), Status: c.Status,
			LastTransitionTime: c.LastTransitionTime, Reason: c.Reason, Message: c.Message,
		})
	}
	_, err := r.client.ReplicationControllers(rc.Namespace).UpdateStatus(ctx, rc, metav1.UpdateOptions{})
	return err
}

func rcView(rc *corev1.ReplicationController) *view {
	v := &view{
		obj:             rc,
		meta:            rc,
		replicas:        1,
		minReadySeconds: rc.Spec.MinReadySeconds,
		template:        rc.Spec.Template,
		status: setStatus{
			Replicas:             rc.Status.Replicas,
			FullyLabeledReplicas: rc.Status.FullyLabeledReplicas,
			ReadyReplicas:        rc.Status.ReadyReplicas,
			AvailableReplicas:    rc.Status.AvailableReplicas,
			ObservedGeneration:   rc.Status.ObservedGeneration,
		},
	}
	if rc.Spec.Replicas != nil {
		v.replicas = *rc.Spec.Replicas
	}
	for _, c := range rc.Status.Conditions {
		v.status.Conditions = append(v.status.Conditions, setCondition{
			Type: string(c.Type), Status: c.Status, LastTransitionTime: c.LastTransitionTime,
			Reason: c.Reason, Message: c.Message,
		})
	}
	if len(rc.Spec.Selector) > 0 {
		v.selector = labels.SelectorFromSet(rc.Spec.Selector)
	}
	return v
}
