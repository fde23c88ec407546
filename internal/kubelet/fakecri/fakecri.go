// Package fakecri is an in-memory CRI runtime and image service for tests:
// it keeps sandboxes, containers and images as containerd 1.6 would,
// records every call, and lets a test end containers, kill sandboxes,
// answer execs and inject failures.
package fakecri

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/skiff-sh/skiff/internal/kubelet/labels"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/clock"
)

// Exit codes and reasons containerd reports.
const (
	// StoppedExitCode is the exit code of a container StopContainer ended
	// (killed by a signal).
	StoppedExitCode = 137
	// StartErrorExitCode is the exit code of a container whose start failed.
	StartErrorExitCode = 128
)

// Call is one recorded CRI call.
type Call struct {
	Method string
	// Subject names what the call is about: a sandbox's pod name, a
	// container's name or an image.
	Subject string
	// Request is a copy of the request.
	Request proto.Message
}

// Runtime implements the CRI runtime and image services in memory. It is
// safe for concurrent use.
type Runtime struct {
	clock clock.PassiveClock

	mu          sync.Mutex
	seq         int
	lastCreated int64
	sandboxes   map[string]*sandbox
	containers  map[string]*container
	images      map[string]*runtimeapi.Image // by name and by ID
	calls       []Call

	pullErrs      map[string]error
	startErrs     map[string]error
	runSandboxErr error
	pullAuths     map[string][]*runtimeapi.AuthConfig
	execs         map[string]ExecFunc
	podIP         string
}

// ExecFunc answers an ExecSync in the running container id. It is called
// without the runtime's lock, so it may block (honouring ctx) or call back
// into the runtime, for example to end the container with Exit.
type ExecFunc func(ctx context.Context, id string) (*runtimeapi.ExecSyncResponse, error)

type sandbox struct {
	status *runtimeapi.PodSandboxStatus
	config *runtimeapi.PodSandboxConfig
}

type container struct {
	status    *runtimeapi.ContainerStatus
	sandboxID string
	config    *runtimeapi.ContainerConfig
	// key is containerd's reserved name: unique per pod.
	key string
}

// New returns an empty runtime whose timestamps come from clk.
func New(clk clock.PassiveClock) *Runtime {
	return &Runtime{
		clock:      clk,
		sandboxes:  map[string]*sandbox{},
		containers: map[string]*container{},
		images:     map[string]*runtimeapi.Image{},
		pullErrs:   map[string]error{},
		startErrs:  map[string]error{},
		pullAuths:  map[string][]*runtimeapi.AuthConfig{},
		execs:      map[string]ExecFunc{},
	}
}

func (r *Runtime) record(method, subject string, req proto.Message) {
	r.calls = append(r.calls, Call{Method: method, Subject: subject, Request: proto.Clone(req)})
}

// newID returns a fresh ID and a creation time later than any before, so
// that creation order is total even when the clock stands still.
func (r *Runtime) newID(prefix string) (string, int64) {
	r.seq++
	now := r.clock.Now().UnixNano()
	if now <= r.lastCreated {
		now = r.lastCreated + 1
	}
	r.lastCreated = now
	return fmt.Sprintf("%s%04d", prefix, r.seq), now
}

func notFound(kind, id string) error {
	return status.Errorf(codes.NotFound, "%s %q not found", kind, id)
}

