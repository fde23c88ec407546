package integration

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// kubectlBinaries are the client versions kubectl users bring; each must
// work against the same server.
var kubectlBinaries = []struct{ name, path string }{
	{"1.27", "/usr/lib/google-cloud-sdk/bin/kubectl.1.27"},
	{"1.28", "/usr/lib/google-cloud-sdk/bin/kubectl.1.28"},
	{"1.29", "/usr/lib/google-cloud-sdk/bin/kubectl.1.29"},
	{"1.30", "/usr/lib/google-cloud-sdk/bin/kubectl.1.30"},
	{"1.31", "/usr/lib/google-cloud-sdk/bin/kubectl.1.31"},
	{"1.32", "/usr/lib/google-cloud-sdk/bin/kubectl.1.32"},
	{"1.33", "/usr/lib/google-cloud-sdk/bin/kubectl.1.33"},
}

// kubectl runs one binary against a test server in one namespace.
type kubectl struct {
	path, namespace string
	env             []string
}

func newKubectl(t *testing.T, path, kubeconfig, namespace string) *kubectl {
	t.Helper()
	home := t.TempDir()
	editor := filepath.Join(home, "editor.sh")
	// kubectl edit runs $EDITOR on a temp file; this one sets spec.replicas.
	script := "#!/bin/sh\nsed -i 's/^  replicas: .*/  replicas: 7/' \"$1\"\n"
	if err := os.WriteFile(editor, []byte(script), 0o755); err != nil {
		t.Fatalf("write editor: %v", err)
	}
	env := append(os.Environ(), "KUBECONFIG="+kubeconfig, "HOME="+home, "EDITOR="+editor, "KUBE_EDITOR="+editor)
	return &kubectl{path: path, namespace: namespace, env: env}
}

func (k *kubectl) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, k.path, append([]string{"-n", k.namespace}, args...)...)
	cmd.Env = k.env
	return cmd
}

// run runs kubectl to completion and returns its combined output.
func (k *kubectl) run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := k.command(ctx, args...).CombinedOutput()
	return string(out), err
}

func TestKubectl(t *testing.T) {
	var found bool
	for _, b := range kubectlBinaries {
		if _, err := os.Stat(b.path); err == nil {
			found = true
		}
	}
	if !found {
		t.Skip("no kubectl binaries installed")
	}
	ts := startServer(t, t.TempDir())
	for _, b := range kubectlBinaries {
		t.Run(b.name, func(t *testing.T) {
			if _, err := os.Stat(b.path); err != nil {
				t.Skipf("%s not installed", b.path)
			}
			namespace := "kubectl-" + strings.ReplaceAll(b.name, ".", "-")
			createNamespace(t, ts.jsonClient, namespace)
			k := newKubectl(t, b.path, ts.kubeconfig, namespace)
			testKubectlSteps(t, k)
			t.Run("get -w", func(t *testing.T) { testKubectlWatch(t, k, ts) })
		})
	}
}

type kubectlStep struct {
	name string
	args []string
	// want are substrings of the output; exact, if set, is the whole
	// trimmed output.
	want  []string
	exact string
}

func steps(name string, args []string, want ...string) kubectlStep {
	return kubectlStep{name: name, args: args, want: want}
}

func exact(name string, args []string, out string) kubectlStep {
	return kubectlStep{name: name, args: args, exact: out}
}

func jsonpath(kind, name, path string) []string {
	return []string{"get", kind, name, "-o", "jsonpath={" + path + "}"}
}

