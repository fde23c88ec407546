// Package server assembles `skiff server`: etcd (embedded or external), the
// registry with its watch caches, and the HTTPS API, under one supervisor.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/version"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	"github.com/skiff-sh/skiff/internal/agent"
	"github.com/skiff-sh/skiff/internal/apiserver"
	"github.com/skiff-sh/skiff/internal/authn"
	"github.com/skiff-sh/skiff/internal/join"
	"github.com/skiff-sh/skiff/internal/oci"
	"github.com/skiff-sh/skiff/internal/pki"
	"github.com/skiff-sh/skiff/internal/podnet"
	"github.com/skiff-sh/skiff/internal/registry"
	"github.com/skiff-sh/skiff/internal/storage"
	"github.com/skiff-sh/skiff/internal/storage/watchcache"
)

// Config is the server's configuration; zero values take the defaults.
type Config struct {
	DataDir       string
	BindAddress   string
	HTTPSPort     int
	EtcdEndpoints []string
	// EtcdClientPort and EtcdPeerPort are the embedded etcd's loopback ports.
	EtcdClientPort int
	EtcdPeerPort   int
	ServiceCIDR    string
	ClusterCIDR    string
	NodePortRange  string
	TokenAuthFile  string
	// DisableControllerManager runs the API only: no scheduler, no
	// controllers.
	DisableControllerManager bool
	// Controllers tunes the controllers (timeouts that tests shorten).
	Controllers ControllerConfig
	// Agent, when set, runs a node in the server process: a single server
	// is then a one-node cluster. The server fills in what it knows: the
	// data dir (DataDir/agent unless set), the pod and service ranges, its
	// image store and its version. The node's pod range is the first /24
	// of the cluster CIDR.
	Agent *agent.Config
	// CompactionInterval is how often etcd history is compacted.
	CompactionInterval time.Duration
	Cache              watchcache.Config
	Version            version.Info
}

func (c *Config) applyDefaults() {
	if c.BindAddress == "" {
		c.BindAddress = "127.0.0.1"
	}
	if c.HTTPSPort == 0 {
		c.HTTPSPort = 6443
	}
	if c.EtcdClientPort == 0 {
		c.EtcdClientPort = 2379
	}
	if c.EtcdPeerPort == 0 {
		c.EtcdPeerPort = 2380
	}
	if c.ServiceCIDR == "" {
		c.ServiceCIDR = "10.43.0.0/16"
	}
	if c.ClusterCIDR == "" {
		c.ClusterCIDR = "10.42.0.0/16"
	}
	if c.NodePortRange == "" {
		c.NodePortRange = "30000-32767"
	}
	if c.CompactionInterval == 0 {
		c.CompactionInterval = 5 * time.Minute
	}
}

// Server is a running control plane.
type Server struct {
	log         *slog.Logger
	cfg         Config
	serviceCIDR *net.IPNet
	clusterCIDR *net.IPNet
	nodePorts   registry.PortRange
	ready       chan struct{}
	settled     chan struct{}
	// URL is the HTTPS address clients use, known once Ready is closed.
	url string
}

// New validates cfg.
func New(log *slog.Logger, cfg Config) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg.applyDefaults()
	if cfg.DataDir == "" {
		return nil, errors.New("server: --data-dir is required")
	}
	_, cidr, err := net.ParseCIDR(cfg.ServiceCIDR)
	if err != nil {
		return nil, fmt.Errorf("server: --service-cidr: %w", err)
	}
	_, cluster, err := net.ParseCIDR(cfg.ClusterCIDR)
	if err != nil {
		return nil, fmt.Errorf("server: --cluster-cidr: %w", err)
	}
	if _, err := podnet.ClusterDNS(cidr); err != nil {
		return nil, fmt.Errorf("server: --service-cidr: %w", err)
	}
	ports, err := registry.ParsePortRange(cfg.NodePortRange)
	if err != nil {
		return nil, fmt.Errorf("server: --service-node-port-range: %w", err)
	}
	if net.ParseIP(cfg.BindAddress) == nil {
		return nil, fmt.Errorf("server: --bind-address %q is not an IP address", cfg.BindAddress)
	}
	return &Server{log: log, cfg: cfg, serviceCIDR: cidr, clusterCIDR: cluster, nodePorts: ports,
		ready: make(chan struct{}), settled: make(chan struct{})}, nil
}

// Ready is closed when the API serves requests.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Settled is closed once start-up is over: the API serves requests and,
// when the server runs a node, the node is Ready too.
func (s *Server) Settled() <-chan struct{} { return s.settled }

// KubeconfigPath is where the admin kubeconfig is written.
func (s *Server) KubeconfigPath() string { return filepath.Join(s.cfg.DataDir, "kubeconfig.yaml") }

// URL is the API's address; valid once Ready is closed.
func (s *Server) URL() string { return s.url }

