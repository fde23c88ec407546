// Package resolvconf decides what a pod's /etc/resolv.conf holds, by its
// dnsPolicy and dnsConfig, as upstream's kubelet does: cluster DNS with the
// namespace's search path for ClusterFirst, the node's own resolvers for
// Default, nothing but dnsConfig for None.
package resolvconf

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Limits of a resolv.conf as the kubelet enforces them: glibc reads three
// nameservers; search paths are capped in number and in length.
const (
	maxNameservers    = 3
	maxSearchPaths    = 32
	maxSearchChars    = 2048
	clusterFirstNdots = "ndots:5"
)

// Config is the node's DNS setup.
type Config struct {
	// ClusterDNS are the cluster DNS service addresses; empty makes
	// ClusterFirst pods fall back to Default, as upstream's kubelet does.
	ClusterDNS []string
	// ClusterDomain is the cluster's DNS domain (cluster.local).
	ClusterDomain string
	// HostResolvConf is the node's resolver file for Default pods
	// (/etc/resolv.conf); empty means none.
	HostResolvConf string
}

// Configurer answers for each pod.
type Configurer struct {
	cfg  Config
	host resolver
}

// resolver is one resolv.conf's content.
type resolver struct {
	servers, searches, options []string
}

// New reads the node's resolver file once, as upstream's kubelet does at
// start.
func New(cfg Config) (*Configurer, error) {
	if cfg.ClusterDomain == "" {
		cfg.ClusterDomain = "cluster.local"
	}
	c := &Configurer{cfg: cfg}
	if cfg.HostResolvConf != "" {
		data, err := os.ReadFile(cfg.HostResolvConf)
		if err != nil && !os.IsNotExist(err) {
			return nil, fmt.Errorf("resolvconf: %w", err)
		}
		c.host = parse(data)
	}
	return c, nil
}

// parse reads nameserver, search, domain and options lines; the last
// search or domain line wins, as in the resolver.
func parse(data []byte) resolver {
	var r resolver
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexAny(line, "#;"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "nameserver":
			if len(f) > 1 {
				r.servers = append(r.servers, f[1])
			}
		case "search", "domain":
			r.searches = f[1:]
		case "options":
			r.options = append(r.options, f[1:]...)
		}
	}
	return r
}

// ForPod is the sandbox's DNS configuration; nil leaves the runtime's
// default (a copy of the node's file).
func (c *Configurer) ForPod(pod *corev1.Pod) (*runtimeapi.DNSConfig, error) {
	var r resolver
	switch c.effectivePolicy(pod) {
	case corev1.DNSClusterFirst:
		r = resolver{
			servers:  slices.Clone(c.cfg.ClusterDNS),
			searches: append(c.clusterSearches(pod.Namespace), c.host.searches...),
			options:  []string{clusterFirstNdots},
		}
	case corev1.DNSDefault:
		r = resolver{servers: slices.Clone(c.host.servers), searches: slices.Clone(c.host.searches), options: slices.Clone(c.host.options)}
	case corev1.DNSNone:
	}
	if dc := pod.Spec.DNSConfig; dc != nil {
		r.servers = appendNew(r.servers, dc.Nameservers...)
		r.searches = appendNew(r.searches, dc.Searches...)
		r.options = mergeOptions(r.options, dc.Options)
	}
	if len(r.servers) > maxNameservers {
		r.servers = r.servers[:maxNameservers]
	}
	r.searches = capSearches(r.searches)
	return &runtimeapi.DNSConfig{Servers: r.servers, Searches: r.searches, Options: r.options}, nil
}

// effectivePolicy resolves the policies that depend on the pod's network:
// a host-network pod with ClusterFirst uses the node's resolvers, unless it
// asked for ClusterFirstWithHostNet; with no cluster DNS, ClusterFirst is
// Default.
func (c *Configurer) effectivePolicy(pod *corev1.Pod) corev1.DNSPolicy {
	policy := pod.Spec.DNSPolicy
	switch policy {
	case corev1.DNSNone, corev1.DNSDefault:
		return policy
	case corev1.DNSClusterFirstWithHostNet:
		policy = corev1.DNSClusterFirst
	default:
		if pod.Spec.HostNetwork {
			policy = corev1.DNSDefault
		} else {
			policy = corev1.DNSClusterFirst
		}
	}
	if len(c.cfg.ClusterDNS) == 0 {
		return corev1.DNSDefault
	}
	return policy
}

func (c *Configurer) clusterSearches(ns string) []string {
	d := c.cfg.ClusterDomain
	return []string{ns + ".svc." + d, "svc." + d, d}
}

func appendNew(list []string, more ...string) []string {
	for _, s := range more {
		if !slices.Contains(list, s) {
			list = append(list, s)
		}
	}
	return list
}

// mergeOptions adds the pod's options; one the pod names again replaces
// the earlier value (ndots:5 then ndots:2 leaves ndots:2).
func mergeOptions(opts []string, pod []corev1.PodDNSConfigOption) []string {
	name := func(o string) string { n, _, _ := strings.Cut(o, ":"); return n }
	for _, o := range pod {
		s := o.Name
		if o.Value != nil {
			s += ":" + *o.Value
		}
		opts = slices.DeleteFunc(opts, func(e string) bool { return name(e) == o.Name })
		opts = append(opts, s)
	}
	return opts
}

// capSearches keeps as many search paths as fit the resolver's limits.
func capSearches(s []string) []string {
	if len(s) > maxSearchPaths {
		s = s[:maxSearchPaths]
	}
	total := 0
	for i, d := range s {
		total += len(d) + 1
		if total > maxSearchChars {
			return s[:i]
		}
	}
	return s
}
