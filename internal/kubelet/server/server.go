// Package server is the kubelet's HTTPS API: the API server proxies
// `kubectl logs`, `exec`, `attach` and `port-forward` to it. Logs are read
// from the CRI log files; the streaming requests are relayed to the URL the
// container runtime's own streaming server hands out.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

const (
	defaultAddress    = ":10250"
	defaultPodLogsDir = "/var/log/pods"

	// shutdownGrace bounds how long Run waits for requests in flight once
	// its context ends; followed logs and streams end with the context, so
	// this is only reached when a client stops reading.
	shutdownGrace = 5 * time.Second
	// readHeaderTimeout keeps idle TLS clients from holding connections.
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 90 * time.Second

	// Following a log polls its file at pollInterval and asks the runtime
	// whether the container still runs at most every statusInterval.
	defaultPollInterval   = 200 * time.Millisecond
	defaultStatusInterval = time.Second
)

// Errors that carry an HTTP status; see statusOf.
var (
	errBadRequest = errors.New("server: bad request")
	errNotFound   = errors.New("server: not found")
)

// requestError is a client-facing message of one of the kinds above: the
// message is upstream kubelet's wording, the kind decides the status.
type requestError struct {
	kind error
	msg  string
}

func (e *requestError) Error() string { return e.msg }
func (e *requestError) Unwrap() error { return e.kind }

func badRequest(format string, args ...any) error {
	return &requestError{kind: errBadRequest, msg: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) error {
	return &requestError{kind: errNotFound, msg: fmt.Sprintf(format, args...)}
}

// Runtime is the part of the CRI runtime service this server uses;
// runtimeapi.RuntimeServiceClient satisfies it.
type Runtime interface {
	ListPodSandbox(ctx context.Context, in *runtimeapi.ListPodSandboxRequest, opts ...grpc.CallOption) (*runtimeapi.ListPodSandboxResponse, error)
	ListContainers(ctx context.Context, in *runtimeapi.ListContainersRequest, opts ...grpc.CallOption) (*runtimeapi.ListContainersResponse, error)
	ContainerStatus(ctx context.Context, in *runtimeapi.ContainerStatusRequest, opts ...grpc.CallOption) (*runtimeapi.ContainerStatusResponse, error)
	Exec(ctx context.Context, in *runtimeapi.ExecRequest, opts ...grpc.CallOption) (*runtimeapi.ExecResponse, error)
	Attach(ctx context.Context, in *runtimeapi.AttachRequest, opts ...grpc.CallOption) (*runtimeapi.AttachResponse, error)
	PortForward(ctx context.Context, in *runtimeapi.PortForwardRequest, opts ...grpc.CallOption) (*runtimeapi.PortForwardResponse, error)
}

// Config configures a Server.
type Config struct {
	// TLS holds the server certificate and must require client
	// certificates signed by the cluster CA (ClientCAs and
	// tls.RequireAndVerifyClientCert): only the API server may call.
	TLS *tls.Config
	// Address is the "ip:port" to listen on (default ":10250").
	Address string
	// PodLogsDir is where the kubelet keeps pod logs, as
	// <dir>/<namespace>_<name>_<uid>/<container>/<restart>.log (default
	// /var/log/pods). It resolves log paths the runtime reports relative
	// or not at all.
	PodLogsDir string
	// Statuses, when set, tells which instance of a container its pod's
	// status names as the last terminated one, so that --previous means
	// what it means upstream (during a crash loop: the run that just
	// ended). Without it the runtime's order decides.
	Statuses ContainerStatuses
}

// ContainerStatuses reads a container's status as the kubelet last
// reported it.
type ContainerStatuses interface {
	ContainerStatus(podUID, container string) (corev1.ContainerStatus, bool)
}

// Server serves the kubelet API.
type Server struct {
	log     *slog.Logger
	rt      Runtime
	cfg     Config
	tls     *tls.Config
	handler http.Handler

	pollInterval   time.Duration
	statusInterval time.Duration

	// streams counts hijacked connections, which http.Server.Shutdown
	// does not wait for.
	streams sync.WaitGroup
}

// New returns a Server; it listens only when Run is called.
func New(log *slog.Logger, rt Runtime, cfg Config) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if rt == nil {
		return nil, errors.New("server: a runtime is required")
	}
	if cfg.TLS == nil {
		return nil, errors.New("server: a TLS configuration is required")
	}
	if cfg.TLS.ClientAuth != tls.RequireAndVerifyClientCert || cfg.TLS.ClientCAs == nil {
		return nil, errors.New("server: the TLS configuration must require and verify client certificates against ClientCAs")
	}
	if len(cfg.TLS.Certificates) == 0 && cfg.TLS.GetCertificate == nil {
		return nil, errors.New("server: the TLS configuration has no server certificate")
	}
	if cfg.Address == "" {
		cfg.Address = defaultAddress
	}
	if cfg.PodLogsDir == "" {
		cfg.PodLogsDir = defaultPodLogsDir
	}
	tlsCfg := cfg.TLS.Clone()
	// Exec, attach and port-forward are HTTP/1.1 upgrades, which HTTP/2
	// cannot carry.
	tlsCfg.NextProtos = []string{"http/1.1"}
	tlsCfg.MinVersion = max(tlsCfg.MinVersion, tls.VersionTLS12)
	s := &Server{
		log:            log,
		rt:             rt,
		cfg:            cfg,
		tls:            tlsCfg,
		pollInterval:   defaultPollInterval,
		statusInterval: defaultStatusInterval,
	}
	s.handler = s.routes()
	return s, nil
}

