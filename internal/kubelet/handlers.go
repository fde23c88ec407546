package kubelet

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/version"
)

// maxProbeBody is how much of an HTTP probe's response body is read.
const maxProbeBody = 10 << 10

// execSlack is how much longer than an exec's own timeout the kubelet
// waits for the runtime to report it, so that the runtime's timeout, not
// the call's, ends a slow command.
const execSlack = 10 * time.Second

// maxRedirects bounds the same-host redirects an httpGet follows.
const maxRedirects = 10

// errNoPodIP: an action needs the pod's address and it has none yet.
var errNoPodIP = errors.New("kubelet: pod has no IP address")

// handlerRunner runs the actions of probes and lifecycle hooks against one
// container instance: an HTTP GET or a TCP connect to the pod's address, a
// gRPC health check, a command through the runtime, or a sleep.
type handlerRunner struct {
	runtime RuntimeService
	clock   clock.Clock
	http    *http.Client
}

func newHandlerRunner(runtime RuntimeService, clk clock.Clock) *handlerRunner {
	return &handlerRunner{
		runtime: runtime,
		clock:   clk,
		http: &http.Client{
			Transport: &http.Transport{
				// A probe goes to the pod itself: never through a proxy the
				// environment names.
				Proxy: nil,
				// Pods serve self-signed certificates; upstream's probes and
				// hooks do not verify them either.
				TLSClientConfig:    &tls.Config{InsecureSkipVerify: true},
				DisableKeepAlives:  true,
				DisableCompression: true,
				DialContext:        (&net.Dialer{}).DialContext,
			},
			CheckRedirect: sameHostRedirects,
		},
	}
}

// sameHostRedirects follows a redirect only to the host first asked, so a
// pod cannot send the kubelet's requests anywhere else; the redirect
// response itself is then the answer.
func sameHostRedirects(req *http.Request, via []*http.Request) error {
	if req.URL.Hostname() != via[0].URL.Hostname() {
		return http.ErrUseLastResponse
	}
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	return nil
}

// handlerTarget is the container instance an action runs against.
type handlerTarget struct {
	pod       *corev1.Pod
	container *corev1.Container
	// id is the runtime's container ID.
	id string
	// ips are the pod's addresses, primary first.
	ips []string
}

func (t handlerTarget) podIP() string {
	if len(t.ips) == 0 {
		return ""
	}
	return t.ips[0]
}

// probeOutcome is what one probe attempt found.
type probeOutcome struct {
	ok bool
	// warning marks a success that deserves an event (a redirect the probe
	// did not follow).
	warning bool
	// output explains a failure or a warning.
	output string
}

func probeFailure(format string, args ...any) probeOutcome {
	return probeOutcome{output: fmt.Sprintf(format, args...)}
}

// probe runs p's action once. An error means the probe could not run at
// all (a bad port, a runtime error); its outcome then counts for nothing.
func (r *handlerRunner) probe(ctx context.Context, p *corev1.Probe, t handlerTarget) (probeOutcome, error) {
	timeout := time.Duration(p.TimeoutSeconds) * time.Second
	switch {
	case p.Exec != nil:
		return r.execProbe(ctx, p.Exec.Command, t, timeout)
	case p.HTTPGet != nil:
		return r.httpProbe(ctx, p.HTTPGet, t, timeout)
	case p.TCPSocket != nil:
		return tcpProbe(ctx, p.TCPSocket, t, timeout)
	case p.GRPC != nil:
		return grpcProbe(ctx, p.GRPC, t, timeout)
	}
	return probeOutcome{}, errors.New("probe has no action")
}

func (r *handlerRunner) execProbe(ctx context.Context, cmd []string, t handlerTarget, timeout time.Duration) (probeOutcome, error) {
	resp, err := r.exec(ctx, t.id, cmd, timeout)
	switch {
	case err != nil && (status.Code(err) == codes.DeadlineExceeded || errors.Is(err, context.DeadlineExceeded)):
		return probeFailure("command %q timed out", strings.Join(cmd, " ")), nil
	case err != nil:
		return probeOutcome{}, err
	case resp.GetExitCode() != 0:
		return probeOutcome{output: string(resp.GetStdout()) + string(resp.GetStderr())}, nil
	}
	return probeOutcome{ok: true}, nil
}

