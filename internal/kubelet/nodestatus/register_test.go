package nodestatus

import (
	goruntime "runtime"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestFirstRegistrationCreatesNode(t *testing.T) {
	cfg := testConfig()
	cfg.Labels = map[string]string{"skiff.sh/role": "worker"}
	cfg.Taints = []corev1.Taint{{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}}
	cfg.Reserved = corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("500m"),
		corev1.ResourceMemory: resource.MustParse("9Gi"), // more than there is: clamps to zero
	}
	cfg.KubeletVersion = "v1.37.0-skiff"
	cfg.KubeletPort = 10250
	h := newHarness(t, cfg)
	h.register()
	n := h.node()

	wantLabels := map[string]string{
		"kubernetes.io/hostname":  testNode,
		"kubernetes.io/os":        goruntime.GOOS,
		"kubernetes.io/arch":      goruntime.GOARCH,
		"beta.kubernetes.io/os":   goruntime.GOOS,
		"beta.kubernetes.io/arch": goruntime.GOARCH,
		"skiff.sh/role":           "worker",
	}
	if diff := cmp.Diff(wantLabels, n.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(cfg.Taints, n.Spec.Taints); diff != "" {
		t.Errorf("taints (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(cfg.Addresses, n.Status.Addresses); diff != "" {
		t.Errorf("addresses (-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		name                  corev1.ResourceName
		capacity, allocatable string
	}{
		{corev1.ResourceCPU, "4", "3500m"},
		{corev1.ResourceMemory, "8Gi", "0"},
		{corev1.ResourceEphemeralStorage, "100Gi", "100Gi"},
		{corev1.ResourcePods, "110", "110"},
		{"hugepages-2Mi", "0", "0"},
		{"hugepages-1Gi", "0", "0"},
	} {
		c, a := n.Status.Capacity[tc.name], n.Status.Allocatable[tc.name]
		if c.Cmp(resource.MustParse(tc.capacity)) != 0 || a.Cmp(resource.MustParse(tc.allocatable)) != 0 {
			t.Errorf("%s: capacity %s allocatable %s, want %s and %s", tc.name, c.String(), a.String(), tc.capacity, tc.allocatable)
		}
	}
	if len(h.host.paths) == 0 || h.host.paths[0] != cfg.DataDir {
		t.Errorf("filesystems read %v, want %s", h.host.paths, cfg.DataDir)
	}
	wantInfo := corev1.NodeSystemInfo{
		MachineID: "machine-1", SystemUUID: "uuid-1", BootID: "boot-1",
		KernelVersion: "6.1.0-test", OSImage: "Debian GNU/Linux 12 (bookworm)",
		ContainerRuntimeVersion: "containerd://1.6.20", KubeletVersion: "v1.37.0-skiff",
		OperatingSystem: goruntime.GOOS, Architecture: goruntime.GOARCH,
	}
	if diff := cmp.Diff(wantInfo, n.Status.NodeInfo); diff != "" {
		t.Errorf("nodeInfo (-want +got):\n%s", diff)
	}
	if p := n.Status.DaemonEndpoints.KubeletEndpoint.Port; p != 10250 {
		t.Errorf("kubelet port %d, want 10250", p)
	}

	now := metav1.NewTime(testStart)
	wantConds := []corev1.NodeCondition{
		{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory", Message: "kubelet has sufficient memory available"},
		{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasNoDiskPressure", Message: "kubelet has no disk pressure"},
		{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientPID", Message: "kubelet has sufficient PID available"},
		{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "kubelet is posting ready status"},
	}
	for i := range wantConds {
		wantConds[i].LastHeartbeatTime, wantConds[i].LastTransitionTime = now, now
	}
	if diff := cmp.Diff(wantConds, n.Status.Conditions); diff != "" {
		t.Errorf("conditions (-want +got):\n%s", diff)
	}

	// The status went with the create: the first update right after finds
	// nothing new to write.
	if _, err := h.a.syncStatus(h.ctx); err != nil {
		t.Fatal(err)
	}
	if w := h.statusWrites(); w != 0 {
		t.Errorf("%d status writes right after the create, want 0", w)
	}
}

func TestReRegistrationKeepsWhatOthersOwn(t *testing.T) {
	old := metav1.NewTime(testStart.Add(-24 * time.Hour))
	existing := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: testNode, UID: "uid-existing",
			Labels: map[string]string{
				"kubernetes.io/hostname":  "old-name",
				"kubernetes.io/os":        goruntime.GOOS,
				"team":                    "infra", // an admin's
				"node-role.kubernetes.io": "",
			},
			Annotations: map[string]string{"note": "keep"},
		},
		Spec: corev1.NodeSpec{
			PodCIDR:       "10.42.3.0/24",
			PodCIDRs:      []string{"10.42.3.0/24"},
			Unschedulable: true,
			Taints: []corev1.Taint{
				{Key: "node.kubernetes.io/unreachable", Effect: corev1.TaintEffectNoExecute, TimeAdded: &old},
				{Key: "node.kubernetes.io/unschedulable", Effect: corev1.TaintEffectNoSchedule},
			},
		},
		Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{
				{Type: corev1.NodeReady, Status: corev1.ConditionUnknown, Reason: "NodeStatusUnknown",
					Message: "Kubelet stopped posting node status.", LastHeartbeatTime: old, LastTransitionTime: old},
				{Type: corev1.NodeNetworkUnavailable, Status: corev1.ConditionFalse, Reason: "RouteCreated",
					LastHeartbeatTime: old, LastTransitionTime: old},
			},
			Capacity: corev1.ResourceList{"example.com/dongle": resource.MustParse("2")},
			Images:   []corev1.ContainerImage{{Names: []string{"busybox:1.36"}, SizeBytes: 1 << 20}},
		},
	}
	cfg := testConfig()
	cfg.Labels = map[string]string{"skiff.sh/role": "worker"}
	cfg.Taints = []corev1.Taint{{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}}
	h := newHarness(t, cfg, existing)
	h.register()
	if _, err := h.a.syncStatus(h.ctx); err != nil {
		t.Fatal(err)
	}
	n := h.node()

	if diff := cmp.Diff(existing.Spec, n.Spec); diff != "" {
		t.Errorf("spec changed (-before +after):\n%s", diff)
	}
	if n.UID != existing.UID || n.Annotations["note"] != "keep" {
		t.Errorf("metadata not kept: uid %s annotations %v", n.UID, n.Annotations)
	}
	for k, want := range map[string]string{
		"kubernetes.io/hostname":  testNode,
		"kubernetes.io/arch":      goruntime.GOARCH,
		"skiff.sh/role":           "worker",
		"team":                    "infra",
		"node-role.kubernetes.io": "",
	} {
		if got, ok := n.Labels[k]; !ok || got != want {
			t.Errorf("label %s = %q (present %v), want %q", k, got, ok, want)
		}
	}

	now := metav1.NewTime(testStart)
	ready := condition(n, corev1.NodeReady)
	if ready.Status != corev1.ConditionTrue || ready.Reason != "KubeletReady" || !ready.LastTransitionTime.Equal(&now) || !ready.LastHeartbeatTime.Equal(&now) {
		t.Errorf("Ready after re-registration: %+v", ready)
	}
	if net := condition(n, corev1.NodeNetworkUnavailable); net.Reason != "RouteCreated" || !net.LastHeartbeatTime.Equal(&old) {
		t.Errorf("another component's condition changed: %+v", net)
	}
	if len(n.Status.Conditions) != 5 || n.Status.Conditions[0].Type != corev1.NodeReady {
		t.Errorf("conditions %v: want the existing ones in place and the pressures appended", n.Status.Conditions)
	}
	if q := n.Status.Capacity["example.com/dongle"]; q.Cmp(resource.MustParse("2")) != 0 {
		t.Errorf("extended resource capacity lost: %v", n.Status.Capacity)
	}
	if q := n.Status.Allocatable["example.com/dongle"]; q.Cmp(resource.MustParse("2")) != 0 {
		t.Errorf("extended resource not allocatable: %v", n.Status.Allocatable)
	}
	if q := n.Status.Capacity[corev1.ResourceCPU]; q.Cmp(resource.MustParse("4")) != 0 {
		t.Errorf("cpu capacity %s, want 4", q.String())
	}
	if len(n.Status.Images) != 1 {
		t.Errorf("images lost: %v", n.Status.Images)
	}
}

func TestLabelPatch(t *testing.T) {
	for _, tc := range []struct {
		name       string
		have, want map[string]string
		patch      string
	}{
		{"nothing to do", map[string]string{"a": "1", "b": "2"}, map[string]string{"a": "1"}, ""},
		{"missing and changed", map[string]string{"a": "0", "b": "2"}, map[string]string{"a": "1", "c": "3"}, `{"metadata":{"labels":{"a":"1","c":"3"}}}`},
		{"no labels yet", nil, map[string]string{"a": ""}, `{"metadata":{"labels":{"a":""}}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := labelPatch(tc.have, tc.want)
			if err != nil {
				t.Fatal(err)
			}
			if string(p) != tc.patch {
				t.Errorf("patch %s, want %s", p, tc.patch)
			}
		})
	}
}
