// Package validation checks k8s.io/api objects the way kube-apiserver does
// before it persists them, reporting problems as a field.ErrorList whose paths
// and messages match upstream so that kubectl users see familiar errors.
package validation

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// metaPath is the root of every object-meta error.
var metaPath = field.NewPath("metadata")

// ValidateCreate validates a new, already defaulted object. namespaced says
// whether the kind is namespaced, which decides if metadata.namespace is
// required or forbidden.
func ValidateCreate(obj runtime.Object, namespaced bool) field.ErrorList {
	accessor, err := meta.Accessor(obj)
	if err != nil {
		return field.ErrorList{field.InternalError(metaPath, fmt.Errorf("reading object metadata: %w", err))}
	}
	allErrs := apimachineryvalidation.ValidateObjectMetaAccessor(accessor, namespaced, nameFuncFor(obj), metaPath)
	return append(allErrs, validateKindCreate(obj)...)
}

// ValidateUpdate validates a spec/metadata update of old to obj, including
// the immutability rules of each kind.
func ValidateUpdate(obj, old runtime.Object, namespaced bool) field.ErrorList {
	allErrs, ok := validateMetaUpdate(obj, old)
	if !ok {
		return allErrs
	}
	return append(allErrs, validateKindUpdate(obj, old)...)
}

// ValidateStatusUpdate validates a write through the status subresource.
// Upstream only re-checks metadata and the status stanza there; the spec is
// reset from the stored object by the status strategy before validation.
func ValidateStatusUpdate(obj, old runtime.Object, namespaced bool) field.ErrorList {
	allErrs, ok := validateMetaUpdate(obj, old)
	if !ok {
		return allErrs
	}
	return append(allErrs, validateKindStatus(obj, old)...)
}

// validateMetaUpdate runs the generic metadata update checks; ok is false
// when the objects could not be compared at all.
func validateMetaUpdate(obj, old runtime.Object) (field.ErrorList, bool) {
	newMeta, err := meta.Accessor(obj)
	if err != nil {
		return field.ErrorList{field.InternalError(metaPath, fmt.Errorf("reading new object metadata: %w", err))}, false
	}
	oldMeta, err := meta.Accessor(old)
	if err != nil {
		return field.ErrorList{field.InternalError(metaPath, fmt.Errorf("reading old object metadata: %w", err))}, false
	}
	if fmt.Sprintf("%T", obj) != fmt.Sprintf("%T", old) {
		return field.ErrorList{field.InternalError(field.NewPath(""), fmt.Errorf("cannot compare %T with %T", obj, old))}, false
	}
	return apimachineryvalidation.ValidateObjectMetaAccessorUpdate(newMeta, oldMeta, metaPath), true
}

// nameFuncFor returns the name rule upstream applies to each kind.
func nameFuncFor(obj runtime.Object) apimachineryvalidation.ValidateNameFunc {
	switch obj.(type) {
	case *corev1.Namespace:
		return apimachineryvalidation.ValidateNamespaceName
	case *corev1.Service:
		// Service names become DNS labels and env var prefixes, hence RFC 1035.
		return apimachineryvalidation.NameIsDNS1035Label
	case *rbacv1.Role, *rbacv1.ClusterRole, *rbacv1.RoleBinding, *rbacv1.ClusterRoleBinding:
		return path.ValidatePathSegmentName
	default:
		return apimachineryvalidation.NameIsDNSSubdomain
	}
}

