package server

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/skiff-sh/skiff/internal/kubelet/labels"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// fakeRuntime is an in-memory runtime that records the streaming requests
// it is asked for and answers them with streamURL.
type fakeRuntime struct {
	mu         sync.Mutex
	sandboxes  []*runtimeapi.PodSandbox
	containers []*runtimeapi.Container
	logPaths   map[string]string
	created    int64
	streamURL  string
	requests   []any
}

func newFakeRuntime() *fakeRuntime {
	return &fakeRuntime{logPaths: map[string]string{}}
}

func (f *fakeRuntime) addSandbox(ns, name, uid string, ready bool) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.created++
	state := runtimeapi.PodSandboxState_SANDBOX_NOTREADY
	if ready {
		state = runtimeapi.PodSandboxState_SANDBOX_READY
	}
	id := fmt.Sprintf("sb-%d", f.created)
	f.sandboxes = append(f.sandboxes, &runtimeapi.PodSandbox{
		Id:        id,
		Metadata:  &runtimeapi.PodSandboxMetadata{Name: name, Namespace: ns, Uid: uid},
		State:     state,
		CreatedAt: f.created,
		Labels:    map[string]string{labels.PodNamespace: ns, labels.PodName: name, labels.PodUID: uid},
	})
	return id
}

func (f *fakeRuntime) addContainer(ns, pod, uid, name string, attempt uint32, state runtimeapi.ContainerState, logPath string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.created++
	id := fmt.Sprintf("c-%d", f.created)
	f.containers = append(f.containers, &runtimeapi.Container{
		Id:        id,
		Metadata:  &runtimeapi.ContainerMetadata{Name: name, Attempt: attempt},
		State:     state,
		CreatedAt: f.created,
		Labels: map[string]string{
			labels.PodNamespace: ns, labels.PodName: pod, labels.PodUID: uid, labels.ContainerName: name,
		},
	})
	f.logPaths[id] = logPath
	return id
}

func (f *fakeRuntime) setState(id string, state runtimeapi.ContainerState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.containers {
		if c.Id == id {
			c.State = state
		}
	}
}

func (f *fakeRuntime) recorded() []any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]any(nil), f.requests...)
}

func matches(labels, selector map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func (f *fakeRuntime) ListPodSandbox(_ context.Context, in *runtimeapi.ListPodSandboxRequest, _ ...grpc.CallOption) (*runtimeapi.ListPodSandboxResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := &runtimeapi.ListPodSandboxResponse{}
	for _, sb := range f.sandboxes {
		if matches(sb.Labels, in.GetFilter().GetLabelSelector()) {
			resp.Items = append(resp.Items, sb)
		}
	}
	return resp, nil
}

func (f *fakeRuntime) ListContainers(_ context.Context, in *runtimeapi.ListContainersRequest, _ ...grpc.CallOption) (*runtimeapi.ListContainersResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := &runtimeapi.ListContainersResponse{}
	for _, c := range f.containers {
		if matches(c.Labels, in.GetFilter().GetLabelSelector()) {
			resp.Containers = append(resp.Containers, c)
		}
	}
	return resp, nil
}

func (f *fakeRuntime) ContainerStatus(_ context.Context, in *runtimeapi.ContainerStatusRequest, _ ...grpc.CallOption) (*runtimeapi.ContainerStatusResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.containers {
		if c.Id == in.GetContainerId() {
			return &runtimeapi.ContainerStatusResponse{Status: &runtimeapi.ContainerStatus{
				Id: c.Id, Metadata: c.Metadata, State: c.State, Labels: c.Labels, LogPath: f.logPaths[c.Id],
			}}, nil
		}
	}
	return nil, status.Errorf(codes.NotFound, "container %q not found", in.GetContainerId())
}

func (f *fakeRuntime) record(req any) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, req)
	return f.streamURL
}

func (f *fakeRuntime) Exec(_ context.Context, in *runtimeapi.ExecRequest, _ ...grpc.CallOption) (*runtimeapi.ExecResponse, error) {
	return &runtimeapi.ExecResponse{Url: f.record(in)}, nil
}

func (f *fakeRuntime) Attach(_ context.Context, in *runtimeapi.AttachRequest, _ ...grpc.CallOption) (*runtimeapi.AttachResponse, error) {
	return &runtimeapi.AttachResponse{Url: f.record(in)}, nil
}

func (f *fakeRuntime) PortForward(_ context.Context, in *runtimeapi.PortForwardRequest, _ ...grpc.CallOption) (*runtimeapi.PortForwardResponse, error) {
	return &runtimeapi.PortForwardResponse{Url: f.record(in)}, nil
}

// newTestServer returns a Server on rt whose TLS configuration is never
// used; the tests of TLS build their own.
func newTestServer(t *testing.T, rt Runtime, cfg Config) *Server {
	t.Helper()
	if cfg.TLS == nil {
		cfg.TLS = testTLS(t).server
	}
	s, err := New(nil, rt, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
