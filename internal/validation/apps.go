package validation

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const selectorMismatchMsg = "`selector` does not match template `labels`"

var (
	supportedDeploymentStrategies  = []appsv1.DeploymentStrategyType{appsv1.RecreateDeploymentStrategyType, appsv1.RollingUpdateDeploymentStrategyType}
	supportedStatefulSetStrategies = []appsv1.StatefulSetUpdateStrategyType{appsv1.RollingUpdateStatefulSetStrategyType, appsv1.OnDeleteStatefulSetStrategyType}
	supportedDaemonSetStrategies   = []appsv1.DaemonSetUpdateStrategyType{appsv1.RollingUpdateDaemonSetStrategyType, appsv1.OnDeleteDaemonSetStrategyType}
	supportedPodManagement         = []appsv1.PodManagementPolicyType{appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement}
	supportedPVCRetention          = []appsv1.PersistentVolumeClaimRetentionPolicyType{appsv1.RetainPersistentVolumeClaimRetentionPolicyType, appsv1.DeletePersistentVolumeClaimRetentionPolicyType}
)

// validateWorkloadSelector requires a non-empty, well-formed selector and
// returns it parsed (nil when it cannot be used for matching).
func validateWorkloadSelector(sel *metav1.LabelSelector, kind string, fldPath *field.Path) (labels.Selector, field.ErrorList) {
	if sel == nil {
		return nil, field.ErrorList{field.Required(fldPath, "")}
	}
	allErrs := validateSelector(sel, fldPath)
	if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
		allErrs = append(allErrs, field.Invalid(fldPath, sel, "empty selector is invalid for "+kind))
	}
	parsed, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		if len(allErrs) == 0 {
			allErrs = append(allErrs, field.Invalid(fldPath, sel, "invalid label selector"))
		}
		return nil, allErrs
	}
	return parsed, allErrs
}

// validateControllerTemplate checks the template of a controller whose pods
// must always restart, and that it is selected by the controller's selector.
func validateControllerTemplate(tmpl *corev1.PodTemplateSpec, sel labels.Selector, kind string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if sel != nil && !sel.Empty() && !sel.Matches(labels.Set(tmpl.Labels)) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("metadata", "labels"), tmpl.Labels, selectorMismatchMsg))
	}
	allErrs = append(allErrs, validatePodTemplateSpec(tmpl, fldPath)...)
	if tmpl.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("spec", "restartPolicy"), tmpl.Spec.RestartPolicy, []corev1.RestartPolicy{corev1.RestartPolicyAlways}))
	}
	if tmpl.Spec.ActiveDeadlineSeconds != nil {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("spec", "activeDeadlineSeconds"), fmt.Sprintf("activeDeadlineSeconds in %s is not Supported", kind)))
	}
	return allErrs
}

func validateDeploymentSpec(spec *appsv1.DeploymentSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if spec.Replicas != nil {
		allErrs = append(allErrs, nonNegative(int64(*spec.Replicas), fldPath.Child("replicas"))...)
	}
	sel, errs := validateWorkloadSelector(spec.Selector, "deployment", fldPath.Child("selector"))
	allErrs = append(allErrs, errs...)
	allErrs = append(allErrs, validateControllerTemplate(&spec.Template, sel, "ReplicaSet", fldPath.Child("template"))...)
	allErrs = append(allErrs, validateDeploymentStrategy(&spec.Strategy, fldPath.Child("strategy"))...)
	allErrs = append(allErrs, nonNegative(int64(spec.MinReadySeconds), fldPath.Child("minReadySeconds"))...)
	allErrs = append(allErrs, nonNegativePtr(spec.RevisionHistoryLimit, fldPath.Child("revisionHistoryLimit"))...)
	if spec.ProgressDeadlineSeconds != nil {
		pds := *spec.ProgressDeadlineSeconds
		allErrs = append(allErrs, nonNegative(int64(pds), fldPath.Child("progressDeadlineSeconds"))...)
		if pds <= spec.MinReadySeconds {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("progressDeadlineSeconds"), pds, "must be greater than minReadySeconds"))
		}
	}
	return allErrs
}

func validateDeploymentStrategy(strategy *appsv1.DeploymentStrategy, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	switch strategy.Type {
	case appsv1.RecreateDeploymentStrategyType:
		if strategy.RollingUpdate != nil {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'"))
		}
	case appsv1.RollingUpdateDeploymentStrategyType:
		if strategy.RollingUpdate == nil {
			allErrs = append(allErrs, field.Required(fldPath.Child("rollingUpdate"), "this should be defaulted and never be nil"))
		} else {
			allErrs = append(allErrs, validateRollingUpdate(strategy.RollingUpdate.MaxUnavailable, strategy.RollingUpdate.MaxSurge, fldPath.Child("rollingUpdate"))...)
		}
	default:
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("type"), strategy.Type, supportedDeploymentStrategies))
	}
	return allErrs
}

