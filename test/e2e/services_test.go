package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/oci"
)

// outsideName is the one name the test's upstream resolver knows.
const (
	outsideName = "outside.example."
	outsideIP   = "192.0.2.10"
)

// The seed's walkthrough on three nodes (the server's and two joined
// agents, each in its own network namespace on a test bridge): pods reach
// each other across nodes, the Service spreads requests over both pods
// from this machine and from the other nodes, DNS names resolve inside
// pods, NodePort and LoadBalancer answer on every node, a rolling update
// loses no request of a client looping over the Service, and an agent's
// restart leaves its node's Services answering.
func TestServiceWalkthrough(t *testing.T) {
	requireNode(t)
	bin := buildSkiff(t)
	machines := newLAN(t, 2)
	resolv := upstreamResolver(t)
	images := map[string]*oci.Image{
		"docker.io/library/httpd:latest": httpdImage(t),
		"docker.io/library/httpd:v2":     httpdImage(t),
		busyboxRef:                       busyboxImage(t),
	}
	c := startClusterWith(t, images, func(c *cluster) {
		c.cfg.BindAddress = hostAddr
		c.cfg.Agent.NodeIP = net.ParseIP(hostAddr)
		c.cfg.Agent.HostResolvConf = resolv
	})
	node2 := joinAgent(t, c, bin, machines[0], "e2e-node-2", "--resolv-conf", resolv)
	joinAgent(t, c, bin, machines[1], "e2e-node-3", "--resolv-conf", resolv)
	c.waitNodeReady(t, "e2e-node-2")
	c.waitNodeReady(t, "e2e-node-3")

	kubectl(t, c, "apply", "-f", "../integration/testdata/httpd_deployment.yaml")
	eventually(t, 90*time.Second, "deployment 2/2 available", func() bool {
		out, err := kubectlErr(c, "get", "deployment", "httpd-deployment", "-o", "jsonpath={.status.availableReplicas}")
		return err == nil && out == "2"
	})
	httpdPods := c.podsOf(t, "app=httpd_pod")

	// The client runs on a joined node, whose credentials may read only
	// the ConfigMaps and Secrets its pods use: these.
	ctx := context.Background()
	if _, err := c.client.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "client-config"},
		Data: map[string]string{"greeting": "hello"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.client.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "client-secret"},
		StringData: map[string]string{"token": "t0k3n"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	client := shPod("client", "echo greeting=$(cat /config/greeting) token=$TOKEN; sleep 3600")
	client.Spec.NodeName = "e2e-node-3"
	client.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "client-secret"}, Key: "token"}}}}
	client.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "config", MountPath: "/config"}}
	client.Spec.Volumes = []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: "client-config"}}}}}
	c.create(t, client)
	c.waitPod(t, "client", "Running", running)
	eventually(t, 10*time.Second, "the ConfigMap and Secret in the joined node's pod", func() bool {
		out, err := kubectlErr(c, "logs", "client")
		return err == nil && strings.Contains(out, "greeting=hello token=t0k3n")
	})

	t.Run("pod to pod across nodes", func(t *testing.T) {
		for _, p := range httpdPods {
			if got := kubectl(t, c, "exec", "client", "--", "wget", "-qO-", "http://"+p.Status.PodIP); !itWorks(got) {
				t.Errorf("client on e2e-node-3 to pod %s on %s: %q", p.Name, p.Spec.NodeName, got)
			}
			if got := httpGet(t, "http://"+p.Status.PodIP); got != oci.ItWorks {
				t.Errorf("this machine to pod %s on %s: %q", p.Name, p.Spec.NodeName, got)
			}
		}
	})

	kubectl(t, c, "apply", "-f", "../integration/testdata/httpd_service.yaml")
	wide := kubectl(t, c, "get", "service", "httpd-src", "-o", "wide")
	t.Logf("kubectl get service -o wide:\n%s", wide)
	for _, want := range []string{"httpd-src", "ClusterIP", "8080/TCP", "app=httpd_pod"} {
		if !strings.Contains(wide, want) {
			t.Errorf("kubectl get service -o wide lacks %q", want)
		}
	}
	clusterIP := kubectl(t, c, "get", "service", "httpd-src", "-o", "jsonpath={.spec.clusterIP}")

	t.Run("cluster IP spreads requests", func(t *testing.T) {
		before := c.requestCounts(t, httpdPods)
		for range 30 {
			if got := httpGet(t, "http://"+clusterIP+":8080"); got != oci.ItWorks {
				t.Fatalf("curl %s:8080: %q", clusterIP, got)
			}
		}
		after := c.requestCounts(t, httpdPods)
		for _, p := range httpdPods {
			if after[p.Name] <= before[p.Name] {
				t.Errorf("pod %s logged no request of 30 through the service (%d before, %d after)", p.Name, before[p.Name], after[p.Name])
			}
		}
		for _, m := range machines {
			if got := wgetFrom(t, m, "http://"+clusterIP+":8080"); got != oci.ItWorks {
				t.Errorf("from %s: %q", m.addr, got)
			}
		}
	})

	t.Run("DNS", func(t *testing.T) {
		for _, url := range []string{"http://httpd-src:8080", "http://httpd-src.default.svc.cluster.local:8080"} {
			if got := kubectl(t, c, "exec", "client", "--", "wget", "-qO-", url); !itWorks(got) {
				t.Errorf("wget %s in a pod: %q", url, got)
			}
		}
		headless := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "httpd-headless", Namespace: "default"},
			Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{"app": "httpd_pod"},
				Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
		}
		if _, err := c.client.CoreV1().Services("default").Create(context.Background(), headless, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 20*time.Second, "the headless service's pod IPs in DNS", func() bool {
			out, _ := kubectlErr(c, "exec", "client", "--", "nslookup", "httpd-headless.default.svc.cluster.local")
			return strings.Contains(out, httpdPods[0].Status.PodIP) && strings.Contains(out, httpdPods[1].Status.PodIP)
		})
		out, err := kubectlErr(c, "exec", "client", "--", "nslookup", strings.TrimSuffix(outsideName, "."))
		if err != nil || !strings.Contains(out, outsideIP) {
			t.Errorf("nslookup of a name outside the cluster (forwarded to the node's resolver): %v\n%s", err, out)
		}
		out, err = kubectlErr(c, "exec", "client", "--", "nslookup", "nothere.default.svc.cluster.local")
		if err == nil || !strings.Contains(out, "NXDOMAIN") {
			t.Errorf("nslookup of a missing service: %v\n%s", err, out)
		}
		// An ExternalName service is a CNAME, which the client follows.
		kubectl(t, c, "create", "service", "externalname", "outside", "--external-name", strings.TrimSuffix(outsideName, "."))
		out, err = kubectlErr(c, "exec", "client", "--", "nslookup", "outside.default.svc.cluster.local")
		if err != nil || !strings.Contains(out, strings.TrimSuffix(outsideName, ".")) {
			t.Errorf("nslookup of an ExternalName service: %v\n%s", err, out)
		}
		resolvConf := kubectl(t, c, "exec", "client", "--", "cat", "/etc/resolv.conf")
		for _, want := range []string{"nameserver 10.198.0.10", "search default.svc.cluster.local svc.cluster.local cluster.local", "options ndots:5"} {
			if !strings.Contains(resolvConf, want) {
				t.Errorf("pod resolv.conf lacks %q:\n%s", want, resolvConf)
			}
		}
	})

	t.Run("service without selector, with Endpoints of its own", func(t *testing.T) {
		manual := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "manual", Namespace: "default"},
			Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 9090}}},
		}
		svc, err := c.client.CoreV1().Services("default").Create(context.Background(), manual, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ep := &corev1.Endpoints{
			ObjectMeta: metav1.ObjectMeta{Name: "manual", Namespace: "default"},
			Subsets: []corev1.EndpointSubset{{
				Addresses: []corev1.EndpointAddress{{IP: httpdPods[0].Status.PodIP}},
				Ports:     []corev1.EndpointPort{{Name: "http", Port: 80}},
			}},
		}
		if _, err := c.client.CoreV1().Endpoints("default").Create(context.Background(), ep, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 20*time.Second, "the selector-less service answering", func() bool {
			out, err := kubectlErr(c, "exec", "client", "--", "wget", "-qO-", "http://"+svc.Spec.ClusterIP+":9090")
			return err == nil && itWorks(out)
		})
	})

	kubectl(t, c, "apply", "-f", "../integration/testdata/httpd_service_nodeport.yaml")
	t.Run("NodePort on every node", func(t *testing.T) {
		if out := kubectl(t, c, "get", "service", "httpd-src"); !strings.Contains(out, "8080:30000/TCP") || !strings.Contains(out, "NodePort") {
			t.Errorf("kubectl get service:\n%s", out)
		}
		if got := httpGet(t, "http://"+hostAddr+":30000"); got != oci.ItWorks {
			t.Errorf("curl NODE_IP:30000 on this machine: %q", got)
		}
		for _, addr := range []string{hostAddr, machines[1].addr} {
			if got := wgetFrom(t, machines[0], "http://"+addr+":30000"); got != oci.ItWorks {
				t.Errorf("curl %s:30000 from %s: %q", addr, machines[0].addr, got)
			}
		}
	})

	t.Run("LoadBalancer", func(t *testing.T) {
		kubectl(t, c, "patch", "service", "httpd-src", "-p", `{"spec":{"type":"LoadBalancer"}}`)
		eventually(t, 20*time.Second, "the load balancer's ingress", func() bool {
			out, _ := kubectlErr(c, "get", "service", "httpd-src", "-o", "jsonpath={.status.loadBalancer.ingress[*].ip}")
			return strings.Contains(out, hostAddr) && strings.Contains(out, machines[0].addr) && strings.Contains(out, machines[1].addr)
		})
		t.Logf("kubectl get service:\n%s", kubectl(t, c, "get", "service", "httpd-src"))
		if got := httpGet(t, "http://"+machines[0].addr+":8080"); got != oci.ItWorks {
			t.Errorf("curl LB_IP:8080: %q", got)
		}
	})

	t.Run("rolling update loses no request", func(t *testing.T) {
		// Upstream's advice for zero-downtime rollouts: a readiness probe,
		// so that a new pod gets traffic once it listens, and a preStop
		// pause, so that an old one keeps serving while every node removes
		// it from the Service.
		kubectl(t, c, "patch", "deployment", "httpd-deployment", "--type", "json", "-p", `[
			{"op":"add","path":"/spec/template/spec/containers/0/lifecycle","value":{"preStop":{"exec":{"command":["sleep","2"]}}}},
			{"op":"add","path":"/spec/template/spec/containers/0/readinessProbe","value":{"tcpSocket":{"port":80},"periodSeconds":1}}]`)
		c.waitRollout(t)
		// The pods this first rollout replaced have no preStop pause: they
		// stop serving at once, possibly before every node has dropped
		// them. The loop starts once they are gone.
		eventually(t, 60*time.Second, "the first rollout's old pods gone", func() bool {
			return len(c.podsOf(t, "app=httpd_pod")) == 2
		})
		loop := startLoop(t, "http://"+clusterIP+":8080")
		kubectl(t, c, "set", "image", "deployment/httpd-deployment", "httpd=httpd:v2")
		c.waitRollout(t)
		// The old pods serve through their preStop pause and stop after
		// it: the loop runs until they are gone.
		eventually(t, 60*time.Second, "the old pods gone", func() bool {
			return len(c.podsOf(t, "app=httpd_pod")) == 2
		})
		ok, failed := loop.stop()
		t.Logf("requests through the service during the rollout: %d answered, %d failed", ok, len(failed))
		if len(failed) > 0 || ok == 0 {
			t.Errorf("%d of %d requests failed during the rollout; first: %v", len(failed), ok+int64(len(failed)), failed[:min(len(failed), 3)])
		}
	})

	t.Run("agent restart", func(t *testing.T) {
		node2.restart()
		eventually(t, 60*time.Second, "the service answering on the restarted node", func() bool {
			return tryWgetFrom(machines[0], "http://"+clusterIP+":8080") == oci.ItWorks
		})
	})
}

