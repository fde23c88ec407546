package containerd

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
)

// ErrBadEndpoint means an endpoint is neither an absolute unix socket path nor
// a unix:// URL.
var ErrBadEndpoint = errors.New("containerd: unsupported CRI endpoint")

// maxMessageSize matches the kubelet's: list answers on a busy node exceed
// gRPC's 4 MiB default.
const maxMessageSize = 16 << 20

// Dial connects to a CRI endpoint ("/path/to.sock" or "unix:///path/to.sock")
// and returns once the connection is ready, or fails when ctx ends. Later
// disconnections, such as a containerd restart, are retried by gRPC itself.
func Dial(ctx context.Context, endpoint string) (*grpc.ClientConn, error) {
	path, err := endpointPath(endpoint)
	if err != nil {
		return nil, err
	}
	conn, err := newConn(path)
	if err != nil {
		return nil, err
	}
	conn.Connect()
	for {
		state := conn.GetState()
		if state == connectivity.Ready {
			return conn, nil
		}
		if !conn.WaitForStateChange(ctx, state) {
			conn.Close()
			return nil, fmt.Errorf("containerd: connect to %s (last state %s): %w", endpoint, state, ctx.Err())
		}
	}
}

func endpointPath(endpoint string) (string, error) {
	path := strings.TrimPrefix(endpoint, "unix://")
	if !filepath.IsAbs(path) {
		return "", fmt.Errorf("%w: %q: want an absolute unix socket path or a unix:// URL", ErrBadEndpoint, endpoint)
	}
	return path, nil
}

// newConn makes a lazy client for a local socket. Reconnection backs off from
// 100ms rather than gRPC's 1s: the peer is on this machine and restarts fast.
func newConn(socket string) (*grpc.ClientConn, error) {
	conn, err := grpc.NewClient("unix://"+socket,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 3 * time.Second},
			MinConnectTimeout: 5 * time.Second,
		}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMessageSize), grpc.MaxCallSendMsgSize(maxMessageSize)),
	)
	if err != nil {
		return nil, fmt.Errorf("containerd: client for %s: %w", socket, err)
	}
	return conn, nil
}
