// Package dns is the cluster DNS. Every node agent runs one Server: it answers
// the names of Services and their endpoints under the cluster domain from
// informer caches, following the Kubernetes DNS specification (and CoreDNS's
// kubernetes plugin where the specification is silent), and forwards every
// other name to the node's upstream resolvers through an answer cache.
//
// The resolution of cluster names (resolve.go) is pure logic over an index of
// cached objects (index.go); the sockets (this file and handler.go) and the
// forwarder (forward.go, cache.go) sit around it.
package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
)

const (
	defaultDomain         = "cluster.local"
	defaultResolvConf     = "/etc/resolv.conf"
	defaultTTL            = 5
	defaultCacheSize      = 10000
	defaultForwardTimeout = 2 * time.Second
	// shutdownTimeout bounds the wait for in-flight answers when Run ends;
	// forwarded queries are bounded by ForwardTimeout anyway.
	shutdownTimeout = 5 * time.Second
)

var (
	// ErrAlreadyRun means Run was called a second time on one Server.
	ErrAlreadyRun = errors.New("dns: server already ran")
	// ErrStopped means a listener stopped serving while Run still ran.
	ErrStopped = errors.New("dns: listener stopped")
)

// Config says which zone the server answers, where it listens and where it
// forwards the rest.
type Config struct {
	// Domain is the cluster domain; default "cluster.local".
	Domain string
	// Addr is the host:port served over both UDP and TCP, for example
	// "10.0.0.5:53". Required. Port 0 picks a free port, the same for both;
	// Addr() reports it.
	Addr string
	// Upstreams are the resolvers (host or host:port) that names outside the
	// cluster domain go to, tried in order. Nil means the nameservers of
	// ResolvConf; an empty list means none. Without upstreams such queries
	// are REFUSED.
	Upstreams []string
	// ResolvConf is read when Upstreams is nil; default "/etc/resolv.conf".
	// Nameservers that are this server's own address are skipped.
	ResolvConf string
	// TTL of cluster records, and the negative TTL of the cluster zone;
	// default 5 seconds, as CoreDNS's kubernetes plugin.
	TTL uint32
	// CacheSize caps the forwarded answers kept (each for its TTL, negative
	// ones for their SOA minimum); default 10000, negative disables the cache.
	CacheSize int
	// ForwardTimeout bounds one forwarded query over all upstreams, after
	// which the client gets SERVFAIL; default 2s, below the 5s that stub
	// resolvers wait before they retry.
	ForwardTimeout time.Duration
}

// Server answers DNS queries over UDP and TCP on one address.
type Server struct {
	log      *slog.Logger
	cfg      Config
	factory  informers.SharedInformerFactory
	synced   []cache.InformerSynced
	resolver *resolver
	// fwd is nil when there is no upstream: non-cluster names are refused.
	fwd *forwarder
	// serving turns true once the caches synced: before that a cluster name
	// gets SERVFAIL rather than a wrong NXDOMAIN.
	serving atomic.Bool
	addr    atomic.Pointer[string]
	ready   chan struct{}
	ran     atomic.Bool
}