// validateRollingUpdate checks maxUnavailable/maxSurge: both well formed, at
// most 100% unavailable, and not both zero (the rollout could never progress).
func validateRollingUpdate(mu, ms *intstr.IntOrString, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	allErrs = append(allErrs, validatePositiveIntOrPercent(mu, fldPath.Child("maxUnavailable"))...)
	allErrs = append(allErrs, validatePositiveIntOrPercent(ms, fldPath.Child("maxSurge"))...)
	if intOrPercentValue(mu) == 0 && intOrPercentValue(ms) == 0 {
		var shown any
		if mu != nil {
			shown = *mu
		}
		allErrs = append(allErrs, field.Invalid(fldPath.Child("maxUnavailable"), shown, "may not be 0 when `maxSurge` is 0"))
	}
	allErrs = append(allErrs, notMoreThan100Percent(mu, fldPath.Child("maxUnavailable"))...)
	return allErrs
}

func validateReplicaSetSpec(spec *appsv1.ReplicaSetSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if spec.Replicas != nil {
		allErrs = append(allErrs, nonNegative(int64(*spec.Replicas), fldPath.Child("replicas"))...)
	}
	allErrs = append(allErrs, nonNegative(int64(spec.MinReadySeconds), fldPath.Child("minReadySeconds"))...)
	// Upstream reuses the Deployment wording for ReplicaSets.
	sel, errs := validateWorkloadSelector(spec.Selector, "deployment", fldPath.Child("selector"))
	allErrs = append(allErrs, errs...)
	allErrs = append(allErrs, validateControllerTemplate(&spec.Template, sel, "ReplicaSet", fldPath.Child("template"))...)
	return allErrs
}

func validateReplicationControllerSpec(spec *corev1.ReplicationControllerSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	allErrs = append(allErrs, nonNegative(int64(spec.MinReadySeconds), fldPath.Child("minReadySeconds"))...)
	if spec.Replicas != nil {
		allErrs = append(allErrs, nonNegative(int64(*spec.Replicas), fldPath.Child("replicas"))...)
	}
	var sel labels.Selector
	if len(spec.Selector) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("selector"), ""))
	} else {
		allErrs = append(allErrs, metav1validation.ValidateLabels(spec.Selector, fldPath.Child("selector"))...)
		sel = labels.SelectorFromSet(spec.Selector)
	}
	if spec.Template == nil {
		return append(allErrs, field.Required(fldPath.Child("template"), ""))
	}
	return append(allErrs, validateControllerTemplate(spec.Template, sel, "ReplicationController", fldPath.Child("template"))...)
}

func validateDaemonSetSpec(spec *appsv1.DaemonSetSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	sel, errs := validateWorkloadSelector(spec.Selector, "daemonset", fldPath.Child("selector"))
	allErrs = append(allErrs, errs...)
	allErrs = append(allErrs, validateControllerTemplate(&spec.Template, sel, "DaemonSet", fldPath.Child("template"))...)
	allErrs = append(allErrs, nonNegative(int64(spec.MinReadySeconds), fldPath.Child("minReadySeconds"))...)
	allErrs = append(allErrs, nonNegativePtr(spec.RevisionHistoryLimit, fldPath.Child("revisionHistoryLimit"))...)
	strategyPath := fldPath.Child("updateStrategy")
	switch spec.UpdateStrategy.Type {
	case appsv1.OnDeleteDaemonSetStrategyType:
	case appsv1.RollingUpdateDaemonSetStrategyType:
		if ru := spec.UpdateStrategy.RollingUpdate; ru == nil {
			allErrs = append(allErrs, field.Required(strategyPath.Child("rollingUpdate"), ""))
		} else {
			allErrs = append(allErrs, validateRollingUpdate(ru.MaxUnavailable, ru.MaxSurge, strategyPath.Child("rollingUpdate"))...)
		}
	case "":
		allErrs = append(allErrs, field.Required(strategyPath.Child("type"), ""))
	default:
		allErrs = append(allErrs, field.NotSupported(strategyPath.Child("type"), spec.UpdateStrategy.Type, supportedDaemonSetStrategies))
	}
	return allErrs
}

