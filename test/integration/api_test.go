package integration

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"k8s.io/client-go/kubernetes"
)

const ns = "default"

func configMap(name string, labels map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Data: map[string]string{"k": "v"}}
}

func deployment(name string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
			},
		},
	}
}

func service(name string, typ corev1.ServiceType, clusterIP string, nodePort int32) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{
			Type: typ, ClusterIP: clusterIP, Selector: map[string]string{"app": name},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), NodePort: nodePort}},
		},
	}
}

func wantStatus(t *testing.T, err error, code int32) *apierrors.StatusError {
	t.Helper()
	if err == nil {
		t.Fatalf("want HTTP %d, got success", code)
	}
	se, ok := err.(*apierrors.StatusError)
	if !ok {
		t.Fatalf("want HTTP %d, got non-status error %T: %v", code, err, err)
	}
	if se.ErrStatus.Code != code {
		t.Fatalf("want HTTP %d, got %d: %v", code, se.ErrStatus.Code, err)
	}
	return se
}

func TestTypedClient(t *testing.T) {
	runAPISuite(t, startServer(t, t.TempDir()))
}

// runAPISuite is the API suite every storage backend must pass.
func runAPISuite(t *testing.T, ts *testServer) {
	c := ts.jsonClient

	t.Run("configmap CRUD", func(t *testing.T) { testConfigMapCRUD(t, c) })
	t.Run("patch types", func(t *testing.T) { testPatchTypes(t, c) })
	t.Run("server-side apply", func(t *testing.T) { testApply(t, c) })
	t.Run("generateName", func(t *testing.T) { testGenerateName(t, c) })
	t.Run("dryRun", func(t *testing.T) { testDryRun(t, c) })
	t.Run("selectors", func(t *testing.T) { testSelectors(t, c) })
	t.Run("pagination", func(t *testing.T) { testPagination(t, c) })
	t.Run("errors", func(t *testing.T) { testErrors(t, ts) })
	t.Run("status subresource", func(t *testing.T) { testStatus(t, c) })
	t.Run("finalizers", func(t *testing.T) { testFinalizers(t, c) })
	t.Run("services", func(t *testing.T) { testServices(t, c) })
	t.Run("protobuf client delete", func(t *testing.T) { testProtobufDelete(t, ts.client) })
}

func testConfigMapCRUD(t *testing.T, c kubernetes.Interface) {
	ctx := testContext(t)
	cms := c.CoreV1().ConfigMaps(ns)
	created, err := cms.Create(ctx, configMap("crud", map[string]string{"set": "crud"}), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if created.UID == "" || created.ResourceVersion == "" || created.CreationTimestamp.IsZero() {
		t.Errorf("create did not fill system metadata: %+v", created.ObjectMeta)
	}
	got, err := cms.Get(ctx, "crud", metav1.GetOptions{})
	if err != nil || got.Data["k"] != "v" {
		t.Fatalf("get: %v %+v", err, got)
	}
	got.Data["k"] = "v2"
	updated, err := cms.Update(ctx, got, metav1.UpdateOptions{})
	if err != nil || updated.Data["k"] != "v2" || updated.ResourceVersion == got.ResourceVersion {
		t.Fatalf("update: %v %+v", err, updated)
	}
	// The original object now carries a stale resourceVersion.
	created.Data["k"] = "stale"
	_, err = cms.Update(ctx, created, metav1.UpdateOptions{})
	wantStatus(t, err, http.StatusConflict)

	if _, err := cms.Create(ctx, configMap("crud2", map[string]string{"set": "crud"}), metav1.CreateOptions{}); err != nil {
		t.Fatalf("create crud2: %v", err)
	}
	list, err := cms.List(ctx, metav1.ListOptions{LabelSelector: "set=crud"})
	if err != nil || len(list.Items) != 2 {
		t.Fatalf("list: %v, %d items", err, len(list.Items))
	}
	if err := cms.Delete(ctx, "crud", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	_, err = cms.Get(ctx, "crud", metav1.GetOptions{})
	wantStatus(t, err, http.StatusNotFound)
	if err := cms.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "set=crud"}); err != nil {
		t.Fatalf("deletecollection: %v", err)
	}
	if list, err = cms.List(ctx, metav1.ListOptions{LabelSelector: "set=crud"}); err != nil || len(list.Items) != 0 {
		t.Fatalf("after deletecollection: %v, %d items", err, len(list.Items))
	}
}

