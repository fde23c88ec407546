package validation

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestValidateDeployment(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(d *appsv1.Deployment)
		want   []wantErr
	}{
		{name: "valid", mutate: func(*appsv1.Deployment) {}},
		{name: "no selector", mutate: func(d *appsv1.Deployment) { d.Spec.Selector = nil },
			want: []wantErr{{"spec.selector", field.ErrorTypeRequired}}},
		{name: "empty selector", mutate: func(d *appsv1.Deployment) { d.Spec.Selector = &metav1.LabelSelector{} },
			want: []wantErr{{"spec.selector", field.ErrorTypeInvalid}}},
		{name: "selector mismatch", mutate: func(d *appsv1.Deployment) { d.Spec.Template.Labels = map[string]string{"app": "other"} },
			want: []wantErr{{"spec.template.metadata.labels", field.ErrorTypeInvalid}}},
		{name: "negative replicas", mutate: func(d *appsv1.Deployment) { d.Spec.Replicas = ptr(int32(-1)) },
			want: []wantErr{{"spec.replicas", field.ErrorTypeInvalid}}},
		{name: "restart policy never", mutate: func(d *appsv1.Deployment) { d.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever },
			want: []wantErr{{"spec.template.spec.restartPolicy", field.ErrorTypeNotSupported}}},
		{name: "missing image in template", mutate: func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "" },
			want: []wantErr{{"spec.template.spec.containers[0].image", field.ErrorTypeRequired}}},
		{name: "both zero", mutate: func(d *appsv1.Deployment) {
			d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxUnavailable: ptr(intstr.FromInt32(0)), MaxSurge: ptr(intstr.FromString("0%"))}
		}, want: []wantErr{{"spec.strategy.rollingUpdate.maxUnavailable", field.ErrorTypeInvalid}}},
		{name: "over 100 percent", mutate: func(d *appsv1.Deployment) {
			d.Spec.Strategy.RollingUpdate.MaxUnavailable = ptr(intstr.FromString("110%"))
		}, want: []wantErr{{"spec.strategy.rollingUpdate.maxUnavailable", field.ErrorTypeInvalid}}},
		{name: "recreate with rolling params", mutate: func(d *appsv1.Deployment) { d.Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType },
			want: []wantErr{{"spec.strategy.rollingUpdate", field.ErrorTypeForbidden}}},
		{name: "progress deadline not above minReady", mutate: func(d *appsv1.Deployment) { d.Spec.MinReadySeconds = 600 },
			want: []wantErr{{"spec.progressDeadlineSeconds", field.ErrorTypeInvalid}}},
		{name: "negative revisionHistoryLimit", mutate: func(d *appsv1.Deployment) { d.Spec.RevisionHistoryLimit = ptr(int32(-1)) },
			want: []wantErr{{"spec.revisionHistoryLimit", field.ErrorTypeInvalid}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := validDeployment()
			tc.mutate(d)
			assertErrs(t, ValidateCreate(d, true), tc.want...)
		})
	}
	t.Run("mismatch message", func(t *testing.T) {
		d := validDeployment()
		d.Spec.Template.Labels = nil
		if msg := ValidateCreate(d, true).ToAggregate().Error(); !strings.Contains(msg, "`selector` does not match template `labels`") {
			t.Fatalf("unexpected message %q", msg)
		}
	})
}

func TestValidateDeploymentUpdate(t *testing.T) {
	old := validDeployment()
	old.ResourceVersion = "1"
	d := old.DeepCopy()
	d.Spec.Replicas = ptr(int32(5))
	assertErrs(t, ValidateUpdate(d, old, true))
	d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "tier": "x"}}
	d.Spec.Template.Labels = map[string]string{"app": "web", "tier": "x"}
	assertErrs(t, ValidateUpdate(d, old, true), wantErr{"spec.selector", field.ErrorTypeInvalid})
	d = old.DeepCopy()
	d.ResourceVersion = ""
	assertErrs(t, ValidateUpdate(d, old, true), wantErr{"metadata.resourceVersion", field.ErrorTypeInvalid})
}

func validStatefulSet() *appsv1.StatefulSet {
	d := validDeployment()
	return &appsv1.StatefulSet{
		ObjectMeta: d.ObjectMeta,
		Spec: appsv1.StatefulSetSpec{
			Replicas: ptr(int32(1)), Selector: d.Spec.Selector, Template: d.Spec.Template, ServiceName: "web",
			PodManagementPolicy: appsv1.OrderedReadyPodManagement,
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr(int32(0))}},
			RevisionHistoryLimit: ptr(int32(10)),
		},
	}
}