// Run starts everything and blocks until ctx ends or a component fails; then
// it shuts down in order: HTTP, caches, etcd.
func (s *Server) Run(ctx context.Context) error {
	if err := os.MkdirAll(s.cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	host := s.cfg.BindAddress
	if ip := net.ParseIP(host); ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	s.url = "https://" + net.JoinHostPort(host, strconv.Itoa(s.cfg.HTTPSPort))
	certs, err := pki.Ensure(pki.Config{
		Dir:      filepath.Join(s.cfg.DataDir, "tls"),
		IPs:      []net.IP{net.ParseIP(host), registry.FirstServiceIP(s.serviceCIDR)},
		DNSNames: nil,
	})
	if err != nil {
		return fmt.Errorf("certificates: %w", err)
	}
	if err := certs.WriteAdminKubeconfig(s.KubeconfigPath(), s.url); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}

	var kvClient, watchClient *clientv3.Client
	var etcdErr <-chan error
	if endpoints := s.cfg.EtcdEndpoints; len(endpoints) > 0 {
		c, err := newEtcdClient(endpoints)
		if err != nil {
			return err
		}
		defer c.Close()
		kvClient, watchClient = c, c
	} else {
		e, err := startEtcd(ctx, s.cfg.DataDir, s.cfg.EtcdClientPort, s.cfg.EtcdPeerPort)
		if err != nil {
			return err
		}
		defer e.Close()
		if kvClient, watchClient, err = e.clients(); err != nil {
			return err
		}
		defer kvClient.Close()
		defer watchClient.Close()
		etcdErr = e.Err()
	}
	kv := storage.New(kvClient, watchClient)

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return fmt.Errorf("build scheme: %w", err)
	}
	reg, err := registry.New(s.log, kv, scheme, registry.Config{
		ServiceCIDR: s.serviceCIDR, NodePortRange: s.nodePorts, APIServerPort: s.cfg.HTTPSPort, Cache: s.cfg.Cache,
	})
	if err != nil {
		return err
	}
	kubelets, err := kubeletTransport(certs)
	if err != nil {
		return err
	}
	api, err := apiserver.New(s.log, reg, scheme, apiserver.Config{Version: s.cfg.Version, KubeletTransport: kubelets})
	if err != nil {
		return err
	}
	var tokens authn.TokenSource
	if s.cfg.TokenAuthFile != "" {
		if tokens, err = authn.LoadTokenFile(s.cfg.TokenAuthFile); err != nil {
			return err
		}
	}
	joinHandler, err := s.joinHandler(certs)
	if err != nil {
		return err
	}
	images, err := oci.NewStore(s.ImagesDir())
	if err != nil {
		return fmt.Errorf("image store: %w", err)
	}
	authenticator := authn.New(certs.CAPool(), tokens)
	handler := http.NewServeMux()
	// Joining nodes have no credentials yet: they prove themselves with the
	// join token, before the authentication every other request passes.
	handler.Handle(join.PathPrefix, joinHandler)
	// The built-in registry: every node's containerd pulls from it, with
	// the node's client certificate, before any other registry.
	handler.Handle("/v2/", authn.Middleware(oci.NewRegistry(s.log.With("component", "registry"), images), authenticator))
	handler.Handle("/", authn.Middleware(api, authenticator,
		"/healthz", "/healthz/*", "/livez", "/livez/*", "/readyz", "/readyz/*", "/version"))

	ln, err := net.Listen("tcp", net.JoinHostPort(s.cfg.BindAddress, strconv.Itoa(s.cfg.HTTPSPort)))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: handler, TLSConfig: certs.ServerTLSConfig(), ReadHeaderTimeout: 30 * time.Second,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		// Every watch is a stream; informer-heavy clients share one
		// connection, so allow as many streams as upstream does.
		HTTP2: &http.HTTP2Config{MaxConcurrentStreams: 1000}}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return reg.Run(gctx) })
	g.Go(func() error { return kv.RunCompactor(gctx, s.cfg.CompactionInterval) })
	g.Go(func() error {
		if err := srv.Serve(tls.NewListener(ln, srv.TLSConfig)); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve API: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdown); err != nil {
			// Long-running watches may outlast the grace period: cut them.
			s.log.Warn("closing connections that outlasted shutdown", "err", err)
			return srv.Close()
		}
		return nil
	})
	if etcdErr != nil {
		g.Go(func() error {
			select {
			case err := <-etcdErr:
				return fmt.Errorf("embedded etcd: %w", err)
			case <-gctx.Done():
				return nil
			}
		})
	}
	g.Go(func() error {
		if err := reg.WaitReady(gctx); err != nil {
			return nil
		}
		if err := reg.Bootstrap(gctx); err != nil {
			return fmt.Errorf("bootstrap: %w", err)
		}
		api.SetReady(true)
		close(s.ready)
		if s.cfg.Agent == nil {
			close(s.settled)
		}
		s.log.Info("skiff server ready", "url", s.url, "kubeconfig", s.KubeconfigPath())
		if s.cfg.DisableControllerManager {
			return nil
		}
		return s.runControllers(gctx, api, reg)
	})
	if s.cfg.Agent != nil {
		g.Go(func() error {
			select {
			case <-s.ready:
			case <-gctx.Done():
				return nil
			}
			return s.runAgent(gctx, api, certs, images)
		})
	}
	return g.Wait()
}