func testPatchTypes(t *testing.T, c kubernetes.Interface) {
	ctx := testContext(t)
	deploys := c.AppsV1().Deployments(ns)
	if _, err := deploys.Create(ctx, deployment("patched", 1), metav1.CreateOptions{}); err != nil {
		t.Fatalf("create: %v", err)
	}
	tests := []struct {
		name     string
		pt       types.PatchType
		body     string
		replicas int32
		image    string
	}{
		{"json", types.JSONPatchType, `[{"op":"replace","path":"/spec/replicas","value":2}]`, 2, "nginx"},
		{"merge", types.MergePatchType, `{"spec":{"replicas":3}}`, 3, "nginx"},
		{"strategic", types.StrategicMergePatchType,
			`{"spec":{"replicas":4,"template":{"spec":{"containers":[{"name":"c","image":"httpd"}]}}}}`, 4, "httpd"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := deploys.Patch(ctx, "patched", tc.pt, []byte(tc.body), metav1.PatchOptions{})
			if err != nil {
				t.Fatalf("patch: %v", err)
			}
			if *got.Spec.Replicas != tc.replicas {
				t.Errorf("replicas = %d, want %d", *got.Spec.Replicas, tc.replicas)
			}
			cs := got.Spec.Template.Spec.Containers
			if len(cs) != 1 || cs[0].Image != tc.image {
				t.Errorf("containers = %+v, want one with image %s", cs, tc.image)
			}
		})
	}
	if err := deploys.Delete(ctx, "patched", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete: %v", err)
	}
}

func testApply(t *testing.T, c kubernetes.Interface) {
	ctx := testContext(t)
	cms := c.CoreV1().ConfigMaps(ns)
	apply := corev1ac.ConfigMap("applied", ns).WithData(map[string]string{"a": "1"})
	got, err := cms.Apply(ctx, apply, metav1.ApplyOptions{FieldManager: "test", Force: true})
	if err != nil || got.Data["a"] != "1" {
		t.Fatalf("apply create: %v %+v", err, got)
	}
	apply = corev1ac.ConfigMap("applied", ns).WithData(map[string]string{"b": "2"})
	got, err = cms.Apply(ctx, apply, metav1.ApplyOptions{FieldManager: "test", Force: true})
	if err != nil {
		t.Fatalf("apply update: %v", err)
	}
	// Fields the manager no longer applies are removed.
	if _, ok := got.Data["a"]; ok || got.Data["b"] != "2" {
		t.Errorf("data after re-apply = %v, want only b", got.Data)
	}
	if len(got.ManagedFields) == 0 || got.ManagedFields[0].Manager != "test" {
		t.Errorf("managedFields = %+v, want manager test", got.ManagedFields)
	}

	replicas := int32(2)
	dapply := appsv1ac.Deployment("applied", ns).WithSpec(appsv1ac.DeploymentSpec().
		WithReplicas(replicas).
		WithSelector(metav1ac.LabelSelector().WithMatchLabels(map[string]string{"app": "applied"})).
		WithTemplate(corev1ac.PodTemplateSpec().
			WithLabels(map[string]string{"app": "applied"}).
			WithSpec(corev1ac.PodSpec().WithContainers(corev1ac.Container().WithName("c").WithImage("nginx")))))
	d, err := c.AppsV1().Deployments(ns).Apply(ctx, dapply, metav1.ApplyOptions{FieldManager: "test"})
	if err != nil || *d.Spec.Replicas != 2 {
		t.Fatalf("apply deployment: %v", err)
	}
	// A second manager changing an owned field conflicts unless forced.
	_, err = c.AppsV1().Deployments(ns).Apply(ctx,
		appsv1ac.Deployment("applied", ns).WithSpec(appsv1ac.DeploymentSpec().WithReplicas(5)),
		metav1.ApplyOptions{FieldManager: "other"})
	wantStatus(t, err, http.StatusConflict)
}

func testGenerateName(t *testing.T, c kubernetes.Interface) {
	ctx := testContext(t)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "gen-"}}
	seen := map[string]bool{}
	for range 3 {
		got, err := c.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		if !strings.HasPrefix(got.Name, "gen-") || len(got.Name) != len("gen-")+5 || seen[got.Name] {
			t.Errorf("generated name %q: want unique gen-xxxxx", got.Name)
		}
		seen[got.Name] = true
	}
}

