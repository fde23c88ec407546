package defaulting

import (
	"os"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

// decode turns a manifest into its typed k8s.io/api object. The client-go
// scheme registers no defaulting functions, so the result is exactly what
// the manifest says.
func decode(t *testing.T, manifest string) runtime.Object {
	t.Helper()
	obj, _, err := scheme.Codecs.UniversalDeserializer().Decode([]byte(manifest), nil, nil)
	if err != nil {
		t.Fatalf("decoding manifest: %v\n%s", err, manifest)
	}
	return obj
}

// yamlDiff shows the lines in which two values' YAML forms differ, each
// line prefixed with - (only in a) or + (only in b).
func yamlDiff(a, b any) string {
	render := func(v any) []string {
		if s, ok := v.(string); ok {
			return strings.Split(s, "\n")
		}
		out, err := yaml.Marshal(v)
		if err != nil {
			return []string{"<unencodable: " + err.Error() + ">"}
		}
		return strings.Split(string(out), "\n")
	}
	la, lb := render(a), render(b)
	inA, inB := map[string]int{}, map[string]int{}
	for _, l := range la {
		inA[l]++
	}
	for _, l := range lb {
		inB[l]++
	}
	var sb strings.Builder
	for _, l := range la {
		if inB[l] == 0 {
			sb.WriteString("-" + l + "\n")
		}
	}
	for _, l := range lb {
		if inA[l] == 0 {
			sb.WriteString("+" + l + "\n")
		}
	}
	if sb.Len() == 0 {
		return "(YAML forms are equal; the difference is in field values YAML hides)\n"
	}
	return sb.String()
}

// defaultCase is one object before and after defaulting, as full manifests.
type defaultCase struct {
	name string
	in   string
	want string
}

func TestDefault(t *testing.T) {
	for _, tc := range allCases() {
		t.Run(tc.name, func(t *testing.T) {
			got := decode(t, tc.in)
			Default(got)
			want := decode(t, tc.want)
			if !equality.Semantic.DeepEqual(want, got) {
				t.Errorf("defaulted object differs (-want +got):\n%s", yamlDiff(want, got))
			}
		})
	}
}

func TestDefaultIsIdempotent(t *testing.T) {
	for _, tc := range allCases() {
		t.Run(tc.name, func(t *testing.T) {
			once := decode(t, tc.in)
			Default(once)
			twice := once.DeepCopyObject()
			Default(twice)
			if !equality.Semantic.DeepEqual(once, twice) {
				t.Errorf("second Default changed the object (-once +twice):\n%s", yamlDiff(once, twice))
			}
			// The expected form must itself be a fixed point, so a stored
			// object read back and written again does not drift.
			stored := decode(t, tc.want)
			again := stored.DeepCopyObject()
			Default(again)
			if !equality.Semantic.DeepEqual(stored, again) {
				t.Errorf("Default changed an already defaulted object (-stored +again):\n%s", yamlDiff(stored, again))
			}
		})
	}
}

// upstreamHTTPDSpec is the spec kube-apiserver stores for the httpd seed, as
// printed by `kubectl get deployment httpd-deployment -o yaml`.
const upstreamHTTPDSpec = `progressDeadlineSeconds: 600
replicas: 2
revisionHistoryLimit: 10
selector:
  matchLabels:
    app: httpd_pod
strategy:
  rollingUpdate:
    maxSurge: 25%
    maxUnavailable: 25%
  type: RollingUpdate
template:
  metadata:
    labels:
      app: httpd_pod
  spec:
    containers:
    - image: httpd
      imagePullPolicy: Always
      name: httpd
      resources: {}
      terminationMessagePath: /dev/termination-log
      terminationMessagePolicy: File
    dnsPolicy: ClusterFirst
    restartPolicy: Always
    schedulerName: default-scheduler
    securityContext: {}
    terminationGracePeriodSeconds: 30
`

func TestHTTPDSeedMatchesUpstream(t *testing.T) {
	raw, err := os.ReadFile("testdata/httpd_deployment.yaml")
	if err != nil {
		t.Fatalf("reading seed: %v", err)
	}
	var d appsv1.Deployment
	if err := yaml.Unmarshal(raw, &d); err != nil {
		t.Fatalf("decoding seed: %v", err)
	}
	Default(&d)
	got, err := yaml.Marshal(d.Spec)
	if err != nil {
		t.Fatalf("encoding spec: %v", err)
	}
	if string(got) != upstreamHTTPDSpec {
		t.Errorf("stored spec differs from upstream:\n%s", yamlDiff(upstreamHTTPDSpec, string(got)))
	}
}

func TestImageTagAndPullPolicy(t *testing.T) {
	const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	tests := []struct {
		image string
		want  string
	}{
		{"httpd", "Always"},
		{"httpd:latest", "Always"},
		{"nginx:1.25", "IfNotPresent"},
		{"library/nginx:1.25-alpine", "IfNotPresent"},
		{"docker.io/library/busybox", "Always"},
		{"registry.local:5000/team/app", "Always"},
		{"registry.local:5000/team/app:v2", "IfNotPresent"},
		{"registry.local:5000/team/app:latest", "Always"},
		{"localhost:5000/app", "Always"},
		{"nginx@" + digest, "IfNotPresent"},
		{"nginx:latest@" + digest, "Always"},
		{"nginx:1.25@" + digest, "IfNotPresent"},
		{"registry.local:5000/app@" + digest, "IfNotPresent"},
		{"MyRegistry.io/app", "Always"},
		{"Nginx", "IfNotPresent"},
		{"", "IfNotPresent"},
		{"nginx:", "IfNotPresent"},
	}
	for _, tc := range tests {
		t.Run(strings.ReplaceAll(tc.image, "/", "_"), func(t *testing.T) {
			if got := string(defaultPullPolicy(tc.image)); got != tc.want {
				t.Errorf("defaultPullPolicy(%q) = %s, want %s", tc.image, got, tc.want)
			}
		})
	}
}

func TestDefaultLeavesUnknownKindsAlone(t *testing.T) {
	for _, manifest := range []string{
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  k: v\n",
		"apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata:\n  name: l\nspec:\n  holderIdentity: me\n",
		"apiVersion: v1\nkind: Event\nmetadata:\n  name: e\nreason: Started\n",
		"apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: p\nspec:\n  minAvailable: 1\n",
		"apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: i\nspec:\n  rules:\n  - http:\n      paths:\n      - path: /\n        backend:\n          service:\n            name: s\n            port:\n              number: 80\n",
	} {
		obj := decode(t, manifest)
		t.Run(obj.GetObjectKind().GroupVersionKind().Kind, func(t *testing.T) {
			before := obj.DeepCopyObject()
			Default(obj)
			if !equality.Semantic.DeepEqual(before, obj) {
				t.Errorf("object changed:\n%s", yamlDiff(before, obj))
			}
		})
	}
}
