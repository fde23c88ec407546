// Package defaulting fills in the defaults that kube-apiserver applies to
// objects on create and update, so that objects stored by Skiff read back
// exactly like they would from an upstream cluster.
//
// The rules follow upstream's per-version SetDefaults_* functions, the
// declarative +default markers of k8s.io/api, and those parts of the registry
// strategies (PrepareForCreate and the Service IP-family allocator) that only
// fill in values, never allocate them. The cluster is assumed to be
// single-stack IPv4 with every beta feature at its upstream default.
package defaulting

import (
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Default fills in defaults on a typed object (e.g. *corev1.Pod,
// *appsv1.Deployment) in place. Objects of kinds without defaults are left
// alone. Applying it more than once gives the same result as applying it once.
//
// A few create-time rules need registry-assigned metadata: the Job selector
// is generated only once metadata.uid is set, so call Default after the UID
// has been assigned.
func Default(obj runtime.Object) {
	switch o := obj.(type) {
	// core/v1
	case *corev1.Pod:
		defaultPod(o)
	case *corev1.PodTemplate:
		defaultPodTemplateSpec(&o.Template)
	case *corev1.ReplicationController:
		defaultReplicationController(o)
	case *corev1.Service:
		defaultService(o)
	case *corev1.Endpoints:
		defaultEndpoints(o)
	case *corev1.Namespace:
		defaultNamespace(o)
	case *corev1.Node:
		defaultNode(o)
	case *corev1.Secret:
		if o.Type == "" {
			o.Type = corev1.SecretTypeOpaque
		}
		mergeStringData(o)
	case *corev1.PersistentVolume:
		defaultPersistentVolume(o)
	case *corev1.PersistentVolumeClaim:
		defaultPersistentVolumeClaim(o)
	case *corev1.LimitRange:
		defaultLimitRange(o)
	case *corev1.ResourceQuota:
		roundResourceList(o.Spec.Hard)
	// apps/v1
	case *appsv1.Deployment:
		defaultDeployment(o)
	case *appsv1.ReplicaSet:
		defaultReplicaSet(o)
	case *appsv1.StatefulSet:
		defaultStatefulSet(o)
	case *appsv1.DaemonSet:
		defaultDaemonSet(o)
	// batch/v1
	case *batchv1.Job:
		defaultJob(o)
	case *batchv1.CronJob:
		defaultCronJob(o)
	// autoscaling
	case *autoscalingv1.HorizontalPodAutoscaler:
		if o.Spec.MinReplicas == nil {
			o.Spec.MinReplicas = ptrTo[int32](1)
		}
	case *autoscalingv2.HorizontalPodAutoscaler:
		defaultHPAv2(o)
	// discovery/v1
	case *discoveryv1.EndpointSlice:
		defaultEndpointSlice(o)
	// networking/v1
	case *networkingv1.NetworkPolicy:
		defaultNetworkPolicy(o)
	case *networkingv1.IngressClass:
		defaultIngressClass(o)
	// rbac/v1
	case *rbacv1.RoleBinding:
		defaultRoleRef(&o.RoleRef)
		defaultSubjects(o.Subjects)
	case *rbacv1.ClusterRoleBinding:
		defaultRoleRef(&o.RoleRef)
		defaultSubjects(o.Subjects)
	// storage/v1
	case *storagev1.StorageClass:
		defaultStorageClass(o)
	case *storagev1.CSIDriver:
		defaultCSIDriver(o)
	// scheduling/v1
	case *schedulingv1.PriorityClass:
		if o.PreemptionPolicy == nil {
			o.PreemptionPolicy = ptrTo(corev1.PreemptLowerPriority)
		}
	}
}

// ptrTo returns a pointer to a fresh copy of v.
func ptrTo[T any](v T) *T {
	return &v
}

// mergeStringData moves a Secret's write-only stringData into data, where
// it wins over data's entries of the same key, as upstream's conversion
// does: stringData is never stored or returned.
func mergeStringData(s *corev1.Secret) {
	if len(s.StringData) == 0 {
		s.StringData = nil
		return
	}
	if s.Data == nil {
		s.Data = make(map[string][]byte, len(s.StringData))
	}
	for k, v := range s.StringData {
		s.Data[k] = []byte(v)
	}
	s.StringData = nil
}