func validDaemonSet() *appsv1.DaemonSet {
	d := validDeployment()
	return &appsv1.DaemonSet{
		ObjectMeta: d.ObjectMeta,
		Spec: appsv1.DaemonSetSpec{
			Selector: d.Spec.Selector, Template: d.Spec.Template, RevisionHistoryLimit: ptr(int32(10)),
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: ptr(intstr.FromInt32(1)), MaxSurge: ptr(intstr.FromInt32(0))}},
		},
	}
}

func TestValidateWorkloads(t *testing.T) {
	rs := &appsv1.ReplicaSet{ObjectMeta: validDeployment().ObjectMeta, Spec: appsv1.ReplicaSetSpec{
		Replicas: ptr(int32(1)), Selector: validDeployment().Spec.Selector, Template: validDeployment().Spec.Template}}
	badRS := rs.DeepCopy()
	badRS.Spec.Template.Spec.ActiveDeadlineSeconds = ptr(int64(5))
	ss := validStatefulSet()
	badSS := validStatefulSet()
	badSS.Spec.PodManagementPolicy = "Random"
	ds := validDaemonSet()
	badDS := validDaemonSet()
	badDS.Spec.Template.Labels = map[string]string{"x": "y"}
	rc := &corev1.ReplicationController{ObjectMeta: rs.ObjectMeta, Spec: corev1.ReplicationControllerSpec{
		Replicas: ptr(int32(1)), Selector: map[string]string{"app": "web"}, Template: &rs.Spec.Template}}
	badRC := rc.DeepCopy()
	badRC.Spec.Template = nil
	cases := []struct {
		name string
		obj  runtime.Object
		want []wantErr
	}{
		{"replicaset valid", rs, nil},
		{"replicaset activeDeadline", badRS, []wantErr{{"spec.template.spec.activeDeadlineSeconds", field.ErrorTypeForbidden}}},
		{"statefulset valid", ss, nil},
		{"statefulset bad policy", badSS, []wantErr{{"spec.podManagementPolicy", field.ErrorTypeNotSupported}}},
		{"daemonset valid", ds, nil},
		{"daemonset mismatch", badDS, []wantErr{{"spec.template.metadata.labels", field.ErrorTypeInvalid}}},
		{"rc valid", rc, nil},
		{"rc no template", badRC, []wantErr{{"spec.template", field.ErrorTypeRequired}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { assertErrs(t, ValidateCreate(tc.obj, true), tc.want...) })
	}
}

func TestValidateStatefulSetUpdate(t *testing.T) {
	old := validStatefulSet()
	old.ResourceVersion = "1"
	ss := old.DeepCopy()
	ss.Spec.Replicas = ptr(int32(3))
	ss.Spec.Template.Spec.Containers[0].Image = "nginx:2"
	assertErrs(t, ValidateUpdate(ss, old, true))
	ss.Spec.ServiceName = "other"
	assertErrs(t, ValidateUpdate(ss, old, true), wantErr{"spec", field.ErrorTypeForbidden})
}

func TestValidateService(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(s *corev1.Service)
		want   []wantErr
	}{
		{name: "valid", mutate: func(*corev1.Service) {}},
		{name: "bad name", mutate: func(s *corev1.Service) { s.Name = "1web" },
			want: []wantErr{{"metadata.name", field.ErrorTypeInvalid}}},
		{name: "no ports", mutate: func(s *corev1.Service) { s.Spec.Ports = nil },
			want: []wantErr{{"spec.ports", field.ErrorTypeRequired}}},
		{name: "headless without ports", mutate: func(s *corev1.Service) { s.Spec.Ports = nil; s.Spec.ClusterIP = "None" }},
		{name: "port out of range", mutate: func(s *corev1.Service) { s.Spec.Ports[0].Port = 0 },
			want: []wantErr{{"spec.ports[0].port", field.ErrorTypeInvalid}}},
		{name: "unnamed ports", mutate: func(s *corev1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Port: 443, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(443)})
		}, want: []wantErr{{"spec.ports[0].name", field.ErrorTypeRequired}, {"spec.ports[1].name", field.ErrorTypeRequired}}},
		{name: "duplicate port names", mutate: func(s *corev1.Service) {
			s.Spec.Ports[0].Name = "http"
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "http", Port: 443, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(443)})
		}, want: []wantErr{{"spec.ports[1].name", field.ErrorTypeDuplicate}}},
		{name: "bad target port name", mutate: func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromString("Not_Valid") },
			want: []wantErr{{"spec.ports[0].targetPort", field.ErrorTypeInvalid}}},
		{name: "bad type", mutate: func(s *corev1.Service) { s.Spec.Type = "Magic" },
			want: []wantErr{{"spec.type", field.ErrorTypeNotSupported}}},
		{name: "nodePort on ClusterIP", mutate: func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 30000 },
			want: []wantErr{{"spec.ports[0].nodePort", field.ErrorTypeForbidden}}},
		{name: "bad protocol", mutate: func(s *corev1.Service) { s.Spec.Ports[0].Protocol = "ICMP" },
			want: []wantErr{{"spec.ports[0].protocol", field.ErrorTypeNotSupported}}},
		{name: "bad session affinity", mutate: func(s *corev1.Service) { s.Spec.SessionAffinity = "Sticky" },
			want: []wantErr{{"spec.sessionAffinity", field.ErrorTypeNotSupported}}},
		{name: "external name missing", mutate: func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeExternalName
			s.Spec.Ports = nil
		}, want: []wantErr{{"spec.externalName", field.ErrorTypeRequired}}},
		{name: "external name valid", mutate: func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeExternalName
			s.Spec.ExternalName = "example.com."
		}},
		{name: "nodeport service", mutate: func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeNodePort
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
			s.Spec.Ports[0].NodePort = 30080
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := validService()
			tc.mutate(s)
			assertErrs(t, ValidateCreate(s, true), tc.want...)
		})
	}
}

