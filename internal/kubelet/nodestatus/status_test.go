package nodestatus

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
)

func TestReadyCondition(t *testing.T) {
	full := corev1.NodeStatus{Capacity: corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1Gi"),
		corev1.ResourcePods: resource.MustParse("110"), corev1.ResourceEphemeralStorage: resource.MustParse("1Gi"),
	}}
	noMemory := *full.DeepCopy()
	delete(noMemory.Capacity, corev1.ResourceMemory)
	for _, tc := range []struct {
		name    string
		st      corev1.NodeStatus
		rt      RuntimeStatus
		rtErr   error
		status  corev1.ConditionStatus
		reason  string
		message string
	}{
		{
			name: "ready", st: full, rt: readyRuntime(),
			status: corev1.ConditionTrue, reason: "KubeletReady", message: "kubelet is posting ready status",
		},
		{
			name: "runtime unreachable", st: full, rtErr: errRuntimeDown,
			status: corev1.ConditionFalse, reason: "KubeletNotReady", message: "container runtime is down",
		},
		{
			name: "network not ready", st: full,
			rt: RuntimeStatus{RuntimeReady: true, NetworkReason: "NetworkPluginNotReady",
				NetworkMessage: "Network plugin returns error: cni plugin not initialized"},
			status: corev1.ConditionFalse, reason: "KubeletNotReady",
			message: "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized",
		},
		{
			name: "runtime not ready", st: full,
			rt:     RuntimeStatus{NetworkReady: true, RuntimeReason: "Starting", RuntimeMessage: "loading plugins"},
			status: corev1.ConditionFalse, reason: "KubeletNotReady",
			message: "container runtime not ready: RuntimeReady=false reason:Starting message:loading plugins",
		},
		{
			name: "several reasons", st: noMemory, rt: RuntimeStatus{RuntimeReady: true, NetworkMessage: "no conflist"},
			status: corev1.ConditionFalse, reason: "KubeletNotReady",
			message: "[container runtime network not ready: NetworkReady=false reason: message:no conflist, missing node capacity for resources: memory]",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := readyCondition(&tc.st, observation{runtime: tc.rt, runtimeErr: tc.rtErr})
			if c.Type != corev1.NodeReady || c.Status != tc.status || c.Reason != tc.reason || c.Message != tc.message {
				t.Errorf("got %s %s %q %q, want Ready %s %q %q", c.Type, c.Status, c.Reason, c.Message, tc.status, tc.reason, tc.message)
			}
		})
	}
}

func TestPressure(t *testing.T) {
	for _, tc := range []struct {
		name               string
		o                  observation
		memory, disk, pids bool
	}{
		{name: "nothing read"},
		{
			name: "plenty",
			o: observation{mem: &memoryInfo{total: 8 * gib, available: 200 << 20},
				fs: &fsInfo{capacity: 100, available: 10}, procs: &processInfo{running: 90, max: 100}},
		},
		{
			name: "short of everything",
			o: observation{mem: &memoryInfo{total: 8 * gib, available: 99 << 20},
				fs: &fsInfo{capacity: 100, available: 9}, procs: &processInfo{running: 91, max: 100}},
			memory: true, disk: true, pids: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.o.memoryPressure(); got != tc.memory {
				t.Errorf("memory pressure %v, want %v", got, tc.memory)
			}
			if got := tc.o.diskPressure(); got != tc.disk {
				t.Errorf("disk pressure %v, want %v", got, tc.disk)
			}
			if got := tc.o.pidPressure(); got != tc.pids {
				t.Errorf("PID pressure %v, want %v", got, tc.pids)
			}
		})
	}
}

func TestStatusWrittenOnChangeOrReportFrequency(t *testing.T) {
	h := newHarness(t, testConfig())
	h.register()
	sync := func(step time.Duration) *corev1.Node {
		t.Helper()
		h.clock.Step(step)
		if _, err := h.a.syncStatus(h.ctx); err != nil {
			t.Fatal(err)
		}
		return h.node()
	}
	created := metav1.NewTime(testStart)

	sync(10 * time.Second)
	if w := h.statusWrites(); w != 0 {
		t.Fatalf("%d writes of an unchanged status, want 0", w)
	}

	h.host.set(func(h *fakeHost) { h.mem.available = 50 << 20 })
	n := sync(10 * time.Second)
	if w := h.statusWrites(); w != 1 {
		t.Fatalf("%d writes after memory ran short, want 1", w)
	}
	now := metav1.NewTime(h.clock.Now())
	mem := condition(n, corev1.NodeMemoryPressure)
	if mem.Status != corev1.ConditionTrue || mem.Reason != "KubeletHasInsufficientMemory" || !mem.LastTransitionTime.Equal(&now) {
		t.Errorf("MemoryPressure %+v, want True since now", mem)
	}
	ready := condition(n, corev1.NodeReady)
	if !ready.LastHeartbeatTime.Equal(&now) || !ready.LastTransitionTime.Equal(&created) {
		t.Errorf("Ready %+v: want the heartbeat moved and the transition kept", ready)
	}

	h.rt.set(RuntimeStatus{Version: "containerd://1.6.20", RuntimeReady: true, NetworkMessage: "cni config uninitialized"}, nil)
	n = sync(10 * time.Second)
	notReadySince := metav1.NewTime(h.clock.Now())
	if ready := condition(n, corev1.NodeReady); ready.Status != corev1.ConditionFalse || !ready.LastTransitionTime.Equal(&notReadySince) {
		t.Errorf("Ready %+v, want False since now", ready)
	}
	writes := h.statusWrites()

	// Unchanged from here: nothing is written until the report is due, 5m
	// after the last write.
	for range 29 {
		sync(10 * time.Second)
	}
	if w := h.statusWrites(); w != writes {
		t.Fatalf("%d writes of an unchanged status within the report period, want %d", w, writes)
	}
	n = sync(10 * time.Second)
	if w := h.statusWrites(); w != writes+1 {
		t.Fatalf("%d writes once the report is due, want %d", w, writes+1)
	}
	now = metav1.NewTime(h.clock.Now())
	if ready := condition(n, corev1.NodeReady); !ready.LastHeartbeatTime.Equal(&now) || !ready.LastTransitionTime.Equal(&notReadySince) {
		t.Errorf("Ready %+v: want a fresh heartbeat and the transition kept", ready)
	}
}