// upstreamResolver runs the test's stand-in for the machine's DNS resolver
// on the test bridge (the only address that nodes in their namespaces and
// this machine share) and returns a resolv.conf naming it.
func upstreamResolver(t *testing.T) string {
	t.Helper()
	mux := dns.NewServeMux()
	mux.HandleFunc(".", func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		q := r.Question[0]
		if strings.EqualFold(q.Name, outsideName) && q.Qtype == dns.TypeA {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 30}, A: net.ParseIP(outsideIP)})
		} else if !strings.EqualFold(q.Name, outsideName) {
			m.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})
	// The bridge comes up with newLAN; the server binds once it is there.
	var servers []*dns.Server
	for _, proto := range []string{"udp", "tcp"} {
		started := make(chan error, 1)
		s := &dns.Server{Addr: hostAddr + ":53", Net: proto, Handler: mux, NotifyStartedFunc: func() { started <- nil }}
		go func() { started <- s.ListenAndServe() }()
		if err := <-started; err != nil {
			t.Fatalf("upstream resolver (%s): %v", proto, err)
		}
		servers = append(servers, s)
	}
	t.Cleanup(func() {
		for _, s := range servers {
			_ = s.Shutdown()
		}
	})
	path := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(path, []byte("nameserver "+hostAddr+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// podsOf lists the default namespace's pods with the label selector.
func (c *cluster) podsOf(t *testing.T, selector string) []corev1.Pod {
	t.Helper()
	pods, err := c.client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	return pods.Items
}

// requestCounts counts the requests each httpd pod logged.
func (c *cluster) requestCounts(t *testing.T, pods []corev1.Pod) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for _, p := range pods {
		counts[p.Name] = strings.Count(kubectl(t, c, "logs", p.Name), "response:200")
	}
	return counts
}

func (c *cluster) waitRollout(t *testing.T) {
	t.Helper()
	if out, err := kubectlErr(c, "rollout", "status", "deployment/httpd-deployment", "--timeout=120s"); err != nil {
		t.Fatalf("rollout status: %v\n%s", err, out)
	}
}

// wgetFrom fetches url from inside machine m with the machine's busybox.
func wgetFrom(t *testing.T, m machine, url string) string {
	t.Helper()
	var got string
	eventually(t, 10*time.Second, "GET "+url+" from "+m.addr, func() bool {
		got = tryWgetFrom(m, url)
		return got != ""
	})
	return got
}

// tryWgetFrom is one attempt; busybox's own -T crashes Debian's build, so
// the time limit is the test's.
func tryWgetFrom(m machine, url string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cmd := m.in("/bin/busybox", "wget", "-qO-", url)
	out, err := exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...).Output()
	if err != nil {
		return ""
	}
	return string(out)
}

