package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/oci"
)

// The seed's walkthrough on one node: the httpd Deployment runs 2 replicas
// of `image: httpd` (pull policy Always) with no registry reachable, and
// each pod answers on its IP.
func TestHttpdDeployment(t *testing.T) {
	requireNode(t)
	c := startCluster(t, map[string]*oci.Image{"docker.io/library/httpd:latest": httpdImage(t)})

	start := time.Now()
	kubectl(t, c, "apply", "-f", "../integration/testdata/httpd_deployment.yaml")
	eventually(t, 90*time.Second, "deployment 2/2 available", func() bool {
		out, err := kubectlErr(c, "get", "deployment", "httpd-deployment", "-o", "jsonpath={.status.availableReplicas}")
		return err == nil && out == "2"
	})
	t.Logf("deployment available %v after apply", time.Since(start).Round(time.Millisecond))
	out := kubectl(t, c, "get", "deployment")
	if !strings.Contains(out, "httpd-deployment") || !strings.Contains(out, "2/2") {
		t.Fatalf("kubectl get deployment:\n%s", out)
	}
	wide := kubectl(t, c, "get", "pod", "-o", "wide")
	t.Logf("kubectl get pod -o wide:\n%s", wide)

	pods, err := c.client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: "app=httpd_pod"})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 2 {
		t.Fatalf("%d pods, want 2", len(pods.Items))
	}
	for _, p := range pods.Items {
		if p.Status.PodIP == "" || !strings.Contains(wide, p.Status.PodIP) || !strings.Contains(wide, "e2e-node") {
			t.Fatalf("pod %s: IP %q, node %q, not in -o wide output", p.Name, p.Status.PodIP, p.Spec.NodeName)
		}
		body := httpGet(t, "http://"+p.Status.PodIP+"/")
		if body != oci.ItWorks {
			t.Errorf("pod %s answered %q, want %q", p.Name, body, oci.ItWorks)
		}
	}

	// The seed's Service on the one node: its ClusterIP from this machine
	// and its name from inside a pod.
	kubectl(t, c, "apply", "-f", "../integration/testdata/httpd_service.yaml")
	clusterIP := kubectl(t, c, "get", "service", "httpd-src", "-o", "jsonpath={.spec.clusterIP}")
	if got := httpGet(t, "http://"+clusterIP+":8080"); got != oci.ItWorks {
		t.Errorf("curl CLUSTER_IP:8080: %q", got)
	}
	if got := kubectl(t, c, "exec", pods.Items[0].Name, "--", "wget", "-qO-", "http://httpd-src:8080"); !itWorks(got) {
		t.Errorf("wget http://httpd-src:8080 in a pod: %q", got)
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	var last error
	for range 20 {
		resp, err := client.Get(url)
		if err == nil {
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil {
				return string(b)
			}
		}
		last = err
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("GET %s: %v", url, last)
	return ""
}

func kubectl(t *testing.T, c *cluster, args ...string) string {
	t.Helper()
	out, err := kubectlErr(c, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func kubectlErr(c *cluster, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/usr/bin/kubectl", append([]string{"--kubeconfig", c.kubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// kubectl logs, exec and port-forward reach the pod's containers through
// the API server and the node's kubelet.
func TestLogsExecPortForward(t *testing.T) {
	requireNode(t)
	c := startCluster(t, map[string]*oci.Image{"docker.io/library/httpd:latest": httpdImage(t)})
	kubectl(t, c, "apply", "-f", "../integration/testdata/httpd_deployment.yaml")
	eventually(t, 90*time.Second, "deployment 2/2 available", func() bool {
		out, err := kubectlErr(c, "get", "deployment", "httpd-deployment", "-o", "jsonpath={.status.availableReplicas}")
		return err == nil && out == "2"
	})
	pods, err := c.client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: "app=httpd_pod"})
	if err != nil {
		t.Fatal(err)
	}
	pod := pods.Items[0]

	if got := kubectl(t, c, "exec", pod.Name, "--", "cat", "/usr/local/apache2/htdocs/index.html"); got+"\n" != oci.ItWorks {
		t.Errorf("kubectl exec cat: %q", got)
	}
	if got := kubectl(t, c, "exec", pod.Name, "--", "hostname"); got != pod.Name {
		t.Errorf("kubectl exec hostname: %q, want %q", got, pod.Name)
	}
	if out, err := kubectlErr(c, "exec", pod.Name, "--", "sh", "-c", "exit 3"); err == nil || !strings.Contains(out, "exit code 3") {
		t.Errorf("kubectl exec of a failing command: %v, %q", err, out)
	}

	// kubectl exec -it: a shell on a terminal, typed into through script(1)'s
	// pseudo-terminal as a user would.
	session := exec.Command("script", "-qec", "/usr/bin/kubectl --kubeconfig "+c.kubeconfig+" exec -it "+pod.Name+" -- sh", "/dev/null")
	session.Stdin = strings.NewReader("[ -t 0 ] && echo on-a-tty\necho $((6*7))\nexit\n")
	if out, err := session.CombinedOutput(); err != nil || !strings.Contains(string(out), "on-a-tty") || !strings.Contains(string(out), "42") {
		t.Errorf("kubectl exec -it: %v\n%s", err, out)
	}

	// busybox's httpd -v logs each response to stderr.
	httpGet(t, "http://"+pod.Status.PodIP+"/")
	eventually(t, 10*time.Second, "the request in kubectl logs", func() bool {
		out, err := kubectlErr(c, "logs", pod.Name)
		return err == nil && strings.Contains(out, "response:200")
	})
	if out, err := kubectlErr(c, "logs", "deploy/httpd-deployment"); err != nil {
		t.Errorf("kubectl logs deploy/: %v\n%s", err, out)
	}
	if out, err := kubectlErr(c, "logs", pod.Name, "-c", "nope"); err == nil || !strings.Contains(out, "container nope is not valid") {
		t.Errorf("kubectl logs -c nope: %v, %q", err, out)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pf := exec.CommandContext(ctx, "/usr/bin/kubectl", "--kubeconfig", c.kubeconfig, "port-forward", "pod/"+pod.Name, "18080:80")
	if err := pf.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = pf.Wait() }()
	if body := httpGet(t, "http://127.0.0.1:18080/"); body != oci.ItWorks {
		t.Errorf("through port-forward: %q", body)
	}
}

// kubectl's log options, and exec, with the oldest and newest kubectl the
// project supports.
func TestLogOptionsAcrossKubectlVersions(t *testing.T) {
	requireNode(t)
	c := busyboxCluster(t)
	c.create(t, shPod("counter", "i=0; while true; do i=$((i+1)); echo line $i; sleep 0.2; if [ $i = 10 ]; then exit 1; fi; done"))
	c.create(t, shPod("steady", "sleep 3600"))
	c.waitPod(t, "steady", "Running", running)
	c.waitPod(t, "counter", "a restart", func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].RestartCount >= 1
	})
	for _, v := range []string{"1.27", "1.33"} {
		bin := "/usr/lib/google-cloud-sdk/bin/kubectl." + v
		if _, err := exec.LookPath(bin); err != nil {
			t.Logf("kubectl %s not installed; skipped", v)
			continue
		}
		run := func(args ...string) string {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, bin, append([]string{"--kubeconfig", c.kubeconfig}, args...)...).CombinedOutput()
			if err != nil {
				t.Errorf("kubectl %s %s: %v\n%s", v, strings.Join(args, " "), err, out)
			}
			return string(out)
		}
		if out := run("logs", "counter", "--previous"); !strings.Contains(out, "line 1\n") || !strings.Contains(out, "line 10\n") {
			t.Errorf("kubectl %s logs --previous:\n%s", v, out)
		}
		if out := run("logs", "counter", "--previous", "--tail", "2"); out != "line 9\nline 10\n" {
			t.Errorf("kubectl %s logs --previous --tail 2: %q", v, out)
		}
		if out := run("logs", "counter", "--since", "1h", "--timestamps", "--previous", "--tail", "1"); !strings.Contains(out, "Z line 10") {
			t.Errorf("kubectl %s logs --timestamps: %q", v, out)
		}
		// -f follows the running container until it exits.
		if out := run("logs", "-f", "counter"); !strings.Contains(out, "line 10") {
			t.Errorf("kubectl %s logs -f: %q", v, out)
		}
		if out := run("exec", "steady", "-c", "main", "--", "echo", "hi"); out != "hi\n" {
			t.Errorf("kubectl %s exec: %q", v, out)
		}
		// An interactive exec: stdin reaches the command.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cmd := exec.CommandContext(ctx, bin, "--kubeconfig", c.kubeconfig, "exec", "-i", "steady", "--", "cat")
		cmd.Stdin = strings.NewReader("typed in\n")
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil || string(out) != "typed in\n" {
			t.Errorf("kubectl %s exec -i: %v %q", v, err, out)
		}
	}

	// In a crash loop, --previous is the run that just ended, as upstream:
	// the pod's status names it as the last termination.
	crasher := shPod("crasher", "n=$(cat /runs/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > /runs/n; echo run $n; exit 1")
	crasher.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "runs", MountPath: "/runs"}}
	crasher.Spec.Volumes = []corev1.Volume{{Name: "runs", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	c.create(t, crasher)
	eventually(t, 60*time.Second, "logs --previous of the run that just crashed", func() bool {
		p, err := c.client.CoreV1().Pods("default").Get(context.Background(), "crasher", metav1.GetOptions{})
		if err != nil || len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].State.Waiting == nil ||
			p.Status.ContainerStatuses[0].RestartCount < 2 {
			return false
		}
		previous, err := kubectlErr(c, "logs", "crasher", "--previous")
		after, _ := c.client.CoreV1().Pods("default").Get(context.Background(), "crasher", metav1.GetOptions{})
		if err != nil || after.Status.ContainerStatuses[0].RestartCount != p.Status.ContainerStatuses[0].RestartCount {
			return false // it restarted meanwhile: look again
		}
		want := fmt.Sprintf("run %d", p.Status.ContainerStatuses[0].RestartCount+1)
		if previous != want {
			t.Logf("kubectl logs --previous in CrashLoopBackOff after %d restarts: %q, want %q",
				p.Status.ContainerStatuses[0].RestartCount, previous, want)
			return false
		}
		return true
	})
}
