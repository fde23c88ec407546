package printers

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// TestRealKubectlRendering serves our Tables to a real kubectl over
// 127.0.0.1 and checks what it prints. It needs a kubectl binary, so it
// only runs when SKIFF_KUBECTL_E2E=1.
func TestRealKubectlRendering(t *testing.T) {
	if os.Getenv("SKIFF_KUBECTL_E2E") != "1" {
		t.Skip("set SKIFF_KUBECTL_E2E=1 to run against a real kubectl")
	}
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl not found")
	}
	p := New(time.Now)
	crash := runningPod()
	crash.CreationTimestamp = metav1.NewTime(time.Now().Add(-10 * time.Minute))
	crash.Status.ContainerStatuses[0] = corev1.ContainerStatus{
		Name: "app", RestartCount: 3, State: waiting("CrashLoopBackOff"),
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{FinishedAt: metav1.NewTime(time.Now().Add(-5 * time.Minute))}},
	}
	deploy := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", CreationTimestamp: metav1.NewTime(time.Now().Add(-time.Hour))},
		Spec:       appsv1.DeploymentSpec{Replicas: ptr(int32(3)), Selector: appSelector(), Template: podSpec("nginx")},
		Status:     appsv1.DeploymentStatus{ReadyReplicas: 2, UpdatedReplicas: 3, AvailableReplicas: 2},
	}
	srv := httptest.NewServer(fakeAPIServer(t, p, map[string]tableSource{
		"/api/v1/namespaces/default/pods":              {schema.GroupKind{Kind: "Pod"}, &corev1.PodList{Items: []corev1.Pod{*crash}}},
		"/apis/apps/v1/namespaces/default/deployments": {schema.GroupKind{Group: "apps", Kind: "Deployment"}, &appsv1.DeploymentList{Items: []appsv1.Deployment{*deploy}}},
	}))
	defer srv.Close()

	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"get", "pods"}, []string{"NAME   READY   STATUS             RESTARTS     AGE", "web    0/2     CrashLoopBackOff   3 (5m ago)   10m"}},
		{[]string{"get", "pods", "-o", "wide"}, []string{"NOMINATED NODE   READINESS GATES", "10.0.0.5   node-1   <none>           <none>"}},
		{[]string{"get", "deployments", "-o", "wide"}, []string{"NAME   READY   UP-TO-DATE   AVAILABLE   AGE   CONTAINERS   IMAGES      SELECTOR", "web    2/3     3            2           60m   nginx        nginx:1.0   app=web"}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			args := append([]string{"--server", srv.URL, "--namespace", "default", "--kubeconfig", os.DevNull, "--cache-dir", t.TempDir()}, tc.args...)
			out, err := exec.Command(kubectl, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("kubectl %v: %v\n%s", tc.args, err, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

type tableSource struct {
	gk  schema.GroupKind
	obj runtime.Object
}

// fakeAPIServer answers just enough discovery for kubectl to find pods and
// deployments, and serves Tables for the given list paths.
func fakeAPIServer(t *testing.T, p *Printer, lists map[string]tableSource) http.Handler {
	t.Helper()
	resources := map[string]*metav1.APIResourceList{
		"/api/v1": {GroupVersion: "v1", APIResources: []metav1.APIResource{
			{Name: "pods", SingularName: "pod", Namespaced: true, Kind: "Pod", Verbs: []string{"get", "list"}},
		}},
		"/apis/apps/v1": {GroupVersion: "apps/v1", APIResources: []metav1.APIResource{
			{Name: "deployments", SingularName: "deployment", Namespaced: true, Kind: "Deployment", Verbs: []string{"get", "list"}},
		}},
	}
	docs := map[string]interface{}{
		"/api": &metav1.APIVersions{TypeMeta: metav1.TypeMeta{Kind: "APIVersions"}, Versions: []string{"v1"}},
		"/apis": &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}, Groups: []metav1.APIGroup{{
			Name: "apps", Versions: []metav1.GroupVersionForDiscovery{{GroupVersion: "apps/v1", Version: "v1"}},
			PreferredVersion: metav1.GroupVersionForDiscovery{GroupVersion: "apps/v1", Version: "v1"},
		}}},
	}
	for path, rl := range resources {
		rl.Kind, rl.APIVersion = "APIResourceList", "v1"
		docs[path] = rl
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		var body interface{}
		if src, ok := lists[r.URL.Path]; ok {
			table, err := p.Table(src.gk, src.obj, metav1.IncludeObjectPolicy(r.URL.Query().Get("includeObject")))
			if err != nil {
				t.Errorf("Table: %v", err)
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			body = table
		} else if doc, ok := docs[r.URL.Path]; ok {
			body = doc
		} else {
			w.WriteHeader(http.StatusNotFound)
			body = &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusFailure, Code: http.StatusNotFound, Reason: metav1.StatusReasonNotFound}
		}
		if err := json.NewEncoder(w).Encode(body); err != nil {
			t.Errorf("encoding response: %v", err)
		}
	})
}