func testKubectlSteps(t *testing.T, k *kubectl) {
	deploy, svc, svcNP := "testdata/httpd_deployment.yaml", "testdata/httpd_service.yaml", "testdata/httpd_service_nodeport.yaml"
	replicas := func(n string) kubectlStep {
		return exact("replicas "+n, jsonpath("deployment", "httpd-deployment", ".spec.replicas"), n)
	}
	plan := []kubectlStep{
		steps("apply deployment", []string{"apply", "-f", deploy}, "deployment.apps/httpd-deployment created"),
		steps("apply deployment again", []string{"apply", "-f", deploy}, "unchanged"),
		steps("apply service", []string{"apply", "-f", svc}, "service/httpd-src created"),
		steps("apply NodePort service", []string{"apply", "-f", svcNP}, "service/httpd-src configured"),
		exact("nodePort", jsonpath("svc", "httpd-src", ".spec.ports[0].nodePort"), "30000"),
		steps("get deployment", []string{"get", "deployment"}, "NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "httpd-deployment"),
		steps("get deploy -o wide", []string{"get", "deploy", "-o", "wide"}, "CONTAINERS", "IMAGES", "SELECTOR", "app=httpd_pod"),
		steps("apply --server-side", []string{"apply", "--server-side", "-f", deploy}, "serverside-applied"),
		steps("label", []string{"label", "deployment", "httpd-deployment", "tier=web"}, "labeled"),
		steps("get -l", []string{"get", "deploy", "-l", "tier=web", "-o", "name"}, "deployment.apps/httpd-deployment"),
		steps("get --show-labels", []string{"get", "deploy", "--show-labels"}, "LABELS", "tier=web"),
		steps("get --field-selector", []string{"get", "deploy", "--field-selector", "metadata.name=httpd-deployment", "-o", "name"},
			"deployment.apps/httpd-deployment"),
		steps("get -o yaml", []string{"get", "deploy", "httpd-deployment", "-o", "yaml"},
			"apiVersion: apps/v1", "kind: Deployment", "imagePullPolicy: Always", "maxSurge: 25%"),
		steps("get -o json", []string{"get", "deploy", "httpd-deployment", "-o", "json"}, `"kind": "Deployment"`, `"uid":`),
		steps("get svc", []string{"get", "svc", "httpd-src"}, "TYPE", "CLUSTER-IP", "NodePort", "8080:30000/TCP"),
		steps("get -A", []string{"get", "svc", "-A"}, "NAMESPACE", "default", "kubernetes", k.namespace),
		steps("annotate", []string{"annotate", "deployment", "httpd-deployment", "note=hello"}, "annotate"), // kubectl 1.27 prints "annotate", later ones "annotated"
		exact("annotation", jsonpath("deployment", "httpd-deployment", ".metadata.annotations.note"), "hello"),
		steps("scale", []string{"scale", "deployment", "httpd-deployment", "--replicas=5"}, "scaled"),
		replicas("5"),
		steps("patch json", []string{"patch", "deployment", "httpd-deployment", "--type=json",
			"-p", `[{"op":"replace","path":"/spec/replicas","value":3}]`}, "patched"),
		replicas("3"),
		steps("patch merge", []string{"patch", "deployment", "httpd-deployment", "--type=merge",
			"-p", `{"spec":{"replicas":4}}`}, "patched"),
		replicas("4"),
		steps("patch strategic", []string{"patch", "deployment", "httpd-deployment", "--type=strategic",
			"-p", `{"spec":{"template":{"spec":{"containers":[{"name":"httpd","image":"httpd:2.4"}]}}}}`}, "patched"),
		exact("patched image", jsonpath("deployment", "httpd-deployment", ".spec.template.spec.containers[*].image"), "httpd:2.4"),
		steps("edit", []string{"edit", "deployment", "httpd-deployment"}, "edited"),
		replicas("7"),
		steps("replace", []string{"replace", "-f", deploy}, "replaced"),
		replicas("2"),
		steps("create configmap", []string{"create", "configmap", "cm1", "--from-literal=a=b"}, "configmap/cm1 created"),
		exact("configmap data", jsonpath("configmap", "cm1", ".data.a"), "b"),
		steps("create secret", []string{"create", "secret", "generic", "s1", "--from-literal=p=q"}, "secret/s1 created"),
		exact("secret data", jsonpath("secret", "s1", ".data.p"), "cQ=="),
		steps("create namespace", []string{"create", "namespace", k.namespace + "-extra"}, "created"),
		steps("create deployment", []string{"create", "deployment", "web", "--image=nginx"}, "deployment.apps/web created"),
		steps("expose", []string{"expose", "deployment", "web", "--port=80"}, "service/web exposed"),
		exact("exposed selector", jsonpath("svc", "web", ".spec.selector.app"), "web"),
		steps("get all", []string{"get", "all"}, "deployment.apps/httpd-deployment", "deployment.apps/web", "service/httpd-src", "service/web"),
		steps("describe", []string{"describe", "deployment", "httpd-deployment"}, "Name:", "httpd-deployment", "Replicas:", "StrategyType:"),
		steps("explain", []string{"explain", "deployment.spec.strategy"}, "rollingUpdate", "type"),
		steps("delete", []string{"delete", "deployment", "web"}, `deployment.apps "web" deleted`),
		steps("delete background", []string{"delete", "configmap", "cm1", "--cascade=background"}, `configmap "cm1" deleted`),
		steps("delete orphan", []string{"delete", "deployment", "httpd-deployment", "--cascade=orphan", "--wait=false"},
			`deployment.apps "httpd-deployment" deleted`),
		steps("delete service", []string{"delete", "-f", svcNP}, `service "httpd-src" deleted`),
		steps("get after delete", []string{"get", "deploy", "-o", "name"}),
	}
	for _, s := range plan {
		t.Run(s.name, func(t *testing.T) {
			out, err := k.run(t, s.args...)
			if err != nil {
				t.Fatalf("kubectl %s: %v\n%s", strings.Join(s.args, " "), err, out)
			}
			if s.exact != "" && strings.TrimSpace(out) != s.exact {
				t.Errorf("kubectl %s = %q, want %q", strings.Join(s.args, " "), out, s.exact)
			}
			for _, w := range s.want {
				if !strings.Contains(out, w) {
					t.Errorf("kubectl %s output lacks %q:\n%s", strings.Join(s.args, " "), w, out)
				}
			}
		})
	}
}

// testKubectlWatch runs kubectl get -w and checks a later change shows up.
func testKubectlWatch(t *testing.T, k *kubectl, ts *testServer) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cms := ts.jsonClient.CoreV1().ConfigMaps(k.namespace)
	if _, err := cms.Create(ctx, configMap("watched", nil), metav1.CreateOptions{}); err != nil {
		t.Fatalf("create: %v", err)
	}
	cmd := k.command(ctx, "get", "configmap", "watched", "-w", "-o", `jsonpath={.data.k}{"\n"}`)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("stdout pipe: %v", err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start kubectl: %v", err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	lines := bufio.NewScanner(stdout)
	readLine := func() string {
		if !lines.Scan() {
			t.Fatalf("kubectl get -w ended early: %v\n%s", lines.Err(), stderr.String())
		}
		return strings.TrimSpace(lines.Text())
	}
	if got := readLine(); got != "v" {
		t.Fatalf("first watch line %q, want v", got)
	}
	// kubectl watches from resourceVersion 0 and drops the watch's first
	// event, the object as it is when the watch starts; a change made
	// before that, right after the GET printed above, would be dropped with
	// it, as it is against upstream. So change the object until a change
	// shows up.
	patched := make(chan struct{})
	go func() {
		defer close(patched)
		for i := 1; ctx.Err() == nil; i++ {
			patch := fmt.Sprintf(`{"data":{"k":"changed-%d"}}`, i)
			if _, err := cms.Patch(ctx, "watched", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil && ctx.Err() == nil {
				t.Errorf("patch: %v", err)
				return
			}
			select {
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond):
			}
		}
	}()
	if got := readLine(); !strings.HasPrefix(got, "changed-") {
		t.Errorf("watch line after change %q, want changed-N", got)
	}
	cancel()
	<-patched
}