// loop is a client requesting a URL over and over, each time on a new
// connection, as a user looping over curl does.
type loop struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	ok     atomic.Int64
	mu     sync.Mutex
	failed []string
}

func startLoop(t *testing.T, url string) *loop {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l := &loop{cancel: cancel}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	l.wg.Go(func() {
		for ctx.Err() == nil {
			resp, err := client.Get(url)
			if err == nil {
				body, rerr := io.ReadAll(resp.Body)
				resp.Body.Close()
				if rerr == nil && string(body) == oci.ItWorks {
					l.ok.Add(1)
					time.Sleep(20 * time.Millisecond)
					continue
				}
				err = fmt.Errorf("status %d, body %q, read error %v", resp.StatusCode, body, rerr)
			}
			l.mu.Lock()
			l.failed = append(l.failed, fmt.Sprintf("%s: %v", time.Now().Format("15:04:05.000"), err))
			l.mu.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
	})
	t.Cleanup(func() { l.stop() })
	return l
}

func (l *loop) stop() (int64, []string) {
	l.cancel()
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ok.Load(), l.failed
}

// itWorks tells whether a body is the httpd page, whichever way the
// command that fetched it trimmed it.
func itWorks(body string) bool {
	return strings.TrimSpace(body) == strings.TrimSpace(oci.ItWorks)
}