// exec runs cmd in the container through the runtime; a zero timeout lets
// it run until ctx ends.
func (r *handlerRunner) exec(ctx context.Context, id string, cmd []string, timeout time.Duration) (*runtimeapi.ExecSyncResponse, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout+execSlack)
		defer cancel()
	}
	return r.runtime.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: cmd, Timeout: int64(timeout / time.Second)})
}

func (r *handlerRunner) httpProbe(ctx context.Context, get *corev1.HTTPGetAction, t handlerTarget, timeout time.Duration) (probeOutcome, error) {
	req, err := newHTTPGetRequest(ctx, get, t, "probe")
	if err != nil {
		return probeOutcome{}, err
	}
	client := *r.http
	client.Timeout = timeout
	resp, err := client.Do(req)
	if err != nil {
		// Refused, reset or too slow: the pod is not answering.
		return probeFailure("%v", err), nil
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxProbeBody))
	if err != nil {
		return probeFailure("%v", err), nil
	}
	switch code := resp.StatusCode; {
	case code >= http.StatusOK && code < http.StatusMultipleChoices:
		return probeOutcome{ok: true}, nil
	case code >= http.StatusMultipleChoices && code < http.StatusBadRequest:
		return probeOutcome{ok: true, warning: true, output: fmt.Sprintf("Probe terminated redirects, Response body: %s", body)}, nil
	default:
		// The body stays out of the message: it may hold secrets and the
		// message lands in events.
		return probeFailure("HTTP probe failed with statuscode: %d", code), nil
	}
}

func tcpProbe(ctx context.Context, a *corev1.TCPSocketAction, t handlerTarget, timeout time.Duration) (probeOutcome, error) {
	host := a.Host
	if host == "" {
		if host = t.podIP(); host == "" {
			return probeOutcome{}, errNoPodIP
		}
	}
	port, err := resolvePort(a.Port, t.container)
	if err != nil {
		return probeOutcome{}, err
	}
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return probeFailure("%v", err), nil
	}
	conn.Close()
	return probeOutcome{ok: true}, nil
}

func grpcProbe(ctx context.Context, a *corev1.GRPCAction, t handlerTarget, timeout time.Duration) (probeOutcome, error) {
	host := t.podIP()
	if host == "" {
		return probeOutcome{}, errNoPodIP
	}
	addr := net.JoinHostPort(host, strconv.Itoa(int(a.Port)))
	// passthrough: the address is an IP, no resolver is asked.
	conn, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithNoProxy(),
		grpc.WithUserAgent(userAgent("probe")),
	)
	if err != nil {
		return probeOutcome{}, fmt.Errorf("grpc client for %s: %w", addr, err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	service := ""
	if a.Service != nil {
		service = *a.Service
	}
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		switch status.Code(err) {
		case codes.Unimplemented:
			return probeFailure("this server does not implement the grpc health protocol (grpc.health.v1.Health): %s", status.Convert(err).Message()), nil
		case codes.DeadlineExceeded:
			return probeFailure("timeout: health rpc did not complete within %v", timeout), nil
		}
		return probeFailure("error: health rpc probe failed: %v", err), nil
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return probeFailure("service unhealthy (responded with %q)", resp.GetStatus().String()), nil
	}
	return probeOutcome{ok: true}, nil
}

