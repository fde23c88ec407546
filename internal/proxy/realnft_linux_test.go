package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

// everyFeature is a world that uses every kind of rule the proxy writes.
func everyFeature() []any {
	udpPorts := []discoveryv1.EndpointPort{
		{Name: ptr.To("dns"), Port: ptr.To[int32](5353), Protocol: ptr.To(corev1.ProtocolUDP)},
		{Name: ptr.To("sctp"), Port: ptr.To[int32](9), Protocol: ptr.To(corev1.ProtocolSCTP)},
	}
	return []any{
		service("web", "10.96.0.10", loadBalancer(30080, "203.0.113.5"), externalIPs("198.51.100.7"), affinity(600)),
		slice("web", "web-1", ep("10.244.1.2"), ep("10.244.2.2", local), ep("10.244.3.2", terminating(true))),
		service("loc", "10.96.0.11", nodePortType(30081), etpLocal, itpLocal),
		slice("loc", "loc-1", ep("10.244.1.3"), ep("10.244.2.3", local)),
		service("nolocal", "10.96.0.12", nodePortType(30082), externalIPs("198.51.100.8"), etpLocal),
		slice("nolocal", "nolocal-1", ep("10.244.1.4")),
		service("empty", "10.96.0.13", nodePortType(30083), externalIPs("198.51.100.9")),
		service("term", "10.96.0.14"),
		slice("term", "term-1", ep("10.244.1.5", terminating(true)), ep("10.244.1.6", terminating(false))),
		service("dns", "10.96.0.53", withPorts(
			corev1.ServicePort{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, NodePort: 30053},
			corev1.ServicePort{Name: "sctp", Port: 9, Protocol: corev1.ProtocolSCTP, NodePort: 30009}),
			func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeNodePort }),
		portSlice("dns", "dns-1", udpPorts, ep("10.244.1.7"), ep("10.244.1.8")),
		service("headless", "None"),
		externalName("ext", "example.com"),
		// Enough endpoints to pick from a map.
		service("big", "10.96.0.15", affinity(60)),
		slice("big", "big-1", manyEndpoints(maxPickRules+1)...),
	}
}

// TestRealNFTAcceptsTheRules loads full and incremental transactions into
// the nft of this machine, inside a network namespace, and checks that the
// integrity check agrees with what nft lists.
func TestRealNFTAcceptsTheRules(t *testing.T) {
	requireRoot(t)
	configs := []struct {
		name string
		cfg  func(*Config)
	}{
		{"with node IPs", func(*Config) {}},
		{"without node IPs or ranges", func(c *Config) { c.NodeIPs, c.ClusterCIDR, c.ServiceCIDR = nil, nil, nil }},
	}
	for i, tc := range configs {
		t.Run(tc.name, func(t *testing.T) {
			_, path := newNetns(t, fmt.Sprintf("syntax%d", i))
			real := newNsNFT(t, path)
			cfg := testConfig()
			tc.cfg(&cfg)
			tb := newTableOn(t, cfg, real, everyFeature()...)
			checkIntact(t, real, tb.rs)

			now := t0
			steps := [][]any{
				{slice("web", "web-1", ep("10.244.1.2"), ep("10.244.4.2", local))},
				{service("web", "10.96.0.10", loadBalancer(30080, "203.0.113.5"), externalIPs("198.51.100.7"), affinity(60))},
				{service("web", "10.96.0.10", loadBalancer(30080, "203.0.113.6"))},
				{slice("nolocal", "nolocal-1", ep("10.244.2.4", local))},
				{slice("empty", "empty-1", ep("10.244.1.9"))},
				{slice("dns", "dns-1", ep("10.244.1.8", notReady))},
				{service("loc", "None")},
				// The same external IP and port claimed by two services.
				{service("empty", "10.96.0.13", nodePortType(30083), externalIPs("198.51.100.7"))},
				// A map changes from verdicts to addresses and back, goes
				// and comes back.
				{service("big", "10.96.0.15")},
				{service("big", "10.96.0.15", affinity(60))},
				{slice("big", "big-1", ep("10.244.1.1"))},
				{service("big", "10.96.0.15"), slice("big", "big-1", manyEndpoints(maxPickRules+1)...)},
			}
			for _, objs := range steps {
				now = now.Add(time.Second)
				tb.change(now, objs...)
				checkIntact(t, real, tb.rs)
			}
			delete(tb.w.services, "web")
			tb.update(now, ns+"/web")
			tb.requireFullEquivalent() // deletes the stale chains from nft too
			checkIntact(t, real, tb.rs)

			// A full rebuild replaces a table that is already there.
			tb.full()
			checkIntact(t, real, tb.rs)
		})
	}
}

