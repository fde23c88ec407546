// Package podnet holds the facts of the pod network that the server and
// the agents must agree on.
package podnet

import (
	"fmt"
	"net"
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// Gateway is the first address of a node's pod range: its bridge holds it
// as the pods' default gateway, and its DNS server listens there.
func Gateway(podCIDR *net.IPNet) net.IP {
	ip := slices.Clone(podCIDR.IP.Mask(podCIDR.Mask))
	ip[len(ip)-1]++
	return ip
}

// NodeCIDRs are the node's pod ranges: spec.podCIDRs, or the single
// spec.podCIDR an older writer set.
func NodeCIDRs(n *corev1.Node) []string {
	if len(n.Spec.PodCIDRs) > 0 {
		return n.Spec.PodCIDRs
	}
	if n.Spec.PodCIDR != "" {
		return []string{n.Spec.PodCIDR}
	}
	return nil
}

// NodeGateway is Gateway of the node's first pod range; nil while the node
// has none.
func NodeGateway(n *corev1.Node) net.IP {
	cidrs := NodeCIDRs(n)
	if len(cidrs) == 0 {
		return nil
	}
	_, ipnet, err := net.ParseCIDR(cidrs[0])
	if err != nil {
		return nil
	}
	return Gateway(ipnet)
}

// ClusterDNS is the cluster DNS service's address: the tenth of the
// service range, where upstream's installers put kube-dns.
func ClusterDNS(serviceCIDR *net.IPNet) (net.IP, error) {
	ones, bits := serviceCIDR.Mask.Size()
	if bits-ones < 4 {
		return nil, fmt.Errorf("service range %s is too small for the DNS service's address", serviceCIDR)
	}
	ip := slices.Clone(serviceCIDR.IP.Mask(serviceCIDR.Mask))
	ip[len(ip)-1] += 10
	return ip, nil
}
