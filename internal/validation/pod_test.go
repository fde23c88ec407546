package validation

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestValidatePodCreate(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(p *corev1.Pod)
		want   []wantErr
	}{
		{name: "valid", mutate: func(*corev1.Pod) {}},
		{name: "no containers", mutate: func(p *corev1.Pod) { p.Spec.Containers = nil },
			want: []wantErr{{"spec.containers", field.ErrorTypeRequired}}},
		{name: "missing image", mutate: func(p *corev1.Pod) { p.Spec.Containers[0].Image = "" },
			want: []wantErr{{"spec.containers[0].image", field.ErrorTypeRequired}}},
		{name: "bad container name", mutate: func(p *corev1.Pod) { p.Spec.Containers[0].Name = "Bad_Name" },
			want: []wantErr{{"spec.containers[0].name", field.ErrorTypeInvalid}}},
		{name: "duplicate container across init", mutate: func(p *corev1.Pod) {
			c := p.Spec.Containers[0]
			p.Spec.InitContainers = []corev1.Container{c}
		}, want: []wantErr{{"spec.containers[0].name", field.ErrorTypeDuplicate}}},
		{name: "container port out of range", mutate: func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 70000, Protocol: corev1.ProtocolTCP}}
		}, want: []wantErr{{"spec.containers[0].ports[0].containerPort", field.ErrorTypeInvalid}}},
		{name: "bad protocol and duplicate port name", mutate: func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{
				{Name: "http", ContainerPort: 80, Protocol: "HTTP"},
				{Name: "http", ContainerPort: 81, Protocol: corev1.ProtocolTCP},
			}
		}, want: []wantErr{{"spec.containers[0].ports[0].protocol", field.ErrorTypeNotSupported}, {"spec.containers[0].ports[1].name", field.ErrorTypeDuplicate}}},
		{name: "env without name", mutate: func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Value: "x"}}
		}, want: []wantErr{{"spec.containers[0].env[0].name", field.ErrorTypeRequired}}},
		{name: "volume without source and duplicate", mutate: func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{
				{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "data"},
			}
		}, want: []wantErr{{"spec.volumes[1].name", field.ErrorTypeDuplicate}, {"spec.volumes[1]", field.ErrorTypeRequired}}},
		{name: "two volume sources", mutate: func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
				EmptyDir: &corev1.EmptyDirVolumeSource{}, HostPath: &corev1.HostPathVolumeSource{Path: "/x"}}}}
		}, want: []wantErr{{"spec.volumes[0].emptyDir", field.ErrorTypeForbidden}}},
		{name: "mount of unknown volume", mutate: func(p *corev1.Pod) {
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "nope", MountPath: "/data"}}
		}, want: []wantErr{{"spec.containers[0].volumeMounts[0].name", field.ErrorTypeNotFound}}},
		{name: "request above limit", mutate: func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources = corev1.ResourceRequirements{
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")},
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m")},
			}
		}, want: []wantErr{{"spec.containers[0].resources.requests[cpu]", field.ErrorTypeInvalid}}},
		{name: "negative memory and unknown resource", mutate: func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{
				corev1.ResourceMemory: resource.MustParse("-1"), "gpu": resource.MustParse("1")}
		}, want: []wantErr{{"spec.containers[0].resources.limits[memory]", field.ErrorTypeInvalid}, {"spec.containers[0].resources.limits[gpu]", field.ErrorTypeInvalid}}},
		{name: "bad restart policy", mutate: func(p *corev1.Pod) { p.Spec.RestartPolicy = "Sometimes" },
			want: []wantErr{{"spec.restartPolicy", field.ErrorTypeNotSupported}}},
		{name: "bad dns policy", mutate: func(p *corev1.Pod) { p.Spec.DNSPolicy = "Google" },
			want: []wantErr{{"spec.dnsPolicy", field.ErrorTypeNotSupported}}},
		{name: "probe without handler", mutate: func(p *corev1.Pod) {
			p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{PeriodSeconds: 10, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 3}
		}, want: []wantErr{{"spec.containers[0].readinessProbe", field.ErrorTypeRequired}}},
		{name: "probe with two handlers", mutate: func(p *corev1.Pod) {
			p.Spec.Containers[0].LivenessProbe = &corev1.Probe{
				ProbeHandler: corev1.ProbeHandler{
					Exec:      &corev1.ExecAction{Command: []string{"true"}},
					TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(80)},
				},
				PeriodSeconds: 10, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 3,
			}
		}, want: []wantErr{{"spec.containers[0].livenessProbe.tcpSocket", field.ErrorTypeForbidden}}},
		{name: "bad nodeSelector", mutate: func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"a": "b c"} },
			want: []wantErr{{"spec.nodeSelector", field.ErrorTypeInvalid}}},
		{name: "toleration exists with value", mutate: func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists, Value: "v"}}
		}, want: []wantErr{{"spec.tolerations[0].operator", field.ErrorTypeInvalid}}},
		{name: "toleration bad effect", mutate: func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpEqual, Value: "v", Effect: "Never"}}
		}, want: []wantErr{{"spec.tolerations[0].effect", field.ErrorTypeNotSupported}}},
		{name: "node affinity without terms", mutate: func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{}}}
		}, want: []wantErr{{"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms", field.ErrorTypeRequired}}},
		{name: "pod anti affinity without topology key", mutate: func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{}}}}
		}, want: []wantErr{{"spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey", field.ErrorTypeRequired}}},
		{name: "activeDeadlineSeconds zero", mutate: func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr(int64(0)) },
			want: []wantErr{{"spec.activeDeadlineSeconds", field.ErrorTypeInvalid}}},
		{name: "configmap env ref without key", mutate: func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{
				ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}}}}}
		}, want: []wantErr{{"spec.containers[0].env[0].valueFrom.configMapKeyRef.key", field.ErrorTypeRequired}}},
		{name: "missing namespace", mutate: func(p *corev1.Pod) { p.Namespace = "" },
			want: []wantErr{{"metadata.namespace", field.ErrorTypeRequired}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := validPod()
			tc.mutate(p)
			assertErrs(t, ValidateCreate(p, true), tc.want...)
		})
	}
}