func checkIntact(t *testing.T, real *nsNFT, rs *ruleset) {
	t.Helper()
	p := &Proxy{nft: real, rs: rs}
	if reason, err := p.altered(t.Context()); err != nil || reason != "" {
		t.Fatalf("real table differs from what the proxy expects: %q %v\n%s", reason, err, real.cli(t, "list", "table", "ip", DefaultTable))
	}
}

// echoTCP answers every connection with the client address it sees and the
// address it was reached at.
func echoTCP(t *testing.T, path, addr string) {
	t.Helper()
	var l net.Listener
	if err := inNetns(path, func() (err error) { l, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			client, _, _ := net.SplitHostPort(c.RemoteAddr().String())
			server, _, _ := net.SplitHostPort(c.LocalAddr().String())
			fmt.Fprintln(c, client, server)
			c.Close()
		}
	}()
}

// echoUDP answers every datagram with tag.
func echoUDP(t *testing.T, path, addr, tag string) {
	t.Helper()
	var pc net.PacketConn
	if err := inNetns(path, func() (err error) { pc, err = net.ListenPacket("udp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 64)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo([]byte(tag), from)
		}
	}()
}

// dial connects from the namespace at path and returns the client address
// the server saw.
func dial(path, addr string) (string, error) {
	seen, _, err := dialEndpoint(path, addr)
	return seen, err
}

// dialEndpoint connects from the namespace at path and returns the client
// address the server saw and the server address the connection reached.
func dialEndpoint(path, addr string) (client, server string, err error) {
	err = inNetns(path, func() error {
		// The timeout only guards against a hang; rejections are immediate.
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		client, server, _ = strings.Cut(strings.TrimSpace(line), " ")
		return err
	})
	return client, server, err
}

// TestTrafficThroughServices runs the proxy against the nft of a namespace
// "node" and sends real traffic: from the node itself, from a pod behind a
// veth, and from another host behind a second veth.
//
//	cli 192.168.50.2 --- 192.168.50.1 node 10.244.0.1 --- 10.244.0.2 pod
func TestTrafficThroughServices(t *testing.T) {
	requireRoot(t)
	node, nodePath := newNetns(t, "node")
	pod, podPath := newNetns(t, "pod")
	cli, cliPath := newNetns(t, "cli")
	ip(t, "-n", node, "link", "add", "n-pod", "type", "veth", "peer", "name", "eth0", "netns", pod)
	ip(t, "-n", node, "link", "add", "n-cli", "type", "veth", "peer", "name", "eth0", "netns", cli)
	ip(t, "-n", node, "addr", "add", "10.244.0.1/24", "dev", "n-pod")
	ip(t, "-n", node, "addr", "add", "192.168.50.1/24", "dev", "n-cli")
	ip(t, "-n", node, "link", "set", "n-pod", "up")
	ip(t, "-n", node, "link", "set", "n-cli", "up")
	ip(t, "netns", "exec", node, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	ip(t, "-n", pod, "addr", "add", "10.244.0.2/24", "dev", "eth0")
	ip(t, "-n", pod, "link", "set", "eth0", "up")
	ip(t, "-n", pod, "route", "add", "default", "via", "10.244.0.1")
	ip(t, "-n", cli, "addr", "add", "192.168.50.2/24", "dev", "eth0")
	ip(t, "-n", cli, "link", "set", "eth0", "up")
	ip(t, "-n", cli, "route", "add", "default", "via", "192.168.50.1")
	// Host-originated traffic to a service address needs a route that can
	// deliver, for the packet to reach the output hook at all.
	ip(t, "-n", node, "route", "add", "10.96.0.0/16", "dev", "n-pod")
	// The pod also answers at the addresses of spread, for services with
	// many endpoints.
	many := spread(maxPickRules + 1)
	var batch strings.Builder
	for _, a := range many {
		fmt.Fprintf(&batch, "addr add %s/32 dev eth0\n", a)
	}
	batchFile := filepath.Join(t.TempDir(), "addrs")
	if err := os.WriteFile(batchFile, []byte(batch.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	ip(t, "-n", pod, "-batch", batchFile)
	ip(t, "-n", node, "route", "add", "10.244.1.0/24", "via", "10.244.0.2")

	echoTCP(t, podPath, "0.0.0.0:8080")
	echoUDP(t, podPath, "0.0.0.0:5353", "A")
	echoUDP(t, podPath, "0.0.0.0:5354", "B")

	dnsSlice := func(port int32) *discoveryv1.EndpointSlice {
		return portSlice("dns", "dns-1", []discoveryv1.EndpointPort{{Name: ptr.To("dns"), Port: ptr.To(port), Protocol: ptr.To(corev1.ProtocolUDP)}}, ep("10.244.0.2"))
	}
	client := fake.NewClientset(objects(
		service("web", "10.96.0.10", nodePortType(30080)),
		slice("web", "web-1", ep("10.244.0.2")),
		service("keep", "10.96.0.12", nodePortType(30081), etpLocal),
		slice("keep", "keep-1", ep("10.244.0.2", local)),
		service("empty", "10.96.0.11", nodePortType(30082)),
		service("dns", "10.96.0.53", withPorts(corev1.ServicePort{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP})),
		dnsSlice(5353),
		// Picked from a map, with and without affinity, and by rules with.
		service("big", "10.96.0.20"),
		slice("big", "big-1", manyEndpoints(len(many))...),
		service("sticky-big", "10.96.0.21", affinity(600)),
		slice("sticky-big", "sticky-big-1", manyEndpoints(len(many))...),
		service("sticky", "10.96.0.22", affinity(600)),
		slice("sticky", "sticky-1", manyEndpoints(3)...),
	)...)
	real := newNsNFT(t, nodePath)
	cfg := Config{
		NodeName:    testNode,
		NodeIPs:     []net.IP{net.ParseIP("192.168.50.1")},
		ClusterCIDR: mustCIDR("10.244.0.0/16"),
		ServiceCIDR: mustCIDR("10.96.0.0/16"),
		SyncPeriod:  50 * time.Millisecond,
	}
	p, err := New(nil, client, real, cfg)
	if err != nil {
		t.Fatal(err)
	}
	p.ct = nsConntrack{nodePath}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
		if out := real.cli(t, "list", "tables"); strings.Contains(out, DefaultTable) {
			t.Errorf("table left after Run: %s", out)
		}
	}()
	select {
	case <-p.Ready():
	case err := <-done:
		t.Fatalf("Run ended: %v", err)
	}

	reaches := []struct {
		name, from, addr string
		// seen is the client address the pod must see; "" accepts any,
		// "!x" any but x.
		seen string
	}{
		{"cluster IP from the node", nodePath, "10.96.0.10:80", ""},
		{"NodePort from the node", nodePath, "192.168.50.1:30080", ""},
		{"NodePort from another host is masqueraded", cliPath, "192.168.50.1:30080", "!192.168.50.2"},
		{"cluster IP from outside the pod range is masqueraded", cliPath, "10.96.0.10:80", "!192.168.50.2"},
		{"NodePort with Local policy keeps the client address", cliPath, "192.168.50.1:30081", "192.168.50.2"},
		{"a pod reaching itself through its service is masqueraded", podPath, "10.96.0.10:80", "10.244.0.1"},
	}
	for _, tc := range reaches {
		t.Run(tc.name, func(t *testing.T) {
			seen, err := dial(tc.from, tc.addr)
			if err != nil {
				t.Fatalf("dial %s: %v", tc.addr, err)
			}
			if not, ok := strings.CutPrefix(tc.seen, "!"); ok && seen == not || !ok && tc.seen != "" && seen != tc.seen {
				t.Errorf("pod saw client %s, want %s", seen, tc.seen)
			}
		})
	}

	picks := []struct {
		name, addr string
		sticky     bool
	}{
		{"a service with many endpoints spreads connections", "10.96.0.20:80", false},
		{"ClientIP affinity with many endpoints sticks", "10.96.0.21:80", true},
		{"ClientIP affinity with few endpoints sticks", "10.96.0.22:80", true},
	}
	for _, tc := range picks {
		t.Run(tc.name, func(t *testing.T) {
			reached := map[string]bool{}
			for range 8 {
				_, server, err := dialEndpoint(nodePath, tc.addr)
				if err != nil {
					t.Fatalf("dial %s: %v", tc.addr, err)
				}
				reached[server] = true
			}
			// Eight picks among 65 endpoints all the same would mean the
			// spread is broken (or chance of 65^-7).
			if tc.sticky != (len(reached) == 1) {
				t.Errorf("connections reached %v", slices.Sorted(maps.Keys(reached)))
			}
		})
	}

	refused := []struct{ name, from, addr string }{
		{"service without endpoints", nodePath, "10.96.0.11:80"},
		{"undefined port of a cluster IP", nodePath, "10.96.0.10:81"},
		{"unassigned service address", nodePath, "10.96.0.99:80"},
		{"NodePort without endpoints from another host", cliPath, "192.168.50.1:30082"},
		{"cluster IP without endpoints from another host", cliPath, "10.96.0.11:80"},
	}
	for _, tc := range refused {
		t.Run("rejects "+tc.name, func(t *testing.T) {
			if _, err := dial(tc.from, tc.addr); !errors.Is(err, syscall.ECONNREFUSED) {
				t.Errorf("dial %s = %v, want connection refused", tc.addr, err)
			}
		})
	}

	t.Run("UDP flows move when their endpoint goes", func(t *testing.T) {
		var c net.Conn
		if err := inNetns(nodePath, func() (err error) { c, err = net.Dial("udp", "10.96.0.53:53"); return err }); err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ask := func() string {
			buf := make([]byte, 8)
			c.SetDeadline(time.Now().Add(time.Second))
			if _, err := c.Write([]byte("?")); err != nil {
				return err.Error()
			}
			n, err := c.Read(buf)
			if err != nil {
				return err.Error()
			}
			return string(buf[:n])
		}
		if got := ask(); got != "A" {
			t.Fatalf("first answer %q, want A", got)
		}
		if _, err := client.DiscoveryV1().EndpointSlices(ns).Update(ctx, dnsSlice(5354), metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		// Without the conntrack cleanup this socket's flow would stay on the
		// old endpoint for as long as it keeps talking.
		eventually(t, "the flow to reach the new endpoint", func() bool { return ask() == "B" })
	})

	t.Run("repairs the table after nft flush ruleset", func(t *testing.T) {
		real.cli(t, "flush", "ruleset")
		// The table comes back whole, in one transaction.
		eventually(t, "the table to come back", func() bool {
			return strings.Contains(real.cli(t, "list", "tables"), DefaultTable)
		})
		if _, err := dial(nodePath, "10.96.0.10:80"); err != nil {
			t.Errorf("after the rebuild: %v", err)
		}
	})

	t.Run("host traffic needs a deliverable route to the service range", func(t *testing.T) {
		ip(t, "-n", node, "route", "replace", "unreachable", "10.96.0.0/16")
		_, err := dial(nodePath, "10.96.0.10:80")
		if !errors.Is(err, syscall.EHOSTUNREACH) {
			t.Errorf("with an unreachable route: %v, want no route to host", err)
		}
		ip(t, "-n", node, "route", "del", "10.96.0.0/16")
		if _, err := dial(nodePath, "10.96.0.10:80"); !errors.Is(err, syscall.ENETUNREACH) {
			t.Errorf("without any route: %v, want network unreachable", err)
		}
		// Any deliverable route does: the packet is rerouted after DNAT.
		ip(t, "-n", node, "route", "add", "10.96.0.0/16", "via", "192.168.50.2")
		if _, err := dial(nodePath, "10.96.0.10:80"); err != nil {
			t.Errorf("with a route elsewhere: %v", err)
		}
	})
}
