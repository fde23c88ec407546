package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/controller/podgc"
	"github.com/skiff-sh/skiff/internal/controller/podutil"
	"github.com/skiff-sh/skiff/internal/server"
	"github.com/skiff-sh/skiff/internal/sim"
)

// kubectlLatest is the kubectl the controller tests drive.
const kubectlLatest = "/usr/lib/google-cloud-sdk/bin/kubectl.1.33"

// startSim attaches n simulated nodes to the server until the test ends.
func startSim(t *testing.T, ts *testServer, cfg sim.Config) *sim.Sim {
	t.Helper()
	s, err := sim.New(nil, ts.client, cfg)
	if err != nil {
		t.Fatalf("sim: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-s.Ready():
	case err := <-done:
		t.Fatalf("sim exited: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("sim nodes not registered after 30s")
	}
	return s
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for time.Now().Before(deadline) {
		ok, err := cond()
		if ok {
			return
		}
		lastErr = err
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: not true after %v (last error: %v)", what, timeout, lastErr)
}

func podsOf(t *testing.T, c kubernetes.Interface, namespace, selector string) []corev1.Pod {
	t.Helper()
	list, err := c.CoreV1().Pods(namespace).List(testContext(t), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatalf("list pods: %v", err)
	}
	return list.Items
}

// TestDeploymentLifecycle runs the walkthrough with real kubectl on
// simulated nodes: apply, rollout status, scale, set image, history, undo,
// pause and resume, self-healing, and cascading deletes.
func TestDeploymentLifecycle(t *testing.T) {
	ts := startServer(t, t.TempDir(), withControllers())
	startSim(t, ts, sim.Config{Nodes: 3, HeartbeatInterval: time.Second})
	k := newKubectl(t, kubectlLatest, ts.kubeconfig, "default")
	run := func(want string, args ...string) string {
		t.Helper()
		out, err := k.run(t, args...)
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if !strings.Contains(out, want) {
			t.Fatalf("kubectl %s: output lacks %q:\n%s", strings.Join(args, " "), want, out)
		}
		return out
	}
	rollout := func() {
		run("successfully rolled out", "rollout", "status", "deployment/httpd-deployment", "--timeout=60s")
	}

	run("created", "apply", "-f", "testdata/httpd_deployment.yaml")
	rollout()
	run("2/2", "get", "deployment", "httpd-deployment")
	rs := run("pod-template-hash=", "get", "rs", "-o", "wide")
	if strings.Count(rs, "httpd-deployment-") != 1 {
		t.Errorf("want one ReplicaSet:\n%s", rs)
	}
	pods := podsOf(t, ts.client, "default", "app=httpd_pod")
	for _, p := range pods {
		if !strings.HasPrefix(p.Spec.NodeName, sim.DefaultNamePrefix) || p.Status.Phase != corev1.PodRunning {
			t.Errorf("pod %s on %q in phase %s, want running on a simulated node", p.Name, p.Spec.NodeName, p.Status.Phase)
		}
	}

	run("ScalingReplicaSet", "describe", "deployment", "httpd-deployment")
	run("Successfully assigned default/", "describe", "pod", pods[0].Name)
	run("SuccessfulCreate", "describe", "rs")

	run("scaled", "scale", "deployment/httpd-deployment", "--replicas=10")
	rollout()
	run("10/10", "get", "deployment", "httpd-deployment")

	t.Run("rolling update bounds", func(t *testing.T) {
		stop := watchRolloutBounds(t, ts.client, "default", "app=httpd_pod", 10, 3, 2)
		run("image updated", "set", "image", "deployment/httpd-deployment", "httpd=httpd:2")
		rollout()
		stop()
	})
	run("httpd:2", "get", "deployment", "httpd-deployment", "-o", "jsonpath={.spec.template.spec.containers[0].image}")
	hist := run("REVISION", "rollout", "history", "deployment/httpd-deployment")
	if !strings.Contains(hist, "1 ") || !strings.Contains(hist, "2 ") {
		t.Errorf("history lacks revisions 1 and 2:\n%s", hist)
	}
	run("rolled back", "rollout", "undo", "deployment/httpd-deployment")
	rollout()
	run("httpd", "get", "deployment", "httpd-deployment", "-o", "jsonpath={.spec.template.spec.containers[0].image}")
	run("3", "get", "deployment", "httpd-deployment", "-o", "jsonpath={.metadata.annotations.deployment\\.kubernetes\\.io/revision}")
	run("rolled back", "rollout", "undo", "deployment/httpd-deployment", "--to-revision=2")
	rollout()

	run("paused", "rollout", "pause", "deployment/httpd-deployment")
	run("image updated", "set", "image", "deployment/httpd-deployment", "httpd=httpd:3")
	time.Sleep(time.Second) // a paused deployment must not start a new ReplicaSet
	if out := run("", "get", "rs", "-o", "name"); strings.Count(out, "replicaset") != 2 {
		t.Errorf("paused deployment changed its ReplicaSets:\n%s", out)
	}
	run("resumed", "rollout", "resume", "deployment/httpd-deployment")
	rollout()

	victim := podsOf(t, ts.client, "default", "app=httpd_pod")[0].Name
	run("deleted", "delete", "pod", victim)
	eventually(t, 20*time.Second, "deleted pod replaced", func() (bool, error) {
		n := 0
		for _, p := range podsOf(t, ts.client, "default", "app=httpd_pod") {
			if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
				n++
			}
		}
		return n == 10, nil
	})

	run("deleted", "delete", "deployment", "httpd-deployment", "--cascade=orphan")
	if out := run("", "get", "rs", "-o", "name"); strings.Count(out, "replicaset") == 0 {
		t.Errorf("--cascade=orphan deleted the ReplicaSets")
	}
	run("deleted", "delete", "rs", "--all")
	eventually(t, 30*time.Second, "pods garbage collected", func() (bool, error) {
		return len(podsOf(t, ts.client, "default", "app=httpd_pod")) == 0, nil
	})
}

// watchRolloutBounds checks what upstream's rolling update guarantees, on
// every change seen once the caches synced: the ReplicaSets' desired
// replicas (spec, which the deployment controller alone writes) never
// exceed replicas+maxSurge, and the ready pods not being deleted never drop
// below replicas-maxUnavailable. Pods themselves may exceed the surge for a
// moment: an old set's pods are deleted only after its spec went down and
// the new set may already have grown, upstream as here. Each informer sees
// a consistent prefix of the cluster's history. The returned func ends the
// watch.
func watchRolloutBounds(t *testing.T, c kubernetes.Interface, namespace, selector string, replicas, maxSurge, maxUnavailable int) func() {
	t.Helper()
	factory := informers.NewSharedInformerFactoryWithOptions(c, 0, informers.WithNamespace(namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = selector }))
	podInformer := factory.Core().V1().Pods()
	rsInformer := factory.Apps().V1().ReplicaSets()
	var mu sync.Mutex
	var synced bool
	var violations []string
	check := func(any) {
		mu.Lock()
		defer mu.Unlock()
		if !synced {
			return // a partly filled cache would undercount
		}
		sets, err := rsInformer.Lister().ReplicaSets(namespace).List(labels.Everything())
		if err != nil {
			return
		}
		desired := 0
		for _, rs := range sets {
			if rs.Spec.Replicas != nil {
				desired += int(*rs.Spec.Replicas)
			}
		}
		if desired > replicas+maxSurge {
			violations = append(violations, fmt.Sprintf("%d desired > %d+%d", desired, replicas, maxSurge))
		}
		pods, err := podInformer.Lister().Pods(namespace).List(labels.Everything())
		if err != nil {
			return
		}
		ready := 0
		for _, p := range pods {
			if p.DeletionTimestamp == nil && podutil.IsPodReady(p) {
				ready++
			}
		}
		if ready < replicas-maxUnavailable {
			violations = append(violations, fmt.Sprintf("%d ready < %d-%d", ready, replicas, maxUnavailable))
		}
	}
	handler := cache.ResourceEventHandlerFuncs{AddFunc: check, UpdateFunc: func(_, n any) { check(n) }, DeleteFunc: check}
	for _, inf := range []cache.SharedIndexInformer{podInformer.Informer(), rsInformer.Informer()} {
		if _, err := inf.AddEventHandler(handler); err != nil {
			t.Fatal(err)
		}
	}
	stop := make(chan struct{})
	factory.Start(stop)
	factory.WaitForCacheSync(stop)
	mu.Lock()
	synced = true
	mu.Unlock()
	check(nil)
	return func() {
		close(stop)
		factory.Shutdown()
		mu.Lock()
		defer mu.Unlock()
		if len(violations) > 0 {
			t.Errorf("rolling update broke its bounds: %v", violations)
		}
	}
}

// TestWorkloadBadInput sends invalid workloads through kubectl: each is
// refused with 422 and its field path, and nothing is created.
func TestWorkloadBadInput(t *testing.T) {
	ts := startServer(t, t.TempDir(), withControllers())
	k := newKubectl(t, kubectlLatest, ts.kubeconfig, "default")
	dir := t.TempDir()
	tests := []struct {
		name, manifest, want string
	}{
		{"selector does not match template", `apiVersion: apps/v1
kind: Deployment
metadata: {name: bad-selector}
spec:
  selector: {matchLabels: {app: a}}
  template:
    metadata: {labels: {app: b}}
    spec: {containers: [{name: c, image: busybox}]}
`, "spec.template.metadata.labels"},
		{"negative replicas", `apiVersion: apps/v1
kind: Deployment
metadata: {name: bad-replicas}
spec:
  replicas: -1
  selector: {matchLabels: {app: a}}
  template:
    metadata: {labels: {app: a}}
    spec: {containers: [{name: c, image: busybox}]}
`, "spec.replicas"},
		{"invalid selector", `apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: bad-operator}
spec:
  selector: {matchExpressions: [{key: app, operator: Near, values: [a]}]}
  template:
    metadata: {labels: {app: a}}
    spec: {containers: [{name: c, image: busybox}]}
`, "spec.selector"},
		{"unknown priority class", `apiVersion: v1
kind: Pod
metadata: {name: bad-priority}
spec:
  priorityClassName: platinum
  containers: [{name: c, image: busybox}]
`, "spec.priorityClassName"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := fmt.Sprintf("%s/bad-%d.yaml", dir, i)
			if err := os.WriteFile(path, []byte(tc.manifest), 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := k.run(t, "apply", "-f", path)
			if err == nil || !strings.Contains(out, "is invalid") || !strings.Contains(out, tc.want) {
				t.Fatalf("kubectl apply: err %v, output:\n%s\nwant an Invalid error on %s", err, out, tc.want)
			}
		})
	}
	for _, kind := range []string{"deployments", "replicasets", "pods"} {
		if out, _ := k.run(t, "get", kind, "-o", "name"); strings.TrimSpace(out) != "" {
			t.Errorf("invalid input left %s behind: %s", kind, out)
		}
	}
}

// TestNodeLostMidRollout deletes a node while a Deployment rolls: its pods
// are collected and replaced elsewhere, and the rollout still completes.
func TestNodeLostMidRollout(t *testing.T) {
	ts := startServer(t, t.TempDir(), withControllerConfig(server.ControllerConfig{
		PodGC: podgc.Config{Interval: 200 * time.Millisecond, OrphanQuarantine: 500 * time.Millisecond},
	}))
	startSim(t, ts, sim.Config{Nodes: 3, HeartbeatInterval: time.Second})
	k := newKubectl(t, kubectlLatest, ts.kubeconfig, "default")
	run := func(args ...string) {
		t.Helper()
		if out, err := k.run(t, args...); err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("apply", "-f", "testdata/httpd_deployment.yaml")
	run("scale", "deployment/httpd-deployment", "--replicas=6")
	run("rollout", "status", "deployment/httpd-deployment", "--timeout=60s")
	run("set", "image", "deployment/httpd-deployment", "httpd=httpd:2")
	run("delete", "node", "sim-node-2")
	run("rollout", "status", "deployment/httpd-deployment", "--timeout=60s")
	// Pods bound to the vanished node are collected and replaced.
	eventually(t, 30*time.Second, "6 pods on the remaining nodes", func() (bool, error) {
		n := 0
		for _, p := range podsOf(t, ts.client, "default", "app=httpd_pod") {
			if p.Spec.NodeName == "sim-node-2" {
				return false, nil
			}
			if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
				n++
			}
		}
		return n == 6, nil
	})
	run("rollout", "status", "deployment/httpd-deployment", "--timeout=60s")
}

// TestReplicationController drives a ReplicationController through kubectl:
// it creates its pods, scales, and replaces a deleted pod.
func TestReplicationController(t *testing.T) {
	ts := startServer(t, t.TempDir(), withControllers())
	startSim(t, ts, sim.Config{Nodes: 2, HeartbeatInterval: time.Second})
	k := newKubectl(t, kubectlLatest, ts.kubeconfig, "default")
	manifest := filepath.Join(t.TempDir(), "rc.yaml")
	if err := os.WriteFile(manifest, []byte(`apiVersion: v1
kind: ReplicationController
metadata: {name: web}
spec:
  replicas: 3
  selector: {app: web}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: busybox}]}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	running := func(n int) func() (bool, error) {
		return func() (bool, error) {
			live := 0
			for _, p := range podsOf(t, ts.client, "default", "app=web") {
				if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
					live++
				}
			}
			return live == n, nil
		}
	}
	for _, step := range []struct {
		args []string
		want int
	}{
		{[]string{"apply", "-f", manifest}, 3},
		{[]string{"scale", "rc/web", "--replicas=5"}, 5},
		{[]string{"delete", "pod", "-l", "app=web", "--wait=false", "--field-selector", "status.phase=Running"}, 5},
		{[]string{"scale", "rc/web", "--replicas=1"}, 1},
	} {
		if out, err := k.run(t, step.args...); err != nil {
			t.Fatalf("kubectl %v: %v\n%s", step.args, err, out)
		}
		eventually(t, 20*time.Second, fmt.Sprintf("%d pods after %v", step.want, step.args), running(step.want))
	}
	if out, err := k.run(t, "get", "rc", "web"); err != nil || !strings.Contains(out, "web") {
		t.Fatalf("kubectl get rc: %v\n%s", err, out)
	}
}
