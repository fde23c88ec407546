package apiserver

import (
	"errors"
	"net/http/httptest"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
)

func decodingServer(t testing.TB) *Server {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	return &Server{scheme: scheme, codecs: serializer.NewCodecFactory(scheme, serializer.EnableStrict)}
}

// isAPIError reports an error the client sees as a Status, not a 500.
func isAPIError(err error) bool {
	var s apierrors.APIStatus
	if !errorsAs(err, &s) {
		return false
	}
	return s.Status().Code != 500
}

// FuzzDecodeBody feeds arbitrary bodies of every accepted media type to the
// request decoder: it must answer with a client error, never panic or 500.
func FuzzDecodeBody(f *testing.F) {
	f.Add([]byte(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"}}`), "application/json")
	f.Add([]byte("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\n"), "application/yaml")
	f.Add([]byte("k8s\x00\n\x0f\n\x07apps/v1\x12\nDeployment\x12\x00"), "application/vnd.kubernetes.protobuf")
	f.Add([]byte(`{"spec":{"replicas":"two"}}`), "application/json")
	f.Add([]byte(`{"a":1,"a":2}`), "application/json")
	s := decodingServer(f)
	gvk := appsv1.SchemeGroupVersion.WithKind("Deployment")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		r := httptest.NewRequest("POST", "/apis/apps/v1/namespaces/default/deployments?fieldValidation=Strict", nil)
		err := s.decodeInto(httptest.NewRecorder(), r, body, contentType, gvk, &appsv1.Deployment{})
		if err != nil && !isAPIError(err) {
			t.Fatalf("decode %q as %q: non-client error %v", body, contentType, err)
		}
	})
}

// FuzzPatch applies arbitrary patches of each type to a Deployment: every
// failure must be a client error.
func FuzzPatch(f *testing.F) {
	f.Add([]byte(`[{"op":"replace","path":"/spec/replicas","value":3}]`), 0)
	f.Add([]byte(`{"spec":{"replicas":3}}`), 1)
	f.Add([]byte(`{"spec":{"template":{"spec":{"containers":[{"name":"a","image":"b"}]}}}}`), 2)
	f.Add([]byte(`{"$setElementOrder/containers":[{"name":"a"}],"spec":null}`), 2)
	f.Add([]byte(`[{"op":"move","from":"/spec","path":"/spec/x"}]`), 0)
	types := []types.PatchType{types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType}
	cur := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "d", Labels: map[string]string{"a": "b"}}}
	f.Fuzz(func(t *testing.T, patch []byte, kind int) {
		if kind < 0 {
			kind = -kind
		}
		pt := types[kind%len(types)]
		_, err := patchJSON(pt, cur, patch)
		if err != nil && !isAPIError(err) {
			t.Fatalf("%s patch %q: non-client error %v", pt, patch, err)
		}
	})
}

func errorsAs(err error, target *apierrors.APIStatus) bool { return errors.As(err, target) }
