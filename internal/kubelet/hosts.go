package kubelet

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

const (
	etcHostsPath = "/etc/hosts"
	// nodeHostsFile is copied into host-network pods' /etc/hosts.
	nodeHostsFile = "/etc/hosts"
)

// writeHostsFile writes the pod's managed /etc/hosts and returns its path:
// the standard local entries and the pod's own name on each of its IPs, or
// for a host-network pod the node's file; then the pod's hostAliases.
func (k *Kubelet) writeHostsFile(pod *corev1.Pod, podIPs []string) (string, error) {
	var content []byte
	if pod.Spec.HostNetwork {
		node, err := os.ReadFile(nodeHostsFile)
		if err != nil && !os.IsNotExist(err) {
			return "", fmt.Errorf("read node hosts file: %w", err)
		}
		content = hostNetworkHosts(node, pod.Spec.HostAliases)
	} else {
		content = managedHosts(pod, podIPs, k.cfg.ClusterDomain)
	}
	dir := k.podDir(pod)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", fmt.Errorf("create pod directory: %w", err)
	}
	path := filepath.Join(dir, "etc-hosts")
	if err := os.WriteFile(path, content, 0o644); err != nil {
		return "", fmt.Errorf("write hosts file: %w", err)
	}
	return path, nil
}

func managedHosts(pod *corev1.Pod, podIPs []string, domain string) []byte {
	var b bytes.Buffer
	b.WriteString("# Kubernetes-managed hosts file.\n")
	b.WriteString("127.0.0.1\tlocalhost\n")
	b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
	b.WriteString("fe00::0\tip6-localnet\n")
	b.WriteString("fe00::0\tip6-mcastprefix\n")
	b.WriteString("fe00::1\tip6-allnodes\n")
	b.WriteString("fe00::2\tip6-allrouters\n")
	host := podHostname(pod)
	for _, ip := range podIPs {
		if pod.Spec.Subdomain != "" {
			fmt.Fprintf(&b, "%s\t%s.%s.%s.svc.%s\t%s\n", ip, host, pod.Spec.Subdomain, pod.Namespace, domain, host)
		} else {
			fmt.Fprintf(&b, "%s\t%s\n", ip, host)
		}
	}
	b.Write(hostAliases(pod.Spec.HostAliases))
	return b.Bytes()
}

func hostNetworkHosts(node []byte, aliases []corev1.HostAlias) []byte {
	var b bytes.Buffer
	b.WriteString("# Kubernetes-managed hosts file (host network).\n")
	b.Write(node)
	if len(node) > 0 && node[len(node)-1] != '\n' {
		b.WriteByte('\n')
	}
	b.Write(hostAliases(aliases))
	return b.Bytes()
}

func hostAliases(aliases []corev1.HostAlias) []byte {
	if len(aliases) == 0 {
		return nil
	}
	var b bytes.Buffer
	b.WriteString("\n# Entries added by HostAliases.\n")
	for _, a := range aliases {
		fmt.Fprintf(&b, "%s\t%s\n", a.IP, strings.Join(a.Hostnames, "\t"))
	}
	return b.Bytes()
}
