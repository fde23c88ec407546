package validation

import (
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/validation/path"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var (
	supportedMetricTypes = []autoscalingv2.MetricSourceType{
		autoscalingv2.ObjectMetricSourceType, autoscalingv2.PodsMetricSourceType, autoscalingv2.ResourceMetricSourceType,
		autoscalingv2.ExternalMetricSourceType, autoscalingv2.ContainerResourceMetricSourceType,
	}
	supportedTargetTypes      = []autoscalingv2.MetricTargetType{autoscalingv2.UtilizationMetricType, autoscalingv2.ValueMetricType, autoscalingv2.AverageValueMetricType}
	supportedSelectPolicies   = []autoscalingv2.ScalingPolicySelect{autoscalingv2.MaxChangePolicySelect, autoscalingv2.MinChangePolicySelect, autoscalingv2.DisabledPolicySelect}
	supportedHPAPolicyTypes   = []autoscalingv2.HPAScalingPolicyType{autoscalingv2.PodsScalingPolicy, autoscalingv2.PercentScalingPolicy}
	supportedEvictionPolicies = []policyv1.UnhealthyPodEvictionPolicyType{policyv1.IfHealthyBudget, policyv1.AlwaysAllow}
)

// maxStabilizationWindowSeconds is one hour, upstream's cap.
const maxStabilizationWindowSeconds = 3600

// validateHPAv1 checks an autoscaling/v1 HPA. Upstream converts it to the
// internal (v2-shaped) form first, so the CPU target is reported at the
// path of the metric it becomes.
func validateHPAv1(hpa *autoscalingv1.HorizontalPodAutoscaler) field.ErrorList {
	specPath := field.NewPath("spec")
	ref := hpa.Spec.ScaleTargetRef
	allErrs := validateScaleTargetRef(ref.Kind, ref.Name, specPath.Child("scaleTargetRef"))
	allErrs = append(allErrs, validateReplicaBounds(hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas, specPath)...)
	if t := hpa.Spec.TargetCPUUtilizationPercentage; t != nil && *t < 1 {
		allErrs = append(allErrs, field.Invalid(specPath.Child("metrics").Index(0).Child("resource", "target", "averageUtilization"), *t, "must be greater than 0"))
	}
	return allErrs
}

func validateHPASpec(spec *autoscalingv2.HorizontalPodAutoscalerSpec, fldPath *field.Path) field.ErrorList {
	ref := spec.ScaleTargetRef
	allErrs := validateScaleTargetRef(ref.Kind, ref.Name, fldPath.Child("scaleTargetRef"))
	allErrs = append(allErrs, validateReplicaBounds(spec.MinReplicas, spec.MaxReplicas, fldPath)...)
	for i := range spec.Metrics {
		allErrs = append(allErrs, validateMetricSpec(&spec.Metrics[i], fldPath.Child("metrics").Index(i))...)
	}
	if b := spec.Behavior; b != nil {
		allErrs = append(allErrs, validateScalingRules(b.ScaleUp, fldPath.Child("behavior", "scaleUp"))...)
		allErrs = append(allErrs, validateScalingRules(b.ScaleDown, fldPath.Child("behavior", "scaleDown"))...)
	}
	return allErrs
}

func validateScaleTargetRef(kind, name string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if kind == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("kind"), ""))
	} else {
		allErrs = append(allErrs, invalidMsgs(fldPath.Child("kind"), kind, path.IsValidPathSegmentName(kind))...)
	}
	if name == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("name"), ""))
	} else {
		allErrs = append(allErrs, invalidMsgs(fldPath.Child("name"), name, path.IsValidPathSegmentName(name))...)
	}
	return allErrs
}

func validateReplicaBounds(minReplicas *int32, maxReplicas int32, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if minReplicas != nil && *minReplicas < 1 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("minReplicas"), *minReplicas, "must be greater than or equal to 1"))
	}
	if maxReplicas < 1 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("maxReplicas"), maxReplicas, "must be greater than 0"))
	}
	if minReplicas != nil && maxReplicas < *minReplicas {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("maxReplicas"), maxReplicas, "must be greater than or equal to `minReplicas`"))
	}
	return allErrs
}

