package main

import (
	"flag"
	"fmt"
	"io"
	"net"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/internal/agent"
	"github.com/skiff-sh/skiff/internal/version"
)

// nodeFlags are the flags that describe this machine as a node, shared by
// `skiff server` and `skiff agent`.
type nodeFlags struct {
	name, ip, runtimeEndpoint, containerd string
}

func (n *nodeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&n.name, "node-name", "", "name of this node (default: the host name)")
	fs.StringVar(&n.ip, "node-ip", "", "InternalIP of this node (default: the first address of an interface that is up)")
	fs.StringVar(&n.runtimeEndpoint, "container-runtime-endpoint", "", "CRI socket of a containerd to use (default: start one under the data dir)")
	fs.StringVar(&n.containerd, "containerd", "containerd", "containerd binary to start when no runtime endpoint is given")
}

func (n *nodeFlags) config() (*agent.Config, error) {
	cfg := &agent.Config{NodeName: n.name, ContainerRuntimeEndpoint: n.runtimeEndpoint, ContainerdBinary: n.containerd}
	if n.ip != "" {
		if cfg.NodeIP = net.ParseIP(n.ip); cfg.NodeIP == nil {
			return nil, fmt.Errorf("--node-ip %q is not an IP address", n.ip)
		}
	}
	return cfg, nil
}

func runAgent(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("skiff agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var node nodeFlags
	node.register(fs)
	var kubeconfig, dataDir, podCIDR, clusterCIDR, serviceCIDR, logLevel string
	fs.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the cluster to join (required)")
	fs.StringVar(&dataDir, "data-dir", "/var/lib/skiff-agent", "directory for the node's state")
	fs.StringVar(&podCIDR, "pod-cidr", "", "this node's range of pod IPs (required)")
	fs.StringVar(&clusterCIDR, "cluster-cidr", "10.42.0.0/16", "the cluster's range of pod IPs")
	fs.StringVar(&serviceCIDR, "service-cidr", "10.43.0.0/16", "the cluster's range of Service IPs")
	fs.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if kubeconfig == "" {
		return fmt.Errorf("--kubeconfig is required")
	}
	cfg, err := node.config()
	if err != nil {
		return err
	}
	cfg.DataDir = dataDir
	cfg.Version = version.Get().GitVersion
	for _, c := range []struct {
		flag, value string
		dst         **net.IPNet
	}{{"--pod-cidr", podCIDR, &cfg.PodCIDR}, {"--cluster-cidr", clusterCIDR, &cfg.ClusterCIDR}, {"--service-cidr", serviceCIDR, &cfg.ServiceCIDR}} {
		if _, *c.dst, err = net.ParseCIDR(c.value); err != nil {
			return fmt.Errorf("%s: %w", c.flag, err)
		}
	}
	log, err := newLogger(stderr, logLevel)
	if err != nil {
		return err
	}
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("--kubeconfig: %w", err)
	}
	rc.ContentType = "application/vnd.kubernetes.protobuf"
	// Upstream kubelet's defaults: client-go's own (5 QPS) would queue the
	// status writes of a burst of pods behind each other.
	rc.QPS, rc.Burst = 50, 100
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	a, err := agent.New(log, client, *cfg)
	if err != nil {
		return err
	}
	return runUntilSignal(a.Run, a.Ready(), stdout, fmt.Sprintf("Node %s joined the cluster.\n", a.NodeName()))
}
