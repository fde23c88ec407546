// Package agent is a node: it runs containerd (its own child, or one the
// user points it at), serves that containerd its images, sets up the pod
// network, registers the Node and keeps its Lease, and runs the kubelet.
// `skiff agent` runs one on its own; `skiff server` runs one in process so
// that a single server is a working one-node cluster.
package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/containerd"
	"github.com/skiff-sh/skiff/internal/dns"
	"github.com/skiff-sh/skiff/internal/kubelet"
	"github.com/skiff-sh/skiff/internal/kubelet/nodestatus"
	"github.com/skiff-sh/skiff/internal/kubelet/resolvconf"
	kubeletserver "github.com/skiff-sh/skiff/internal/kubelet/server"
	"github.com/skiff-sh/skiff/internal/oci"
	"github.com/skiff-sh/skiff/internal/podnet"
	"github.com/skiff-sh/skiff/internal/proxy"
)

// Config describes the node.
type Config struct {
	// NodeName is the Node's name; default the host name, lower-cased.
	NodeName string
	// DataDir holds the agent's state: containerd's root, pod directories,
	// pod logs, CNI configuration and IP allocations. Required.
	DataDir string
	// NodeIP is the node's InternalIP; default the first global unicast
	// address of an interface that is up.
	NodeIP net.IP
	// PodCIDR is this node's range of pod addresses; nil waits for the
	// one the server's allocator gives the Node.
	PodCIDR *net.IPNet
	// ClusterCIDR and ServiceCIDR are the cluster's pod and service ranges.
	// Both get an unreachable route, so that an address no rule or bridge
	// claims never leaves the machine.
	ClusterCIDR, ServiceCIDR *net.IPNet
	// ContainerRuntimeEndpoint is a CRI socket to use instead of starting
	// containerd. That containerd must already have the sandbox image and
	// a pod network configured.
	ContainerRuntimeEndpoint string
	// ContainerdBinary is the containerd started when no endpoint is given;
	// default "containerd" from PATH.
	ContainerdBinary string
	// Images are served to containerd as a mirror of every registry, and
	// hold the infra image; default a store in DataDir/images.
	Images *oci.Store
	// RegistryMirrors are tried for every registry after Images and before
	// the registry itself: a joined node lists the server's built-in
	// registry here.
	RegistryMirrors []containerd.Endpoint
	// Registries adds mirrors, TLS and credentials per registry, from a
	// registries.yaml; nil adds none.
	Registries *Registries
	// Kubelet tunes the kubelet; the node name, directories and host IPs
	// are filled in by the agent.
	Kubelet kubelet.Config
	// KubeletTLS returns the TLS configuration of the kubelet's HTTPS
	// server (logs, exec, attach, port-forward), which must accept only the
	// API server. Nil runs no such server.
	KubeletTLS func(nodeName string, nodeIP net.IP) (*tls.Config, error)
	// KubeletPort is that server's port on NodeIP; default 10250.
	KubeletPort int
	// Status tunes registration, the Lease and node status; the node name,
	// addresses and data dir are filled in by the agent.
	Status nodestatus.Config
	// Version is reported as the node's kubelet version.
	Version string
	// ClusterDNS are the cluster DNS service's addresses that ClusterFirst
	// pods resolve with.
	ClusterDNS []net.IP
	// HostResolvConf is the node's resolver file, which Default pods get
	// (default /etc/resolv.conf).
	HostResolvConf string
}

// Agent runs a node until its context ends.
type Agent struct {
	log    *slog.Logger
	client kubernetes.Interface
	cfg    Config
	ready  chan struct{}
}

// New checks cfg and applies its defaults.
func New(log *slog.Logger, client kubernetes.Interface, cfg Config) (*Agent, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.DataDir == "" {
		return nil, errors.New("agent: a data dir is required")
	}
	cfg, err := cfg.WithIdentity()
	if err != nil {
		return nil, err
	}
	if cfg.KubeletPort == 0 {
		cfg.KubeletPort = 10250
	}
	if cfg.HostResolvConf == "" {
		cfg.HostResolvConf = "/etc/resolv.conf"
	}
	if cfg.Images == nil {
		s, err := oci.NewStore(filepath.Join(cfg.DataDir, "images"))
		if err != nil {
			return nil, fmt.Errorf("agent: image store: %w", err)
		}
		cfg.Images = s
	}
	return &Agent{log: log.With("node", cfg.NodeName), client: client, cfg: cfg, ready: make(chan struct{})}, nil
}