func TestValidatePodUpdate(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(p *corev1.Pod)
		want   []wantErr
	}{
		{name: "image change allowed", mutate: func(p *corev1.Pod) { p.Spec.Containers[0].Image = "nginx:2" }},
		{name: "label change allowed", mutate: func(p *corev1.Pod) { p.Labels = map[string]string{"a": "b"} }},
		{name: "added toleration allowed", mutate: func(p *corev1.Pod) {
			p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Operator: corev1.TolerationOpExists})
		}},
		{name: "port change forbidden", mutate: func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, Protocol: corev1.ProtocolTCP}}
		}, want: []wantErr{{"spec", field.ErrorTypeForbidden}}},
		{name: "removed toleration forbidden", mutate: func(p *corev1.Pod) { p.Spec.Tolerations = nil },
			want: []wantErr{{"spec.tolerations", field.ErrorTypeForbidden}}},
		{name: "activeDeadlineSeconds increase", mutate: func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr(int64(100)) },
			want: []wantErr{{"spec.activeDeadlineSeconds", field.ErrorTypeInvalid}}},
		{name: "name change", mutate: func(p *corev1.Pod) { p.Name = "other" },
			want: []wantErr{{"metadata.name", field.ErrorTypeInvalid}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			old := validPod()
			old.ResourceVersion = "1"
			old.Spec.ActiveDeadlineSeconds = ptr(int64(50))
			old.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpEqual, Value: "v"}}
			p := old.DeepCopy()
			tc.mutate(p)
			assertErrs(t, ValidateUpdate(p, old, true), tc.want...)
		})
	}
}

func TestPodUpdateMessage(t *testing.T) {
	old := validPod()
	old.ResourceVersion = "1"
	p := old.DeepCopy()
	p.Spec.RestartPolicy = corev1.RestartPolicyNever
	errs := ValidateUpdate(p, old, true)
	if len(errs) != 1 || !strings.HasPrefix(errs[0].Detail, "pod updates may not change fields other than `spec.containers[*].image`") {
		t.Fatalf("unexpected errors: %v", errs)
	}
}

func TestValidatePodStatusUpdate(t *testing.T) {
	old := validPod()
	old.ResourceVersion = "1"
	p := old.DeepCopy()
	p.Status.PodIP = "10.0.0.1"
	p.Status.PodIPs = []corev1.PodIP{{IP: "10.0.0.1"}}
	assertErrs(t, ValidateStatusUpdate(p, old, true))
	p.Status.PodIPs = []corev1.PodIP{{IP: "nope"}}
	p.Status.PodIP = "nope"
	assertErrs(t, ValidateStatusUpdate(p, old, true), wantErr{"status.podIPs[0].ip", field.ErrorTypeInvalid})
}