func validateStatefulSetSpec(spec *appsv1.StatefulSetSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	switch spec.PodManagementPolicy {
	case "":
		allErrs = append(allErrs, field.Required(fldPath.Child("podManagementPolicy"), ""))
	case appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement:
	default:
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("podManagementPolicy"), spec.PodManagementPolicy, supportedPodManagement))
	}
	strategyPath := fldPath.Child("updateStrategy")
	switch spec.UpdateStrategy.Type {
	case "":
		allErrs = append(allErrs, field.Required(strategyPath, ""))
	case appsv1.OnDeleteStatefulSetStrategyType:
		if spec.UpdateStrategy.RollingUpdate != nil {
			allErrs = append(allErrs, field.Invalid(strategyPath.Child("rollingUpdate"), spec.UpdateStrategy.RollingUpdate,
				fmt.Sprintf("only allowed for updateStrategy '%s'", appsv1.RollingUpdateStatefulSetStrategyType)))
		}
	case appsv1.RollingUpdateStatefulSetStrategyType:
		if ru := spec.UpdateStrategy.RollingUpdate; ru != nil {
			allErrs = append(allErrs, nonNegativePtr(ru.Partition, strategyPath.Child("rollingUpdate", "partition"))...)
			if ru.MaxUnavailable != nil {
				muPath := strategyPath.Child("rollingUpdate", "maxUnavailable")
				allErrs = append(allErrs, validatePositiveIntOrPercent(ru.MaxUnavailable, muPath)...)
				if intOrPercentValue(ru.MaxUnavailable) == 0 {
					allErrs = append(allErrs, field.Invalid(muPath, *ru.MaxUnavailable, "must be greater than 0"))
				}
				allErrs = append(allErrs, notMoreThan100Percent(ru.MaxUnavailable, muPath)...)
			}
		}
	default:
		allErrs = append(allErrs, field.NotSupported(strategyPath.Child("type"), spec.UpdateStrategy.Type, supportedStatefulSetStrategies))
	}
	if p := spec.PersistentVolumeClaimRetentionPolicy; p != nil {
		pPath := fldPath.Child("persistentVolumeClaimRetentionPolicy")
		if !contains(supportedPVCRetention, p.WhenDeleted) {
			allErrs = append(allErrs, field.NotSupported(pPath.Child("whenDeleted"), p.WhenDeleted, supportedPVCRetention))
		}
		if !contains(supportedPVCRetention, p.WhenScaled) {
			allErrs = append(allErrs, field.NotSupported(pPath.Child("whenScaled"), p.WhenScaled, supportedPVCRetention))
		}
	}
	if spec.Ordinals != nil {
		allErrs = append(allErrs, nonNegative(int64(spec.Ordinals.Start), fldPath.Child("ordinals", "start"))...)
	}
	if spec.Replicas != nil {
		allErrs = append(allErrs, nonNegative(int64(*spec.Replicas), fldPath.Child("replicas"))...)
	}
	allErrs = append(allErrs, nonNegative(int64(spec.MinReadySeconds), fldPath.Child("minReadySeconds"))...)
	allErrs = append(allErrs, nonNegativePtr(spec.RevisionHistoryLimit, fldPath.Child("revisionHistoryLimit"))...)
	if spec.ServiceName != "" {
		allErrs = append(allErrs, validateDNS1123Label(spec.ServiceName, fldPath.Child("serviceName"))...)
	}
	sel, errs := validateWorkloadSelector(spec.Selector, "statefulset", fldPath.Child("selector"))
	allErrs = append(allErrs, errs...)
	allErrs = append(allErrs, validateControllerTemplate(&spec.Template, sel, "StatefulSet", fldPath.Child("template"))...)
	for i := range spec.VolumeClaimTemplates {
		vct := &spec.VolumeClaimTemplates[i]
		idxPath := fldPath.Child("volumeClaimTemplates").Index(i)
		allErrs = append(allErrs, validateDNS1123Subdomain(vct.Name, idxPath.Child("metadata", "name"))...)
		allErrs = append(allErrs, validatePersistentVolumeClaimSpec(&vct.Spec, idxPath.Child("spec"))...)
	}
	return allErrs
}

// validateStatefulSetUpdate rejects changes outside the fields the
// StatefulSet controller can roll out.
func validateStatefulSetUpdate(ss, old *appsv1.StatefulSet) field.ErrorList {
	clone := ss.Spec.DeepCopy()
	clone.Replicas = old.Spec.Replicas
	clone.Ordinals = old.Spec.Ordinals
	clone.Template = old.Spec.Template
	clone.UpdateStrategy = old.Spec.UpdateStrategy
	clone.RevisionHistoryLimit = old.Spec.RevisionHistoryLimit
	clone.PersistentVolumeClaimRetentionPolicy = old.Spec.PersistentVolumeClaimRetentionPolicy
	clone.MinReadySeconds = old.Spec.MinReadySeconds
	if apiequality.Semantic.DeepEqual(clone, &old.Spec) {
		return nil
	}
	return field.ErrorList{field.Forbidden(field.NewPath("spec"),
		"updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden")}
}

func validateControllerRevision(rev *appsv1.ControllerRevision) field.ErrorList {
	var allErrs field.ErrorList
	if rev.Data.Raw == nil && rev.Data.Object == nil {
		allErrs = append(allErrs, field.Required(field.NewPath("data"), "data is mandatory"))
	}
	return append(allErrs, nonNegative(rev.Revision, field.NewPath("revision"))...)
}
