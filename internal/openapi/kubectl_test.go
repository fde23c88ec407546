package openapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	"google.golang.org/protobuf/proto"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

const kubectlDir = "/usr/lib/google-cloud-sdk/bin"

// fakeAPIServer serves legacy discovery for the given resources, the
// OpenAPI documents, and records the requests it answers.
type fakeAPIServer struct {
	spec      *Spec
	resources []Resource
	// hideFieldValidation renames the fieldValidation parameter in the
	// served documents, so kubectl believes the server cannot validate
	// and validates client-side against the schemas.
	hideFieldValidation bool
	// objects are served to GET and echoed back by writes, keyed by path.
	objects map[string][]byte

	mu       sync.Mutex
	requests []string
	bodies   map[string][]byte // last request body by "METHOD path"
}

func (f *fakeAPIServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.requests = append(f.requests, r.Method+" "+r.URL.RequestURI())
	if f.bodies == nil {
		f.bodies = map[string][]byte{}
	}
	f.bodies[r.Method+" "+r.URL.Path] = body
	f.mu.Unlock()
	switch p := r.URL.Path; {
	case f.hideFieldValidation && (p == "/openapi/v2" || strings.HasPrefix(p, "/openapi/v3/")):
		f.serveWithoutFieldValidation(w, r)
	case p == "/openapi/v2":
		f.spec.ServeV2(w, r)
	case p == "/openapi/v3" || strings.HasPrefix(p, "/openapi/v3/"):
		f.spec.ServeV3(w, r)
	case r.Method != http.MethodGet:
		f.serveWrite(w, r, body)
	case f.objects[p] != nil:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(f.objects[p])
	case p == "/api":
		writeJSON(w, metav1.APIVersions{TypeMeta: metav1.TypeMeta{Kind: "APIVersions"}, Versions: []string{"v1"},
			ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{{ClientCIDR: "0.0.0.0/0", ServerAddress: r.Host}}})
	case p == "/apis":
		writeJSON(w, f.groupList())
	case p == "/version":
		writeJSON(w, map[string]string{"major": "1", "minor": "33", "gitVersion": "v1.33.0"})
	default:
		if list, ok := f.resourceList(strings.TrimPrefix(p, "/")); ok {
			writeJSON(w, list)
			return
		}
		writeNotFound(w, p)
	}
}

// serveWithoutFieldValidation serves the documents with the
// fieldValidation parameter renamed.
func (f *fakeAPIServer) serveWithoutFieldValidation(w http.ResponseWriter, r *http.Request) {
	rec := httptest.NewRecorder()
	plain := r.Clone(r.Context())
	plain.Header.Set("Accept", "application/json")
	plain.Header.Del("If-None-Match")
	if r.URL.Path == "/openapi/v2" {
		f.spec.ServeV2(rec, plain)
	} else {
		f.spec.ServeV3(rec, plain)
	}
	body := bytes.ReplaceAll(rec.Body.Bytes(), []byte(`"fieldValidation"`), []byte(`"fieldValidationHidden"`))
	if r.URL.Path == "/openapi/v2" && strings.Contains(r.Header.Get("Accept"), "protobuf") {
		doc, err := openapi_v2.ParseDocument(body)
		if err == nil {
			body, err = proto.Marshal(doc)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", mimeV2Proto)
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(body)
}

// serveWrite answers creates and patches with the stored object (or the
// request body) so that kubectl is satisfied.
func (f *fakeAPIServer) serveWrite(w http.ResponseWriter, r *http.Request, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	if obj := f.objects[r.URL.Path]; obj != nil {
		_, _ = w.Write(obj)
		return
	}
	if r.Method == http.MethodPost && json.Valid(body) {
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(body)
		return
	}
	writeNotFound(w, r.URL.Path)
}

func (f *fakeAPIServer) body(key string) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.bodies[key]
}

func (f *fakeAPIServer) seen(prefix string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.requests {
		if strings.HasPrefix(r, prefix) {
			return true
		}
	}
	return false
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeAPIServer) groupList() metav1.APIGroupList {
	list := metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}}
	seen := map[schema.GroupVersion]bool{}
	for _, r := range f.resources {
		gv := r.GroupVersionKind.GroupVersion()
		if gv.Group == "" || seen[gv] {
			continue
		}
		seen[gv] = true
		v := metav1.GroupVersionForDiscovery{GroupVersion: gv.String(), Version: gv.Version}
		list.Groups = append(list.Groups, metav1.APIGroup{Name: gv.Group, Versions: []metav1.GroupVersionForDiscovery{v}, PreferredVersion: v})
	}
	return list
}

