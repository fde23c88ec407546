package nodestatus

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

const (
	testNode = "node-1"
	testIP   = "192.0.2.10"
	testUID  = types.UID("uid-node-1")
	gib      = 1 << 30
)

var (
	testStart = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	nodesGVR  = corev1.SchemeGroupVersion.WithResource("nodes")
)

// fakeHost is a machine with 4 CPUs, 8Gi of memory and a 100Gi disk, all
// comfortably free.
type fakeHost struct {
	mu    sync.Mutex
	sys   systemInfo
	mem   memoryInfo
	fs    fsInfo
	procs processInfo
	// paths are the filesystems asked about.
	paths []string
}

func newFakeHost() *fakeHost {
	return &fakeHost{
		sys: systemInfo{
			machineID: "machine-1", systemUUID: "uuid-1", bootID: "boot-1",
			kernelVersion: "6.1.0-test", osImage: "Debian GNU/Linux 12 (bookworm)",
		},
		mem:   memoryInfo{total: 8 * gib, available: 6 * gib},
		fs:    fsInfo{capacity: 100 * gib, available: 60 * gib},
		procs: processInfo{running: 300, max: 32768},
	}
}

func (h *fakeHost) numCPU() int { return 4 }

func (h *fakeHost) system() (systemInfo, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sys, nil
}

func (h *fakeHost) memory() (memoryInfo, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.mem, nil
}

func (h *fakeHost) filesystem(path string) (fsInfo, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.paths = append(h.paths, path)
	return h.fs, nil
}

func (h *fakeHost) processes() (processInfo, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.procs, nil
}

func (h *fakeHost) set(f func(h *fakeHost)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f(h)
}

// fakeRuntime answers RuntimeInfo; with a gate, every call after the first
// waits for the gate to close.
type fakeRuntime struct {
	mu    sync.Mutex
	st    RuntimeStatus
	err   error
	calls int
	gate  chan struct{}
}

func (r *fakeRuntime) info(ctx context.Context) (RuntimeStatus, error) {
	r.mu.Lock()
	r.calls++
	gate := r.gate
	if r.calls == 1 {
		gate = nil
	}
	st, err := r.st, r.err
	r.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return RuntimeStatus{}, ctx.Err()
		}
	}
	return st, err
}

func (r *fakeRuntime) set(st RuntimeStatus, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.st, r.err = st, err
}

func readyRuntime() RuntimeStatus {
	return RuntimeStatus{Version: "containerd://1.6.20", RuntimeReady: true, NetworkReady: true}
}

type harness struct {
	t      *testing.T
	ctx    context.Context
	a      *Agent
	client *fake.Clientset
	clock  *clocktesting.FakeClock
	host   *fakeHost
	rt     *fakeRuntime
}

func testConfig() Config {
	return Config{
		NodeName: testNode,
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: testIP},
			{Type: corev1.NodeHostName, Address: testNode},
		},
		DataDir: "/var/lib/skiff-test",
	}
}

func newHarness(t *testing.T, cfg Config, objs ...runtime.Object) *harness {
	t.Helper()
	h := &harness{
		t:      t,
		ctx:    t.Context(),
		client: fake.NewClientset(objs...),
		clock:  clocktesting.NewFakeClock(testStart),
		host:   newFakeHost(),
		rt:     &fakeRuntime{st: readyRuntime()},
	}
	emulateServer(h.client)
	a, err := newAgent(nil, h.client, h.rt.info, h.clock, h.host, cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.a = a
	return h
}

// emulateServer makes the fake clientset act as the API server where the
// agent relies on it: a created Node gets a UID, and nodes/status writes
// change the status alone.
func emulateServer(client *fake.Clientset) {
	client.PrependReactor("create", "nodes", func(action k8stesting.Action) (bool, runtime.Object, error) {
		if node, ok := action.(k8stesting.CreateAction).GetObject().(*corev1.Node); ok && node.UID == "" {
			node.UID = testUID
		}
		return false, nil, nil
	})
	client.PrependReactor("update", "nodes", func(action k8stesting.Action) (bool, runtime.Object, error) {
		if action.GetSubresource() != "status" {
			return false, nil, nil
		}
		node := action.(k8stesting.UpdateAction).GetObject().(*corev1.Node)
		cur, err := client.Tracker().Get(nodesGVR, "", node.Name)
		if err != nil {
			return true, nil, err
		}
		stored := cur.(*corev1.Node).DeepCopy()
		stored.Status = *node.Status.DeepCopy()
		if err := client.Tracker().Update(nodesGVR, stored, ""); err != nil {
			return true, nil, err
		}
		return true, stored, nil
	})
}

func (h *harness) node() *corev1.Node {
	h.t.Helper()
	// Through the tracker, so that the test's reads are not among the
	// agent's actions.
	n, err := h.client.Tracker().Get(nodesGVR, "", testNode)
	if err != nil {
		h.t.Fatalf("get node: %v", err)
	}
	return n.(*corev1.Node)
}

func (h *harness) register() {
	h.t.Helper()
	if !h.a.register(h.ctx) {
		h.t.Fatal("register gave up")
	}
}

// statusWrites counts the nodes/status updates so far.
func (h *harness) statusWrites() int {
	n := 0
	for _, act := range h.client.Actions() {
		if act.Matches("update", "nodes") && act.GetSubresource() == "status" {
			n++
		}
	}
	return n
}

func condition(n *corev1.Node, t corev1.NodeConditionType) corev1.NodeCondition {
	for _, c := range n.Status.Conditions {
		if c.Type == t {
			return c
		}
	}
	return corev1.NodeCondition{}
}

// wait returns once ch delivers, failing the test after a generous deadline
// so that a bug cannot hang the run.
func wait[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

var (
	errRuntimeDown = errors.New("dial unix /run/containerd/containerd.sock: connect: connection refused")
	errConflict    = errors.New("the object has been modified; please apply your changes to the latest version and try again")
)
