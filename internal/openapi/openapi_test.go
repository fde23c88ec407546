package openapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	openapi_v3 "github.com/google/gnostic-models/openapiv3"
	"google.golang.org/protobuf/proto"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

func buildTestSpec(t *testing.T) *Spec {
	t.Helper()
	s, err := Build(testResources())
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return s
}

func TestBuildIsFast(t *testing.T) {
	resources := testResources()
	if len(resources) < 40 {
		t.Fatalf("test table too small: %d", len(resources))
	}
	start := time.Now()
	if _, err := Build(resources); err != nil {
		t.Fatal(err)
	}
	// Generous bound: the budget is 100 ms, the race detector and a busy CI
	// machine can slow reflection several-fold.
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("Build took %v", d)
	}
}

func def(t *testing.T, s *Spec, name string) *spec.Schema {
	t.Helper()
	d := s.Definitions()[name]
	if d == nil {
		t.Fatalf("definition %s missing", name)
	}
	return d
}

func prop(t *testing.T, d *spec.Schema, name string) spec.Schema {
	t.Helper()
	p, ok := d.Properties[name]
	if !ok {
		t.Fatalf("property %s missing", name)
	}
	return p
}

func TestDefinitionNames(t *testing.T) {
	s := buildTestSpec(t)
	for _, name := range []string{
		"io.k8s.api.apps.v1.Deployment",
		"io.k8s.api.core.v1.PodSpec",
		"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
		"io.k8s.apimachinery.pkg.api.resource.Quantity",
		"io.k8s.apimachinery.pkg.util.intstr.IntOrString",
		"io.k8s.apimachinery.pkg.apis.meta.v1.Time",
		"io.k8s.apimachinery.pkg.runtime.RawExtension",
		"io.k8s.api.autoscaling.v1.Scale",
	} {
		t.Run(name, func(t *testing.T) { def(t, s, name) })
	}
}

func TestDeploymentSchema(t *testing.T) {
	s := buildTestSpec(t)
	d := def(t, s, "io.k8s.api.apps.v1.Deployment")
	if d.Description == "" {
		t.Error("Deployment has no description")
	}
	gvks, _ := d.Extensions[extGVK].([]any)
	want := map[string]any{"group": "apps", "version": "v1", "kind": "Deployment"}
	if len(gvks) != 1 || !mapsEqual(gvks[0].(map[string]any), want) {
		t.Errorf("gvk extension = %v", d.Extensions[extGVK])
	}
	specProp := prop(t, d, "spec")
	if refName(&specProp) != "io.k8s.api.apps.v1.DeploymentSpec" || specProp.Description == "" {
		t.Errorf("spec = %+v", specProp)
	}
	for _, field := range []string{"apiVersion", "kind"} {
		if p := prop(t, d, field); p.Description == "" || p.Type[0] != "string" {
			t.Errorf("%s = %+v", field, p)
		}
	}
	ds := def(t, s, "io.k8s.api.apps.v1.DeploymentSpec")
	strategy := prop(t, ds, "strategy")
	if strategy.Extensions[extPatchStrategy] != "retainKeys" {
		t.Errorf("strategy patch strategy = %v", strategy.Extensions)
	}
	rolling := def(t, s, "io.k8s.api.apps.v1.RollingUpdateDeployment")
	if got := refName(ptrTo(prop(t, rolling, "maxSurge"))); got != "io.k8s.apimachinery.pkg.util.intstr.IntOrString" {
		t.Errorf("maxSurge refers to %q", got)
	}
}

func ptrTo(s spec.Schema) *spec.Schema { return &s }