// RunPodSandbox implements the CRI.
func (r *Runtime) RunPodSandbox(_ context.Context, req *runtimeapi.RunPodSandboxRequest, _ ...grpc.CallOption) (*runtimeapi.RunPodSandboxResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cfg := req.GetConfig()
	r.record("RunPodSandbox", cfg.GetMetadata().GetName(), req)
	if r.runSandboxErr != nil {
		return nil, r.runSandboxErr
	}
	id, created := r.newID("sb")
	ns := cfg.GetLinux().GetSecurityContext().GetNamespaceOptions()
	st := &runtimeapi.PodSandboxStatus{
		Id:          id,
		Metadata:    proto.Clone(cfg.GetMetadata()).(*runtimeapi.PodSandboxMetadata),
		State:       runtimeapi.PodSandboxState_SANDBOX_READY,
		CreatedAt:   created,
		Network:     &runtimeapi.PodSandboxNetworkStatus{},
		Linux:       &runtimeapi.LinuxPodSandboxStatus{Namespaces: &runtimeapi.Namespace{Options: proto.Clone(ns).(*runtimeapi.NamespaceOption)}},
		Labels:      maps.Clone(cfg.GetLabels()),
		Annotations: maps.Clone(cfg.GetAnnotations()),
	}
	if ns.GetNetwork() != runtimeapi.NamespaceMode_NODE {
		st.Network.Ip = r.podIP
		if st.Network.Ip == "" {
			st.Network.Ip = fmt.Sprintf("10.88.%d.%d", r.seq/250, 2+r.seq%250)
		}
	}
	r.sandboxes[id] = &sandbox{status: st, config: proto.Clone(cfg).(*runtimeapi.PodSandboxConfig)}
	return &runtimeapi.RunPodSandboxResponse{PodSandboxId: id}, nil
}

// StopPodSandbox implements the CRI: it ends the sandbox's containers and
// releases its address.
func (r *Runtime) StopPodSandbox(_ context.Context, req *runtimeapi.StopPodSandboxRequest, _ ...grpc.CallOption) (*runtimeapi.StopPodSandboxResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sb := r.sandboxes[req.GetPodSandboxId()]
	r.record("StopPodSandbox", sb.name(), req)
	if sb == nil {
		return nil, notFound("sandbox", req.GetPodSandboxId())
	}
	r.stopSandboxLocked(sb)
	return &runtimeapi.StopPodSandboxResponse{}, nil
}

func (r *Runtime) stopSandboxLocked(sb *sandbox) {
	for _, c := range r.containers {
		if c.sandboxID == sb.status.GetId() && c.status.GetState() == runtimeapi.ContainerState_CONTAINER_RUNNING {
			r.exitLocked(c, StoppedExitCode, "Error")
		}
	}
	sb.status.State = runtimeapi.PodSandboxState_SANDBOX_NOTREADY
	sb.status.Network = &runtimeapi.PodSandboxNetworkStatus{}
}

func (sb *sandbox) name() string {
	if sb == nil {
		return ""
	}
	return sb.status.GetMetadata().GetName()
}

// RemovePodSandbox implements the CRI: it stops the sandbox and removes it
// with its containers.
func (r *Runtime) RemovePodSandbox(_ context.Context, req *runtimeapi.RemovePodSandboxRequest, _ ...grpc.CallOption) (*runtimeapi.RemovePodSandboxResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := req.GetPodSandboxId()
	sb := r.sandboxes[id]
	r.record("RemovePodSandbox", sb.name(), req)
	if sb == nil {
		return nil, notFound("sandbox", id)
	}
	r.stopSandboxLocked(sb)
	for cid, c := range r.containers {
		if c.sandboxID == id {
			delete(r.containers, cid)
		}
	}
	delete(r.sandboxes, id)
	return &runtimeapi.RemovePodSandboxResponse{}, nil
}

// PodSandboxStatus implements the CRI.
func (r *Runtime) PodSandboxStatus(_ context.Context, req *runtimeapi.PodSandboxStatusRequest, _ ...grpc.CallOption) (*runtimeapi.PodSandboxStatusResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sb := r.sandboxes[req.GetPodSandboxId()]
	if sb == nil {
		return nil, notFound("sandbox", req.GetPodSandboxId())
	}
	return &runtimeapi.PodSandboxStatusResponse{Status: proto.Clone(sb.status).(*runtimeapi.PodSandboxStatus)}, nil
}