// validateKindCreate dispatches to the per-kind create rules.
func validateKindCreate(obj runtime.Object) field.ErrorList {
	switch o := obj.(type) {
	case *corev1.Pod:
		return validatePod(o)
	case *corev1.PodTemplate:
		return validatePodTemplateSpec(&o.Template, field.NewPath("template"))
	case *corev1.ReplicationController:
		return validateReplicationControllerSpec(&o.Spec, field.NewPath("spec"))
	case *corev1.Service:
		return validateService(o)
	case *corev1.Endpoints:
		return validateEndpoints(o)
	case *corev1.Namespace:
		return validateNamespace(o)
	case *corev1.ConfigMap:
		return validateConfigMap(o)
	case *corev1.Secret:
		return validateSecret(o)
	case *corev1.Node:
		return validateNode(o)
	case *corev1.ServiceAccount:
		return validateServiceAccount(o)
	case *corev1.PersistentVolume:
		return validatePersistentVolume(o)
	case *corev1.PersistentVolumeClaim:
		return validatePersistentVolumeClaimSpec(&o.Spec, field.NewPath("spec"))
	case *corev1.ResourceQuota:
		return validateResourceQuota(o)
	case *corev1.LimitRange:
		return validateLimitRange(o)
	case *corev1.Event:
		return validateCoreEvent(o)
	case *eventsv1.Event:
		return validateEventsEvent(o)
	case *appsv1.Deployment:
		return validateDeploymentSpec(&o.Spec, field.NewPath("spec"))
	case *appsv1.ReplicaSet:
		return validateReplicaSetSpec(&o.Spec, field.NewPath("spec"))
	case *appsv1.StatefulSet:
		return validateStatefulSetSpec(&o.Spec, field.NewPath("spec"))
	case *appsv1.DaemonSet:
		return validateDaemonSetSpec(&o.Spec, field.NewPath("spec"))
	case *appsv1.ControllerRevision:
		return validateControllerRevision(o)
	case *batchv1.Job:
		return validateJob(o)
	case *batchv1.CronJob:
		return validateCronJob(o)
	case *autoscalingv1.HorizontalPodAutoscaler:
		return validateHPAv1(o)
	case *autoscalingv2.HorizontalPodAutoscaler:
		return validateHPASpec(&o.Spec, field.NewPath("spec"))
	case *policyv1.PodDisruptionBudget:
		return validatePDBSpec(&o.Spec, field.NewPath("spec"))
	case *networkingv1.Ingress:
		return validateIngressSpec(&o.Spec, field.NewPath("spec"))
	case *networkingv1.IngressClass:
		return validateIngressClassSpec(&o.Spec, field.NewPath("spec"))
	case *networkingv1.NetworkPolicy:
		return validateNetworkPolicySpec(&o.Spec, field.NewPath("spec"))
	case *discoveryv1.EndpointSlice:
		return validateEndpointSlice(o)
	case *rbacv1.Role:
		return validatePolicyRules(o.Rules, false, field.NewPath("rules"))
	case *rbacv1.ClusterRole:
		return validateClusterRole(o)
	case *rbacv1.RoleBinding:
		return validateRoleBinding(o.RoleRef, o.Subjects, true)
	case *rbacv1.ClusterRoleBinding:
		return validateRoleBinding(o.RoleRef, o.Subjects, false)
	case *storagev1.StorageClass:
		return validateStorageClass(o)
	case *schedulingv1.PriorityClass:
		return validatePriorityClass(o)
	case *coordinationv1.Lease:
		return validateLeaseSpec(&o.Spec, field.NewPath("spec"))
	}
	return nil
}

// validateKindUpdate dispatches to the per-kind update rules. Most kinds
// re-run their create rules on the new object and then add immutability
// checks against the old one.
func validateKindUpdate(obj, old runtime.Object) field.ErrorList {
	switch o := obj.(type) {
	case *corev1.Pod:
		return validatePodUpdate(o, old.(*corev1.Pod))
	case *corev1.Service:
		return validateServiceUpdate(o, old.(*corev1.Service))
	case *corev1.ConfigMap:
		return append(validateConfigMap(o), validateConfigMapUpdate(o, old.(*corev1.ConfigMap))...)
	case *corev1.Secret:
		return append(validateSecret(o), validateSecretUpdate(o, old.(*corev1.Secret))...)
	case *corev1.Node:
		return append(validateNode(o), validateNodeUpdate(o, old.(*corev1.Node))...)
	case *corev1.PersistentVolume:
		return append(validatePersistentVolume(o), validatePersistentVolumeUpdate(o, old.(*corev1.PersistentVolume))...)
	case *corev1.PersistentVolumeClaim:
		return validatePersistentVolumeClaimUpdate(o, old.(*corev1.PersistentVolumeClaim))
	case *appsv1.Deployment:
		return append(validateDeploymentSpec(&o.Spec, field.NewPath("spec")),
			immutable(o.Spec.Selector, old.(*appsv1.Deployment).Spec.Selector, field.NewPath("spec", "selector"))...)
	case *appsv1.ReplicaSet:
		return append(validateReplicaSetSpec(&o.Spec, field.NewPath("spec")),
			immutable(o.Spec.Selector, old.(*appsv1.ReplicaSet).Spec.Selector, field.NewPath("spec", "selector"))...)
	case *appsv1.DaemonSet:
		return append(validateDaemonSetSpec(&o.Spec, field.NewPath("spec")),
			immutable(o.Spec.Selector, old.(*appsv1.DaemonSet).Spec.Selector, field.NewPath("spec", "selector"))...)
	case *appsv1.StatefulSet:
		return append(validateStatefulSetSpec(&o.Spec, field.NewPath("spec")), validateStatefulSetUpdate(o, old.(*appsv1.StatefulSet))...)
	case *appsv1.ControllerRevision:
		return append(validateControllerRevision(o),
			immutable(o.Data, old.(*appsv1.ControllerRevision).Data, field.NewPath("data"))...)
	case *batchv1.Job:
		return append(validateJob(o), validateJobUpdate(o, old.(*batchv1.Job))...)
	case *rbacv1.RoleBinding:
		return append(validateRoleBinding(o.RoleRef, o.Subjects, true),
			immutableRoleRef(o.RoleRef, old.(*rbacv1.RoleBinding).RoleRef)...)
	case *rbacv1.ClusterRoleBinding:
		return append(validateRoleBinding(o.RoleRef, o.Subjects, false),
			immutableRoleRef(o.RoleRef, old.(*rbacv1.ClusterRoleBinding).RoleRef)...)
	case *storagev1.StorageClass:
		return append(validateStorageClass(o), validateStorageClassUpdate(o, old.(*storagev1.StorageClass))...)
	case *schedulingv1.PriorityClass:
		return append(validatePriorityClass(o), validatePriorityClassUpdate(o, old.(*schedulingv1.PriorityClass))...)
	case *discoveryv1.EndpointSlice:
		return append(validateEndpointSlice(o),
			immutable(o.AddressType, old.(*discoveryv1.EndpointSlice).AddressType, field.NewPath("addressType"))...)
	case *corev1.ReplicationController, *corev1.PodTemplate, *corev1.Endpoints, *corev1.Namespace,
		*corev1.ServiceAccount, *corev1.ResourceQuota, *corev1.LimitRange, *corev1.Event, *eventsv1.Event,
		*batchv1.CronJob, *autoscalingv1.HorizontalPodAutoscaler, *autoscalingv2.HorizontalPodAutoscaler,
		*policyv1.PodDisruptionBudget, *networkingv1.Ingress, *networkingv1.IngressClass,
		*networkingv1.NetworkPolicy, *rbacv1.Role, *rbacv1.ClusterRole, *coordinationv1.Lease:
		return validateKindCreate(obj)
	}
	return nil
}

