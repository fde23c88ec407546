package validation

import (
	"os"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"
)

// wantErr names one expected error by its full field path and type.
type wantErr struct {
	field string
	typ   field.ErrorType
}

// assertErrs checks that errs contains exactly the wanted (field, type)
// pairs, or is empty when want is empty.
func assertErrs(t *testing.T, errs field.ErrorList, want ...wantErr) {
	t.Helper()
	if len(want) == 0 {
		if len(errs) != 0 {
			t.Fatalf("expected no errors, got:\n%s", errs.ToAggregate())
		}
		return
	}
	for _, w := range want {
		found := false
		for _, e := range errs {
			if e.Field == w.field && e.Type == w.typ {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("missing %s error on %q; got:\n%v", w.typ, w.field, errs.ToAggregate())
		}
	}
	if len(errs) != len(want) {
		t.Errorf("expected %d errors, got %d:\n%v", len(want), len(errs), errs.ToAggregate())
	}
}

func ptr[T any](v T) *T { return &v }

// defaultContainer fills what upstream defaulting would set on a container.
func defaultContainer(c *corev1.Container) {
	if c.ImagePullPolicy == "" {
		c.ImagePullPolicy = corev1.PullIfNotPresent
	}
	if c.TerminationMessagePath == "" {
		c.TerminationMessagePath = corev1.TerminationMessagePathDefault
	}
	if c.TerminationMessagePolicy == "" {
		c.TerminationMessagePolicy = corev1.TerminationMessageReadFile
	}
	for i := range c.Ports {
		if c.Ports[i].Protocol == "" {
			c.Ports[i].Protocol = corev1.ProtocolTCP
		}
	}
}

// defaultPodSpec fills what upstream defaulting would set on a pod spec.
func defaultPodSpec(s *corev1.PodSpec) {
	if s.RestartPolicy == "" {
		s.RestartPolicy = corev1.RestartPolicyAlways
	}
	if s.DNSPolicy == "" {
		s.DNSPolicy = corev1.DNSClusterFirst
	}
	if s.TerminationGracePeriodSeconds == nil {
		s.TerminationGracePeriodSeconds = ptr(int64(30))
	}
	if s.SchedulerName == "" {
		s.SchedulerName = corev1.DefaultSchedulerName
	}
	for i := range s.Containers {
		defaultContainer(&s.Containers[i])
	}
	for i := range s.InitContainers {
		defaultContainer(&s.InitContainers[i])
	}
}

func validPodSpec() corev1.PodSpec {
	s := corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}}
	defaultPodSpec(&s)
	return s
}

func validPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec:       validPodSpec(),
	}
}

func validDeployment() *appsv1.Deployment {
	labels := map[string]string{"app": "web"}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr(int32(2)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: validPodSpec()},
			Strategy: appsv1.DeploymentStrategy{
				Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{
					MaxUnavailable: ptr(intstr.FromString("25%")),
					MaxSurge:       ptr(intstr.FromString("25%")),
				},
			},
			RevisionHistoryLimit:    ptr(int32(10)),
			ProgressDeadlineSeconds: ptr(int32(600)),
		},
	}
}

func validService() *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.ServiceSpec{
			Type:            corev1.ServiceTypeClusterIP,
			SessionAffinity: corev1.ServiceAffinityNone,
			Selector:        map[string]string{"app": "web"},
			Ports:           []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(8080)}},
		},
	}
}

// decodeSeed reads one of the shared seed manifests.
func decodeSeed(t *testing.T, name string, into any) {
	t.Helper()
	data, err := os.ReadFile("/work/shared/seeds/" + name)
	if err != nil {
		t.Skipf("seed not available: %v", err)
	}
	if err := yaml.Unmarshal(data, into); err != nil {
		t.Fatalf("decoding %s: %v", name, err)
	}
}

func TestSeedManifestsPass(t *testing.T) {
	t.Run("httpd deployment", func(t *testing.T) {
		var d appsv1.Deployment
		decodeSeed(t, "httpd_deployment.yaml", &d)
		d.Namespace = "default"
		defaultPodSpec(&d.Spec.Template.Spec)
		d.Spec.Strategy = validDeployment().Spec.Strategy
		d.Spec.RevisionHistoryLimit = ptr(int32(10))
		d.Spec.ProgressDeadlineSeconds = ptr(int32(600))
		assertErrs(t, ValidateCreate(&d, true))
	})
	t.Run("httpd service", func(t *testing.T) {
		var s corev1.Service
		decodeSeed(t, "httpd_service.yaml", &s)
		s.Namespace = "default"
		s.Spec.Type = corev1.ServiceTypeClusterIP
		s.Spec.SessionAffinity = corev1.ServiceAffinityNone
		s.Spec.InternalTrafficPolicy = ptr(corev1.ServiceInternalTrafficPolicyCluster)
		assertErrs(t, ValidateCreate(&s, true))
	})
}

func TestErrorMessagesMatchUpstream(t *testing.T) {
	pod := validPod()
	pod.Name = "Bad_Name"
	errs := ValidateCreate(pod, true)
	got := errs.ToAggregate().Error()
	want := `metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of`
	if !strings.Contains(got, want) {
		t.Fatalf("got %q, want it to contain %q", got, want)
	}
}