// ListPodSandbox implements the CRI.
func (r *Runtime) ListPodSandbox(_ context.Context, req *runtimeapi.ListPodSandboxRequest, _ ...grpc.CallOption) (*runtimeapi.ListPodSandboxResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := req.GetFilter()
	var out []*runtimeapi.PodSandbox
	for _, id := range slices.Sorted(maps.Keys(r.sandboxes)) {
		st := r.sandboxes[id].status
		if f.GetId() != "" && f.GetId() != id {
			continue
		}
		if f.GetState() != nil && f.GetState().GetState() != st.GetState() {
			continue
		}
		if !matches(st.GetLabels(), f.GetLabelSelector()) {
			continue
		}
		out = append(out, &runtimeapi.PodSandbox{
			Id:          id,
			Metadata:    proto.Clone(st.GetMetadata()).(*runtimeapi.PodSandboxMetadata),
			State:       st.GetState(),
			CreatedAt:   st.GetCreatedAt(),
			Labels:      maps.Clone(st.GetLabels()),
			Annotations: maps.Clone(st.GetAnnotations()),
		})
	}
	return &runtimeapi.ListPodSandboxResponse{Items: out}, nil
}

func matches(labels, selector map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// CreateContainer implements the CRI, with containerd's checks: the
// sandbox must be ready, its config passed again, the image present and
// the name (with attempt) unused in the pod.
func (r *Runtime) CreateContainer(_ context.Context, req *runtimeapi.CreateContainerRequest, _ ...grpc.CallOption) (*runtimeapi.CreateContainerResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cfg := req.GetConfig()
	r.record("CreateContainer", cfg.GetMetadata().GetName(), req)
	sb := r.sandboxes[req.GetPodSandboxId()]
	if sb == nil {
		return nil, notFound("sandbox", req.GetPodSandboxId())
	}
	if sb.status.GetState() != runtimeapi.PodSandboxState_SANDBOX_READY {
		return nil, status.Errorf(codes.FailedPrecondition, "sandbox %q is not ready", sb.status.GetId())
	}
	if req.GetSandboxConfig() == nil {
		return nil, status.Error(codes.InvalidArgument, "sandbox config is required")
	}
	img := r.images[cfg.GetImage().GetImage()]
	if img == nil {
		return nil, status.Errorf(codes.NotFound, "image %q not found", cfg.GetImage().GetImage())
	}
	pm := sb.status.GetMetadata()
	key := fmt.Sprintf("%s_%s_%s_%s_%d", cfg.GetMetadata().GetName(), pm.GetName(), pm.GetNamespace(), pm.GetUid(), cfg.GetMetadata().GetAttempt())
	for _, c := range r.containers {
		if c.key == key {
			return nil, status.Errorf(codes.AlreadyExists, "container name %q is reserved for %q", key, c.status.GetId())
		}
	}
	id, created := r.newID("ctr")
	st := &runtimeapi.ContainerStatus{
		Id:          id,
		Metadata:    proto.Clone(cfg.GetMetadata()).(*runtimeapi.ContainerMetadata),
		State:       runtimeapi.ContainerState_CONTAINER_CREATED,
		CreatedAt:   created,
		Image:       &runtimeapi.ImageSpec{Image: img.GetRepoTags()[0]},
		ImageRef:    img.GetId(),
		Labels:      maps.Clone(cfg.GetLabels()),
		Annotations: maps.Clone(cfg.GetAnnotations()),
		LogPath:     filepath.Join(sb.config.GetLogDirectory(), cfg.GetLogPath()),
	}
	for _, m := range cfg.GetMounts() {
		st.Mounts = append(st.Mounts, proto.Clone(m).(*runtimeapi.Mount))
	}
	r.containers[id] = &container{status: st, sandboxID: sb.status.GetId(), config: proto.Clone(cfg).(*runtimeapi.ContainerConfig), key: key}
	return &runtimeapi.CreateContainerResponse{ContainerId: id}, nil
}

// StartContainer implements the CRI. A start failure leaves the container
// exited, as containerd does.
func (r *Runtime) StartContainer(_ context.Context, req *runtimeapi.StartContainerRequest, _ ...grpc.CallOption) (*runtimeapi.StartContainerResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.containers[req.GetContainerId()]
	r.record("StartContainer", c.name(), req)
	if c == nil {
		return nil, notFound("container", req.GetContainerId())
	}
	if c.status.GetState() != runtimeapi.ContainerState_CONTAINER_CREATED {
		return nil, status.Errorf(codes.FailedPrecondition, "container %q is not in created state", c.status.GetId())
	}
	if err := r.startErrs[c.name()]; err != nil {
		c.status.StartedAt = r.clock.Now().UnixNano()
		r.exitLocked(c, StartErrorExitCode, "StartError")
		c.status.Message = err.Error()
		return nil, err
	}
	c.status.State = runtimeapi.ContainerState_CONTAINER_RUNNING
	c.status.StartedAt = r.clock.Now().UnixNano()
	return &runtimeapi.StartContainerResponse{}, nil
}

func (c *container) name() string {
	if c == nil {
		return ""
	}
	return c.status.GetMetadata().GetName()
}

func (r *Runtime) exitLocked(c *container, code int32, reason string) {
	c.status.State = runtimeapi.ContainerState_CONTAINER_EXITED
	c.status.ExitCode = code
	c.status.Reason = reason
	c.status.FinishedAt = r.clock.Now().UnixNano()
}

// StopContainer implements the CRI; the timeout is recorded, not waited.
func (r *Runtime) StopContainer(_ context.Context, req *runtimeapi.StopContainerRequest, _ ...grpc.CallOption) (*runtimeapi.StopContainerResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.containers[req.GetContainerId()]
	r.record("StopContainer", c.name(), req)
	if c == nil {
		return nil, notFound("container", req.GetContainerId())
	}
	if c.status.GetState() == runtimeapi.ContainerState_CONTAINER_RUNNING {
		r.exitLocked(c, StoppedExitCode, "Error")
	}
	return &runtimeapi.StopContainerResponse{}, nil
}

// ExecSync implements the CRI: the command's handler answers, and one
// without a handler is not found in the container, as containerd reports
// it.
func (r *Runtime) ExecSync(ctx context.Context, req *runtimeapi.ExecSyncRequest, _ ...grpc.CallOption) (*runtimeapi.ExecSyncResponse, error) {
	r.mu.Lock()
	c := r.containers[req.GetContainerId()]
	r.record("ExecSync", c.name(), req)
	var fn ExecFunc
	var err error
	switch {
	case c == nil:
		err = notFound("container", req.GetContainerId())
	case c.status.GetState() != runtimeapi.ContainerState_CONTAINER_RUNNING:
		err = status.Errorf(codes.FailedPrecondition, "container %q is not running", req.GetContainerId())
	default:
		cmd := strings.Join(req.GetCmd(), " ")
		if fn = r.execs[cmd]; fn == nil {
			err = status.Errorf(codes.Unknown, "failed to exec in container: %q: executable file not found in $PATH", cmd)
		}
	}
	r.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return fn(ctx, req.GetContainerId())
}

// RemoveContainer implements the CRI.
func (r *Runtime) RemoveContainer(_ context.Context, req *runtimeapi.RemoveContainerRequest, _ ...grpc.CallOption) (*runtimeapi.RemoveContainerResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.containers[req.GetContainerId()]
	r.record("RemoveContainer", c.name(), req)
	if c == nil {
		return nil, notFound("container", req.GetContainerId())
	}
	delete(r.containers, req.GetContainerId())
	return &runtimeapi.RemoveContainerResponse{}, nil
}

// ListContainers implements the CRI.
func (r *Runtime) ListContainers(_ context.Context, req *runtimeapi.ListContainersRequest, _ ...grpc.CallOption) (*runtimeapi.ListContainersResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := req.GetFilter()
	var out []*runtimeapi.Container
	for _, id := range slices.Sorted(maps.Keys(r.containers)) {
		c := r.containers[id]
		st := c.status
		if f.GetId() != "" && f.GetId() != id {
			continue
		}
		if f.GetPodSandboxId() != "" && f.GetPodSandboxId() != c.sandboxID {
			continue
		}
		if f.GetState() != nil && f.GetState().GetState() != st.GetState() {
			continue
		}
		if !matches(st.GetLabels(), f.GetLabelSelector()) {
			continue
		}
		out = append(out, &runtimeapi.Container{
			Id:           id,
			PodSandboxId: c.sandboxID,
			Metadata:     proto.Clone(st.GetMetadata()).(*runtimeapi.ContainerMetadata),
			Image:        proto.Clone(st.GetImage()).(*runtimeapi.ImageSpec),
			ImageRef:     st.GetImageRef(),
			State:        st.GetState(),
			CreatedAt:    st.GetCreatedAt(),
			Labels:       maps.Clone(st.GetLabels()),
			Annotations:  maps.Clone(st.GetAnnotations()),
		})
	}
	return &runtimeapi.ListContainersResponse{Containers: out}, nil
}

// ContainerStatus implements the CRI.
func (r *Runtime) ContainerStatus(_ context.Context, req *runtimeapi.ContainerStatusRequest, _ ...grpc.CallOption) (*runtimeapi.ContainerStatusResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.containers[req.GetContainerId()]
	if c == nil {
		return nil, notFound("container", req.GetContainerId())
	}
	return &runtimeapi.ContainerStatusResponse{Status: proto.Clone(c.status).(*runtimeapi.ContainerStatus)}, nil
}

// PullImage implements the CRI.
func (r *Runtime) PullImage(_ context.Context, req *runtimeapi.PullImageRequest, _ ...grpc.CallOption) (*runtimeapi.PullImageResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	name := req.GetImage().GetImage()
	r.record("PullImage", name, req)
	r.pullAuths[name] = append(r.pullAuths[name], proto.Clone(req.GetAuth()).(*runtimeapi.AuthConfig))
	if err := r.pullErrs[name]; err != nil {
		return nil, err
	}
	return &runtimeapi.PullImageResponse{ImageRef: r.addImageLocked(name)}, nil
}

// ImageStatus implements the CRI; an absent image is a nil Image.
func (r *Runtime) ImageStatus(_ context.Context, req *runtimeapi.ImageStatusRequest, _ ...grpc.CallOption) (*runtimeapi.ImageStatusResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	img := r.images[req.GetImage().GetImage()]
	if img == nil {
		return &runtimeapi.ImageStatusResponse{}, nil
	}
	return &runtimeapi.ImageStatusResponse{Image: proto.Clone(img).(*runtimeapi.Image)}, nil
}

func (r *Runtime) addImageLocked(name string) string {
	if img := r.images[name]; img != nil {
		return img.GetId()
	}
	sum := sha256.Sum256([]byte(name))
	img := &runtimeapi.Image{Id: "sha256:" + hex.EncodeToString(sum[:]), RepoTags: []string{name}}
	r.images[name] = img
	r.images[img.Id] = img
	return img.Id
}

// AddImage makes an image present and returns its ID; uid, if not nil, is
// the image's numeric USER.
func (r *Runtime) AddImage(name string, uid *int64) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := r.addImageLocked(name)
	if uid != nil {
		r.images[name].Uid = &runtimeapi.Int64Value{Value: *uid}
	}
	return id
}