// validateKindStatus dispatches to the per-kind status rules.
func validateKindStatus(obj, old runtime.Object) field.ErrorList {
	switch o := obj.(type) {
	case *corev1.Pod:
		return validatePodStatus(o)
	case *corev1.Service:
		return validateLoadBalancerStatus(&o.Status.LoadBalancer, field.NewPath("status", "loadBalancer"))
	case *appsv1.Deployment:
		return validateReplicaCounts(field.NewPath("status"), map[string]int32{
			"replicas": o.Status.Replicas, "updatedReplicas": o.Status.UpdatedReplicas,
			"readyReplicas": o.Status.ReadyReplicas, "availableReplicas": o.Status.AvailableReplicas,
			"unavailableReplicas": o.Status.UnavailableReplicas,
		})
	case *appsv1.ReplicaSet:
		return validateReplicaCounts(field.NewPath("status"), map[string]int32{
			"replicas": o.Status.Replicas, "fullyLabeledReplicas": o.Status.FullyLabeledReplicas,
			"readyReplicas": o.Status.ReadyReplicas, "availableReplicas": o.Status.AvailableReplicas,
		})
	case *appsv1.StatefulSet:
		return validateReplicaCounts(field.NewPath("status"), map[string]int32{
			"replicas": o.Status.Replicas, "readyReplicas": o.Status.ReadyReplicas,
			"currentReplicas": o.Status.CurrentReplicas, "updatedReplicas": o.Status.UpdatedReplicas,
			"availableReplicas": o.Status.AvailableReplicas,
		})
	case *appsv1.DaemonSet:
		return validateReplicaCounts(field.NewPath("status"), map[string]int32{
			"currentNumberScheduled": o.Status.CurrentNumberScheduled, "numberMisscheduled": o.Status.NumberMisscheduled,
			"desiredNumberScheduled": o.Status.DesiredNumberScheduled, "numberReady": o.Status.NumberReady,
			"updatedNumberScheduled": o.Status.UpdatedNumberScheduled, "numberAvailable": o.Status.NumberAvailable,
			"numberUnavailable": o.Status.NumberUnavailable,
		})
	case *corev1.ReplicationController:
		return validateReplicaCounts(field.NewPath("status"), map[string]int32{
			"replicas": o.Status.Replicas, "fullyLabeledReplicas": o.Status.FullyLabeledReplicas,
			"readyReplicas": o.Status.ReadyReplicas, "availableReplicas": o.Status.AvailableReplicas,
		})
	case *batchv1.Job:
		return validateReplicaCounts(field.NewPath("status"), map[string]int32{
			"active": o.Status.Active, "succeeded": o.Status.Succeeded, "failed": o.Status.Failed,
		})
	case *corev1.Node:
		return validateNodeStatus(o)
	}
	return nil
}