func testDryRun(t *testing.T, c kubernetes.Interface) {
	ctx := testContext(t)
	dry := []string{metav1.DryRunAll}
	cms := c.CoreV1().ConfigMaps(ns)
	got, err := cms.Create(ctx, configMap("dry", nil), metav1.CreateOptions{DryRun: dry})
	if err != nil || got.Name != "dry" {
		t.Fatalf("dry-run create: %v", err)
	}
	_, err = cms.Get(ctx, "dry", metav1.GetOptions{})
	wantStatus(t, err, http.StatusNotFound)

	real, err := cms.Create(ctx, configMap("dry", nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	real.Data["k"] = "changed"
	if _, err := cms.Update(ctx, real, metav1.UpdateOptions{DryRun: dry}); err != nil {
		t.Fatalf("dry-run update: %v", err)
	}
	if _, err := cms.Patch(ctx, "dry", types.MergePatchType, []byte(`{"data":{"k":"p"}}`), metav1.PatchOptions{DryRun: dry}); err != nil {
		t.Fatalf("dry-run patch: %v", err)
	}
	if err := cms.Delete(ctx, "dry", metav1.DeleteOptions{DryRun: dry}); err != nil {
		t.Fatalf("dry-run delete: %v", err)
	}
	after, err := cms.Get(ctx, "dry", metav1.GetOptions{})
	if err != nil || after.Data["k"] != "v" || after.ResourceVersion != real.ResourceVersion {
		t.Fatalf("object changed by dry-run: %v %+v", err, after)
	}
}

func testSelectors(t *testing.T, c kubernetes.Interface) {
	ctx := testContext(t)
	for i, node := range []string{"node-a", "node-b", "node-a"} {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("sel-%d", i), Labels: map[string]string{"tier": []string{"web", "db", "web"}[i]}},
			Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
		}
		if _, err := c.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create pod: %v", err)
		}
	}
	secrets := []*corev1.Secret{
		{ObjectMeta: metav1.ObjectMeta{Name: "sel-opaque"}, Type: corev1.SecretTypeOpaque},
		{ObjectMeta: metav1.ObjectMeta{Name: "sel-tls"}, Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{corev1.TLSCertKey: []byte("c"), corev1.TLSPrivateKeyKey: []byte("k")}},
	}
	for _, s := range secrets {
		if _, err := c.CoreV1().Secrets(ns).Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create secret: %v", err)
		}
	}
	tests := []struct {
		name  string
		list  func(metav1.ListOptions) ([]string, error)
		opts  metav1.ListOptions
		names []string
	}{
		{"label equality", listPods(ctx, c), metav1.ListOptions{LabelSelector: "tier=web"}, []string{"sel-0", "sel-2"}},
		{"label set", listPods(ctx, c), metav1.ListOptions{LabelSelector: "tier in (db)"}, []string{"sel-1"}},
		{"label inequality", listPods(ctx, c), metav1.ListOptions{LabelSelector: "tier,tier!=web"}, []string{"sel-1"}},
		{"metadata.name", listPods(ctx, c), metav1.ListOptions{FieldSelector: "metadata.name=sel-1"}, []string{"sel-1"}},
		{"spec.nodeName", listPods(ctx, c), metav1.ListOptions{FieldSelector: "spec.nodeName=node-a"}, []string{"sel-0", "sel-2"}},
		{"label and field", listPods(ctx, c), metav1.ListOptions{LabelSelector: "tier=web", FieldSelector: "metadata.name!=sel-0"}, []string{"sel-2"}},
		{"secret type", listSecrets(ctx, c), metav1.ListOptions{FieldSelector: "type=kubernetes.io/tls"}, []string{"sel-tls"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.list(tc.opts)
			if err != nil {
				t.Fatalf("list: %v", err)
			}
			if strings.Join(got, ",") != strings.Join(tc.names, ",") {
				t.Errorf("got %v, want %v", got, tc.names)
			}
		})
	}
	t.Run("unknown field label", func(t *testing.T) {
		_, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{FieldSelector: "spec.bogus=x"})
		wantStatus(t, err, http.StatusBadRequest)
	})
}

func listPods(ctx context.Context, c kubernetes.Interface) func(metav1.ListOptions) ([]string, error) {
	return func(o metav1.ListOptions) ([]string, error) {
		l, err := c.CoreV1().Pods(ns).List(ctx, o)
		if err != nil {
			return nil, err
		}
		var names []string
		for _, p := range l.Items {
			names = append(names, p.Name)
		}
		return names, nil
	}
}

