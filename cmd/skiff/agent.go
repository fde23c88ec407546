package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/internal/agent"
	"github.com/skiff-sh/skiff/internal/containerd"
	"github.com/skiff-sh/skiff/internal/join"
	"github.com/skiff-sh/skiff/internal/podnet"
	"github.com/skiff-sh/skiff/internal/version"
)

// nodeFlags are the flags that describe this machine as a node, shared by
// `skiff server` and `skiff agent`.
type nodeFlags struct {
	name, ip, runtimeEndpoint, containerd, registries string
}

func (n *nodeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&n.name, "node-name", "", "name of this node (default: the host name)")
	fs.StringVar(&n.ip, "node-ip", "", "InternalIP of this node (default: the first address of an interface that is up)")
	fs.StringVar(&n.runtimeEndpoint, "container-runtime-endpoint", "", "CRI socket of a containerd to use (default: start one under the data dir)")
	fs.StringVar(&n.containerd, "containerd", "containerd", "containerd binary to start when no runtime endpoint is given")
	fs.StringVar(&n.registries, "registries-config", "", "registries.yaml (k3s's format) with mirrors, TLS and credentials per registry")
}

func (n *nodeFlags) config() (*agent.Config, error) {
	cfg := &agent.Config{NodeName: n.name, ContainerRuntimeEndpoint: n.runtimeEndpoint, ContainerdBinary: n.containerd}
	if n.registries != "" {
		r, err := agent.LoadRegistries(n.registries)
		if err != nil {
			return nil, fmt.Errorf("--registries-config: %w", err)
		}
		cfg.Registries = r
	}
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
	var kubeconfig, serverURL, tokenFile, dataDir, clusterCIDR, serviceCIDR, clusterDNS, resolvConf, logLevel string
	fs.StringVar(&serverURL, "server", "", "URL of the cluster's API server, e.g. https://10.0.0.1:6443")
	fs.StringVar(&tokenFile, "token-file", "", "file holding the server's join token (the server's DATA_DIR/join-token)")
	fs.StringVar(&kubeconfig, "kubeconfig", "", "join with this kubeconfig's credentials instead of a token (logs and exec then do not reach the node)")
	fs.StringVar(&dataDir, "data-dir", "/var/lib/skiff-agent", "directory for the node's state")
	fs.StringVar(&clusterCIDR, "cluster-cidr", "10.42.0.0/16", "the cluster's range of pod IPs")
	fs.StringVar(&serviceCIDR, "service-cidr", "10.43.0.0/16", "the cluster's range of Service IPs")
	fs.StringVar(&clusterDNS, "cluster-dns", "", "the cluster DNS service's address (default the tenth of --service-cidr)")
	fs.StringVar(&resolvConf, "resolv-conf", "/etc/resolv.conf", "the node's resolver file, for pods with dnsPolicy Default")
	fs.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if (kubeconfig == "") == (serverURL == "" || tokenFile == "") {
		return fmt.Errorf("give either --server and --token-file, or --kubeconfig")
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
	}{{"--cluster-cidr", clusterCIDR, &cfg.ClusterCIDR}, {"--service-cidr", serviceCIDR, &cfg.ServiceCIDR}} {
		if _, *c.dst, err = net.ParseCIDR(c.value); err != nil {
			return fmt.Errorf("%s: %w", c.flag, err)
		}
	}
	dns := net.ParseIP(clusterDNS)
	if clusterDNS == "" {
		if dns, err = podnet.ClusterDNS(cfg.ServiceCIDR); err != nil {
			return fmt.Errorf("--service-cidr: %w", err)
		}
	} else if dns == nil {
		return fmt.Errorf("--cluster-dns %q is not an IP address", clusterDNS)
	}
	cfg.ClusterDNS, cfg.HostResolvConf = []net.IP{dns}, resolvConf
	log, err := newLogger(stderr, logLevel)
	if err != nil {
		return err
	}
	var rc *rest.Config
	if kubeconfig != "" {
		if rc, err = clientcmd.BuildConfigFromFlags("", kubeconfig); err != nil {
			return fmt.Errorf("--kubeconfig: %w", err)
		}
	} else if rc, err = joinCluster(cfg, serverURL, tokenFile); err != nil {
		return err
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
	return runUntilSignal(log, a.Run, a.Ready(), a.Ready(), stdout, fmt.Sprintf("Node %s joined the cluster.\n", a.NodeName()))
}

// joinCluster gives the node its credentials: those it saved when it
// joined before, or new ones from the server for the join token. It sets
// the kubelet server's TLS from them and returns the API client's config.
func joinCluster(cfg *agent.Config, serverURL, tokenFile string) (*rest.Config, error) {
	id, err := cfg.WithIdentity()
	if err != nil {
		return nil, err
	}
	*cfg = id
	creds, err := join.Load(cfg.DataDir)
	switch {
	case errors.Is(err, os.ErrNotExist), errors.Is(err, join.ErrExpired):
		data, err := os.ReadFile(tokenFile)
		if err != nil {
			return nil, fmt.Errorf("--token-file: %w", err)
		}
		token, err := join.ParseToken(string(data))
		if err != nil {
			return nil, fmt.Errorf("--token-file: %w", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if creds, err = join.Join(ctx, serverURL, token, join.Request{NodeName: cfg.NodeName, Addresses: []net.IP{cfg.NodeIP}}); err != nil {
			return nil, err
		}
		if err := creds.Save(cfg.DataDir); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	case creds.NodeName != cfg.NodeName:
		return nil, fmt.Errorf("the credentials in %s are node %s's, not %s's", cfg.DataDir, creds.NodeName, cfg.NodeName)
	}
	serving, err := tls.X509KeyPair(creds.ServingCert, creds.ServingKey)
	if err != nil {
		return nil, fmt.Errorf("kubelet serving certificate: %w", err)
	}
	ca := x509.NewCertPool()
	if !ca.AppendCertsFromPEM(creds.CA) {
		return nil, errors.New("the saved cluster CA is not PEM")
	}
	cfg.KubeletTLS = func(string, net.IP) (*tls.Config, error) {
		return agent.KubeletTLSConfig(serving, ca, creds.KubeletClientName), nil
	}
	mirror, err := serverRegistry(cfg.DataDir, serverURL, creds)
	if err != nil {
		return nil, err
	}
	cfg.RegistryMirrors = []containerd.Endpoint{mirror}
	return &rest.Config{
		Host:            serverURL,
		TLSClientConfig: rest.TLSClientConfig{CAData: creds.CA, CertData: creds.ClientCert, KeyData: creds.ClientKey},
	}, nil
}

// serverRegistry is the server's built-in registry as containerd reaches
// it: over the API's HTTPS port with the node's client certificate, which
// containerd reads from files.
func serverRegistry(dataDir, serverURL string, creds *join.Credentials) (containerd.Endpoint, error) {
	dir := filepath.Join(dataDir, "registry-auth")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return containerd.Endpoint{}, err
	}
	e := containerd.Endpoint{
		URL:            serverURL,
		CAFile:         filepath.Join(dir, "ca.crt"),
		ClientCertFile: filepath.Join(dir, "client.crt"),
		ClientKeyFile:  filepath.Join(dir, "client.key"),
	}
	for path, data := range map[string][]byte{e.CAFile: creds.CA, e.ClientCertFile: creds.ClientCert, e.ClientKeyFile: creds.ClientKey} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return containerd.Endpoint{}, fmt.Errorf("registry credentials: %w", err)
		}
	}
	return e, nil
}