func mapsEqual(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestRequiredFields(t *testing.T) {
	s := buildTestSpec(t)
	tests := []struct {
		name     string
		def      string
		required []string
		optional []string
	}{
		{name: "container", def: "io.k8s.api.core.v1.Container", required: []string{"name"}, optional: []string{"image", "ports"}},
		{name: "deployment spec", def: "io.k8s.api.apps.v1.DeploymentSpec", required: []string{"selector", "template"}, optional: []string{"replicas", "strategy"}},
		{name: "pod spec", def: "io.k8s.api.core.v1.PodSpec", required: []string{"containers"}, optional: []string{"volumes", "initContainers"}},
		{name: "object meta", def: "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", optional: []string{"name", "labels"}},
		{name: "grpc probe service is +optional", def: "io.k8s.api.core.v1.GRPCAction", required: []string{"port"}, optional: []string{"service"}},
		{name: "event reporting fields are +optional", def: "io.k8s.api.core.v1.Event", required: []string{"metadata", "involvedObject"}, optional: []string{"reportingComponent", "reportingInstance"}},
		{name: "service port", def: "io.k8s.api.core.v1.ServicePort", required: []string{"port"}, optional: []string{"targetPort", "protocol"}},
		{name: "env var", def: "io.k8s.api.core.v1.EnvVar", required: []string{"name"}, optional: []string{"value"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := def(t, s, tc.def)
			for _, f := range tc.required {
				if !slices.Contains(d.Required, f) {
					t.Errorf("%s not required (required = %v)", f, d.Required)
				}
			}
			for _, f := range tc.optional {
				prop(t, d, f)
				if slices.Contains(d.Required, f) {
					t.Errorf("%s wrongly required", f)
				}
			}
		})
	}
}

func TestPatchMetadata(t *testing.T) {
	s := buildTestSpec(t)
	tests := []struct {
		name, def, field string
		strategy, key    string
		listType         string
		mapKeys          []any
	}{
		{name: "containers", def: "io.k8s.api.core.v1.PodSpec", field: "containers", strategy: "merge", key: "name", listType: "map", mapKeys: []any{"name"}},
		{name: "volumes", def: "io.k8s.api.core.v1.PodSpec", field: "volumes", strategy: "merge,retainKeys", key: "name", listType: "map", mapKeys: []any{"name"}},
		{name: "container ports", def: "io.k8s.api.core.v1.Container", field: "ports", strategy: "merge", key: "containerPort", listType: "map", mapKeys: []any{"containerPort", "protocol"}},
		{name: "service ports", def: "io.k8s.api.core.v1.ServiceSpec", field: "ports", strategy: "merge", key: "port", listType: "map", mapKeys: []any{"port", "protocol"}},
		{name: "finalizers", def: "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", field: "finalizers", strategy: "merge", listType: "set"},
		{name: "tolerations stay atomic", def: "io.k8s.api.core.v1.PodSpec", field: "tolerations"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := prop(t, def(t, s, tc.def), tc.field)
			ext := p.Extensions
			if tc.strategy != "" && ext[extPatchStrategy] != tc.strategy {
				t.Errorf("strategy = %v, want %s", ext[extPatchStrategy], tc.strategy)
			}
			if tc.key != "" && ext[extPatchMergeKey] != tc.key {
				t.Errorf("merge key = %v, want %s", ext[extPatchMergeKey], tc.key)
			}
			if got, _ := ext[extListType].(string); got != tc.listType {
				t.Errorf("list type = %q, want %q", got, tc.listType)
			}
			if tc.mapKeys != nil && !slices.Equal(ext[extListMapKeys].([]any), tc.mapKeys) {
				t.Errorf("map keys = %v, want %v", ext[extListMapKeys], tc.mapKeys)
			}
		})
	}
}

func TestSelfDescribedTypes(t *testing.T) {
	s := buildTestSpec(t)
	ios := def(t, s, "io.k8s.apimachinery.pkg.util.intstr.IntOrString")
	if ios.Extensions[extIntOrString] != true || ios.Format != "int-or-string" || len(ios.OneOf) != 2 {
		t.Errorf("IntOrString v3 = %+v", ios)
	}
	q := def(t, s, "io.k8s.apimachinery.pkg.api.resource.Quantity")
	if len(q.OneOf) != 2 || q.OneOf[0].Type[0] != "string" || q.Description == "" {
		t.Errorf("Quantity v3 = %+v", q)
	}
	tm := def(t, s, "io.k8s.apimachinery.pkg.apis.meta.v1.Time")
	if tm.Type[0] != "string" || tm.Format != "date-time" {
		t.Errorf("Time = %+v", tm)
	}

	raw, err := s.V2JSON()
	if err != nil {
		t.Fatal(err)
	}
	var v2 struct {
		Definitions map[string]map[string]any `json:"definitions"`
	}
	if err := json.Unmarshal(raw, &v2); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, typ, format string }{
		{"io.k8s.apimachinery.pkg.util.intstr.IntOrString", "string", "int-or-string"},
		{"io.k8s.apimachinery.pkg.api.resource.Quantity", "string", ""},
		{"io.k8s.apimachinery.pkg.apis.meta.v1.Time", "string", "date-time"},
	}
	for _, tc := range tests {
		t.Run("v2 "+tc.name, func(t *testing.T) {
			d := v2.Definitions[tc.name]
			if d["type"] != tc.typ || (d["format"] != nil && d["format"] != tc.format) || d["oneOf"] != nil {
				t.Errorf("v2 %s = %v", tc.name, d)
			}
		})
	}
}