// Handler returns the API without TLS, for tests and in-process use.
func (s *Server) Handler() http.Handler { return s.handler }

// Run serves the API on the configured address until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Address)
	if err != nil {
		return fmt.Errorf("server: listen on %s: %w", s.cfg.Address, err)
	}
	return s.serve(ctx, ln)
}

// serve serves on ln, which it closes, until ctx ends.
func (s *Server) serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		// A non-nil empty map keeps HTTP/2 off.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
		// Requests, followed logs and hijacked streams end with ctx.
		BaseContext: func(net.Listener) context.Context { return ctx },
		// Clients without a valid certificate fail the handshake; that is
		// worth a debug line, not an error.
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.log.Info("kubelet API listening", "address", ln.Addr().String())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(tls.NewListener(ln, s.tls)) }()
	select {
	case err := <-served:
		return fmt.Errorf("server: serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	<-served
	s.streams.Wait()
	if err != nil {
		return fmt.Errorf("server: shut down: %w", err)
	}
	return nil
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /containerLogs/{namespace}/{pod}/{container}", s.serveLogs)
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		mux.HandleFunc(method+" /exec/{namespace}/{pod}/{container}", s.serveExec)
		mux.HandleFunc(method+" /exec/{namespace}/{pod}/{uid}/{container}", s.serveExec)
		mux.HandleFunc(method+" /attach/{namespace}/{pod}/{container}", s.serveAttach)
		mux.HandleFunc(method+" /attach/{namespace}/{pod}/{uid}/{container}", s.serveAttach)
		mux.HandleFunc(method+" /portForward/{namespace}/{pod}", s.servePortForward)
		mux.HandleFunc(method+" /portForward/{namespace}/{pod}/{uid}", s.servePortForward)
	}
	return mux
}

// writeError answers a request that failed before its response began.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := statusOf(err)
	log := s.log.With("method", r.Method, "path", r.URL.Path, "status", code, "err", err)
	if code >= http.StatusInternalServerError {
		log.Error("kubelet API request failed")
	} else {
		log.Debug("kubelet API request refused")
	}
	if code == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	http.Error(w, err.Error(), code)
}

// statusOf is the one place errors become HTTP statuses; it sees through
// wrapping, including of gRPC statuses from the runtime.
func statusOf(err error) int {
	switch {
	case errors.Is(err, errBadRequest):
		return http.StatusBadRequest
	case errors.Is(err, errNotFound):
		return http.StatusNotFound
	}
	switch status.Code(err) {
	case codes.NotFound:
		return http.StatusNotFound
	case codes.InvalidArgument:
		return http.StatusBadRequest
	case codes.ResourceExhausted:
		return http.StatusTooManyRequests
	}
	return http.StatusInternalServerError
}