func TestValidateServiceUpdate(t *testing.T) {
	old := validService()
	old.ResourceVersion = "1"
	old.Spec.ClusterIP = "10.0.0.10"
	old.Spec.ClusterIPs = []string{"10.0.0.10"}
	s := old.DeepCopy()
	s.Spec.Ports[0].Port = 81
	assertErrs(t, ValidateUpdate(s, old, true))
	s.Spec.ClusterIP = "10.0.0.11"
	s.Spec.ClusterIPs = []string{"10.0.0.11"}
	assertErrs(t, ValidateUpdate(s, old, true), wantErr{"spec.clusterIPs[0]", field.ErrorTypeInvalid})
}

func validJob() *batchv1.Job {
	labels := map[string]string{"job": "x"}
	spec := validPodSpec()
	spec.RestartPolicy = corev1.RestartPolicyNever
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "pi", Namespace: "default"},
		Spec: batchv1.JobSpec{
			Parallelism: ptr(int32(1)), Completions: ptr(int32(1)), BackoffLimit: ptr(int32(6)),
			CompletionMode: ptr(batchv1.NonIndexedCompletion),
			Selector:       &metav1.LabelSelector{MatchLabels: labels},
			Template:       corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec},
		},
	}
}

func validCronJob() *batchv1.CronJob {
	j := validJob()
	j.Spec.Selector = nil
	return &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "tick", Namespace: "default"},
		Spec: batchv1.CronJobSpec{
			Schedule: "*/5 * * * *", ConcurrencyPolicy: batchv1.AllowConcurrent,
			JobTemplate: batchv1.JobTemplateSpec{Spec: j.Spec},
		},
	}
}

