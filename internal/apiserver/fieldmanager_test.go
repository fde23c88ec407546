package apiserver

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	"github.com/skiff-sh/skiff/internal/openapi"
	"github.com/skiff-sh/skiff/internal/registry"
)

func testFieldManagers(t *testing.T) (*fieldManagers, map[schema.GroupVersionKind]*registry.Resource) {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	resources := registry.Builtin()
	var docs []openapi.Resource
	byGVK := map[schema.GroupVersionKind]*registry.Resource{}
	for _, res := range resources {
		gvk := res.GVK()
		res.New = func() runtime.Object { obj, _ := scheme.New(gvk); return obj }
		res.NewList = func() runtime.Object {
			obj, _ := scheme.New(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
			return obj
		}
		docs = append(docs, openapi.Resource{GroupVersionKind: res.GVK(), Resource: res.GVR.Resource, Namespaced: res.Namespaced, Object: res.New(), List: res.NewList(), Verbs: res.Verbs()})
		byGVK[gvk] = res
	}
	spec, err := openapi.Build(docs)
	if err != nil {
		t.Fatal(err)
	}
	f, err := newFieldManagers(spec, scheme, resources)
	if err != nil {
		t.Fatal(err)
	}
	return f, byGVK
}

// The fast path for creates must record exactly what the full field
// manager records, or server-side apply would later see different owners.
func TestCreateManagedFieldsMatchFullPath(t *testing.T) {
	f, byGVK := testFieldManagers(t)
	replicas := int32(3)
	objects := []runtime.Object{
		&corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default", Labels: map[string]string{"app": "x"}, Annotations: map[string]string{"a": "b"},
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs", UID: "u1"}}, Finalizers: []string{"f"}},
			Spec: corev1.PodSpec{
				InitContainers: []corev1.Container{{Name: "init", Image: "busybox", Command: []string{"true"}}},
				Containers: []corev1.Container{{
					Name: "c", Image: "httpd", Args: []string{"-f"},
					Env:          []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "B", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
					Ports:        []corev1.ContainerPort{{ContainerPort: 80, Protocol: corev1.ProtocolTCP}},
					Resources:    corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}},
					VolumeMounts: []corev1.VolumeMount{{Name: "v", MountPath: "/v"}},
				}},
				Volumes:      []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
				Tolerations:  []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists}},
				NodeSelector: map[string]string{"disk": "ssd"},
			},
			Status: corev1.PodStatus{Phase: corev1.PodPending},
		},
		&appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "d", Namespace: "default"},
			Spec: appsv1.DeploymentSpec{
				Replicas: &replicas,
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x"}},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "httpd"}}},
				},
			},
		},
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "default"},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "x"}, Type: corev1.ServiceTypeNodePort,
				Ports: []corev1.ServicePort{{Name: "http", Port: 8080, TargetPort: intstr.FromInt32(80), NodePort: 30000, Protocol: corev1.ProtocolTCP}}},
		},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm", Namespace: "default"}, Data: map[string]string{"k": "v"}},
		&corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "e", Namespace: "default"}, InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "p"}, Reason: "Scheduled", Message: "m", Count: 1},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a", Labels: map[string]string{"team": "a"}}},
		// Nothing but the name: no manager owns anything.
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "only-name", Namespace: "default"}},
	}
	for _, obj := range objects {
		kinds, _, err := clientgoscheme.Scheme.ObjectKinds(obj)
		if err != nil {
			t.Fatal(err)
		}
		res := byGVK[kinds[0]]
		t.Run(res.GVK().Kind, func(t *testing.T) {
			full := f.update(res, "", res.New(), obj.DeepCopyObject(), "kubectl")
			fast := f.create(res, obj.DeepCopyObject(), "kubectl")
			want, got := managed(t, full), managed(t, fast)
			if _, secret := obj.(*corev1.Secret); len(want) != 1 && !secret {
				t.Fatalf("the full path recorded %d managers, want 1", len(want))
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("managedFields differ (-full +fast):\n%s", diff)
			}
		})
	}
}

// managed returns an object's managedFields without their times, which
// differ between two runs.
func managed(t *testing.T, obj runtime.Object) []metav1.ManagedFieldsEntry {
	t.Helper()
	a, err := meta.Accessor(obj)
	if err != nil {
		t.Fatal(err)
	}
	out := a.GetManagedFields()
	for i := range out {
		out[i].Time = nil
	}
	return out
}