func (f *fakeAPIServer) resourceList(path string) (metav1.APIResourceList, bool) {
	var out metav1.APIResourceList
	for _, r := range f.resources {
		gv := r.GroupVersionKind.GroupVersion()
		if strings.TrimPrefix(pathPrefix(gv), "/") != path {
			continue
		}
		out.GroupVersion = gv.String()
		out.APIResources = append(out.APIResources, metav1.APIResource{
			Name: r.Resource, SingularName: strings.ToLower(r.GroupVersionKind.Kind), Namespaced: r.Namespaced,
			Kind: r.GroupVersionKind.Kind, Verbs: r.Verbs,
		})
	}
	out.Kind, out.APIVersion = "APIResourceList", "v1"
	return out, out.GroupVersion != ""
}

type kubectlEnv struct {
	bin, kubeconfig, dir string
	server               *fakeAPIServer
}

// newKubectlEnv starts a fake API server serving s (shared between
// subtests: its documents are serialised once) and writes a kubeconfig.
func newKubectlEnv(t *testing.T, s *Spec, version string, opts ...func(*fakeAPIServer)) *kubectlEnv {
	t.Helper()
	bin := filepath.Join(kubectlDir, "kubectl."+version)
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("kubectl %s not installed: %v", version, err)
	}
	fake := &fakeAPIServer{spec: s, resources: testResources()}
	for _, o := range opts {
		o(fake)
	}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: %s
contexts:
- name: test
  context: {cluster: test, user: test, namespace: default}
current-context: test
users:
- name: test
  user: {token: test}
`, srv.URL)
	if err := os.WriteFile(kubeconfig, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return &kubectlEnv{bin: bin, kubeconfig: kubeconfig, dir: dir, server: fake}
}

func (k *kubectlEnv) run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, k.bin, append([]string{"--kubeconfig", k.kubeconfig}, args...)...)
	// A private cache directory keeps runs independent of each other.
	cmd.Env = append(os.Environ(), "HOME="+k.dir, "KUBECACHEDIR="+filepath.Join(k.dir, "cache"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func (k *kubectlEnv) writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(k.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const goodDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 25%}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx
        ports:
        - containerPort: 80
        resources:
          limits: {cpu: 500m, memory: 128Mi}
          requests: {cpu: 1, memory: 64974848}
        readinessProbe:
          httpGet: {path: /, port: http}
`

var kubectlVersions = []string{"1.27", "1.33"}

// explainVersions covers every kubectl release installed: 1.27/1.28 read
// OpenAPI v2 first, later ones only v3.
var explainVersions = []string{"1.27", "1.28", "1.29", "1.30", "1.31", "1.32", "1.33"}

func TestKubectlExplain(t *testing.T) {
	s := buildTestSpec(t)
	tests := []struct {
		field string
		want  []string
	}{
		{field: "deployment.spec.strategy", want: []string{"DeploymentStrategy", "rollingUpdate", "Type of deployment"}},
		{field: "pods.spec.containers.ports", want: []string{"ContainerPort", "containerPort", "-required-", "Number of port to expose"}},
	}
	for _, version := range explainVersions {
		t.Run(version, func(t *testing.T) {
			k := newKubectlEnv(t, s, version)
			for _, tc := range tests {
				out, err := k.run(t, "explain", tc.field)
				if err != nil {
					t.Fatalf("explain %s failed: %v\n%s", tc.field, err, out)
				}
				for _, want := range tc.want {
					if !strings.Contains(out, want) {
						t.Errorf("explain %s output lacks %q:\n%s", tc.field, want, out)
					}
				}
			}
		})
	}
}

func TestKubectlValidate(t *testing.T) {
	s := buildTestSpec(t)
	hide := func(f *fakeAPIServer) { f.hideFieldValidation = true }
	for _, version := range kubectlVersions {
		t.Run(version+" client side", func(t *testing.T) {
			k := newKubectlEnv(t, s, version, hide)
			good := k.writeFile(t, "good.yaml", goodDeployment)
			out, err := k.run(t, "create", "--dry-run=client", "--validate=true", "-f", good, "-o", "name")
			if err != nil || strings.TrimSpace(out) != "deployment.apps/web" {
				t.Fatalf("good manifest rejected: %v\n%s", err, out)
			}
			bad := k.writeFile(t, "bad.yaml", strings.Replace(goodDeployment, "replicas: 2", "replicas: 2\n  replicaz: 3", 1))
			out, err = k.run(t, "create", "--dry-run=client", "--validate=true", "-f", bad, "-o", "name")
			if err == nil || !strings.Contains(out, "replicaz") {
				t.Errorf("bad manifest accepted or error does not name the field: %v\n%s", err, out)
			}
			t.Logf("bad manifest: %s", out)
			// One kubectl run over a directory keeps the test quick.
			dir := filepath.Join(k.dir, "good")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			for name, manifest := range goodManifests {
				k.writeFile(t, filepath.Join("good", name+".yaml"), manifest)
			}
			if out, err := k.run(t, "create", "--dry-run=client", "--validate=true", "-f", dir, "-o", "name"); err != nil {
				t.Errorf("valid manifests rejected: %v\n%s", err, out)
			}
		})
		t.Run(version+" delegated to server", func(t *testing.T) {
			k := newKubectlEnv(t, s, version)
			good := k.writeFile(t, "good.yaml", goodDeployment)
			out, err := k.run(t, "create", "--dry-run=server", "--validate=true", "-f", good, "-o", "name")
			if err != nil {
				t.Fatalf("create failed: %v\n%s", err, out)
			}
			if !k.server.seen("POST /apis/apps/v1/namespaces/default/deployments?") ||
				!k.server.seen("POST /apis/apps/v1/namespaces/default/deployments?dryRun=All&fieldManager=kubectl-create&fieldValidation=Strict") {
				t.Errorf("kubectl did not delegate validation; requests:\n%s", strings.Join(k.server.requests, "\n"))
			}
		})
	}
}