func listSecrets(ctx context.Context, c kubernetes.Interface) func(metav1.ListOptions) ([]string, error) {
	return func(o metav1.ListOptions) ([]string, error) {
		l, err := c.CoreV1().Secrets(ns).List(ctx, o)
		if err != nil {
			return nil, err
		}
		var names []string
		for _, s := range l.Items {
			if strings.HasPrefix(s.Name, "sel-") {
				names = append(names, s.Name)
			}
		}
		return names, nil
	}
}

func testPagination(t *testing.T, c kubernetes.Interface) {
	ctx := testContext(t)
	cms := c.CoreV1().ConfigMaps(ns)
	for i := range 25 {
		if _, err := cms.Create(ctx, configMap(fmt.Sprintf("page-%02d", i), map[string]string{"set": "page"}), metav1.CreateOptions{}); err != nil {
			t.Fatalf("create: %v", err)
		}
	}
	var names []string
	var sizes []int
	opts := metav1.ListOptions{LabelSelector: "set=page", Limit: 10}
	for {
		l, err := cms.List(ctx, opts)
		if err != nil {
			t.Fatalf("list page: %v", err)
		}
		sizes = append(sizes, len(l.Items))
		for _, cm := range l.Items {
			names = append(names, cm.Name)
		}
		if l.Continue == "" {
			if l.RemainingItemCount != nil && *l.RemainingItemCount != 0 {
				t.Errorf("last page remainingItemCount = %d", *l.RemainingItemCount)
			}
			break
		}
		opts.Continue = l.Continue
		if len(sizes) > 5 {
			t.Fatalf("pagination does not terminate")
		}
	}
	if fmt.Sprint(sizes) != "[10 10 5]" {
		t.Errorf("page sizes = %v, want [10 10 5]", sizes)
	}
	for i, n := range names {
		if want := fmt.Sprintf("page-%02d", i); n != want {
			t.Fatalf("item %d = %s, want %s (all: %v)", i, n, want, names)
		}
	}
	if len(names) != 25 {
		t.Errorf("got %d items, want 25", len(names))
	}
}

