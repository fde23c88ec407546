package integration

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// TestAuthentication checks who may do what: the admin certificate and a
// bearer token from the token file may write, an anonymous client may only
// ask for health and version.
func TestAuthentication(t *testing.T) {
	tokens := filepath.Join(t.TempDir(), "tokens.csv")
	if err := os.WriteFile(tokens, []byte(`s3cret,alice,1001,"devs"`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, t.TempDir(), withTokenFile(tokens))
	ctx := testContext(t)
	anonymous := &rest.Config{Host: ts.config.Host, TLSClientConfig: rest.TLSClientConfig{CAData: ts.config.CAData}}
	withToken := rest.CopyConfig(anonymous)
	withToken.BearerToken = "s3cret"
	badToken := rest.CopyConfig(anonymous)
	badToken.BearerToken = "wrong"

	tests := []struct {
		name   string
		config *rest.Config
		// wantCode is the HTTP status of a ConfigMap create; 0 means success.
		wantCode int
	}{
		{"bearer token", withToken, 0},
		{"unknown token", badToken, http.StatusUnauthorized},
		{"anonymous", anonymous, http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := kubernetes.NewForConfigOrDie(tc.config)
			_, err := c.CoreV1().ConfigMaps("default").Create(ctx, configMap("auth-"+strings.ReplaceAll(tc.name, " ", "-"), nil), metav1.CreateOptions{})
			switch {
			case tc.wantCode == 0 && err != nil:
				t.Fatalf("create: %v", err)
			case tc.wantCode != 0:
				wantStatus(t, err, int32(tc.wantCode))
			}
		})
	}
	t.Run("anonymous health and version", func(t *testing.T) {
		client, err := rest.HTTPClientFor(anonymous)
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{"/livez", "/readyz", "/healthz", "/version"} {
			resp, err := client.Get(anonymous.Host + path)
			if err != nil {
				t.Fatalf("GET %s: %v", path, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET %s = %d %s", path, resp.StatusCode, body)
			}
		}
	})
}

// TestDynamicClient drives resources as unstructured objects, as generic
// tools do.
func TestDynamicClient(t *testing.T) {
	ts := startServer(t, t.TempDir())
	ctx := testContext(t)
	deployments := ts.dynamic.Resource(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}).Namespace("default")
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "dyn"},
		"spec": map[string]any{
			"selector": map[string]any{"matchLabels": map[string]any{"app": "dyn"}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": map[string]any{"app": "dyn"}},
				"spec":     map[string]any{"containers": []any{map[string]any{"name": "c", "image": "busybox"}}},
			},
		},
	}}
	created, err := deployments.Create(ctx, obj, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if replicas, _, _ := unstructured.NestedInt64(created.Object, "spec", "replicas"); replicas != 1 {
		t.Errorf("defaulted replicas = %d, want 1", replicas)
	}
	patched, err := deployments.Patch(ctx, "dyn", types.MergePatchType, []byte(`{"spec":{"replicas":3}}`), metav1.PatchOptions{})
	if err != nil {
		t.Fatalf("patch: %v", err)
	}
	if replicas, _, _ := unstructured.NestedInt64(patched.Object, "spec", "replicas"); replicas != 3 {
		t.Errorf("patched replicas = %d, want 3", replicas)
	}
	list, err := deployments.List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("list: %v, %d items", err, len(list.Items))
	}
	if err := deployments.Delete(ctx, "dyn", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	unknown := ts.dynamic.Resource(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "widgets"}).Namespace("default")
	if _, err := unknown.List(ctx, metav1.ListOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("list of an unknown resource: %v, want 404", err)
	}
}

// TestBinarySIGTERM runs the real binary and stops it as a service manager
// would: it must exit cleanly, and a second start on the same data dir must
// serve again.
func TestBinarySIGTERM(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "skiff")
	build := exec.Command("go", "build", "-o", bin, "github.com/skiff-sh/skiff/cmd/skiff")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build skiff: %v\n%s", err, out)
	}
	dir := t.TempDir()
	p := ports{https: freePort(t), etcdClient: freePort(t), etcdPeer: freePort(t)}
	for run := range 2 {
		cmd := exec.Command(bin, "server", "--data-dir", dir, "--https-port", strconv.Itoa(p.https),
			"--etcd-client-port", strconv.Itoa(p.etcdClient), "--etcd-peer-port", strconv.Itoa(p.etcdPeer), "--disable-agent")
		out := &syncBuffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		waitFor(t, 30*time.Second, func() bool { return strings.Contains(out.String(), "export KUBECONFIG=") })
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("run %d: exit after SIGTERM: %v\n%s", run, err, out.String())
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("run %d: still running 20s after SIGTERM\n%s", run, out.String())
		}
	}
}

func waitFor(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("condition not met within %v", timeout)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// syncBuffer collects a process's output while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
