package conversion

import (
	"encoding/json"
	"fmt"
	"maps"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
)

// HPAToV1 returns the autoscaling/v1 view of a stored v2 HPA. The CPU
// utilization target maps to targetCPUUtilizationPercentage; other metrics,
// the behavior and the conditions travel in annotations.
func HPAToV1(in *autoscalingv2.HorizontalPodAutoscaler) (*autoscalingv1.HorizontalPodAutoscaler, error) {
	out := &autoscalingv1.HorizontalPodAutoscaler{ObjectMeta: *in.ObjectMeta.DeepCopy()}
	out.APIVersion, out.Kind = autoscalingv1.SchemeGroupVersion.String(), "HorizontalPodAutoscaler"
	out.Spec = autoscalingv1.HorizontalPodAutoscalerSpec{
		ScaleTargetRef: autoscalingv1.CrossVersionObjectReference(in.Spec.ScaleTargetRef),
		MinReplicas:    in.Spec.MinReplicas,
		MaxReplicas:    in.Spec.MaxReplicas,
	}
	var other []autoscalingv2.MetricSpec
	for _, m := range in.Spec.Metrics {
		if out.Spec.TargetCPUUtilizationPercentage == nil && isCPUUtilization(m) {
			out.Spec.TargetCPUUtilizationPercentage = m.Resource.Target.AverageUtilization
			continue
		}
		other = append(other, m)
	}
	out.Status = autoscalingv1.HorizontalPodAutoscalerStatus{
		ObservedGeneration: in.Status.ObservedGeneration,
		LastScaleTime:      in.Status.LastScaleTime,
		CurrentReplicas:    in.Status.CurrentReplicas,
		DesiredReplicas:    in.Status.DesiredReplicas,
	}
	var otherCurrent []autoscalingv2.MetricStatus
	for _, m := range in.Status.CurrentMetrics {
		if out.Status.CurrentCPUUtilizationPercentage == nil && m.Type == autoscalingv2.ResourceMetricSourceType &&
			m.Resource != nil && m.Resource.Name == corev1.ResourceCPU && m.Resource.Current.AverageUtilization != nil {
			out.Status.CurrentCPUUtilizationPercentage = m.Resource.Current.AverageUtilization
			continue
		}
		otherCurrent = append(otherCurrent, m)
	}
	for key, v := range map[string]any{
		annotationMetrics:        nilIfEmpty(other),
		annotationCurrentMetrics: nilIfEmpty(otherCurrent),
		annotationConditions:     nilIfEmpty(in.Status.Conditions),
		annotationBehavior:       in.Spec.Behavior,
	} {
		if err := setJSONAnnotation(&out.ObjectMeta.Annotations, key, v); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// HPAFromV1 returns the stored v2 form of an autoscaling/v1 HPA, taking back
// what HPAToV1 put in annotations.
func HPAFromV1(in *autoscalingv1.HorizontalPodAutoscaler) (*autoscalingv2.HorizontalPodAutoscaler, error) {
	out := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: *in.ObjectMeta.DeepCopy()}
	out.APIVersion, out.Kind = autoscalingv2.SchemeGroupVersion.String(), "HorizontalPodAutoscaler"
	out.Annotations = maps.Clone(in.Annotations)
	out.Spec = autoscalingv2.HorizontalPodAutoscalerSpec{
		ScaleTargetRef: autoscalingv2.CrossVersionObjectReference(in.Spec.ScaleTargetRef),
		MinReplicas:    in.Spec.MinReplicas,
		MaxReplicas:    in.Spec.MaxReplicas,
	}
	if p := in.Spec.TargetCPUUtilizationPercentage; p != nil {
		out.Spec.Metrics = append(out.Spec.Metrics, cpuUtilization(*p))
	}
	var other []autoscalingv2.MetricSpec
	if err := takeJSONAnnotation(out.Annotations, annotationMetrics, &other); err != nil {
		return nil, err
	}
	out.Spec.Metrics = append(out.Spec.Metrics, other...)
	if err := takeJSONAnnotation(out.Annotations, annotationBehavior, &out.Spec.Behavior); err != nil {
		return nil, err
	}
	out.Status = autoscalingv2.HorizontalPodAutoscalerStatus{
		ObservedGeneration: in.Status.ObservedGeneration,
		LastScaleTime:      in.Status.LastScaleTime,
		CurrentReplicas:    in.Status.CurrentReplicas,
		DesiredReplicas:    in.Status.DesiredReplicas,
	}
	if p := in.Status.CurrentCPUUtilizationPercentage; p != nil {
		out.Status.CurrentMetrics = append(out.Status.CurrentMetrics, autoscalingv2.MetricStatus{
			Type: autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricStatus{
				Name: corev1.ResourceCPU, Current: autoscalingv2.MetricValueStatus{AverageUtilization: p},
			},
		})
	}
	var current []autoscalingv2.MetricStatus
	if err := takeJSONAnnotation(out.Annotations, annotationCurrentMetrics, &current); err != nil {
		return nil, err
	}
	out.Status.CurrentMetrics = append(out.Status.CurrentMetrics, current...)
	if err := takeJSONAnnotation(out.Annotations, annotationConditions, &out.Status.Conditions); err != nil {
		return nil, err
	}
	if len(out.Annotations) == 0 {
		out.Annotations = nil
	}
	return out, nil
}

func isCPUUtilization(m autoscalingv2.MetricSpec) bool {
	return m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil &&
		m.Resource.Name == corev1.ResourceCPU &&
		m.Resource.Target.Type == autoscalingv2.UtilizationMetricType && m.Resource.Target.AverageUtilization != nil
}

func cpuUtilization(p int32) autoscalingv2.MetricSpec {
	return autoscalingv2.MetricSpec{
		Type: autoscalingv2.ResourceMetricSourceType,
		Resource: &autoscalingv2.ResourceMetricSource{
			Name:   corev1.ResourceCPU,
			Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &p},
		},
	}
}

func nilIfEmpty[T any](s []T) any {
	if len(s) == 0 {
		return nil
	}
	return s
}

func setJSONAnnotation(annotations *map[string]string, key string, v any) error {
	if v == nil {
		return nil
	}
	if b, ok := v.(*autoscalingv2.HorizontalPodAutoscalerBehavior); ok && b == nil {
		return nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode annotation %s: %w", key, err)
	}
	if *annotations == nil {
		*annotations = map[string]string{}
	}
	(*annotations)[key] = string(raw)
	return nil
}

// takeJSONAnnotation decodes and removes an annotation, if present.
func takeJSONAnnotation(annotations map[string]string, key string, into any) error {
	raw, ok := annotations[key]
	if !ok {
		return nil
	}
	delete(annotations, key)
	if err := json.Unmarshal([]byte(raw), into); err != nil {
		return fmt.Errorf("annotation %s: %w", key, err)
	}
	return nil
}