// FailPull makes pulls of image fail with err; nil lets them succeed.
func (r *Runtime) FailPull(image string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pullErrs[image] = err
}

// PullAuths returns the credentials each pull of image carried.
func (r *Runtime) PullAuths(image string) []*runtimeapi.AuthConfig {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.pullAuths[image])
}

// FailStart makes starts of containers named name fail with err; nil lets
// them succeed.
func (r *Runtime) FailStart(name string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.startErrs[name] = err
}

// SetPodIP gives every sandbox run from now on the address ip instead of
// one of its own, so that tests can serve a pod's probes on 127.0.0.1.
func (r *Runtime) SetPodIP(ip string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.podIP = ip
}

// HandleExec makes ExecSync of cmd (its words joined by single spaces) call
// fn; nil removes the handler.
func (r *Runtime) HandleExec(cmd string, fn ExecFunc) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if fn == nil {
		delete(r.execs, cmd)
		return
	}
	r.execs[cmd] = fn
}

// SetExec makes ExecSync of cmd exit with exitCode after printing stdout.
func (r *Runtime) SetExec(cmd string, exitCode int32, stdout string) {
	r.HandleExec(cmd, func(context.Context, string) (*runtimeapi.ExecSyncResponse, error) {
		return &runtimeapi.ExecSyncResponse{ExitCode: exitCode, Stdout: []byte(stdout)}, nil
	})
}