// validateMetricSpec requires the source matching the declared type and
// nothing else.
func validateMetricSpec(m *autoscalingv2.MetricSpec, fldPath *field.Path) field.ErrorList {
	if m.Type == "" {
		return field.ErrorList{field.Required(fldPath.Child("type"), "must specify a metric source type")}
	}
	if !contains(supportedMetricTypes, m.Type) {
		return field.ErrorList{field.NotSupported(fldPath.Child("type"), m.Type, supportedMetricTypes)}
	}
	var allErrs field.ErrorList
	sources := map[autoscalingv2.MetricSourceType]bool{
		autoscalingv2.ObjectMetricSourceType:            m.Object != nil,
		autoscalingv2.PodsMetricSourceType:              m.Pods != nil,
		autoscalingv2.ResourceMetricSourceType:          m.Resource != nil,
		autoscalingv2.ExternalMetricSourceType:          m.External != nil,
		autoscalingv2.ContainerResourceMetricSourceType: m.ContainerResource != nil,
	}
	count := 0
	for _, set := range sources {
		if set {
			count++
		}
	}
	if count != 1 {
		allErrs = append(allErrs, field.Forbidden(fldPath, "must populate the given metric source only"))
	}
	if !sources[m.Type] {
		allErrs = append(allErrs, field.Required(fldPath.Child(metricSourceField(m.Type)), "must populate information for the given metric source"))
		return allErrs
	}
	switch m.Type {
	case autoscalingv2.ResourceMetricSourceType:
		p := fldPath.Child("resource")
		if m.Resource.Name == "" {
			allErrs = append(allErrs, field.Required(p.Child("name"), "must specify a resource name"))
		}
		allErrs = append(allErrs, validateMetricTarget(m.Resource.Target, p.Child("target"))...)
	case autoscalingv2.ContainerResourceMetricSourceType:
		p := fldPath.Child("containerResource")
		if m.ContainerResource.Name == "" {
			allErrs = append(allErrs, field.Required(p.Child("name"), "must specify a resource name"))
		}
		if m.ContainerResource.Container == "" {
			allErrs = append(allErrs, field.Required(p.Child("container"), "must specify a container"))
		} else {
			allErrs = append(allErrs, validateDNS1123Label(m.ContainerResource.Container, p.Child("container"))...)
		}
		allErrs = append(allErrs, validateMetricTarget(m.ContainerResource.Target, p.Child("target"))...)
	case autoscalingv2.PodsMetricSourceType:
		p := fldPath.Child("pods")
		allErrs = append(allErrs, validateMetricIdentifier(m.Pods.Metric, p.Child("metric"))...)
		allErrs = append(allErrs, validateMetricTarget(m.Pods.Target, p.Child("target"))...)
	case autoscalingv2.ObjectMetricSourceType:
		p := fldPath.Child("object")
		allErrs = append(allErrs, validateScaleTargetRef(m.Object.DescribedObject.Kind, m.Object.DescribedObject.Name, p.Child("describedObject"))...)
		allErrs = append(allErrs, validateMetricIdentifier(m.Object.Metric, p.Child("metric"))...)
		allErrs = append(allErrs, validateMetricTarget(m.Object.Target, p.Child("target"))...)
	case autoscalingv2.ExternalMetricSourceType:
		p := fldPath.Child("external")
		allErrs = append(allErrs, validateMetricIdentifier(m.External.Metric, p.Child("metric"))...)
		allErrs = append(allErrs, validateMetricTarget(m.External.Target, p.Child("target"))...)
	}
	return allErrs
}

func metricSourceField(t autoscalingv2.MetricSourceType) string {
	switch t {
	case autoscalingv2.ObjectMetricSourceType:
		return "object"
	case autoscalingv2.PodsMetricSourceType:
		return "pods"
	case autoscalingv2.ResourceMetricSourceType:
		return "resource"
	case autoscalingv2.ExternalMetricSourceType:
		return "external"
	}
	return "containerResource"
}

func validateMetricIdentifier(id autoscalingv2.MetricIdentifier, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if id.Name == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("name"), "must specify a metric name"))
	} else {
		allErrs = append(allErrs, invalidMsgs(fldPath.Child("name"), id.Name, path.IsValidPathSegmentName(id.Name))...)
	}
	if id.Selector != nil {
		allErrs = append(allErrs, validateSelector(id.Selector, fldPath.Child("selector"))...)
	}
	return allErrs
}