func TestValidateBatch(t *testing.T) {
	job := validJob()
	alwaysJob := validJob()
	alwaysJob.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways
	negJob := validJob()
	negJob.Spec.BackoffLimit = ptr(int32(-1))
	negJob.Spec.Parallelism = ptr(int32(-1))
	indexed := validJob()
	indexed.Spec.CompletionMode = ptr(batchv1.IndexedCompletion)
	indexed.Spec.Completions = nil
	cj := validCronJob()
	badSchedule := validCronJob()
	badSchedule.Spec.Schedule = "every minute"
	longName := validCronJob()
	longName.Name = strings.Repeat("a", 53)
	badConcurrency := validCronJob()
	badConcurrency.Spec.ConcurrencyPolicy = "Sometimes"
	cases := []struct {
		name string
		obj  runtime.Object
		want []wantErr
	}{
		{"job valid", job, nil},
		{"job restart always", alwaysJob, []wantErr{{"spec.template.spec.restartPolicy", field.ErrorTypeNotSupported}}},
		{"job negatives", negJob, []wantErr{{"spec.backoffLimit", field.ErrorTypeInvalid}, {"spec.parallelism", field.ErrorTypeInvalid}}},
		{"indexed without completions", indexed, []wantErr{{"spec.completions", field.ErrorTypeRequired}}},
		{"cronjob valid", cj, nil},
		{"cronjob bad schedule", badSchedule, []wantErr{{"spec.schedule", field.ErrorTypeInvalid}}},
		{"cronjob long name", longName, []wantErr{{"metadata.name", field.ErrorTypeInvalid}}},
		{"cronjob bad concurrency", badConcurrency, []wantErr{{"spec.concurrencyPolicy", field.ErrorTypeNotSupported}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { assertErrs(t, ValidateCreate(tc.obj, true), tc.want...) })
	}
}

func TestValidateJobUpdate(t *testing.T) {
	old := validJob()
	old.ResourceVersion = "1"
	j := old.DeepCopy()
	j.Spec.Parallelism = ptr(int32(3))
	assertErrs(t, ValidateUpdate(j, old, true))
	j.Spec.Template.Spec.Containers[0].Image = "other"
	assertErrs(t, ValidateUpdate(j, old, true), wantErr{"spec.template", field.ErrorTypeInvalid})
}

func TestParseCronSchedule(t *testing.T) {
	base := time.Date(2024, 1, 15, 10, 7, 30, 0, time.UTC) // a Monday
	cases := []struct {
		spec    string
		wantErr bool
		next    time.Time
	}{
		{spec: "*/5 * * * *", next: time.Date(2024, 1, 15, 10, 10, 0, 0, time.UTC)},
		{spec: "0 0 * * *", next: time.Date(2024, 1, 16, 0, 0, 0, 0, time.UTC)},
		{spec: "@hourly", next: time.Date(2024, 1, 15, 11, 0, 0, 0, time.UTC)},
		{spec: "@weekly", next: time.Date(2024, 1, 21, 0, 0, 0, 0, time.UTC)},
		{spec: "30 9 * JAN-MAR mon-fri", next: time.Date(2024, 1, 16, 9, 30, 0, 0, time.UTC)},
		{spec: "0 12 1 * 3", next: time.Date(2024, 1, 17, 12, 0, 0, 0, time.UTC)},
		{spec: "15,45 10 * * *", next: time.Date(2024, 1, 15, 10, 15, 0, 0, time.UTC)},
		{spec: "@every 90s", next: base.Add(90 * time.Second)},
		{spec: "0 0 30 2 *", next: time.Time{}},
		{spec: "* * * *", wantErr: true},
		{spec: "60 * * * *", wantErr: true},
		{spec: "*/0 * * * *", wantErr: true},
		{spec: "5-1 * * * *", wantErr: true},
		{spec: "@fortnightly", wantErr: true},
		{spec: "", wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.spec, func(t *testing.T) {
			s, err := ParseCronSchedule(tc.spec)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("expected error for %q", tc.spec)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if got := s.Next(base); !got.Equal(tc.next) {
				t.Fatalf("Next = %v, want %v", got, tc.next)
			}
		})
	}
}

func TestValidateAutoscalingAndPolicy(t *testing.T) {
	hpa2 := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{Kind: "Deployment", Name: "web", APIVersion: "apps/v1"},
			MinReplicas:    ptr(int32(1)), MaxReplicas: 5,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
				Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr(int32(80))}}}},
		},
	}
	badHPA2 := hpa2.DeepCopy()
	badHPA2.Spec.ScaleTargetRef.Name = ""
	badHPA2.Spec.MinReplicas = ptr(int32(6))
	badMetric := hpa2.DeepCopy()
	badMetric.Spec.Metrics[0].Type = autoscalingv2.PodsMetricSourceType
	hpa1 := &autoscalingv1.HorizontalPodAutoscaler{
		ObjectMeta: hpa2.ObjectMeta,
		Spec: autoscalingv1.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv1.CrossVersionObjectReference{Kind: "Deployment", Name: "web"},
			MinReplicas:    ptr(int32(0)), MaxReplicas: 3,
		},
	}
	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: hpa2.ObjectMeta,
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr(intstr.FromInt32(1)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
	}
	badPDB := pdb.DeepCopy()
	badPDB.Spec.MaxUnavailable = ptr(intstr.FromString("120%"))
	cases := []struct {
		name string
		obj  runtime.Object
		want []wantErr
	}{
		{"hpa v2 valid", hpa2, nil},
		{"hpa v2 bad", badHPA2, []wantErr{{"spec.scaleTargetRef.name", field.ErrorTypeRequired}, {"spec.maxReplicas", field.ErrorTypeInvalid}}},
		{"hpa v2 metric mismatch", badMetric, []wantErr{{"spec.metrics[0].pods", field.ErrorTypeRequired}}},
		{"hpa v1 min zero", hpa1, []wantErr{{"spec.minReplicas", field.ErrorTypeInvalid}}},
		{"pdb valid", pdb, nil},
		{"pdb both and over 100", badPDB, []wantErr{{"spec", field.ErrorTypeInvalid}, {"spec.maxUnavailable", field.ErrorTypeInvalid}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { assertErrs(t, ValidateCreate(tc.obj, true), tc.want...) })
	}
}

