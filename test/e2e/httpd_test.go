package e2e

import (
	"context"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

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