func validateMetricTarget(t autoscalingv2.MetricTarget, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if t.Type == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("type"), "must specify a metric target type"))
	} else if !contains(supportedTargetTypes, t.Type) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("type"), t.Type, supportedTargetTypes))
	}
	if t.Value != nil && t.Value.Sign() != 1 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("value"), t.Value.String(), "must be positive"))
	}
	if t.AverageValue != nil && t.AverageValue.Sign() != 1 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("averageValue"), t.AverageValue.String(), "must be positive"))
	}
	if t.AverageUtilization != nil && *t.AverageUtilization < 1 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("averageUtilization"), *t.AverageUtilization, "must be greater than 0"))
	}
	return allErrs
}

func validateScalingRules(rules *autoscalingv2.HPAScalingRules, fldPath *field.Path) field.ErrorList {
	if rules == nil {
		return nil
	}
	var allErrs field.ErrorList
	if w := rules.StabilizationWindowSeconds; w != nil && (*w < 0 || *w > maxStabilizationWindowSeconds) {
		msg := "must be greater than or equal to zero"
		if *w > maxStabilizationWindowSeconds {
			msg = "must be less than or equal to 3600"
		}
		allErrs = append(allErrs, field.Invalid(fldPath.Child("stabilizationWindowSeconds"), *w, msg))
	}
	if rules.SelectPolicy != nil && !contains(supportedSelectPolicies, *rules.SelectPolicy) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("selectPolicy"), *rules.SelectPolicy, supportedSelectPolicies))
	}
	if len(rules.Policies) == 0 && (rules.SelectPolicy == nil || *rules.SelectPolicy != autoscalingv2.DisabledPolicySelect) {
		allErrs = append(allErrs, field.Required(fldPath.Child("policies"), "must specify at least one Policy"))
	}
	for i, p := range rules.Policies {
		pPath := fldPath.Child("policies").Index(i)
		if !contains(supportedHPAPolicyTypes, p.Type) {
			allErrs = append(allErrs, field.NotSupported(pPath.Child("type"), p.Type, supportedHPAPolicyTypes))
		}
		if p.Value <= 0 {
			allErrs = append(allErrs, field.Invalid(pPath.Child("value"), p.Value, "must be greater than zero"))
		}
		if p.PeriodSeconds <= 0 {
			allErrs = append(allErrs, field.Invalid(pPath.Child("periodSeconds"), p.PeriodSeconds, "must be greater than zero"))
		} else if p.PeriodSeconds > 1800 {
			allErrs = append(allErrs, field.Invalid(pPath.Child("periodSeconds"), p.PeriodSeconds, "must be less than or equal to 1800"))
		}
	}
	return allErrs
}

// validatePDBSpec checks a PodDisruptionBudget: exactly one budget style.
func validatePDBSpec(spec *policyv1.PodDisruptionBudgetSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if spec.MinAvailable != nil && spec.MaxUnavailable != nil {
		allErrs = append(allErrs, field.Invalid(fldPath, spec, "minAvailable and maxUnavailable cannot be both set"))
	}
	allErrs = append(allErrs, validatePositiveIntOrPercent(spec.MinAvailable, fldPath.Child("minAvailable"))...)
	allErrs = append(allErrs, notMoreThan100Percent(spec.MinAvailable, fldPath.Child("minAvailable"))...)
	allErrs = append(allErrs, validatePositiveIntOrPercent(spec.MaxUnavailable, fldPath.Child("maxUnavailable"))...)
	allErrs = append(allErrs, notMoreThan100Percent(spec.MaxUnavailable, fldPath.Child("maxUnavailable"))...)
	if spec.Selector != nil {
		allErrs = append(allErrs, validateSelector(spec.Selector, fldPath.Child("selector"))...)
	}
	if p := spec.UnhealthyPodEvictionPolicy; p != nil && !contains(supportedEvictionPolicies, *p) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("unhealthyPodEvictionPolicy"), *p, supportedEvictionPolicies))
	}
	return allErrs
}
