package conversion

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func ptr[T any](v T) *T { return &v }

func TestHPARoundTrip(t *testing.T) {
	tests := []struct {
		name string
		in   *autoscalingv2.HorizontalPodAutoscaler
		// wantCPU is the v1 targetCPUUtilizationPercentage.
		wantCPU *int32
	}{
		{
			name: "cpu only",
			in: &autoscalingv2.HorizontalPodAutoscaler{
				ObjectMeta: metav1.ObjectMeta{Name: "h", Namespace: "ns"},
				Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
					ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{Kind: "Deployment", Name: "web", APIVersion: "apps/v1"},
					MinReplicas:    ptr(int32(1)), MaxReplicas: 5,
					Metrics: []autoscalingv2.MetricSpec{cpuUtilization(70)},
				},
			},
			wantCPU: ptr(int32(70)),
		},
		{
			name: "memory, behavior and conditions survive in annotations",
			in: &autoscalingv2.HorizontalPodAutoscaler{
				ObjectMeta: metav1.ObjectMeta{Name: "h", Namespace: "ns", Annotations: map[string]string{"keep": "me"}},
				Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
					ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{Kind: "Deployment", Name: "web"},
					MaxReplicas:    3,
					Metrics: []autoscalingv2.MetricSpec{{
						Type: autoscalingv2.ResourceMetricSourceType,
						Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceMemory,
							Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: ptr(resource.MustParse("100Mi"))}},
					}},
					Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr(int32(60))}},
				},
				Status: autoscalingv2.HorizontalPodAutoscalerStatus{
					CurrentReplicas: 2, DesiredReplicas: 2,
					Conditions: []autoscalingv2.HorizontalPodAutoscalerCondition{{Type: autoscalingv2.AbleToScale, Status: corev1.ConditionTrue}},
				},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v1, err := HPAToV1(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantCPU, v1.Spec.TargetCPUUtilizationPercentage); diff != "" {
				t.Errorf("targetCPUUtilizationPercentage (-want +got):\n%s", diff)
			}
			back, err := HPAFromV1(v1)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.in.DeepCopy()
			want.APIVersion, want.Kind = "autoscaling/v2", "HorizontalPodAutoscaler"
			if diff := cmp.Diff(want, back); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHPAFromV1RejectsBadAnnotation(t *testing.T) {
	v1, _ := HPAToV1(&autoscalingv2.HorizontalPodAutoscaler{})
	v1.Annotations = map[string]string{annotationMetrics: "{not json"}
	if _, err := HPAFromV1(v1); err == nil {
		t.Fatal("want an error for an undecodable annotation")
	}
}

func TestEventRoundTrip(t *testing.T) {
	in := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "e", Namespace: "ns"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "p", Namespace: "ns"},
		Reason:         "Started", Message: "Started container", Type: corev1.EventTypeNormal,
		Source: corev1.EventSource{Component: "kubelet", Host: "n1"}, Count: 2,
		Series:              &corev1.EventSeries{Count: 2},
		ReportingController: "skiff/kubelet", ReportingInstance: "n1",
	}
	ev := EventToEventsV1(in)
	if ev.Note != in.Message || ev.Regarding.Name != "p" || ev.DeprecatedCount != 2 {
		t.Fatalf("events/v1 view wrong: %+v", ev)
	}
	back := EventFromEventsV1(ev)
	want := in.DeepCopy()
	want.APIVersion, want.Kind = "v1", "Event"
	if diff := cmp.Diff(want, back); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}