// WithIdentity fills in the node's name (the host name, lower-cased) and
// address (the first global unicast address of an interface that is up)
// when they are not set. A joining node needs them before it has an Agent.
func (c Config) WithIdentity() (Config, error) {
	if c.NodeName == "" {
		host, err := os.Hostname()
		if err != nil {
			return c, fmt.Errorf("agent: node name: %w", err)
		}
		c.NodeName = strings.ToLower(host)
	}
	if c.NodeIP == nil {
		ip, err := defaultNodeIP()
		if err != nil {
			return c, err
		}
		c.NodeIP = ip
	}
	return c, nil
}

// KubeletTLSConfig is the TLS configuration of a kubelet's HTTPS server
// with the given certificate: only a client certificate from ca naming
// client, the API server's, gets in.
func KubeletTLSConfig(cert tls.Certificate, ca *x509.CertPool, client string) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientCAs:    ca,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"},
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 || cs.PeerCertificates[0].Subject.CommonName != client {
				return errors.New("only the API server may call the kubelet")
			}
			return nil
		},
	}
}

// NodeName is the name the node registers under.
func (a *Agent) NodeName() string { return a.cfg.NodeName }

// Ready is closed once the node is Ready: registered and reported Ready,
// with its kubelet, service proxy and DNS running.
func (a *Agent) Ready() <-chan struct{} { return a.ready }

// Run runs the node. When it returns, containerd has stopped, but the pods'
// containers keep running in their shims: the next Run adopts them.
func (a *Agent) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	conn, err := a.run(ctx, g)
	if werr := g.Wait(); err == nil {
		err = werr
	}
	// The runtime connection outlives every part that uses it.
	if conn != nil {
		conn.Close()
	}
	return err
}

// run starts the node's parts under g, in the order each needs the last.
// It returns the runtime connection, even with an error, for Run to close
// once every part has stopped.
func (a *Agent) run(ctx context.Context, g *errgroup.Group) (*grpc.ClientConn, error) {
	endpoint, cniConfDir, err := a.startRuntime(ctx, g)
	if err != nil || endpoint == "" {
		return nil, err
	}
	conn, err := containerd.Dial(ctx, endpoint)
	if err != nil {
		return nil, fmt.Errorf("agent: runtime: %w", err)
	}
	return conn, a.runNode(ctx, g, conn, cniConfDir)
}

// runNode starts everything that talks to the runtime.
func (a *Agent) runNode(ctx context.Context, g *errgroup.Group, conn *grpc.ClientConn, cniConfDir string) error {
	runtimeClient := runtimeapi.NewRuntimeServiceClient(conn)
	imageClient := runtimeapi.NewImageServiceClient(conn)

	status, err := nodestatus.New(a.log.With("component", "nodestatus"), a.client, criStatus(runtimeClient), clock.RealClock{}, a.statusConfig())
	if err != nil {
		return err
	}
	g.Go(func() error { return status.Run(ctx) })

	podCIDR := a.cfg.PodCIDR
	if podCIDR == nil {
		if podCIDR, err = a.waitPodCIDR(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	if err := a.setupNetwork(podCIDR, cniConfDir); err != nil {
		return err
	}

	serviceNetworking, err := a.startServiceNetworking(ctx, g, podCIDR)
	if err != nil {
		return err
	}

	// The cluster-wide caches: every node for the routes, every Service
	// for containers' service variables.
	cluster := informers.NewSharedInformerFactory(a.client, 0)
	routes, err := newHostGateway(a.log.With("component", "routes"), a.cfg.NodeName, cluster.Core().V1().Nodes(), ipRoutes{})
	if err != nil {
		return err
	}
	services := cluster.Core().V1().Services()
	servicesSynced := services.Informer().HasSynced
	cluster.Start(ctx.Done())
	g.Go(func() error {
		<-ctx.Done()
		cluster.Shutdown()
		return nil
	})
	g.Go(func() error {
		routes.run(ctx, cluster.Core().V1().Nodes().Informer().HasSynced)
		return nil
	})
	if !cache.WaitForCacheSync(ctx.Done(), servicesSynced) {
		return nil
	}

	resolv, err := resolvconf.New(resolvconf.Config{
		ClusterDNS:     ipStrings(a.cfg.ClusterDNS),
		ClusterDomain:  a.kubeletConfig().ClusterDomain,
		HostResolvConf: a.cfg.HostResolvConf,
	})
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}

	factory := informers.NewSharedInformerFactoryWithOptions(a.client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = "spec.nodeName=" + a.cfg.NodeName }))
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: a.client.CoreV1().Events("")})
	recorder := broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kubelet", Host: a.cfg.NodeName})

	k, err := kubelet.New(a.log.With("component", "kubelet"), kubelet.Deps{
		Runtime:  runtimeClient,
		Images:   imageClient,
		Client:   a.client,
		Pods:     factory.Core().V1().Pods().Informer(),
		Recorder: recorder,
		Clock:    clock.RealClock{},
		DNS:      resolv.ForPod,
		Services: services.Lister(),
	}, a.kubeletConfig())
	if err != nil {
		broadcaster.Shutdown()
		return err
	}
	if a.cfg.KubeletTLS != nil {
		tlsConfig, err := a.cfg.KubeletTLS(a.cfg.NodeName, a.cfg.NodeIP)
		if err != nil {
			broadcaster.Shutdown()
			return fmt.Errorf("agent: kubelet server: %w", err)
		}
		ks, err := kubeletserver.New(a.log.With("component", "kubelet-server"), runtimeClient, kubeletserver.Config{
			TLS:        tlsConfig,
			Address:    net.JoinHostPort(a.cfg.NodeIP.String(), strconv.Itoa(a.cfg.KubeletPort)),
			PodLogsDir: a.kubeletConfig().PodLogsDir,
			Statuses:   k,
		})
		if err != nil {
			broadcaster.Shutdown()
			return err
		}
		g.Go(func() error { return ks.Run(ctx) })
	}

	factory.Start(ctx.Done())
	g.Go(func() error {
		defer broadcaster.Shutdown()
		defer factory.Shutdown()
		return k.Run(ctx)
	})
	g.Go(func() error {
		for _, ch := range append(serviceNetworking, status.Ready(), k.Started()) {
			select {
			case <-ch:
			case <-ctx.Done():
				return nil
			}
		}
		a.log.Info("node ready", "ip", a.cfg.NodeIP, "podCIDR", podCIDR)
		close(a.ready)
		return nil
	})
	return nil
}

