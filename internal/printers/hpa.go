package printers

import (
	"fmt"
	"strings"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

const (
	// hpaMetricsLimit is how many targets the TARGETS cell lists in full.
	hpaMetricsLimit = 2
	// defaultCPUUtilization is what upstream defaults an autoscaling/v1 HPA
	// without targetCPUUtilizationPercentage to.
	defaultCPUUtilization = 80
)

func hpaColumns() []metav1.TableColumnDefinition {
	spec := autoscalingv2.HorizontalPodAutoscalerSpec{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameColumn(),
		col("Reference", "string", spec["scaleTargetRef"]),
		col("Targets", "string", spec["metrics"]),
		col("MinPods", "string", spec["minReplicas"]),
		col("MaxPods", "string", spec["maxReplicas"]),
		col("Replicas", "string", autoscalingv2.HorizontalPodAutoscalerStatus{}.SwaggerDoc()["currentReplicas"]),
		ageColumn(),
	}
}

// hpaCells accepts both autoscaling/v1 and autoscaling/v2 objects, which
// share one GroupKind and one set of columns.
func (p *Printer) hpaCells(obj runtime.Object) ([]interface{}, error) {
	switch hpa := obj.(type) {
	case *autoscalingv2.HorizontalPodAutoscaler:
		return p.hpaRow(hpa.ObjectMeta, hpa.Spec.ScaleTargetRef.Kind, hpa.Spec.ScaleTargetRef.Name,
			hpa.Spec.Metrics, hpa.Status.CurrentMetrics, hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas, hpa.Status.CurrentReplicas), nil
	case *autoscalingv1.HorizontalPodAutoscaler:
		specs, statuses := v1CPUMetrics(hpa)
		return p.hpaRow(hpa.ObjectMeta, hpa.Spec.ScaleTargetRef.Kind, hpa.Spec.ScaleTargetRef.Name,
			specs, statuses, hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas, hpa.Status.CurrentReplicas), nil
	}
	return nil, fmt.Errorf("expected an autoscaling/v1 or v2 HorizontalPodAutoscaler, got %T", obj)
}

func (p *Printer) hpaRow(om metav1.ObjectMeta, refKind, refName string, specs []autoscalingv2.MetricSpec,
	statuses []autoscalingv2.MetricStatus, minReplicas *int32, maxReplicas, current int32) []interface{} {
	minPods := unset
	if minReplicas != nil {
		minPods = fmt.Sprintf("%d", *minReplicas)
	}
	return []interface{}{
		om.Name,
		refKind + "/" + refName,
		formatHPAMetrics(specs, statuses),
		minPods,
		int64(maxReplicas),
		int64(current),
		p.since(om.CreationTimestamp),
	}
}

// v1CPUMetrics expresses the v1 CPU target/current pair as v2 metrics, the
// same way upstream converts autoscaling/v1 to its internal type.
func v1CPUMetrics(hpa *autoscalingv1.HorizontalPodAutoscaler) ([]autoscalingv2.MetricSpec, []autoscalingv2.MetricStatus) {
	target := int32Or(hpa.Spec.TargetCPUUtilizationPercentage, defaultCPUUtilization)
	specs := []autoscalingv2.MetricSpec{{
		Type: autoscalingv2.ResourceMetricSourceType,
		Resource: &autoscalingv2.ResourceMetricSource{
			Name:   corev1.ResourceCPU,
			Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &target},
		},
	}}
	var statuses []autoscalingv2.MetricStatus
	if cur := hpa.Status.CurrentCPUUtilizationPercentage; cur != nil {
		statuses = []autoscalingv2.MetricStatus{{
			Type: autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricStatus{
				Name:    corev1.ResourceCPU,
				Current: autoscalingv2.MetricValueStatus{AverageUtilization: cur},
			},
		}}
	}
	return specs, statuses
}

// formatHPAMetrics renders "current/target" per metric, matching status
// entries to spec entries by index as upstream does.
func formatHPAMetrics(specs []autoscalingv2.MetricSpec, statuses []autoscalingv2.MetricStatus) string {
	if len(specs) == 0 {
		return none
	}
	list := make([]string, 0, len(specs))
	for i, spec := range specs {
		var st *autoscalingv2.MetricStatus
		if i < len(statuses) {
			st = &statuses[i]
		}
		list = append(list, formatHPAMetric(spec, st))
	}
	if len(list) <= hpaMetricsLimit {
		return strings.Join(list, ", ")
	}
	return fmt.Sprintf("%s + %d more...", strings.Join(list[:hpaMetricsLimit], ", "), len(list)-hpaMetricsLimit)
}

func formatHPAMetric(spec autoscalingv2.MetricSpec, st *autoscalingv2.MetricStatus) string {
	switch {
	case spec.Type == autoscalingv2.ExternalMetricSourceType && spec.External != nil:
		var cur *autoscalingv2.MetricValueStatus
		if st != nil && st.External != nil {
			cur = &st.External.Current
		}
		return valueOrAverage(cur, spec.External.Target)
	case spec.Type == autoscalingv2.ObjectMetricSourceType && spec.Object != nil:
		var cur *autoscalingv2.MetricValueStatus
		if st != nil && st.Object != nil {
			cur = &st.Object.Current
		}
		return valueOrAverage(cur, spec.Object.Target)
	case spec.Type == autoscalingv2.PodsMetricSourceType && spec.Pods != nil:
		current := unknown
		if st != nil && st.Pods != nil {
			current = quantityString(st.Pods.Current.AverageValue)
		}
		return current + "/" + quantityString(spec.Pods.Target.AverageValue)
	case spec.Type == autoscalingv2.ResourceMetricSourceType && spec.Resource != nil:
		var cur *autoscalingv2.MetricValueStatus
		if st != nil && st.Resource != nil {
			cur = &st.Resource.Current
		}
		return string(spec.Resource.Name) + ": " + resourceTarget(cur, spec.Resource.Target)
	case spec.Type == autoscalingv2.ContainerResourceMetricSourceType && spec.ContainerResource != nil:
		var cur *autoscalingv2.MetricValueStatus
		if st != nil && st.ContainerResource != nil {
			cur = &st.ContainerResource.Current
		}
		return string(spec.ContainerResource.Name) + ": " + resourceTarget(cur, spec.ContainerResource.Target)
	}
	return "<unknown type>"
}

// valueOrAverage formats object/external metrics, marking average-value
// targets with "(avg)".
func valueOrAverage(cur *autoscalingv2.MetricValueStatus, target autoscalingv2.MetricTarget) string {
	current := unknown
	if target.AverageValue != nil {
		if cur != nil && cur.AverageValue != nil {
			current = cur.AverageValue.String()
		}
		return fmt.Sprintf("%s/%s (avg)", current, target.AverageValue.String())
	}
	if cur != nil {
		current = quantityString(cur.Value)
	}
	return current + "/" + quantityString(target.Value)
}

// resourceTarget formats resource metrics either as quantities or as
// utilization percentages.
func resourceTarget(cur *autoscalingv2.MetricValueStatus, target autoscalingv2.MetricTarget) string {
	current := unknown
	if target.AverageValue != nil {
		if cur != nil {
			current = quantityString(cur.AverageValue)
		}
		return current + "/" + target.AverageValue.String()
	}
	if cur != nil && cur.AverageUtilization != nil {
		current = fmt.Sprintf("%d%%", *cur.AverageUtilization)
	}
	want := "<auto>"
	if target.AverageUtilization != nil {
		want = fmt.Sprintf("%d%%", *target.AverageUtilization)
	}
	return current + "/" + want
}
