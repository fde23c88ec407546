package containerd

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// fakeRuntime answers Version like a CRI runtime named name.
type fakeRuntime struct {
	runtimeapi.UnimplementedRuntimeServiceServer
	name string
}

func (f fakeRuntime) Version(context.Context, *runtimeapi.VersionRequest) (*runtimeapi.VersionResponse, error) {
	return &runtimeapi.VersionResponse{RuntimeName: f.name, RuntimeApiVersion: "v1"}, nil
}

// serveFakeRuntime serves a fake CRI runtime on socket until stop is called.
func serveFakeRuntime(socket, name string) (stop func(), err error) {
	lis, err := net.Listen("unix", socket)
	if err != nil {
		return nil, err
	}
	srv := grpc.NewServer()
	runtimeapi.RegisterRuntimeServiceServer(srv, fakeRuntime{name: name})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis) // returns once stopped
	}()
	return func() {
		srv.Stop()
		<-done
	}, nil
}

func TestDial(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "cri.sock")
	stop, err := serveFakeRuntime(socket, "fake")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	for _, endpoint := range []string{socket, "unix://" + socket} {
		t.Run(endpoint, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			conn, err := Dial(ctx, endpoint)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			v, err := runtimeapi.NewRuntimeServiceClient(conn).Version(ctx, &runtimeapi.VersionRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if v.RuntimeName != "fake" {
				t.Fatalf("runtime name %q, want fake", v.RuntimeName)
			}
		})
	}
}

func TestDialGivesUpWithContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := Dial(ctx, "unix://"+filepath.Join(t.TempDir(), "nobody.sock"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial to a missing socket: %v, want a deadline error", err)
	}
}

func TestEndpointPath(t *testing.T) {
	cases := []struct {
		endpoint, want string
		wantErr        bool
	}{
		{endpoint: "/run/c.sock", want: "/run/c.sock"},
		{endpoint: "unix:///run/c.sock", want: "/run/c.sock"},
		{endpoint: "unix://run/c.sock", wantErr: true},
		{endpoint: "relative.sock", wantErr: true},
		{endpoint: "tcp://127.0.0.1:1", wantErr: true},
		{endpoint: "", wantErr: true},
	}
	for _, tc := range cases {
		got, err := endpointPath(tc.endpoint)
		if tc.wantErr {
			if !errors.Is(err, ErrBadEndpoint) {
				t.Errorf("endpointPath(%q) = %q, %v; want ErrBadEndpoint", tc.endpoint, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("endpointPath(%q) = %q, %v; want %q", tc.endpoint, got, err, tc.want)
		}
	}
}