// startRuntime starts containerd with the agent's images and CNI
// configuration directory, or returns the endpoint the user gave (and no
// directory: that runtime's pod network is the user's). An empty endpoint
// with no error means ctx ended first.
func (a *Agent) startRuntime(ctx context.Context, g *errgroup.Group) (endpoint, cniConfDir string, err error) {
	if a.cfg.ContainerRuntimeEndpoint != "" {
		return a.cfg.ContainerRuntimeEndpoint, "", nil
	}
	sandboxImage, err := a.prepareImages(ctx, g)
	if err != nil {
		return "", "", err
	}
	cniConfDir = filepath.Join(a.cfg.DataDir, "cni", "net.d")
	sup, err := containerd.New(a.log.With("component", "containerd"), containerd.Config{
		DataDir:           filepath.Join(a.cfg.DataDir, "containerd"),
		Binary:            a.cfg.ContainerdBinary,
		SandboxImage:      sandboxImage,
		CNIConfDir:        cniConfDir,
		RegistryConfigDir: a.registryConfigDir(),
		RegistryAuth:      a.cfg.Registries.credentials(),
	})
	if err != nil {
		return "", "", err
	}
	g.Go(func() error { return sup.Run(ctx) })
	select {
	case <-sup.Ready():
		return sup.Endpoint(), cniConfDir, nil
	case <-ctx.Done():
		return "", "", nil
	}
}

// setupNetwork prepares the node's pod network for podCIDR: forwarding,
// the bridge with its gateway, the routes that keep cluster and service
// addresses on the machine and, with the agent's own containerd, the CNI
// configuration (which containerd picks up when it appears) and egress
// masquerade.
func (a *Agent) setupNetwork(podCIDR *net.IPNet, cniConfDir string) error {
	if err := enableForwarding(); err != nil {
		return err
	}
	if err := ensureBridge(podCIDR, podnet.Gateway(podCIDR)); err != nil {
		return err
	}
	if cniConfDir != "" {
		if err := writeCNIConfig(cniConfDir, podCIDR, filepath.Join(a.cfg.DataDir, "cni", "ipam")); err != nil {
			return err
		}
		if err := masqueradeEgress(podCIDR, a.cfg.ClusterCIDR); err != nil {
			return err
		}
	}
	if err := routeUnreachable(a.cfg.ClusterCIDR); err != nil {
		return err
	}
	return routeServices(a.cfg.ServiceCIDR)
}

