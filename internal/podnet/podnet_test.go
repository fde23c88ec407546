package podnet

import (
	"net"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestGateway(t *testing.T) {
	for cidr, want := range map[string]string{
		"10.42.3.0/24":   "10.42.3.1",
		"10.42.3.77/24":  "10.42.3.1",
		"fd00:42:1::/64": "fd00:42:1::1",
	} {
		_, n, _ := net.ParseCIDR(cidr)
		if got := Gateway(n).String(); got != want {
			t.Errorf("Gateway(%s) = %s, want %s", cidr, got, want)
		}
	}
	if ip := NodeGateway(&corev1.Node{}); ip != nil {
		t.Errorf("a node without a pod range has gateway %s", ip)
	}
	n := &corev1.Node{Spec: corev1.NodeSpec{PodCIDR: "10.42.9.0/24", PodCIDRs: []string{"10.42.9.0/24"}}}
	if got := NodeGateway(n).String(); got != "10.42.9.1" {
		t.Errorf("NodeGateway = %s", got)
	}
}

func TestClusterDNS(t *testing.T) {
	_, n, _ := net.ParseCIDR("10.43.0.0/16")
	if ip, err := ClusterDNS(n); err != nil || ip.String() != "10.43.0.10" {
		t.Errorf("ClusterDNS(%s) = %v, %v", n, ip, err)
	}
	_, small, _ := net.ParseCIDR("10.43.0.0/29")
	if _, err := ClusterDNS(small); err == nil {
		t.Errorf("ClusterDNS(%s) succeeded", small)
	}
}