// newHTTPGetRequest builds the request of an httpGet probe or hook: to
// get.host or else the pod's address, with the headers asked for and a
// kube-<purpose> user agent unless they name one.
func newHTTPGetRequest(ctx context.Context, get *corev1.HTTPGetAction, t handlerTarget, purpose string) (*http.Request, error) {
	scheme := strings.ToLower(string(get.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	host := get.Host
	if host == "" {
		if host = t.podIP(); host == "" {
			return nil, errNoPodIP
		}
	}
	port, err := resolvePort(get.Port, t.container)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(get.Path)
	if err != nil {
		// Too late to reject the path: send it as it is.
		u = &url.URL{Path: get.Path}
	}
	u.Scheme = scheme
	u.Host = net.JoinHostPort(host, strconv.Itoa(port))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("http request to %s: %w", u, err)
	}
	headers := http.Header{}
	for _, h := range get.HTTPHeaders {
		headers.Add(h.Name, h.Value)
	}
	if _, ok := headers["User-Agent"]; !ok {
		headers.Set("User-Agent", userAgent(purpose))
	}
	if _, ok := headers["Accept"]; !ok {
		headers.Set("Accept", "*/*")
	} else if headers.Get("Accept") == "" {
		// An empty Accept asks for none at all.
		headers.Del("Accept")
	}
	req.Header = headers
	req.Host = headers.Get("Host")
	return req, nil
}

// userAgent is kube-<purpose>/<major>.<minor>, as upstream's kubelet sends.
func userAgent(purpose string) string {
	v := version.Get()
	return fmt.Sprintf("kube-%s/%s.%s", purpose, v.Major, v.Minor)
}

// resolvePort turns a probe's or hook's port into a number: an integer, the
// name of one of the container's ports, or an integer written as a string.
func resolvePort(p intstr.IntOrString, c *corev1.Container) (int, error) {
	port := p.IntValue()
	if p.Type == intstr.String {
		port = -1
		for _, cp := range c.Ports {
			if cp.Name == p.StrVal {
				port = int(cp.ContainerPort)
			}
		}
		if port < 0 {
			n, err := strconv.Atoi(p.StrVal)
			if err != nil {
				return 0, fmt.Errorf("container %s has no port named %q", c.Name, p.StrVal)
			}
			port = n
		}
	}
	if port <= 0 || port > 65535 {
		return 0, fmt.Errorf("invalid port number %d", port)
	}
	return port, nil
}

// hook runs a lifecycle handler. The message says why it failed, for the
// container's status; it is never put in events, where secrets in commands
// or URLs would leak.
func (r *handlerRunner) hook(ctx context.Context, h *corev1.LifecycleHandler, t handlerTarget) (string, error) {
	switch {
	case h.Exec != nil:
		resp, err := r.exec(ctx, t.id, h.Exec.Command, 0)
		if err == nil && resp.GetExitCode() != 0 {
			err = fmt.Errorf("command %q exited with %d: %s", strings.Join(h.Exec.Command, " "), resp.GetExitCode(), resp.GetStderr())
		}
		if err != nil {
			return fmt.Sprintf("exec hook %q of container %s in pod %s failed: %v, output: %q",
				h.Exec.Command, t.container.Name, podDesc(t.pod), err, string(resp.GetStdout())), err
		}
		return "", nil
	case h.HTTPGet != nil:
		if err := r.httpHook(ctx, h.HTTPGet, t); err != nil {
			return fmt.Sprintf("http hook %s of container %s in pod %s failed: %v", h.HTTPGet.Path, t.container.Name, podDesc(t.pod), err), err
		}
		return "", nil
	case h.Sleep != nil:
		timer := r.clock.NewTimer(time.Duration(h.Sleep.Seconds) * time.Second)
		defer timer.Stop()
		select {
		case <-timer.C():
			return "", nil
		case <-ctx.Done():
			err := fmt.Errorf("sleep hook interrupted: %w", context.Cause(ctx))
			return err.Error(), err
		}
	}
	err := errors.New("lifecycle handler has no action")
	return err.Error(), err
}

// httpHook sends a hook's GET; as upstream, any answer counts as success,
// whatever its status code.
func (r *handlerRunner) httpHook(ctx context.Context, get *corev1.HTTPGetAction, t handlerTarget) error {
	req, err := newHTTPGetRequest(ctx, get, t, "lifecycle")
	if err != nil {
		return err
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxProbeBody))
	return resp.Body.Close()
}