func TestValidateCoreKinds(t *testing.T) {
	ns := metav1.ObjectMeta{Name: "x", Namespace: "default"}
	cluster := metav1.ObjectMeta{Name: "x"}
	cases := []struct {
		name       string
		obj        runtime.Object
		namespaced bool
		want       []wantErr
	}{
		{"namespace valid", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}, false, nil},
		{"namespace dotted name", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team.a"}}, false, []wantErr{{"metadata.name", field.ErrorTypeInvalid}}},
		{"namespace with namespace", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "b"}}, false, []wantErr{{"metadata.namespace", field.ErrorTypeForbidden}}},
		{"configmap valid", &corev1.ConfigMap{ObjectMeta: ns, Data: map[string]string{"app.conf": "x"}}, true, nil},
		{"configmap bad key", &corev1.ConfigMap{ObjectMeta: ns, Data: map[string]string{"a/b": "x"}}, true, []wantErr{{"data[a/b]", field.ErrorTypeInvalid}}},
		{"configmap too big", &corev1.ConfigMap{ObjectMeta: ns, Data: map[string]string{"a": strings.Repeat("x", maxObjectDataSize+1)}}, true, []wantErr{{"[]", field.ErrorTypeTooLong}}},
		{"secret tls missing key", &corev1.Secret{ObjectMeta: ns, Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": []byte("c")}}, true, []wantErr{{"data[tls.key]", field.ErrorTypeRequired}}},
		{"secret dockerconfigjson invalid", &corev1.Secret{ObjectMeta: ns, Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{".dockerconfigjson": []byte("{")}}, true, []wantErr{{"data[.dockerconfigjson]", field.ErrorTypeInvalid}}},
		{"secret opaque stringData", &corev1.Secret{ObjectMeta: ns, Type: corev1.SecretTypeOpaque, StringData: map[string]string{"password": "x"}}, true, nil},
		{"node taints", &corev1.Node{ObjectMeta: cluster, Spec: corev1.NodeSpec{PodCIDR: "10.0.0.0/24", PodCIDRs: []string{"10.0.0.0/24"}, Taints: []corev1.Taint{
			{Key: "k", Effect: corev1.TaintEffectNoSchedule}, {Key: "k", Effect: corev1.TaintEffectNoSchedule}, {Key: "j", Effect: "Sometimes"}}}}, false,
			[]wantErr{{"spec.taints[1]", field.ErrorTypeDuplicate}, {"spec.taints[2].effect", field.ErrorTypeNotSupported}}},
		{"node bad cidr", &corev1.Node{ObjectMeta: cluster, Spec: corev1.NodeSpec{PodCIDR: "10.0.0.0", PodCIDRs: []string{"10.0.0.0"}}}, false, []wantErr{{"spec.podCIDRs[0]", field.ErrorTypeInvalid}}},
		{"pvc missing", &corev1.PersistentVolumeClaim{ObjectMeta: ns}, true, []wantErr{{"spec.accessModes", field.ErrorTypeRequired}, {"spec.resources[storage]", field.ErrorTypeRequired}}},
		{"pvc valid", &corev1.PersistentVolumeClaim{ObjectMeta: ns, Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}, true, nil},
		{"pv missing", &corev1.PersistentVolume{ObjectMeta: cluster}, false, []wantErr{{"spec.accessModes", field.ErrorTypeRequired}, {"spec.capacity", field.ErrorTypeRequired}, {"spec.capacity", field.ErrorTypeNotSupported}, {"spec", field.ErrorTypeRequired}}},
		{"quota negative", &corev1.ResourceQuota{ObjectMeta: ns, Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{"pods": resource.MustParse("-1")}}}, true, []wantErr{{"spec.hard[pods]", field.ErrorTypeInvalid}}},
		{"limitrange min over max", &corev1.LimitRange{ObjectMeta: ns, Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer,
			Min: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}, Max: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}}}}, true,
			[]wantErr{{"spec.limits[0].min[cpu]", field.ErrorTypeInvalid}}},
		{"endpoints bad ip", &corev1.Endpoints{ObjectMeta: ns, Subsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: "x"}},
			Ports: []corev1.EndpointPort{{Port: 80, Protocol: corev1.ProtocolTCP}}}}}, true, []wantErr{{"subsets[0].addresses[0].ip", field.ErrorTypeInvalid}}},
		{"too many annotations", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "default",
			Annotations: map[string]string{"a": strings.Repeat("x", 256*1024)}}}, true, []wantErr{{"metadata.annotations", field.ErrorTypeTooLong}}},
		{"bad label", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "default", Labels: map[string]string{"a": "b c"}}}, true, []wantErr{{"metadata.labels", field.ErrorTypeInvalid}}},
		{"generateName only", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "x-", Namespace: "default"}}, true, []wantErr{{"metadata.name", field.ErrorTypeRequired}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { assertErrs(t, ValidateCreate(tc.obj, tc.namespaced), tc.want...) })
	}
}

