package replicaset

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/cache"
)

// conditionReplicaFailure is the condition type both kinds set when pods
// could not be created or deleted.
const conditionReplicaFailure = "ReplicaFailure"

// view is the kind-neutral picture of one ReplicaSet or ReplicationController
// that the engine works from; a backend builds it from the cached object.
type view struct {
	// obj is the cached typed object: events are recorded against it and the
	// backend deep-copies it to write status.
	obj             runtime.Object
	meta            metav1.Object
	replicas        int32
	minReadySeconds int32
	// selector is nil when the object's selector is empty, which matches no
	// pod: an empty selector must never claim a whole namespace.
	selector    labels.Selector
	selectorErr error
	// template is nil only for a ReplicationController without one.
	template *corev1.PodTemplateSpec
	status   setStatus
}

// matches reports whether the view's selector selects pod labels ls.
func (v *view) matches(ls labels.Set) bool {
	return v.selector != nil && v.selector.Matches(ls)
}

// setStatus mirrors the status fields ReplicaSetStatus and
// ReplicationControllerStatus share.
type setStatus struct {
	Replicas             int32
	FullyLabeledReplicas int32
	ReadyReplicas        int32
	AvailableReplicas    int32
	ObservedGeneration   int64
	Conditions           []setCondition
}

type setCondition struct {
	Type               string
	Status             corev1.ConditionStatus
	LastTransitionTime metav1.Time
	Reason             string
	Message            string
}

// backend is what the engine needs from one kind: the seam that lets
// ReplicaSets and ReplicationControllers share every line of logic.
type backend interface {
	// gvk is the kind written into the ownerReferences of pods.
	gvk() schema.GroupVersionKind
	informer() cache.SharedIndexInformer
	// get and list read the informer cache.
	get(namespace, name string) (*view, error)
	list(namespace string) ([]*view, error)
	// getLive reads the object from the API server, bypassing the cache, so
	// that adoption never acts for an object that is already gone.
	getLive(ctx context.Context, namespace, name string) (metav1.Object, error)
	updateStatus(ctx context.Context, v *view, st setStatus) error
}