// FailRunSandbox makes RunPodSandbox fail with err; nil lets it succeed.
func (r *Runtime) FailRunSandbox(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.runSandboxErr = err
}

// Exit ends a running container with code; reason is containerd's
// ("Completed", "Error", "OOMKilled"), derived from code when empty.
func (r *Runtime) Exit(id string, code int32, reason string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.containers[id]
	if c == nil || c.status.GetState() != runtimeapi.ContainerState_CONTAINER_RUNNING {
		return fmt.Errorf("fakecri: no running container %q", id)
	}
	if reason == "" {
		reason = "Completed"
		if code != 0 {
			reason = "Error"
		}
	}
	r.exitLocked(c, code, reason)
	return nil
}

// KillSandbox makes a sandbox die as if its infra process ended: it is no
// longer ready, its containers keep running.
func (r *Runtime) KillSandbox(id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	sb := r.sandboxes[id]
	if sb == nil {
		return fmt.Errorf("fakecri: no sandbox %q", id)
	}
	sb.status.State = runtimeapi.PodSandboxState_SANDBOX_NOTREADY
	return nil
}

// Running returns the ID of the running container name of the pod with
// uid, or "".
func (r *Runtime) Running(uid, name string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range slices.Sorted(maps.Keys(r.containers)) {
		c := r.containers[id]
		if c.status.GetLabels()[labels.PodUID] == uid && c.name() == name && c.status.GetState() == runtimeapi.ContainerState_CONTAINER_RUNNING {
			return id
		}
	}
	return ""
}

