package nodestatus

import (
	"os"
	"runtime"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"
)

// TestProcHost reads this machine; it needs no privileges.
func TestProcHost(t *testing.T) {
	h := procHost{}
	if n := h.numCPU(); n <= 0 {
		t.Errorf("numCPU %d", n)
	}
	sys, err := h.system()
	if err != nil {
		t.Fatal(err)
	}
	release, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		t.Fatal(err)
	}
	if sys.kernelVersion == "" || sys.kernelVersion != strings.TrimSpace(string(release)) {
		t.Errorf("kernel version %q, want %q", sys.kernelVersion, strings.TrimSpace(string(release)))
	}
	if sys.bootID == "" || sys.osImage == "" {
		t.Errorf("system info %+v: want a boot ID and an OS image", sys)
	}
	if sys.machineID != "" && sys.systemUUID == "" {
		t.Errorf("system UUID empty with machine ID %q", sys.machineID)
	}
	mem, err := h.memory()
	if err != nil {
		t.Fatal(err)
	}
	if mem.total == 0 || mem.available > mem.total {
		t.Errorf("memory %+v", mem)
	}
	fs, err := h.filesystem(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if fs.capacity == 0 || fs.available > fs.capacity {
		t.Errorf("filesystem %+v", fs)
	}
	if _, err := h.filesystem("/nonexistent/skiff-test"); err == nil {
		t.Error("statfs of a missing path succeeded")
	}
	procs, err := h.processes()
	if err != nil {
		t.Fatal(err)
	}
	if procs.running == 0 || procs.max == 0 {
		t.Errorf("processes %+v", procs)
	}
}

// TestRegisterOnThisHost registers this machine with a fake API server.
func TestRegisterOnThisHost(t *testing.T) {
	client := fake.NewClientset()
	cfg := testConfig()
	cfg.DataDir = t.TempDir()
	a, err := New(nil, client, readyInfo, clocktesting.NewFakeClock(testStart), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !a.register(t.Context()) {
		t.Fatal("register gave up")
	}
	obj, err := client.Tracker().Get(nodesGVR, "", testNode)
	if err != nil {
		t.Fatal(err)
	}
	n := obj.(*corev1.Node)
	if c := n.Status.Capacity[corev1.ResourceCPU]; c.Value() != int64(runtime.NumCPU()) {
		t.Errorf("cpu capacity %s, want %d", c.String(), runtime.NumCPU())
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceMemory, corev1.ResourceEphemeralStorage} {
		if q := n.Status.Capacity[r]; q.Sign() <= 0 {
			t.Errorf("%s capacity %s, want > 0", r, q.String())
		}
	}
	if info := n.Status.NodeInfo; info.KernelVersion == "" || info.BootID == "" || info.OSImage == "" {
		t.Errorf("nodeInfo %+v", info)
	}
	if ready := condition(n, corev1.NodeReady); ready.Status != corev1.ConditionTrue {
		t.Errorf("Ready %+v", ready)
	}
}

func TestPrettyName(t *testing.T) {
	for _, tc := range []struct {
		name, osRelease, want string
	}{
		{"double quoted", "NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n", "Debian GNU/Linux 12 (bookworm)"},
		{"single quoted", "PRETTY_NAME='Alpine Linux v3.20'\n", "Alpine Linux v3.20"},
		{"bare", "ID=arch\nPRETTY_NAME=Arch\n", "Arch"},
		{"escaped", `PRETTY_NAME="Say \"hi\""`, `Say "hi"`},
		{"absent", "ID=scratch\n", "Linux"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := prettyName([]byte(tc.osRelease)); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
