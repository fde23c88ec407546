package agent

import (
	"context"
	"fmt"
	"net"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
)

// waitPodCIDR returns the pod range the server's allocator gave this node,
// waiting for it once the node is registered.
func (a *Agent) waitPodCIDR(ctx context.Context) (*net.IPNet, error) {
	// Logged first: a node kept waiting (no controller manager, or no
	// range left in the cluster CIDR) must say what it waits for.
	a.log.Info("waiting for the node's pod CIDR from the server")
	lw := cache.NewListWatchFromClient(a.client.CoreV1().RESTClient(), "nodes", "",
		fields.OneTermEqualSelector("metadata.name", a.cfg.NodeName))
	var cidr *net.IPNet
	_, err := watchtools.UntilWithSync(ctx, lw, &corev1.Node{}, nil, func(ev watch.Event) (bool, error) {
		n, ok := ev.Object.(*corev1.Node)
		if !ok || n.Spec.PodCIDR == "" {
			return false, nil
		}
		_, c, err := net.ParseCIDR(n.Spec.PodCIDR)
		if err != nil {
			return false, fmt.Errorf("node %s: pod CIDR %q: %w", n.Name, n.Spec.PodCIDR, err)
		}
		cidr = c
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("agent: wait for this node's pod CIDR: %w", err)
	}
	return cidr, nil
}