// Sandboxes returns the sandboxes' statuses, oldest first.
func (r *Runtime) Sandboxes() []*runtimeapi.PodSandboxStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*runtimeapi.PodSandboxStatus
	for _, id := range slices.Sorted(maps.Keys(r.sandboxes)) {
		out = append(out, proto.Clone(r.sandboxes[id].status).(*runtimeapi.PodSandboxStatus))
	}
	return out
}

// Containers returns the containers' statuses, oldest first.
func (r *Runtime) Containers() []*runtimeapi.ContainerStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*runtimeapi.ContainerStatus
	for _, id := range slices.Sorted(maps.Keys(r.containers)) {
		out = append(out, proto.Clone(r.containers[id].status).(*runtimeapi.ContainerStatus))
	}
	return out
}

// SandboxConfig returns the config a sandbox was run with, or nil.
func (r *Runtime) SandboxConfig(id string) *runtimeapi.PodSandboxConfig {
	r.mu.Lock()
	defer r.mu.Unlock()
	if sb := r.sandboxes[id]; sb != nil {
		return proto.Clone(sb.config).(*runtimeapi.PodSandboxConfig)
	}
	return nil
}

// ContainerConfig returns the config a container was created with, or nil.
func (r *Runtime) ContainerConfig(id string) *runtimeapi.ContainerConfig {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.containers[id]; c != nil {
		return proto.Clone(c.config).(*runtimeapi.ContainerConfig)
	}
	return nil
}

// Calls returns the calls recorded so far.
func (r *Runtime) Calls() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// CallNames returns the recorded calls as "Method Subject" strings.
func (r *Runtime) CallNames() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.calls))
	for i, c := range r.calls {
		out[i] = c.Method + " " + c.Subject
	}
	return out
}

// ResetCalls forgets the recorded calls.
func (r *Runtime) ResetCalls() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = nil
}
