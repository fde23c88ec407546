package defaulting

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func resources(kv ...string) corev1.ResourceList {
	list := corev1.ResourceList{}
	for i := 0; i+1 < len(kv); i += 2 {
		list[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return list
}

func TestPodQOSClass(t *testing.T) {
	container := func(req, lim corev1.ResourceList) corev1.Container {
		return corev1.Container{Name: "c", Resources: corev1.ResourceRequirements{Requests: req, Limits: lim}}
	}
	tests := []struct {
		name       string
		containers []corev1.Container
		init       []corev1.Container
		podLevel   *corev1.ResourceRequirements
		want       corev1.PodQOSClass
	}{
		{name: "no resources", containers: []corev1.Container{container(nil, nil)}, want: corev1.PodQOSBestEffort},
		{name: "only non-compute resources", containers: []corev1.Container{container(resources("ephemeral-storage", "1Gi"), nil)}, want: corev1.PodQOSBestEffort},
		{name: "zero requests count as none", containers: []corev1.Container{container(resources("cpu", "0"), nil)}, want: corev1.PodQOSBestEffort},
		{name: "requests only", containers: []corev1.Container{container(resources("cpu", "100m"), nil)}, want: corev1.PodQOSBurstable},
		{
			name:       "equal requests and limits",
			containers: []corev1.Container{container(resources("cpu", "1", "memory", "1Gi"), resources("cpu", "1000m", "memory", "1Gi"))},
			want:       corev1.PodQOSGuaranteed,
		},
		{
			name:       "limit below request",
			containers: []corev1.Container{container(resources("cpu", "2", "memory", "1Gi"), resources("cpu", "1", "memory", "1Gi"))},
			want:       corev1.PodQOSBurstable,
		},
		{
			name:       "memory limit missing",
			containers: []corev1.Container{container(resources("cpu", "1"), resources("cpu", "1"))},
			want:       corev1.PodQOSBurstable,
		},
		{
			name: "one container of two unbounded",
			containers: []corev1.Container{
				container(resources("cpu", "1", "memory", "1Gi"), resources("cpu", "1", "memory", "1Gi")),
				container(nil, nil),
			},
			want: corev1.PodQOSBurstable,
		},
		{
			name:       "init container counts",
			containers: []corev1.Container{container(resources("cpu", "1", "memory", "1Gi"), resources("cpu", "1", "memory", "1Gi"))},
			init:       []corev1.Container{container(resources("cpu", "1"), nil)},
			want:       corev1.PodQOSBurstable,
		},
		{
			name:       "pod-level resources take precedence",
			containers: []corev1.Container{container(nil, nil)},
			podLevel:   &corev1.ResourceRequirements{Requests: resources("cpu", "1", "memory", "1Gi"), Limits: resources("cpu", "1", "memory", "1Gi")},
			want:       corev1.PodQOSGuaranteed,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: tc.containers, InitContainers: tc.init, Resources: tc.podLevel}}
			if got := PodQOSClass(pod); got != tc.want {
				t.Errorf("PodQOSClass = %s, want %s", got, tc.want)
			}
		})
	}
}
