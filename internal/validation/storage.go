package validation

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const (
	// Priority values above this are reserved for system classes.
	highestUserDefinablePriority = 1000000000
	systemCriticalPriority       = 2 * highestUserDefinablePriority
	maxProvisionerParameterSize  = 256 * (1 << 10)
	maxProvisionerParameterLen   = 512
)

var (
	supportedBindingModes    = []storagev1.VolumeBindingMode{storagev1.VolumeBindingImmediate, storagev1.VolumeBindingWaitForFirstConsumer}
	supportedSCReclaim       = []corev1.PersistentVolumeReclaimPolicy{corev1.PersistentVolumeReclaimDelete, corev1.PersistentVolumeReclaimRetain}
	systemPriorityClassNames = map[string]int32{"system-node-critical": systemCriticalPriority + 1000, "system-cluster-critical": systemCriticalPriority}
)

func validateStorageClass(sc *storagev1.StorageClass) field.ErrorList {
	var allErrs field.ErrorList
	provPath := field.NewPath("provisioner")
	if sc.Provisioner == "" {
		allErrs = append(allErrs, field.Required(provPath, ""))
	} else {
		allErrs = append(allErrs, validateQualifiedName(strings.ToLower(sc.Provisioner), provPath)...)
	}
	paramsPath := field.NewPath("parameters")
	if len(sc.Parameters) > maxProvisionerParameterLen {
		allErrs = append(allErrs, field.TooLong(paramsPath, "", maxProvisionerParameterLen))
	}
	total := 0
	for k, v := range sc.Parameters {
		if k == "" {
			allErrs = append(allErrs, field.Invalid(paramsPath, k, "field can not be empty."))
		}
		total += len(k) + len(v)
	}
	if total > maxProvisionerParameterSize {
		allErrs = append(allErrs, field.TooLong(paramsPath, "", maxProvisionerParameterSize))
	}
	if sc.ReclaimPolicy != nil && !contains(supportedSCReclaim, *sc.ReclaimPolicy) {
		allErrs = append(allErrs, field.NotSupported(field.NewPath("reclaimPolicy"), *sc.ReclaimPolicy, supportedSCReclaim))
	}
	if sc.VolumeBindingMode == nil {
		allErrs = append(allErrs, field.Required(field.NewPath("volumeBindingMode"), ""))
	} else if !contains(supportedBindingModes, *sc.VolumeBindingMode) {
		allErrs = append(allErrs, field.NotSupported(field.NewPath("volumeBindingMode"), *sc.VolumeBindingMode, supportedBindingModes))
	}
	return allErrs
}

func validateStorageClassUpdate(sc, old *storagev1.StorageClass) field.ErrorList {
	var allErrs field.ErrorList
	if !apiequality.Semantic.DeepEqual(sc.Parameters, old.Parameters) {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("parameters"), "updates to parameters are forbidden."))
	}
	if sc.Provisioner != old.Provisioner {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("provisioner"), "updates to provisioner are forbidden."))
	}
	if !apiequality.Semantic.DeepEqual(sc.ReclaimPolicy, old.ReclaimPolicy) {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("reclaimPolicy"), "updates to reclaimPolicy are forbidden."))
	}
	allErrs = append(allErrs, immutable(sc.VolumeBindingMode, old.VolumeBindingMode, field.NewPath("volumeBindingMode"))...)
	return allErrs
}

// validatePriorityClass reserves the "system-" prefix and high values for
// the built-in classes.
func validatePriorityClass(pc *schedulingv1.PriorityClass) field.ErrorList {
	var allErrs field.ErrorList
	if want, isSystem := systemPriorityClassNames[pc.Name]; isSystem {
		if pc.Value != want {
			allErrs = append(allErrs, field.Forbidden(field.NewPath("metadata", "name"), fmt.Sprintf("priority class %q is reserved for system use", pc.Name)))
		}
	} else {
		if strings.HasPrefix(pc.Name, "system-") {
			allErrs = append(allErrs, field.Forbidden(field.NewPath("metadata", "name"), "priority class names with 'system-' prefix are reserved"))
		}
		if pc.Value > highestUserDefinablePriority {
			allErrs = append(allErrs, field.Forbidden(field.NewPath("value"), fmt.Sprintf("maximum allowed value of a user defined priority is %v", highestUserDefinablePriority)))
		}
	}
	if pc.PreemptionPolicy != nil && !contains(supportedPreemption, *pc.PreemptionPolicy) {
		allErrs = append(allErrs, field.NotSupported(field.NewPath("preemptionPolicy"), *pc.PreemptionPolicy, supportedPreemption))
	}
	return allErrs
}

func validatePriorityClassUpdate(pc, old *schedulingv1.PriorityClass) field.ErrorList {
	var allErrs field.ErrorList
	if pc.Value != old.Value {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("value"), "may not be changed in an update."))
	}
	allErrs = append(allErrs, immutable(pc.PreemptionPolicy, old.PreemptionPolicy, field.NewPath("preemptionPolicy"))...)
	return allErrs
}