func testErrors(t *testing.T, ts *testServer) {
	ctx := testContext(t)
	rc := ts.client.CoreV1().RESTClient()
	big := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big"},"data":{"k":"` + strings.Repeat("x", 3<<20+10) + `"}}`
	tests := []struct {
		name   string
		params map[string]string
		body   string
		code   int
		want   string
	}{
		{"invalid name", nil, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Bad_Name"}}`, 422, "metadata.name"},
		{"unknown field strict", map[string]string{"fieldValidation": "Strict"},
			`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"strict"},"bogus":1}`, 400, "bogus"},
		{"malformed JSON", nil, `{"apiVersion":"v1",`, 400, ""},
		{"body too large", nil, big, 413, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := rc.Post().Namespace(ns).Resource("configmaps").SetHeader("Content-Type", "application/json").Body([]byte(tc.body))
			for k, v := range tc.params {
				req = req.Param(k, v)
			}
			res := req.Do(ctx)
			var code int
			res.StatusCode(&code)
			if code != tc.code {
				t.Fatalf("status = %d, want %d (err %v)", code, tc.code, res.Error())
			}
			if tc.want != "" && !strings.Contains(res.Error().Error(), tc.want) {
				t.Errorf("error %q does not mention %q", res.Error(), tc.want)
			}
		})
	}
	t.Run("invalid name field path", func(t *testing.T) {
		_, err := ts.client.CoreV1().ConfigMaps(ns).Create(ctx, configMap("Bad_Name", nil), metav1.CreateOptions{})
		se := wantStatus(t, err, http.StatusUnprocessableEntity)
		if se.ErrStatus.Details == nil || len(se.ErrStatus.Details.Causes) == 0 || se.ErrStatus.Details.Causes[0].Field != "metadata.name" {
			t.Errorf("details = %+v, want a cause on metadata.name", se.ErrStatus.Details)
		}
	})
	t.Run("missing namespace", func(t *testing.T) {
		_, err := ts.client.CoreV1().ConfigMaps("no-such-ns").Create(ctx, configMap("x", nil), metav1.CreateOptions{})
		wantStatus(t, err, http.StatusNotFound)
	})
	t.Run("patch of a missing object", func(t *testing.T) {
		// Events may be created by PUT, but never by a patch: client-go's
		// event recorder relies on the 404 to fall back to a create.
		patch := []byte(`{"count":2,"message":"again"}`)
		_, err := ts.client.CoreV1().Events(ns).Patch(ctx, "no-such-event", types.StrategicMergePatchType, patch, metav1.PatchOptions{})
		wantStatus(t, err, http.StatusNotFound)
	})
	t.Run("pod admission", func(t *testing.T) {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "prio"},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}, PriorityClassName: "no-such-class"},
		}
		_, err := ts.client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
		se := wantStatus(t, err, http.StatusUnprocessableEntity)
		if se.ErrStatus.Details == nil || len(se.ErrStatus.Details.Causes) == 0 || se.ErrStatus.Details.Causes[0].Field != "spec.priorityClassName" {
			t.Errorf("unknown priority class: causes %+v, want spec.priorityClassName", se.ErrStatus.Details)
		}
		pod.Spec.PriorityClassName = "system-cluster-critical"
		got, err := ts.client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create with a system priority class: %v", err)
		}
		if got.Spec.Priority == nil || *got.Spec.Priority != 2000000000 {
			t.Errorf("priority = %v, want 2000000000", got.Spec.Priority)
		}
		var keys []string
		for _, tol := range got.Spec.Tolerations {
			if tol.TolerationSeconds != nil && *tol.TolerationSeconds == 300 {
				keys = append(keys, tol.Key)
			}
		}
		if strings.Join(keys, ",") != "node.kubernetes.io/not-ready,node.kubernetes.io/unreachable" {
			t.Errorf("default tolerations = %v", keys)
		}
	})
	t.Run("terminating namespace", func(t *testing.T) {
		createNamespace(t, ts.client, "going")
		if err := ts.client.CoreV1().Namespaces().Delete(ctx, "going", metav1.DeleteOptions{}); err != nil {
			t.Fatalf("delete namespace: %v", err)
		}
		got, err := ts.client.CoreV1().Namespaces().Get(ctx, "going", metav1.GetOptions{})
		if err != nil || got.Status.Phase != corev1.NamespaceTerminating || got.DeletionTimestamp == nil {
			t.Fatalf("namespace after delete: %v %+v", err, got)
		}
		_, err = ts.client.CoreV1().ConfigMaps("going").Create(ctx, configMap("x", nil), metav1.CreateOptions{})
		se := wantStatus(t, err, http.StatusForbidden)
		if !strings.Contains(se.ErrStatus.Message, "being terminated") {
			t.Errorf("message %q does not say the namespace is being terminated", se.ErrStatus.Message)
		}
	})
}