func TestNewTypeConverterAcceptsDefinitions(t *testing.T) {
	s := buildTestSpec(t)
	tc, err := managedfields.NewTypeConverter(s.Definitions(), false)
	if err != nil {
		t.Fatalf("NewTypeConverter: %v", err)
	}
	replicas := int32(2)
	dep := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"app": "web"}},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Strategy: appsv1.DeploymentStrategy{RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: ptr(intstr.FromString("25%"))}},
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name: "web", Image: "nginx",
				Ports: []corev1.ContainerPort{{ContainerPort: 80}, {ContainerPort: 53, Protocol: corev1.ProtocolUDP}},
			}}}},
		},
	}
	typed, err := tc.ObjectToTyped(dep)
	if err != nil {
		t.Fatalf("ObjectToTyped: %v", err)
	}
	set, err := typed.ToFieldSet()
	if err != nil {
		t.Fatalf("ToFieldSet: %v", err)
	}
	// Containers must be keyed by name (an associative list), not by index.
	want := fieldpath.MakePathOrDie("spec", "template", "spec", "containers",
		fieldpath.KeyByFields("name", "web"), "image")
	if !set.Has(want) {
		t.Errorf("field set lacks %v:\n%s", want, set)
	}

	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "p"},
		"spec": map[string]any{"containers": []any{map[string]any{"name": "c", "image": "busybox",
			"resources": map[string]any{"limits": map[string]any{"cpu": "500m", "memory": int64(1024)}}}}},
	}}
	if _, err := tc.ObjectToTyped(u); err != nil {
		t.Errorf("pod ObjectToTyped: %v", err)
	}
	bad := u.DeepCopy()
	bad.Object["spec"].(map[string]any)["bogus"] = true
	if _, err := tc.ObjectToTyped(bad); err == nil {
		t.Error("unknown field accepted")
	}
	if _, err := tc.ObjectToTyped(&metav1.DeleteOptions{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DeleteOptions"}}); err != nil {
		t.Errorf("DeleteOptions: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

func TestServeV2(t *testing.T) {
	s := buildTestSpec(t)
	srv := httptest.NewServer(http.HandlerFunc(s.ServeV2))
	defer srv.Close()

	get := func(t *testing.T, accept, ifNoneMatch string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/openapi/v2", nil)
		req.Header.Set("Accept", accept)
		if ifNoneMatch != "" {
			req.Header.Set("If-None-Match", ifNoneMatch)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	tests := []struct {
		name, accept, wantType string
	}{
		{"json", "application/json", "application/json"},
		{"kubectl protobuf", "application/com.github.proto-openapi.spec.v2@v1.0+protobuf", mimeV2Proto},
		{"protobuf preferred over json", "application/com.github.proto-openapi.spec.v2.v1.0+protobuf, application/json", mimeV2Proto},
		{"no accept", "", "application/json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := get(t, tc.accept, "")
			body := readAll(t, resp)
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != tc.wantType {
				t.Fatalf("status %d type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			tag := resp.Header.Get("ETag")
			if again := get(t, tc.accept, tag); again.StatusCode != http.StatusNotModified {
				t.Errorf("If-None-Match: status %d", again.StatusCode)
			}
			if tc.wantType != mimeV2Proto {
				return
			}
			var doc openapi_v2.Document
			if err := proto.Unmarshal(body, &doc); err != nil {
				t.Fatalf("unmarshal protobuf: %v", err)
			}
			assertV2PatchOp(t, &doc)
		})
	}
}

// assertV2PatchOp checks what kubectl's field validation probe looks for:
// a PATCH operation tagged with the kind's GVK that takes fieldValidation.
func assertV2PatchOp(t *testing.T, doc *openapi_v2.Document) {
	t.Helper()
	for _, item := range doc.GetPaths().GetPath() {
		if item.GetName() != "/apis/apps/v1/namespaces/{namespace}/deployments/{name}" {
			continue
		}
		op := item.GetValue().GetPatch()
		var gvk string
		for _, ext := range op.GetVendorExtension() {
			if ext.GetName() == extGVK {
				gvk = ext.GetValue().GetYaml()
			}
		}
		if !strings.Contains(gvk, "kind: Deployment") {
			t.Errorf("patch gvk extension = %q", gvk)
		}
		var found bool
		for _, p := range op.GetParameters() {
			if p.GetParameter().GetNonBodyParameter().GetQueryParameterSubSchema().GetName() == "fieldValidation" {
				found = true
			}
		}
		if !found {
			t.Error("patch has no fieldValidation parameter")
		}
		if !slices.Contains(op.GetConsumes(), "application/strategic-merge-patch+json") {
			t.Errorf("patch consumes %v", op.GetConsumes())
		}
		return
	}
	t.Error("deployment item path missing")
}

func readAll(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return []byte(b.String())
}

func TestServeV3(t *testing.T) {
	s := buildTestSpec(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/openapi/v3", s.ServeV3)
	mux.HandleFunc("/openapi/v3/", s.ServeV3)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp, err := srv.Client().Get(srv.URL + "/openapi/v3")
	if err != nil {
		t.Fatal(err)
	}
	var index struct {
		Paths map[string]struct {
			URL string `json:"serverRelativeURL"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(readAll(t, resp), &index); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"api/v1", "apis/apps/v1", "apis/rbac.authorization.k8s.io/v1"} {
		t.Run(key, func(t *testing.T) {
			entry, ok := index.Paths[key]
			if !ok || !strings.HasPrefix(entry.URL, "/openapi/v3/"+key+"?hash=") {
				t.Fatalf("index entry %q = %+v", key, entry)
			}
			resp, err := srv.Client().Get(srv.URL + entry.URL)
			if err != nil {
				t.Fatal(err)
			}
			body := readAll(t, resp)
			if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
				t.Fatalf("status %d cache %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
			}
			if want := strings.TrimPrefix(entry.URL, "/openapi/v3/"+key+"?hash="); hashOf(body) != want {
				t.Errorf("hash mismatch")
			}
			var doc map[string]any
			if err := json.Unmarshal(body, &doc); err != nil {
				t.Fatal(err)
			}
			if doc["openapi"] != "3.0.0" {
				t.Errorf("openapi = %v", doc["openapi"])
			}
		})
	}
	t.Run("deployment patch", func(t *testing.T) {
		var doc struct {
			Paths      map[string]map[string]json.RawMessage `json:"paths"`
			Components struct {
				Schemas map[string]json.RawMessage `json:"schemas"`
			} `json:"components"`
		}
		resp, err := srv.Client().Get(srv.URL + index.Paths["apis/apps/v1"].URL)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(readAll(t, resp), &doc); err != nil {
			t.Fatal(err)
		}
		var patch struct {
			Parameters  []struct{ Name string } `json:"parameters"`
			RequestBody struct {
				Content map[string]any `json:"content"`
			} `json:"requestBody"`
			GVK map[string]string `json:"x-kubernetes-group-version-kind"`
		}
		if err := json.Unmarshal(doc.Paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"], &patch); err != nil {
			t.Fatal(err)
		}
		if patch.GVK["kind"] != "Deployment" || patch.GVK["group"] != "apps" {
			t.Errorf("gvk = %v", patch.GVK)
		}
		if !slices.ContainsFunc(patch.Parameters, func(p struct{ Name string }) bool { return p.Name == "fieldValidation" }) {
			t.Error("no fieldValidation parameter")
		}
		if patch.RequestBody.Content["application/strategic-merge-patch+json"] == nil {
			t.Error("no strategic merge patch content type")
		}
		for _, name := range []string{"io.k8s.api.apps.v1.Deployment", "io.k8s.api.core.v1.PodSpec", "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions", "io.k8s.api.autoscaling.v1.Scale"} {
			if doc.Components.Schemas[name] == nil {
				t.Errorf("schema %s missing", name)
			}
		}
		if doc.Components.Schemas["io.k8s.api.rbac.v1.Role"] != nil {
			t.Error("apps document carries rbac schemas")
		}
	})
	t.Run("protobuf", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+index.Paths["apis/apps/v1"].URL, nil)
		req.Header.Set("Accept", "application/com.github.proto-openapi.spec.v3@v1.0+protobuf")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp)
		if resp.Header.Get("Content-Type") != mimeV3Proto {
			t.Fatalf("content type %q", resp.Header.Get("Content-Type"))
		}
		var doc openapi_v3.Document
		if err := proto.Unmarshal(body, &doc); err != nil {
			t.Fatal(err)
		}
		var found bool
		for _, named := range doc.GetComponents().GetSchemas().GetAdditionalProperties() {
			found = found || named.GetName() == "io.k8s.api.apps.v1.Deployment"
		}
		if !found {
			t.Error("Deployment schema missing from protobuf document")
		}
	})
	t.Run("stale hash redirects", func(t *testing.T) {
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Get(srv.URL + "/openapi/v3/apis/apps/v1?hash=OLD")
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, resp)
		if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != index.Paths["apis/apps/v1"].URL {
			t.Errorf("status %d location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
	t.Run("unknown group version", func(t *testing.T) {
		resp, err := srv.Client().Get(srv.URL + "/openapi/v3/apis/nope/v1")
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, resp)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("status %d", resp.StatusCode)
		}
	})
}