// goodManifests exercise fields whose schemas are easy to get wrong:
// int-or-string ports, quantities, optional-but-untagged fields, volumes.
var goodManifests = map[string]string{
	"service": `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: http}
  - {name: dns, port: 53, protocol: UDP, targetPort: 5353}
`,
	"pod": `apiVersion: v1
kind: Pod
metadata:
  name: p
  labels: {a: b}
  annotations: {x: "z"}
spec:
  restartPolicy: Never
  volumes:
  - name: cfg
    configMap: {name: cfg, items: [{key: a, path: a}]}
  - name: scratch
    emptyDir: {sizeLimit: 1Gi}
  containers:
  - name: c
    image: busybox
    command: [sh, -c, "sleep 1"]
    env:
    - {name: A, value: "1"}
    - name: B
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
    livenessProbe:
      grpc: {port: 9000}
      initialDelaySeconds: 3
    volumeMounts:
    - {name: cfg, mountPath: /cfg}
    securityContext: {runAsNonRoot: true, capabilities: {drop: [ALL]}}
  tolerations:
  - {key: k, operator: Exists, effect: NoSchedule}
`,
	"configmap": `apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {a: "1"}
binaryData: {b: aGVsbG8=}
`,
	"cronjob": `apiVersion: batch/v1
kind: CronJob
metadata: {name: cj}
spec:
  schedule: "*/5 * * * *"
  jobTemplate:
    spec:
      backoffLimit: 2
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: c, image: busybox}]
`,
}

// TestKubectlApplyStrategicMerge checks that client-side apply computes a
// strategic merge patch keyed by container name from the served schemas.
func TestKubectlApplyStrategicMerge(t *testing.T) {
	s := buildTestSpec(t)
	const itemPath = "/apis/apps/v1/namespaces/default/deployments/web"
	for _, version := range kubectlVersions {
		t.Run(version, func(t *testing.T) {
			last := strings.Replace(goodDeployment, "      containers:\n", "      containers:\n      - {name: sidecar, image: busybox}\n", 1)
			lastJSON, err := yaml.YAMLToJSON([]byte(last))
			if err != nil {
				t.Fatal(err)
			}
			var live map[string]any
			if err := json.Unmarshal(lastJSON, &live); err != nil {
				t.Fatal(err)
			}
			live["metadata"] = map[string]any{"name": "web", "namespace": "default", "resourceVersion": "1",
				"annotations": map[string]any{"kubectl.kubernetes.io/last-applied-configuration": string(lastJSON)}}
			liveJSON, _ := json.Marshal(live)
			k := newKubectlEnv(t, s, version, func(f *fakeAPIServer) { f.objects = map[string][]byte{itemPath: liveJSON} })

			updated := strings.Replace(last, "image: busybox", "image: busybox:2", 1)
			f := k.writeFile(t, "deploy.yaml", updated)
			out, err := k.run(t, "apply", "-f", f)
			if err != nil || strings.Contains(out, "warning") {
				// kubectl warns when it cannot use the served schemas and
				// falls back to its compiled-in types.
				t.Fatalf("apply failed or warned: %v\n%s", err, out)
			}
			patch := string(k.server.body("PATCH " + itemPath))
			if !strings.Contains(patch, `"$setElementOrder/containers"`) || !strings.Contains(patch, `"busybox:2"`) {
				t.Errorf("patch does not merge containers by name: %s", patch)
			}
			if strings.Contains(patch, `"nginx"`) {
				t.Errorf("patch replaces the unchanged container: %s", patch)
			}
		})
	}
}