// New checks cfg, applies its defaults and registers the informers it needs on
// a factory of its own; it binds and starts nothing.
func New(log *slog.Logger, client kubernetes.Interface, cfg Config) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if client == nil {
		return nil, errors.New("dns: a client is required")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	upstreams, err := cfg.upstreams(log)
	if err != nil {
		return nil, err
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	idx, synced, err := newInformerIndex(factory)
	if err != nil {
		return nil, err
	}
	s := &Server{
		log:      log,
		cfg:      cfg,
		factory:  factory,
		synced:   synced,
		resolver: newResolver(cfg.Domain, cfg.TTL, idx),
		ready:    make(chan struct{}),
	}
	if len(upstreams) > 0 {
		var answers *answerCache
		if cfg.CacheSize > 0 {
			answers = newAnswerCache(cfg.CacheSize, clock.RealClock{})
		}
		s.fwd = newForwarder(upstreams, cfg.ForwardTimeout, answers)
	}
	log.Info("cluster DNS configured", "domain", cfg.Domain, "addr", cfg.Addr, "upstreams", upstreams)
	return s, nil
}

func (c Config) withDefaults() (Config, error) {
	if c.Addr == "" {
		return c, errors.New("dns: Addr is required")
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return c, fmt.Errorf("dns: Addr %q: %w", c.Addr, err)
	}
	if c.Domain == "" {
		c.Domain = defaultDomain
	}
	c.Domain = strings.ToLower(strings.TrimSuffix(c.Domain, "."))
	if _, ok := dns.IsDomainName(c.Domain); !ok || c.Domain == "" {
		return c, fmt.Errorf("dns: Domain %q is not a domain name", c.Domain)
	}
	if c.ResolvConf == "" {
		c.ResolvConf = defaultResolvConf
	}
	if c.TTL == 0 {
		c.TTL = defaultTTL
	}
	if c.CacheSize == 0 {
		c.CacheSize = defaultCacheSize
	}
	if c.ForwardTimeout <= 0 {
		c.ForwardTimeout = defaultForwardTimeout
	}
	return c, nil
}

// Ready is closed once the caches have synced and both sockets are bound.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addr is the address actually bound, which tells the port when Config.Addr
// asked for port 0; it is empty until Run has bound the sockets.
func (s *Server) Addr() string {
	if a := s.addr.Load(); a != nil {
		return *a
	}
	return ""
}

// Run binds the sockets, starts the informers and serves until ctx ends.
// Names outside the cluster domain are answered at once; cluster names once
// the caches have synced. It returns an error if a socket cannot be bound or a
// listener fails.
func (s *Server) Run(ctx context.Context) error {
	if !s.ran.CompareAndSwap(false, true) {
		return ErrAlreadyRun
	}
	pc, ln, err := listen(s.cfg.Addr)
	if err != nil {
		return err
	}
	addr := pc.LocalAddr().String()
	s.addr.Store(&addr)

	ctx, cancel := context.WithCancel(ctx)
	// Shutdown waits for the informers, which stop only once ctx ends: the
	// cancel must run first, so it is deferred last.
	defer s.factory.Shutdown()
	defer cancel()
	s.factory.Start(ctx.Done())

	h := handler{ctx: ctx, s: s}
	udp := &dns.Server{PacketConn: pc, Handler: h, UDPSize: dns.DefaultMsgSize}
	tcp := &dns.Server{Listener: ln, Handler: h}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return serve(gctx, "udp", udp) })
	g.Go(func() error { return serve(gctx, "tcp", tcp) })
	g.Go(func() error {
		if !cache.WaitForCacheSync(gctx.Done(), s.synced...) {
			return nil
		}
		s.serving.Store(true)
		close(s.ready)
		s.log.Info("cluster DNS serving", "addr", addr)
		return nil
	})
	return g.Wait()
}

// serve runs srv until ctx ends; a listener that stops before is an error.
func serve(ctx context.Context, network string, srv *dns.Server) error {
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	done := make(chan error, 1)
	go func() { done <- srv.ActivateAndServe() }()
	select {
	case err := <-done:
		return stopped(network, err)
	case <-ctx.Done():
	}
	// A Shutdown before the server marked itself started would be refused
	// and leave it serving.
	select {
	case <-started:
	case err := <-done:
		return stopped(network, err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.ShutdownContext(sctx); err != nil {
		return fmt.Errorf("dns: shut down %s: %w", network, err)
	}
	if err := <-done; err != nil {
		return fmt.Errorf("dns: serve %s: %w", network, err)
	}
	return nil
}

func stopped(network string, err error) error {
	if err == nil {
		return fmt.Errorf("%w: %s", ErrStopped, network)
	}
	return fmt.Errorf("%w: %s: %w", ErrStopped, network, err)
}

// listen binds UDP and TCP to the same port. With port 0 the kernel picks the
// UDP port, which may be taken for TCP: then it tries again.
func listen(addr string) (net.PacketConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("dns: listen %q: %w", addr, err)
	}
	attempts := 1
	if port == "0" {
		attempts = 5
	}
	var tcpErr error
	for range attempts {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("dns: listen udp: %w", err)
		}
		_, bound, err := net.SplitHostPort(pc.LocalAddr().String())
		if err != nil {
			pc.Close()
			return nil, nil, fmt.Errorf("dns: listen udp: %w", err)
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(host, bound))
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
		tcpErr = err
	}
	return nil, nil, fmt.Errorf("dns: listen tcp: %w", tcpErr)
}
