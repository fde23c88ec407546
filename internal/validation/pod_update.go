package validation

import (
	"fmt"
	"math"
	"strconv"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var supportedNodeSelectorOps = []corev1.NodeSelectorOperator{
	corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn, corev1.NodeSelectorOpExists,
	corev1.NodeSelectorOpDoesNotExist, corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt,
}

// validateAffinity checks node and pod (anti-)affinity terms.
func validateAffinity(aff *corev1.Affinity, fldPath *field.Path) field.ErrorList {
	if aff == nil {
		return nil
	}
	var allErrs field.ErrorList
	if na := aff.NodeAffinity; na != nil {
		naPath := fldPath.Child("nodeAffinity")
		if na.RequiredDuringSchedulingIgnoredDuringExecution != nil {
			allErrs = append(allErrs, validateNodeSelector(na.RequiredDuringSchedulingIgnoredDuringExecution, naPath.Child("requiredDuringSchedulingIgnoredDuringExecution"))...)
		}
		prefPath := naPath.Child("preferredDuringSchedulingIgnoredDuringExecution")
		for i, term := range na.PreferredDuringSchedulingIgnoredDuringExecution {
			allErrs = append(allErrs, validateWeight(term.Weight, prefPath.Index(i).Child("weight"))...)
			allErrs = append(allErrs, validateNodeSelectorTerm(term.Preference, prefPath.Index(i).Child("preference"))...)
		}
	}
	if pa := aff.PodAffinity; pa != nil {
		allErrs = append(allErrs, validatePodAffinityTerms(pa.RequiredDuringSchedulingIgnoredDuringExecution, pa.PreferredDuringSchedulingIgnoredDuringExecution, fldPath.Child("podAffinity"))...)
	}
	if pa := aff.PodAntiAffinity; pa != nil {
		allErrs = append(allErrs, validatePodAffinityTerms(pa.RequiredDuringSchedulingIgnoredDuringExecution, pa.PreferredDuringSchedulingIgnoredDuringExecution, fldPath.Child("podAntiAffinity"))...)
	}
	return allErrs
}

func validateWeight(w int32, fldPath *field.Path) field.ErrorList {
	if w <= 0 || w > 100 {
		return field.ErrorList{field.Invalid(fldPath, w, "must be in the range 1-100")}
	}
	return nil
}

func validateNodeSelector(sel *corev1.NodeSelector, fldPath *field.Path) field.ErrorList {
	termsPath := fldPath.Child("nodeSelectorTerms")
	if len(sel.NodeSelectorTerms) == 0 {
		return field.ErrorList{field.Required(termsPath, "must have at least one node selector term")}
	}
	var allErrs field.ErrorList
	for i, term := range sel.NodeSelectorTerms {
		allErrs = append(allErrs, validateNodeSelectorTerm(term, termsPath.Index(i))...)
	}
	return allErrs
}

func validateNodeSelectorTerm(term corev1.NodeSelectorTerm, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, req := range term.MatchExpressions {
		allErrs = append(allErrs, validateNodeSelectorRequirement(req, fldPath.Child("matchExpressions").Index(i))...)
	}
	for i, req := range term.MatchFields {
		idxPath := fldPath.Child("matchFields").Index(i)
		if req.Key != "metadata.name" {
			allErrs = append(allErrs, field.NotSupported(idxPath.Child("key"), req.Key, []string{"metadata.name"}))
			continue
		}
		if req.Operator != corev1.NodeSelectorOpIn && req.Operator != corev1.NodeSelectorOpNotIn {
			allErrs = append(allErrs, field.NotSupported(idxPath.Child("operator"), req.Operator, []corev1.NodeSelectorOperator{corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn}))
		} else if len(req.Values) != 1 {
			allErrs = append(allErrs, field.Required(idxPath.Child("values"), "must be only one value when `operator` is 'In' or 'NotIn' for node field selector"))
		}
	}
	return allErrs
}

func validateNodeSelectorRequirement(req corev1.NodeSelectorRequirement, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	valuesPath := fldPath.Child("values")
	switch req.Operator {
	case corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn:
		if len(req.Values) == 0 {
			allErrs = append(allErrs, field.Required(valuesPath, "must be specified when `operator` is 'In' or 'NotIn'"))
		}
	case corev1.NodeSelectorOpExists, corev1.NodeSelectorOpDoesNotExist:
		if len(req.Values) > 0 {
			allErrs = append(allErrs, field.Forbidden(valuesPath, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
		}
	case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
		if len(req.Values) != 1 {
			allErrs = append(allErrs, field.Required(valuesPath, "must be specified single value when `operator` is 'Lt' or 'Gt'"))
		} else if _, err := strconv.ParseInt(req.Values[0], 10, 64); err != nil {
			allErrs = append(allErrs, field.Invalid(valuesPath.Index(0), req.Values[0], "must be an integer"))
		}
	default:
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("operator"), req.Operator, supportedNodeSelectorOps))
	}
	allErrs = append(allErrs, metav1validation.ValidateLabelName(req.Key, fldPath.Child("key"))...)
	for i, v := range req.Values {
		if req.Operator == corev1.NodeSelectorOpIn || req.Operator == corev1.NodeSelectorOpNotIn {
			allErrs = append(allErrs, invalidMsgs(valuesPath.Index(i), v, utilvalidation.IsValidLabelValue(v))...)
		}
	}
	return allErrs
}

func validatePodAffinityTerms(required []corev1.PodAffinityTerm, preferred []corev1.WeightedPodAffinityTerm, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	reqPath := fldPath.Child("requiredDuringSchedulingIgnoredDuringExecution")
	for i, term := range required {
		allErrs = append(allErrs, validatePodAffinityTerm(term, reqPath.Index(i))...)
	}
	prefPath := fldPath.Child("preferredDuringSchedulingIgnoredDuringExecution")
	for i, term := range preferred {
		allErrs = append(allErrs, validateWeight(term.Weight, prefPath.Index(i).Child("weight"))...)
		allErrs = append(allErrs, validatePodAffinityTerm(term.PodAffinityTerm, prefPath.Index(i).Child("podAffinityTerm"))...)
	}
	return allErrs
}

func validatePodAffinityTerm(term corev1.PodAffinityTerm, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if term.LabelSelector != nil {
		allErrs = append(allErrs, validateSelector(term.LabelSelector, fldPath.Child("labelSelector"))...)
	}
	if term.NamespaceSelector != nil {
		allErrs = append(allErrs, validateSelector(term.NamespaceSelector, fldPath.Child("namespaceSelector"))...)
	}
	for _, ns := range term.Namespaces {
		allErrs = append(allErrs, validateDNS1123Label(ns, fldPath.Child("namespaces"))...)
	}
	if term.TopologyKey == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("topologyKey"), "can not be empty"))
	} else {
		allErrs = append(allErrs, metav1validation.ValidateLabelName(term.TopologyKey, fldPath.Child("topologyKey"))...)
	}
	return allErrs
}

