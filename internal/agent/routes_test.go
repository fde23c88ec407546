package agent

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
)

type fakeRoutes struct {
	routes map[string]string
	broken string // a gateway Replace refuses, as ip does one off-link
}

func (f *fakeRoutes) List() (map[string]string, error) { return maps.Clone(f.routes), nil }

func (f *fakeRoutes) Replace(dst, gw string) error {
	if gw == f.broken {
		return errors.New("Nexthop has invalid gateway")
	}
	f.routes[dst] = gw
	return nil
}

func (f *fakeRoutes) Delete(dst string) error { delete(f.routes, dst); return nil }

func routeNode(name, cidr, ip string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if cidr != "" {
		n.Spec.PodCIDR, n.Spec.PodCIDRs = cidr, []string{cidr}
	}
	if ip != "" {
		n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: name}, {Type: corev1.NodeInternalIP, Address: ip}}
	}
	return n
}

// The routes follow the node list: other nodes' ranges via their
// addresses, none for this node or nodes without a range or address, and a
// route left by an earlier run for a node that is gone is removed.
func TestHostGatewayRoutes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := fake.NewClientset(
		routeNode("self", "10.42.0.0/24", "10.197.0.1"),
		routeNode("n2", "10.42.1.0/24", "10.197.0.2"),
		routeNode("pending", "", "10.197.0.3"),
		routeNode("far", "10.42.3.0/24", "192.0.2.1"),
	)
	table := &fakeRoutes{routes: map[string]string{"10.42.9.0/24": "10.197.0.9"}, broken: "192.0.2.1"}
	factory := informers.NewSharedInformerFactory(client, 0)
	h, err := newHostGateway(slog.New(slog.DiscardHandler), "self", factory.Core().V1().Nodes(), table)
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	h.run(ctx, factory.Core().V1().Nodes().Informer().HasSynced)
	cache.WaitForCacheSync(ctx.Done(), factory.Core().V1().Nodes().Informer().HasSynced)
	h.sync()
	if want := map[string]string{"10.42.1.0/24": "10.197.0.2"}; !maps.Equal(table.routes, want) {
		t.Fatalf("routes %v, want %v", table.routes, want)
	}

	updateNode(t, client, routeNode("pending", "10.42.2.0/24", "10.197.0.3"))
	if err := client.CoreV1().Nodes().Delete(ctx, "n2", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRoutes(t, h, table, map[string]string{"10.42.2.0/24": "10.197.0.3"})
}

func updateNode(t *testing.T, client *fake.Clientset, n *corev1.Node) {
	t.Helper()
	if _, err := client.CoreV1().Nodes().Update(context.Background(), n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// waitRoutes syncs until the informer has delivered the changes.
func waitRoutes(t *testing.T, h *hostGateway, table *fakeRoutes, want map[string]string) {
	t.Helper()
	for range 1000 {
		h.mu.Lock()
		ok := maps.Equal(table.routes, want)
		h.mu.Unlock()
		if ok {
			return
		}
		time.Sleep(10 * time.Millisecond)
		h.sync()
	}
	t.Fatalf("routes %v, want %v", table.routes, want)
}
