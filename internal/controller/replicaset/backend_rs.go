package replicaset

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	appsinformers "k8s.io/client-go/informers/apps/v1"
	appsclient "k8s.io/client-go/kubernetes/typed/apps/v1"
	appslisters "k8s.io/client-go/listers/apps/v1"
	"k8s.io/client-go/tools/cache"
)

// replicaSets adapts apps/v1 ReplicaSets to the engine.
type replicaSets struct {
	client appsclient.ReplicaSetsGetter
	inf    cache.SharedIndexInformer
	lister appslisters.ReplicaSetLister
}

func newReplicaSets(client appsclient.ReplicaSetsGetter, inf appsinformers.ReplicaSetInformer) *replicaSets {
	return &replicaSets{client: client, inf: inf.Informer(), lister: inf.Lister()}
}

func (r *replicaSets) gvk() schema.GroupVersionKind {
	return appsv1.SchemeGroupVersion.WithKind("ReplicaSet")
}

func (r *replicaSets) informer() cache.SharedIndexInformer { return r.inf }

func (r *replicaSets) get(namespace, name string) (*view, error) {
	rs, err := r.lister.ReplicaSets(namespace).Get(name)
	if err != nil {
		return nil, err
	}
	return rsView(rs), nil
}

func (r *replicaSets) list(namespace string) ([]*view, error) {
	rss, err := r.lister.ReplicaSets(namespace).List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("list replicasets in %q: %w", namespace, err)
	}
	out := make([]*view, 0, len(rss))
	for _, rs := range rss {
		out = append(out, rsView(rs))
	}
	return out, nil
}

func (r *replicaSets) getLive(ctx context.Context, namespace, name string) (metav1.Object, error) {
	return r.client.ReplicaSets(namespace).Get(ctx, name, metav1.GetOptions{})
}

func (r *replicaSets) updateStatus(ctx context.Context, v *view, st setStatus) error {
	rs, ok := v.obj.(*appsv1.ReplicaSet)
	if !ok {
		return fmt.Errorf("replicaset: view holds %T", v.obj)
	}
	rs = rs.DeepCopy()
	rs.Status.Replicas = st.Replicas
	rs.Status.FullyLabeledReplicas = st.FullyLabeledReplicas
	rs.Status.ReadyReplicas = st.ReadyReplicas
	rs.Status.AvailableReplicas = st.AvailableReplicas
	rs.Status.ObservedGeneration = st.ObservedGeneration
	rs.Status.Conditions = nil
	for _, c := range st.Conditions {
		rs.Status.Conditions = append(rs.Status.Conditions, appsv1.ReplicaSetCondition{
			Type: appsv1.ReplicaSetConditionType(c.Type), Status: c.Status,
			LastTransitionTime: c.LastTransitionTime, Reason: c.Reason, Message: c.Message,
		})
	}
	_, err := r.client.ReplicaSets(rs.Namespace).UpdateStatus(ctx, rs, metav1.UpdateOptions{})
	return err
}

func rsView(rs *appsv1.ReplicaSet) *view {
	v := &view{
		obj:             rs,
		meta:            rs,
		replicas:        1,
		minReadySeconds: rs.Spec.MinReadySeconds,
		template:        &rs.Spec.Template,
		status: setStatus{
			Replicas:             rs.Status.Replicas,
			FullyLabeledReplicas: rs.Status.FullyLabeledReplicas,
			ReadyReplicas:        rs.Status.ReadyReplicas,
			AvailableReplicas:    rs.Status.AvailableReplicas,
			ObservedGeneration:   rs.Status.ObservedGeneration,
		},
	}
	if rs.Spec.Replicas != nil {
		v.replicas = *rs.Spec.Replicas
	}
	for _, c := range rs.Status.Conditions {
		v.status.Conditions = append(v.status.Conditions, setCondition{
			Type: string(c.Type), Status: c.Status, LastTransitionTime: c.LastTransitionTime,
			Reason: c.Reason, Message: c.Message,
		})
	}
	sel := rs.Spec.Selector
	if sel != nil && (len(sel.MatchLabels) > 0 || len(sel.MatchExpressions) > 0) {
		v.selector, v.selectorErr = metav1.LabelSelectorAsSelector(sel)
	}
	return v
}