// validateEphemeralContainers checks containers added for debugging; they
// share the name space of the regular containers.
func validateEphemeralContainers(ecs []corev1.EphemeralContainer, ctrs, initCtrs []corev1.Container, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	names := sets.New[string]()
	for _, c := range ctrs {
		names.Insert(c.Name)
	}
	for _, c := range initCtrs {
		names.Insert(c.Name)
	}
	for i, ec := range ecs {
		idxPath := fldPath.Index(i)
		c := corev1.Container(ec.EphemeralContainerCommon)
		// Ephemeral containers cannot declare volumes of their own, so mounts
		// are checked elsewhere against the pod's volumes.
		if c.Name == "" {
			allErrs = append(allErrs, field.Required(idxPath.Child("name"), ""))
		} else if names.Has(c.Name) {
			allErrs = append(allErrs, field.Duplicate(idxPath.Child("name"), c.Name))
		}
		names.Insert(c.Name)
		if c.Image == "" {
			allErrs = append(allErrs, field.Required(idxPath.Child("image"), ""))
		}
		if len(c.Ports) > 0 {
			allErrs = append(allErrs, field.Forbidden(idxPath.Child("ports"), "cannot be set for an Ephemeral Container"))
		}
	}
	return allErrs
}

// validatePodUpdate allows only the few in-place pod spec changes upstream
// supports; everything else requires recreating the pod.
func validatePodUpdate(pod, old *corev1.Pod) field.ErrorList {
	specPath := field.NewPath("spec")
	var allErrs field.ErrorList
	allErrs = append(allErrs, validateImagesOnlyForPod(&pod.Spec, specPath)...)
	allErrs = append(allErrs, validateContainerImagesPresent(pod.Spec.Containers, specPath.Child("containers"))...)
	allErrs = append(allErrs, validateContainerImagesPresent(pod.Spec.InitContainers, specPath.Child("initContainers"))...)
	allErrs = append(allErrs, validateTolerations(pod.Spec.Tolerations, specPath.Child("tolerations"))...)
	allErrs = append(allErrs, validateOnlyAddedTolerations(pod.Spec.Tolerations, old.Spec.Tolerations, specPath.Child("tolerations"))...)
	if errs := validateActiveDeadlineUpdate(pod.Spec.ActiveDeadlineSeconds, old.Spec.ActiveDeadlineSeconds, specPath.Child("activeDeadlineSeconds")); len(errs) > 0 {
		return append(allErrs, errs...)
	}
	if len(pod.Spec.Containers) != len(old.Spec.Containers) || len(pod.Spec.InitContainers) != len(old.Spec.InitContainers) {
		return append(allErrs, podSpecForbidden(&pod.Spec, &old.Spec, specPath))
	}
	munged := pod.Spec.DeepCopy()
	for i := range munged.Containers {
		munged.Containers[i].Image = old.Spec.Containers[i].Image
	}
	for i := range munged.InitContainers {
		munged.InitContainers[i].Image = old.Spec.InitContainers[i].Image
	}
	munged.ActiveDeadlineSeconds = old.Spec.ActiveDeadlineSeconds
	munged.Tolerations = old.Spec.Tolerations
	if old.Spec.TerminationGracePeriodSeconds != nil && *old.Spec.TerminationGracePeriodSeconds < 0 &&
		munged.TerminationGracePeriodSeconds != nil && *munged.TerminationGracePeriodSeconds == 1 {
		munged.TerminationGracePeriodSeconds = old.Spec.TerminationGracePeriodSeconds
	}
	// Ephemeral containers are changed through their own subresource and
	// scheduling gates may only shrink; neither belongs in this diff.
	munged.EphemeralContainers = old.Spec.EphemeralContainers
	if len(munged.SchedulingGates) <= len(old.Spec.SchedulingGates) {
		munged.SchedulingGates = old.Spec.SchedulingGates
	}
	if !apiequality.Semantic.DeepEqual(munged, &old.Spec) {
		allErrs = append(allErrs, podSpecForbidden(munged, &old.Spec, specPath))
	}
	return allErrs
}