func testStatus(t *testing.T, c kubernetes.Interface) {
	ctx := testContext(t)
	deploys := c.AppsV1().Deployments(ns)
	d, err := deploys.Create(ctx, deployment("status", 1), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if d.Generation != 1 {
		t.Errorf("generation on create = %d, want 1", d.Generation)
	}
	// UpdateStatus changes status and ignores spec.
	d.Status.Replicas, d.Status.ObservedGeneration = 7, 1
	d.Spec.Replicas = ptr(int32(9))
	resp, err := deploys.UpdateStatus(ctx, d, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update status: %v", err)
	}
	if d, err = deploys.Get(ctx, "status", metav1.GetOptions{}); err != nil {
		t.Fatalf("get: %v", err)
	}
	if resp.ResourceVersion != d.ResourceVersion {
		t.Errorf("UpdateStatus answered resourceVersion %s, stored object has %s", resp.ResourceVersion, d.ResourceVersion)
	}
	if d.Status.Replicas != 7 || *d.Spec.Replicas != 1 || d.Generation != 1 {
		t.Errorf("after status update: status.replicas=%d spec.replicas=%d generation=%d; want 7,1,1",
			d.Status.Replicas, *d.Spec.Replicas, d.Generation)
	}
	// A main-resource update ignores status; a metadata-only change keeps generation.
	d.Status.Replicas = 0
	d.Labels = map[string]string{"touched": "yes"}
	d, err = deploys.Update(ctx, d, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if d.Status.Replicas != 7 || d.Generation != 1 {
		t.Errorf("after metadata update: status.replicas=%d generation=%d; want 7,1", d.Status.Replicas, d.Generation)
	}
	d.Spec.Replicas = ptr(int32(3))
	d, err = deploys.Update(ctx, d, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update spec: %v", err)
	}
	if d.Generation != 2 {
		t.Errorf("generation after spec change = %d, want 2", d.Generation)
	}
}

func ptr[T any](v T) *T { return &v }

func testFinalizers(t *testing.T, c kubernetes.Interface) {
	ctx := testContext(t)
	cms := c.CoreV1().ConfigMaps(ns)
	cm := configMap("final", nil)
	cm.Finalizers = []string{"example.com/hold"}
	if _, err := cms.Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create: %v", err)
	}
	if err := cms.Delete(ctx, "final", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	got, err := cms.Get(ctx, "final", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("object with finalizer vanished: %v", err)
	}
	if got.DeletionTimestamp == nil {
		t.Fatalf("deletionTimestamp not set")
	}
	got.Finalizers = nil
	if _, err := cms.Update(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("remove finalizer: %v", err)
	}
	_, err = cms.Get(ctx, "final", metav1.GetOptions{})
	wantStatus(t, err, http.StatusNotFound)
}

func testServices(t *testing.T, c kubernetes.Interface) {
	ctx := testContext(t)
	svcs := c.CoreV1().Services(ns)
	_, cidr, _ := net.ParseCIDR("10.43.0.0/16")
	first, err := svcs.Create(ctx, service("svc-a", corev1.ServiceTypeClusterIP, "", 0), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if ip := net.ParseIP(first.Spec.ClusterIP); ip == nil || !cidr.Contains(ip) {
		t.Fatalf("clusterIP %q not in %s", first.Spec.ClusterIP, cidr)
	}
	np, err := svcs.Create(ctx, service("svc-np", corev1.ServiceTypeNodePort, "", 30000), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create NodePort: %v", err)
	}
	if np.Spec.Ports[0].NodePort != 30000 {
		t.Errorf("nodePort = %d, want 30000", np.Spec.Ports[0].NodePort)
	}
	conflicts := []struct {
		name string
		svc  *corev1.Service
	}{
		{"clusterIP in use", service("svc-ipclash", corev1.ServiceTypeClusterIP, first.Spec.ClusterIP, 0)},
		{"nodePort in use", service("svc-npclash", corev1.ServiceTypeNodePort, "", 30000)},
		{"clusterIP outside range", service("svc-out", corev1.ServiceTypeClusterIP, "192.168.1.1", 0)},
	}
	for _, tc := range conflicts {
		t.Run(tc.name, func(t *testing.T) {
			_, err := svcs.Create(ctx, tc.svc, metav1.CreateOptions{})
			wantStatus(t, err, http.StatusUnprocessableEntity)
		})
	}
	t.Run("released after delete", func(t *testing.T) {
		for _, name := range []string{"svc-a", "svc-np"} {
			if err := svcs.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
				t.Fatalf("delete %s: %v", name, err)
			}
		}
		if _, err := svcs.Create(ctx, service("svc-np2", corev1.ServiceTypeNodePort, "", 30000), metav1.CreateOptions{}); err != nil {
			t.Errorf("re-create with nodePort 30000: %v", err)
		}
		if _, err := svcs.Create(ctx, service("svc-a2", corev1.ServiceTypeClusterIP, first.Spec.ClusterIP, 0), metav1.CreateOptions{}); err != nil {
			t.Errorf("re-create with clusterIP %s: %v", first.Spec.ClusterIP, err)
		}
	})
}

// testProtobufDelete uses client-go's default clientset, which sends
// DeleteOptions bodies as protobuf.
func testProtobufDelete(t *testing.T, c kubernetes.Interface) {
	ctx := testContext(t)
	cms := c.CoreV1().ConfigMaps(ns)
	if _, err := cms.Create(ctx, configMap("proto", map[string]string{"set": "proto"}), metav1.CreateOptions{}); err != nil {
		t.Fatalf("create over protobuf: %v", err)
	}
	if _, err := cms.Get(ctx, "proto", metav1.GetOptions{}); err != nil {
		t.Fatalf("get over protobuf: %v", err)
	}
	if err := cms.Delete(ctx, "proto", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete over protobuf: %v", err)
	}
	if err := cms.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "set=proto"}); err != nil {
		t.Fatalf("deletecollection over protobuf: %v", err)
	}
}
