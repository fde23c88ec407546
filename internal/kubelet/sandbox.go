package kubelet

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"

	"github.com/skiff-sh/skiff/internal/kubelet/labels"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// maxHostnameLen is the kernel's limit on a hostname.
const maxHostnameLen = 63

// sandboxTarget is the sandbox containers are started in: CRI wants its
// config again with every CreateContainer.
type sandboxTarget struct {
	id     string
	config *runtimeapi.PodSandboxConfig
	ips    []string
}

// podLogDir is the pod's log directory; the UID keeps a same-named
// successor's logs apart.
func (k *Kubelet) podLogDir(pod *corev1.Pod) string {
	return filepath.Join(k.cfg.PodLogsDir, fmt.Sprintf("%s_%s_%s", pod.Namespace, pod.Name, pod.UID))
}

// podDir is the pod's directory under PodsDir.
func (k *Kubelet) podDir(pod *corev1.Pod) string {
	return filepath.Join(k.cfg.PodsDir, string(pod.UID))
}

// sandboxConfig builds the sandbox config of pod; attempt distinguishes the
// pod's successive sandboxes.
func (k *Kubelet) sandboxConfig(pod *corev1.Pod, attempt uint32) (*runtimeapi.PodSandboxConfig, error) {
	cfg := &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{
			Name:      pod.Name,
			Namespace: pod.Namespace,
			Uid:       string(pod.UID),
			Attempt:   attempt,
		},
		LogDirectory: k.podLogDir(pod),
		Labels:       sandboxLabels(pod),
		Annotations:  maps.Clone(pod.Annotations),
		PortMappings: portMappings(pod),
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			SecurityContext: sandboxSecurityContext(pod),
			Sysctls:         sysctls(pod),
		},
	}
	// A host-network pod keeps the node's hostname, as upstream's does.
	if !pod.Spec.HostNetwork {
		cfg.Hostname = podHostname(pod)
	}
	if k.dns != nil {
		dns, err := k.dns(pod)
		if err != nil {
			return nil, fmt.Errorf("dns config: %w", err)
		}
		cfg.DnsConfig = dns
	}
	return cfg, nil
}

// podHostname is spec.hostname or the pod's name, cut to what the kernel
// accepts without a trailing '-' or '.'.
func podHostname(pod *corev1.Pod) string {
	name := pod.Spec.Hostname
	if name == "" {
		name = pod.Name
	}
	if len(name) > maxHostnameLen {
		name = strings.TrimRight(name[:maxHostnameLen], "-.")
	}
	return name
}

func sandboxLabels(pod *corev1.Pod) map[string]string {
	out := make(map[string]string, len(pod.Labels)+3)
	maps.Copy(out, pod.Labels)
	out[labels.PodName] = pod.Name
	out[labels.PodNamespace] = pod.Namespace
	out[labels.PodUID] = string(pod.UID)
	return out
}

// portMappings lists the containers' host ports for the CNI portmap plugin.
func portMappings(pod *corev1.Pod) []*runtimeapi.PortMapping {
	var out []*runtimeapi.PortMapping
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.HostPort <= 0 {
				continue
			}
			out = append(out, &runtimeapi.PortMapping{
				Protocol:      protocol(p.Protocol),
				ContainerPort: p.ContainerPort,
				HostPort:      p.HostPort,
				HostIp:        p.HostIP,
			})
		}
	}
	return out
}

func protocol(p corev1.Protocol) runtimeapi.Protocol {
	switch p {
	case corev1.ProtocolUDP:
		return runtimeapi.Protocol_UDP
	case corev1.ProtocolSCTP:
		return runtimeapi.Protocol_SCTP
	}
	return runtimeapi.Protocol_TCP
}

func sysctls(pod *corev1.Pod) map[string]string {
	sc := pod.Spec.SecurityContext
	if sc == nil || len(sc.Sysctls) == 0 {
		return nil
	}
	out := make(map[string]string, len(sc.Sysctls))
	for _, s := range sc.Sysctls {
		out[s.Name] = s.Value
	}
	return out
}

// createSandbox runs a new sandbox and returns it with its IPs.
func (k *Kubelet) createSandbox(ctx context.Context, pod *corev1.Pod, attempt uint32) (sandboxTarget, error) {
	cfg, err := k.sandboxConfig(pod, attempt)
	if err != nil {
		return sandboxTarget{}, err
	}
	// The runtime writes container logs below the directory but does not
	// create it.
	if err := os.MkdirAll(cfg.LogDirectory, 0o755); err != nil {
		return sandboxTarget{}, fmt.Errorf("create log directory: %w", err)
	}
	resp, err := k.runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg})
	if err != nil {
		return sandboxTarget{}, fmt.Errorf("run sandbox: %w", err)
	}
	id := resp.GetPodSandboxId()
	st, err := k.runtime.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: id})
	if err != nil {
		return sandboxTarget{}, fmt.Errorf("status of new sandbox %s: %w", id, err)
	}
	k.log.Info("sandbox started", "pod", podDesc(pod), "sandbox", id, "attempt", attempt)
	return sandboxTarget{id: id, config: cfg, ips: k.podIPs(pod, networkIPs(st.GetStatus()))}, nil
}

// podIPs are the sandbox's IPs, or the node's for a host-network pod.
func (k *Kubelet) podIPs(pod *corev1.Pod, sandboxIPs []string) []string {
	if pod.Spec.HostNetwork {
		return k.cfg.HostIPs
	}
	return sandboxIPs
}

// stopSandbox stops a sandbox; one already gone counts as stopped.
func (k *Kubelet) stopSandbox(ctx context.Context, id string) error {
	if _, err := k.runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id}); err != nil && !isNotFound(err) {
		return fmt.Errorf("stop sandbox %s: %w", id, err)
	}
	return nil
}

// removeSandbox removes a sandbox and, by CRI's contract, its containers.
func (k *Kubelet) removeSandbox(ctx context.Context, id string) error {
	if _, err := k.runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id}); err != nil && !isNotFound(err) {
		return fmt.Errorf("remove sandbox %s: %w", id, err)
	}
	return nil
}