// podSpecForbidden builds the upstream "pod updates may not change" error,
// including a diff so the user can see what they touched.
func podSpecForbidden(newSpec, oldSpec *corev1.PodSpec, specPath *field.Path) *field.Error {
	return field.Forbidden(specPath, fmt.Sprintf("%s\n%v", podUpdateForbiddenMsg, cmp.Diff(oldSpec, newSpec)))
}

func validateContainerImagesPresent(ctrs []corev1.Container, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, c := range ctrs {
		if c.Image == "" {
			allErrs = append(allErrs, field.Required(fldPath.Index(i).Child("image"), ""))
		}
	}
	return allErrs
}

func validateActiveDeadlineUpdate(newVal, oldVal *int64, fldPath *field.Path) field.ErrorList {
	if newVal == nil {
		if oldVal != nil {
			return field.ErrorList{field.Invalid(fldPath, newVal, "must not update from a positive integer to nil value")}
		}
		return nil
	}
	if *newVal < 0 || *newVal > math.MaxInt32 {
		return field.ErrorList{field.Invalid(fldPath, *newVal, utilvalidation.InclusiveRangeError(0, math.MaxInt32))}
	}
	if oldVal != nil && *oldVal < *newVal {
		return field.ErrorList{field.Invalid(fldPath, *newVal, "must be less than or equal to previous value")}
	}
	return nil
}

// validateOnlyAddedTolerations lets users add tolerations or shorten a
// NoExecute tolerationSeconds, but never drop or rewrite existing ones.
func validateOnlyAddedTolerations(newTols, oldTols []corev1.Toleration, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, old := range oldTols {
		found := false
		oldCopy := old
		oldCopy.TolerationSeconds = nil
		for _, nt := range newTols {
			ntCopy := nt
			ntCopy.TolerationSeconds = nil
			if !apiequality.Semantic.DeepEqual(oldCopy, ntCopy) {
				continue
			}
			found = true
			if old.TolerationSeconds == nil {
				break
			}
			if nt.TolerationSeconds == nil || *nt.TolerationSeconds > *old.TolerationSeconds {
				allErrs = append(allErrs, field.Invalid(fldPath, nt, "existing toleration can not be modified except its tolerationSeconds; tolerationSeconds can only be decreased"))
			}
			break
		}
		if !found {
			allErrs = append(allErrs, field.Forbidden(fldPath, "existing toleration can not be modified except its tolerationSeconds"))
		}
	}
	return allErrs
}

// validatePodStatus checks fields the kubelet writes through status.
func validatePodStatus(pod *corev1.Pod) field.ErrorList {
	statusPath := field.NewPath("status")
	var allErrs field.ErrorList
	for i, ip := range pod.Status.PodIPs {
		allErrs = append(allErrs, utilvalidation.IsValidIP(statusPath.Child("podIPs").Index(i).Child("ip"), ip.IP)...)
	}
	if len(pod.Status.PodIPs) > 0 && pod.Status.PodIP != pod.Status.PodIPs[0].IP {
		allErrs = append(allErrs, field.Invalid(statusPath.Child("podIPs").Index(0).Child("ip"), pod.Status.PodIPs[0].IP, "must match podIP"))
	}
	for i, ip := range pod.Status.HostIPs {
		allErrs = append(allErrs, utilvalidation.IsValidIP(statusPath.Child("hostIPs").Index(i).Child("ip"), ip.IP)...)
	}
	return allErrs
}