func TestValidateImmutableUpdates(t *testing.T) {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "default", ResourceVersion: "1"}, Immutable: ptr(true), Data: map[string]string{"a": "1"}}
	cm2 := cm.DeepCopy()
	cm2.Data["a"] = "2"
	rb := &rbacv1.RoleBinding{ObjectMeta: cm.ObjectMeta, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "r"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "default"}}}
	rb2 := rb.DeepCopy()
	rb2.RoleRef.Name = "other"
	sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "fast", ResourceVersion: "1"}, Provisioner: "example.com/disk",
		Parameters: map[string]string{"type": "ssd"}, ReclaimPolicy: ptr(corev1.PersistentVolumeReclaimDelete), VolumeBindingMode: ptr(storagev1.VolumeBindingImmediate)}
	sc2 := sc.DeepCopy()
	sc2.Parameters["type"] = "hdd"
	secret := &corev1.Secret{ObjectMeta: cm.ObjectMeta, Type: corev1.SecretTypeOpaque}
	secret2 := secret.DeepCopy()
	secret2.Type = corev1.SecretTypeBasicAuth
	secret2.Data = map[string][]byte{"username": []byte("u")}
	cases := []struct {
		name     string
		obj, old runtime.Object
		ns       bool
		want     []wantErr
	}{
		{"immutable configmap", cm2, cm, true, []wantErr{{"data", field.ErrorTypeForbidden}}},
		{"roleRef change", rb2, rb, true, []wantErr{{"roleRef", field.ErrorTypeInvalid}}},
		{"storageclass parameters", sc2, sc, false, []wantErr{{"parameters", field.ErrorTypeForbidden}}},
		{"secret type", secret2, secret, true, []wantErr{{"type", field.ErrorTypeInvalid}}},
		{"kind mismatch", cm, secret, true, []wantErr{{"[]", field.ErrorTypeInternal}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { assertErrs(t, ValidateUpdate(tc.obj, tc.old, tc.ns), tc.want...) })
	}
}

func TestValidateRBACAndScheduling(t *testing.T) {
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "system:reader", Namespace: "default"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get"}}}}
	noVerbs := role.DeepCopy()
	noVerbs.Rules[0].Verbs = nil
	crb := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "x"},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "r"}}
	sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "fast"}, VolumeBindingMode: ptr(storagev1.VolumeBindingImmediate)}
	cases := []struct {
		name string
		obj  runtime.Object
		ns   bool
		want []wantErr
	}{
		{"role valid with colon name", role, true, nil},
		{"role no verbs", noVerbs, true, []wantErr{{"rules[0].verbs", field.ErrorTypeRequired}}},
		{"crb to Role", crb, false, []wantErr{{"roleRef.kind", field.ErrorTypeNotSupported}}},
		{"storageclass no provisioner", sc, false, []wantErr{{"provisioner", field.ErrorTypeRequired}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { assertErrs(t, ValidateCreate(tc.obj, tc.ns), tc.want...) })
	}
}