// startServiceNetworking runs what makes Services work on this node: the
// proxy's nftables rules, and the DNS server on the bridge's gateway
// address, where the kube-dns Service's endpoint for this node points. It
// returns the channels that tell when each is ready.
func (a *Agent) startServiceNetworking(ctx context.Context, g *errgroup.Group, podCIDR *net.IPNet) ([]<-chan struct{}, error) {
	p, err := proxy.New(a.log.With("component", "proxy"), a.client, nil, proxy.Config{
		NodeName:    a.cfg.NodeName,
		NodeIPs:     []net.IP{a.cfg.NodeIP},
		ClusterCIDR: a.cfg.ClusterCIDR,
		ServiceCIDR: a.cfg.ServiceCIDR,
	})
	if err != nil {
		return nil, err
	}
	g.Go(func() error { return p.Run(ctx) })
	d, err := dns.New(a.log.With("component", "dns"), a.client, dns.Config{
		Domain:     a.kubeletConfig().ClusterDomain,
		Addr:       net.JoinHostPort(podnet.Gateway(podCIDR).String(), "53"),
		ResolvConf: a.cfg.HostResolvConf,
	})
	if err != nil {
		return nil, err
	}
	g.Go(func() error { return d.Run(ctx) })
	return []<-chan struct{}{p.Ready(), d.Ready()}, nil
}

func ipStrings(ips []net.IP) []string {
	out := make([]string, 0, len(ips))
	for _, ip := range ips {
		out = append(out, ip.String())
	}
	return out
}

func (a *Agent) kubeletConfig() kubelet.Config {
	c := a.cfg.Kubelet
	c.NodeName = a.cfg.NodeName
	c.PodsDir = filepath.Join(a.cfg.DataDir, "pods")
	c.PodLogsDir = filepath.Join(a.cfg.DataDir, "logs", "pods")
	c.HostIPs = []string{a.cfg.NodeIP.String()}
	return c
}

func (a *Agent) statusConfig() nodestatus.Config {
	c := a.cfg.Status
	c.NodeName = a.cfg.NodeName
	c.DataDir = a.cfg.DataDir
	c.KubeletVersion = a.cfg.Version
	if a.cfg.KubeletTLS != nil {
		c.KubeletPort = int32(a.cfg.KubeletPort)
	}
	c.Addresses = []corev1.NodeAddress{
		{Type: corev1.NodeInternalIP, Address: a.cfg.NodeIP.String()},
		{Type: corev1.NodeHostName, Address: a.cfg.NodeName},
	}
	return c
}

func (a *Agent) registryConfigDir() string {
	return filepath.Join(a.cfg.DataDir, "containerd", "certs.d")
}

// criStatus reports the runtime's version and readiness from CRI.
func criStatus(rt runtimeapi.RuntimeServiceClient) nodestatus.RuntimeInfo {
	return func(ctx context.Context) (nodestatus.RuntimeStatus, error) {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		v, err := rt.Version(ctx, &runtimeapi.VersionRequest{})
		if err != nil {
			return nodestatus.RuntimeStatus{}, fmt.Errorf("runtime version: %w", err)
		}
		st, err := rt.Status(ctx, &runtimeapi.StatusRequest{})
		if err != nil {
			return nodestatus.RuntimeStatus{}, fmt.Errorf("runtime status: %w", err)
		}
		out := nodestatus.RuntimeStatus{Version: v.RuntimeName + "://" + v.RuntimeVersion}
		for _, c := range st.GetStatus().GetConditions() {
			switch c.Type {
			case runtimeapi.RuntimeReady:
				out.RuntimeReady, out.RuntimeReason, out.RuntimeMessage = c.Status, c.Reason, c.Message
			case runtimeapi.NetworkReady:
				out.NetworkReady, out.NetworkReason, out.NetworkMessage = c.Status, c.Reason, c.Message
			}
		}
		return out, nil
	}
}

// defaultNodeIP picks the first global unicast address of an interface that
// is up, preferring IPv4, without sending anything anywhere.
func defaultNodeIP() (net.IP, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("agent: list interfaces: %w", err)
	}
	var v6 net.IP
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 || ifc.Name == bridgeName {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, addr := range addrs {
			ipn, ok := addr.(*net.IPNet)
			if !ok || !ipn.IP.IsGlobalUnicast() {
				continue
			}
			if ip4 := ipn.IP.To4(); ip4 != nil {
				return ip4, nil
			}
			if v6 == nil {
				v6 = ipn.IP
			}
		}
	}
	if v6 != nil {
		return v6, nil
	}
	return nil, errors.New("agent: no address to use as the node IP; set one")
}
