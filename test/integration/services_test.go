package integration

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/sim"
)

// TestServiceBadInput refuses what upstream refuses, with its messages,
// through kubectl, and leaves nothing behind.
func TestServiceBadInput(t *testing.T) {
	ts := startServer(t, t.TempDir())
	k := newKubectl(t, kubectlLatest, ts.kubeconfig, "default")
	dir := t.TempDir()
	apply := func(name, manifest string) (string, error) {
		path := fmt.Sprintf("%s/%s.yaml", dir, name)
		if err := os.WriteFile(path, []byte(manifest), 0o600); err != nil {
			t.Fatal(err)
		}
		return k.run(t, "apply", "-f", path)
	}
	if out, err := apply("taken", nodePortService("first", 30000)); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	tests := []struct {
		name, manifest string
		want           []string
	}{
		{"node port outside the range", nodePortService("low", 29999),
			[]string{`spec.ports[0].nodePort: Invalid value: 29999: provided port is not in the valid range. The range of valid ports is 30000-32767`}},
		{"node port taken", nodePortService("second", 30000),
			[]string{`spec.ports[0].nodePort: Invalid value: 30000: provided port is already allocated`}},
		{"duplicate port name", `apiVersion: v1
kind: Service
metadata: {name: dup}
spec:
  selector: {app: a}
  ports: [{name: http, port: 80}, {name: http, port: 81}]
`, []string{`spec.ports[1].name: Duplicate value: "http"`}},
		{"ExternalName not a DNS name", `apiVersion: v1
kind: Service
metadata: {name: ext}
spec: {type: ExternalName, externalName: "not a name"}
`, []string{`spec.externalName`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := apply(strings.ReplaceAll(tc.name, " ", "-"), tc.manifest)
			if err == nil || !strings.Contains(out, "is invalid") {
				t.Fatalf("kubectl apply: err %v, output:\n%s\nwant an Invalid error", err, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
	out, _ := k.run(t, "get", "services", "-o", "name")
	if got := strings.Fields(out); len(got) != 2 {
		t.Errorf("services after the refused ones: %v, want service/first and service/kubernetes", got)
	}
}

func nodePortService(name string, port int) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: %s}
spec:
  type: NodePort
  selector: {app: a}
  ports: [{name: http, port: 8080, targetPort: 80, nodePort: %d}]
`, name, port)
}

// TestServiceEndpoints drives the Service controllers through kubectl on
// simulated nodes: the seed's Service gets an EndpointSlice and Endpoints
// of its ready pods, a Service without selector gets a slice mirrored from
// Endpoints the user wrote, a LoadBalancer Service gets the nodes'
// addresses, every node a pod range, and the cluster its DNS Service.
func TestServiceEndpoints(t *testing.T) {
	ts := startServer(t, t.TempDir(), withControllers())
	startSim(t, ts, sim.Config{Nodes: 2, HeartbeatInterval: time.Second})
	k := newKubectl(t, kubectlLatest, ts.kubeconfig, "default")
	run := func(args ...string) string {
		t.Helper()
		out, err := k.run(t, args...)
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	run("apply", "-f", "testdata/httpd_deployment.yaml", "-f", "testdata/httpd_service.yaml")
	run("rollout", "status", "deployment/httpd-deployment", "--timeout=60s")
	podIPs := strings.Fields(run("get", "pods", "-l", "app=httpd_pod", "-o", "jsonpath={.items[*].status.podIP}"))
	if len(podIPs) != 2 {
		t.Fatalf("pod IPs %v", podIPs)
	}
	waitFor("the service's endpoint slice", func() bool {
		out, _ := k.run(t, "get", "endpointslices", "-l", "kubernetes.io/service-name=httpd-src",
			"-o", "jsonpath={.items[*].endpoints[*].addresses[0]}")
		return strings.Contains(out, podIPs[0]) && strings.Contains(out, podIPs[1])
	})
	waitFor("the service's Endpoints", func() bool {
		out, _ := k.run(t, "get", "endpoints", "httpd-src", "-o", "jsonpath={.subsets[*].addresses[*].ip} {.subsets[*].ports[0].port}")
		return strings.Contains(out, podIPs[0]) && strings.Contains(out, podIPs[1]) && strings.HasSuffix(out, " 80")
	})
	t.Logf("kubectl get endpointslices:\n%s", run("get", "endpointslices"))

	// A Service without selector and the Endpoints a user writes for it.
	dir := t.TempDir()
	manual := `apiVersion: v1
kind: Service
metadata: {name: external-db}
spec:
  ports: [{name: pg, port: 5432}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: external-db}
subsets:
- addresses: [{ip: 10.250.0.7}]
  ports: [{name: pg, port: 5432}]
`
	if err := os.WriteFile(dir+"/manual.yaml", []byte(manual), 0o600); err != nil {
		t.Fatal(err)
	}
	run("apply", "-f", dir+"/manual.yaml")
	waitFor("the mirrored slice", func() bool {
		out, _ := k.run(t, "get", "endpointslices", "-l", "kubernetes.io/service-name=external-db",
			"-o", "jsonpath={.items[*].metadata.labels.endpointslice\\.kubernetes\\.io/managed-by} {.items[*].endpoints[*].addresses[0]}")
		return out == "endpointslicemirroring-controller.k8s.io 10.250.0.7"
	})

	run("patch", "service", "httpd-src", "-p", `{"spec":{"type":"LoadBalancer"}}`)
	nodeIPs := strings.Fields(run("get", "nodes", "-o", `jsonpath={.items[*].status.addresses[?(@.type=="InternalIP")].address}`))
	waitFor("the load balancer's ingress", func() bool {
		out, _ := k.run(t, "get", "service", "httpd-src", "-o", "jsonpath={.status.loadBalancer.ingress[*].ip}")
		return len(nodeIPs) == 2 && strings.Contains(out, nodeIPs[0]) && strings.Contains(out, nodeIPs[1])
	})

	// The simulated nodes bring their own pod ranges; a node registered
	// without one gets the next free /24 of the cluster CIDR.
	node := `apiVersion: v1
kind: Node
metadata: {name: bare}
`
	if err := os.WriteFile(dir+"/node.yaml", []byte(node), 0o600); err != nil {
		t.Fatal(err)
	}
	run("apply", "-f", dir+"/node.yaml")
	waitFor("a pod range for the new node", func() bool {
		out, _ := k.run(t, "get", "node", "bare", "-o", "jsonpath={.spec.podCIDR}")
		return strings.HasPrefix(out, "10.42.") && strings.HasSuffix(out, ".0/24")
	})

	dns, err := ts.client.CoreV1().Services("kube-system").Get(context.Background(), "kube-dns", metav1.GetOptions{})
	if err != nil || dns.Spec.ClusterIP != "10.43.0.10" {
		t.Fatalf("kube-dns service: %v, %+v", err, dns)
	}
}