func TestStatusRewrittenAfterLifecycleControllerMarksUnknown(t *testing.T) {
	h := newHarness(t, testConfig())
	h.register()
	n := h.node()
	for i := range n.Status.Conditions {
		n.Status.Conditions[i].Status = corev1.ConditionUnknown
		n.Status.Conditions[i].Reason = "NodeStatusUnknown"
	}
	if _, err := h.client.CoreV1().Nodes().UpdateStatus(h.ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.clock.Step(10 * time.Second)
	if _, err := h.a.syncStatus(h.ctx); err != nil {
		t.Fatal(err)
	}
	now := metav1.NewTime(h.clock.Now())
	for _, c := range h.node().Status.Conditions {
		if c.Status == corev1.ConditionUnknown || !c.LastTransitionTime.Equal(&now) {
			t.Errorf("condition %s %s since %v, want posted anew at %v", c.Type, c.Status, c.LastTransitionTime, now)
		}
	}
}

func TestStatusConflictRetried(t *testing.T) {
	h := newHarness(t, testConfig())
	h.register()
	conflicts := 1
	h.client.PrependReactor("update", "nodes", func(action k8stesting.Action) (bool, runtime.Object, error) {
		if action.GetSubresource() != "status" || conflicts == 0 {
			return false, nil, nil
		}
		conflicts--
		return true, nil, apierrors.NewConflict(nodesGVR.GroupResource(), testNode, errConflict)
	})
	h.rt.set(RuntimeStatus{Version: "containerd://1.6.20"}, nil)
	h.client.ClearActions()
	if _, err := h.a.syncStatus(h.ctx); err != nil {
		t.Fatalf("sync after one conflict: %v", err)
	}
	if w := h.statusWrites(); w != 2 {
		t.Errorf("%d status writes, want the conflicting one and its retry", w)
	}
	// The first read may come from the server's cache, the retry's not.
	var versions []string
	for _, act := range h.client.Actions() {
		if g, ok := act.(k8stesting.GetActionImpl); ok && g.GetResource() == nodesGVR {
			versions = append(versions, g.GetGetOptions().ResourceVersion)
		}
	}
	if len(versions) != 2 || versions[0] != "0" || versions[1] != "" {
		t.Errorf("node reads at resourceVersions %q, want [\"0\" \"\"]", versions)
	}
	if ready := condition(h.node(), corev1.NodeReady); ready.Status != corev1.ConditionFalse {
		t.Errorf("Ready %+v, want False written by the retry", ready)
	}
}

func TestStatusGivesUpAfterAttempts(t *testing.T) {
	h := newHarness(t, testConfig())
	h.register()
	h.client.PrependReactor("update", "nodes", func(action k8stesting.Action) (bool, runtime.Object, error) {
		if action.GetSubresource() != "status" {
			return false, nil, nil
		}
		return true, nil, apierrors.NewConflict(nodesGVR.GroupResource(), testNode, errConflict)
	})
	h.rt.set(RuntimeStatus{}, errRuntimeDown)
	h.client.ClearActions()
	_, err := h.a.syncStatus(h.ctx)
	if !apierrors.IsConflict(err) {
		t.Fatalf("err %v, want the last conflict", err)
	}
	if w := h.statusWrites(); w != statusUpdateAttempts {
		t.Errorf("%d writes, want %d", w, statusUpdateAttempts)
	}
}

// Until the node is first Ready its status is looked at every
// fastStatusPeriod, so that it turns Ready as soon as the pod network is
// up, not a whole StatusUpdateFrequency later.
func TestStatusFastUntilReady(t *testing.T) {
	h := newHarness(t, testConfig())
	notReady := readyRuntime()
	notReady.NetworkReady = false
	h.rt.set(notReady, nil)
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(h.ctx)
	defer func() { cancel(); <-done }()
	go func() { done <- h.a.Run(ctx) }()
	wait(t, h.a.Registered(), "registration")
	select {
	case <-h.a.Ready():
		t.Fatal("Ready closed while the node's network is down")
	default:
	}

	h.rt.set(readyRuntime(), nil)
	for i := 0; condition(h.node(), corev1.NodeReady).Status != corev1.ConditionTrue; i++ {
		if i > 1000 {
			t.Fatal("node not Ready after the network came up")
		}
		if h.clock.HasWaiters() {
			h.clock.Step(fastStatusPeriod)
		}
		time.Sleep(time.Millisecond)
	}
	if elapsed := h.clock.Since(testStart); elapsed >= defaultStatusUpdateFrequency {
		t.Errorf("Ready %v after start, want it within the fast period", elapsed)
	}
	wait(t, h.a.Ready(), "Ready")
}
