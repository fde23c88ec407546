package kubelet

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/skiff-sh/skiff/internal/kubelet/labels"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/ptr"
)

func TestSyncStartsSandboxThenContainers(t *testing.T) {
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "default"},
		Data:       map[string]string{"greeting": "hello", "mode": "fast", "bad-key": "x"},
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: "default"},
		Data:       map[string][]byte{"password": []byte("s3cret")},
	}
	h := newHarness(t, cm, secret)
	h.rt.AddImage(testImage, nil)
	hostDir := filepath.Join(t.TempDir(), "host", "data")

	pod := newPod("web", "app", "side")
	pod.Spec.Hostname = "myhost"
	pod.Spec.Containers[0].Command = []string{"/bin/sh", "-c"}
	pod.Spec.Containers[0].Args = []string{"echo $(GREETING) $(POD_NAME) $(MISSING) $$(ESCAPED)"}
	pod.Spec.Containers[0].WorkingDir = "/work"
	pod.Spec.Containers[0].TTY = true
	pod.Spec.Containers[0].Stdin = true
	pod.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 8080, Protocol: corev1.ProtocolTCP}, {ContainerPort: 81}}
	pod.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{Prefix: "CM_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}}
	pod.Spec.Containers[0].Env = []corev1.EnvVar{
		{Name: "GREETING", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "greeting"}}},
		{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
		{Name: "NODE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
		{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "password"}}},
		{Name: "OPTIONAL", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}, Key: "x", Optional: ptr.To(true)}}},
		{Name: "MEM_MI", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resourceQuantity("1Mi")}}},
		{Name: "COMPOSED", Value: "$(GREETING)-$(CM_mode)"},
	}
	pod.Spec.Containers[0].Resources = resources("cpu=250m,memory=64Mi", "cpu=500m,memory=128Mi")
	pod.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{
		RunAsUser:              ptr.To[int64](1000),
		RunAsGroup:             ptr.To[int64](2000),
		ReadOnlyRootFilesystem: ptr.To(true),
		Capabilities:           &corev1.Capabilities{Add: []corev1.Capability{"NET_ADMIN"}, Drop: []corev1.Capability{"ALL"}},
	}
	pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{
		{Name: "scratch", MountPath: "/scratch"},
		{Name: "host", MountPath: "/host", ReadOnly: true},
		{Name: "config", MountPath: "/etc/config"},
	}
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: hostDir, Type: ptr.To(corev1.HostPathDirectoryOrCreate)}}},
		{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"},
			Items:                []corev1.KeyToPath{{Key: "greeting", Path: "sub/greeting.txt"}},
			DefaultMode:          ptr.To[int32](0o600),
		}}},
	}
	pod = h.create(pod)

	h.sync(pod)

	if got, want := h.calls("RunPodSandbox", "CreateContainer", "StartContainer", "PullImage"), []string{
		"RunPodSandbox web", "CreateContainer app", "StartContainer app", "CreateContainer side", "StartContainer side",
	}; !slices.Equal(got, want) {
		t.Fatalf("calls = %v, want %v", got, want)
	}

	sbs := h.rt.Sandboxes()
	if len(sbs) != 1 {
		t.Fatalf("sandboxes = %d, want 1", len(sbs))
	}
	sbc := h.rt.SandboxConfig(sbs[0].GetId())
	if m := sbc.GetMetadata(); m.GetName() != "web" || m.GetNamespace() != "default" || m.GetUid() != "web-uid" || m.GetAttempt() != 0 {
		t.Errorf("sandbox metadata = %v", m)
	}
	if sbc.GetHostname() != "myhost" {
		t.Errorf("hostname = %q", sbc.GetHostname())
	}
	if want := filepath.Join(h.cfg.PodLogsDir, "default_web_web-uid"); sbc.GetLogDirectory() != want {
		t.Errorf("log directory = %q, want %q", sbc.GetLogDirectory(), want)
	}
	if l := sbc.GetLabels(); l["app"] != "web" || l[labels.PodName] != "web" || l[labels.PodNamespace] != "default" || l[labels.PodUID] != "web-uid" {
		t.Errorf("sandbox labels = %v", l)
	}
	if pm := sbc.GetPortMappings(); len(pm) != 1 || pm[0].GetHostPort() != 8080 || pm[0].GetContainerPort() != 80 || pm[0].GetProtocol() != runtimeapi.Protocol_TCP {
		t.Errorf("port mappings = %v", pm)
	}
	ns := sbc.GetLinux().GetSecurityContext().GetNamespaceOptions()
	if ns.GetNetwork() != runtimeapi.NamespaceMode_POD || ns.GetPid() != runtimeapi.NamespaceMode_CONTAINER || ns.GetIpc() != runtimeapi.NamespaceMode_POD {
		t.Errorf("namespace options = %v", ns)
	}
	if sbc.GetLinux().GetCgroupParent() != "" {
		t.Errorf("cgroup parent = %q, want empty", sbc.GetLinux().GetCgroupParent())
	}

	appID := h.running(pod, "app")
	cfg := h.rt.ContainerConfig(appID)
	podIP := sbs[0].GetNetwork().GetIp()
	if got, want := cfg.GetArgs(), []string{"echo hello web $(MISSING) $(ESCAPED)"}; !slices.Equal(got, want) {
		t.Errorf("args = %q, want %q", got, want)
	}
	if got := cfg.GetCommand(); !slices.Equal(got, []string{"/bin/sh", "-c"}) {
		t.Errorf("command = %q", got)
	}
	env := map[string]string{}
	for _, kv := range cfg.GetEnvs() {
		env[kv.GetKey()] = string(kv.GetValue())
	}
	wantEnv := map[string]string{
		"CM_greeting": "hello", "CM_mode": "fast", "CM_bad-key": "x",
		"GREETING": "hello", "POD_NAME": "web", "POD_IP": podIP, "NODE": testNode,
		"PASSWORD": "s3cret", "MEM_MI": "128", "COMPOSED": "hello-fast",
	}
	if diff := cmp.Diff(wantEnv, env); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}
	if cfg.GetWorkingDir() != "/work" || !cfg.GetTty() || !cfg.GetStdin() {
		t.Errorf("workingDir/tty/stdin = %q/%v/%v", cfg.GetWorkingDir(), cfg.GetTty(), cfg.GetStdin())
	}
	if cfg.GetLogPath() != "app/0.log" {
		t.Errorf("log path = %q, want app/0.log", cfg.GetLogPath())
	}
	if m := cfg.GetMetadata(); m.GetName() != "app" || m.GetAttempt() != 0 {
		t.Errorf("container metadata = %v", m)
	}
	if l := cfg.GetLabels(); l[labels.ContainerName] != "app" || l[labels.PodUID] != "web-uid" || l[labels.PodName] != "web" || l[labels.PodNamespace] != "default" {
		t.Errorf("container labels = %v", l)
	}
	if a := cfg.GetAnnotations(); a[annotationRestartCount] != "0" || a[annotationContainerHash] == "" {
		t.Errorf("container annotations = %v", a)
	}
	if cfg.GetImage().GetImage() == testImage || !strings.HasPrefix(cfg.GetImage().GetImage(), "sha256:") {
		t.Errorf("image = %q, want the resolved ID", cfg.GetImage().GetImage())
	}
	res := cfg.GetLinux().GetResources()
	if res.GetCpuShares() != 256 || res.GetCpuQuota() != 50000 || res.GetCpuPeriod() != 100000 || res.GetMemoryLimitInBytes() != 128<<20 {
		t.Errorf("resources = %v", res)
	}
	sc := cfg.GetLinux().GetSecurityContext()
	if sc.GetRunAsUser().GetValue() != 1000 || sc.GetRunAsGroup().GetValue() != 2000 || !sc.GetReadonlyRootfs() || sc.GetPrivileged() {
		t.Errorf("security context = %v", sc)
	}
	if caps := sc.GetCapabilities(); !slices.Equal(caps.GetAddCapabilities(), []string{"NET_ADMIN"}) || !slices.Equal(caps.GetDropCapabilities(), []string{"ALL"}) {
		t.Errorf("capabilities = %v", caps)
	}
	if len(sc.GetMaskedPaths()) == 0 || len(sc.GetReadonlyPaths()) == 0 {
		t.Errorf("unprivileged container without masked/readonly paths")
	}

	mounts := map[string]*runtimeapi.Mount{}
	for _, m := range cfg.GetMounts() {
		mounts[m.GetContainerPath()] = m
	}
	podDir := filepath.Join(h.cfg.PodsDir, "web-uid")
	checks := []struct {
		path, host string
		ro         bool
	}{
		{"/scratch", filepath.Join(podDir, "volumes", pluginEmptyDir, "scratch"), false},
		{"/host", hostDir, true},
		{"/etc/config", filepath.Join(podDir, "volumes", pluginConfigMap, "config"), true},
		{"/etc/hosts", filepath.Join(podDir, "etc-hosts"), false},
		{"/dev/termination-log", filepath.Join(podDir, "containers", "app", "0"), false},
	}
	for _, c := range checks {
		m := mounts[c.path]
		if m == nil {
			t.Errorf("no mount at %s; mounts = %v", c.path, cfg.GetMounts())
			continue
		}
		if m.GetHostPath() != c.host || m.GetReadonly() != c.ro {
			t.Errorf("mount %s = %s ro=%v, want %s ro=%v", c.path, m.GetHostPath(), m.GetReadonly(), c.host, c.ro)
		}
	}
	if fi, err := os.Stat(hostDir); err != nil || !fi.IsDir() {
		t.Errorf("hostPath DirectoryOrCreate not created: %v", err)
	}
	greeting := filepath.Join(podDir, "volumes", pluginConfigMap, "config", "sub", "greeting.txt")
	if data, err := os.ReadFile(greeting); err != nil || string(data) != "hello" {
		t.Errorf("configmap file = %q, %v", data, err)
	} else if fi, _ := os.Stat(greeting); fi.Mode().Perm() != 0o600 {
		t.Errorf("configmap file mode = %v, want 0600", fi.Mode().Perm())
	}
	hosts, _ := os.ReadFile(filepath.Join(podDir, "etc-hosts"))
	if !strings.Contains(string(hosts), podIP+"\tmyhost\n") || !strings.Contains(string(hosts), "127.0.0.1\tlocalhost") {
		t.Errorf("hosts file:\n%s", hosts)
	}
	if _, err := os.Stat(filepath.Join(sbc.GetLogDirectory(), "app")); err != nil {
		t.Errorf("container log directory: %v", err)
	}

	events := h.events()
	for _, want := range []string{
		`Normal Pulled Container image "busybox:1.36" already present on machine`,
		"Normal Created Created container app",
		"Normal Started Started container app",
	} {
		if !slices.ContainsFunc(events, func(e string) bool { return strings.HasPrefix(e, want) }) {
			t.Errorf("missing event %q in %v", want, events)
		}
	}

	got := h.get(pod)
	if got.Status.Phase != corev1.PodRunning {
		t.Errorf("phase = %s, want Running", got.Status.Phase)
	}
	if got.Status.PodIP != podIP || len(got.Status.PodIPs) != 1 || got.Status.HostIP != testHostIP || len(got.Status.HostIPs) != 1 {
		t.Errorf("IPs = pod %s %v host %s %v", got.Status.PodIP, got.Status.PodIPs, got.Status.HostIP, got.Status.HostIPs)
	}
	if got.Status.QOSClass != corev1.PodQOSBurstable {
		t.Errorf("qosClass = %s, want Burstable", got.Status.QOSClass)
	}
	if got.Status.StartTime == nil || !got.Status.StartTime.Time.Equal(h.clock.Now()) {
		t.Errorf("startTime = %v, want %v", got.Status.StartTime, h.clock.Now())
	}
	for _, ct := range []corev1.PodConditionType{corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady, corev1.PodScheduled} {
		if c := condition(got, ct); c == nil || c.Status != corev1.ConditionTrue {
			t.Errorf("condition %s = %+v, want True", ct, c)
		}
	}
	if c := condition(got, corev1.PodScheduled); !c.LastTransitionTime.Time.Equal(pod.Status.Conditions[0].LastTransitionTime.Time) {
		t.Errorf("PodScheduled transition time changed to %v", c.LastTransitionTime)
	}
	names := []string{}
	for _, s := range got.Status.ContainerStatuses {
		names = append(names, s.Name)
	}
	if !slices.Equal(names, []string{"app", "side"}) {
		t.Errorf("container statuses = %v, want sorted [app side]", names)
	}
	st := containerStatus(t, got, "app")
	if st.State.Running == nil || !st.Ready || st.Started == nil || !*st.Started || st.RestartCount != 0 ||
		st.ContainerID != "containerd://"+appID || st.Image != testImage || !strings.HasPrefix(st.ImageID, "sha256:") {
		t.Errorf("app status = %+v", st)
	}

	// A second sync with nothing changed touches neither runtime nor API.
	h.client.ClearActions()
	h.sync(pod)
	if got := h.calls("RunPodSandbox", "CreateContainer", "StartContainer", "StopContainer", "StopPodSandbox"); len(got) != 0 {
		t.Errorf("idle sync made runtime calls %v", got)
	}
	for _, a := range h.client.Actions() {
		if a.GetVerb() == "update" {
			t.Errorf("idle sync wrote %v", a)
		}
	}
}

func TestSyncHostNetworkPod(t *testing.T) {
	h := newHarness(t)
	pod := newPod("hostnet", "app")
	pod.Spec.HostNetwork = true
	pod = h.create(pod)
	h.sync(pod)

	sb := h.rt.Sandboxes()[0]
	cfg := h.rt.SandboxConfig(sb.GetId())
	if cfg.GetLinux().GetSecurityContext().GetNamespaceOptions().GetNetwork() != runtimeapi.NamespaceMode_NODE {
		t.Errorf("network namespace = %v, want NODE", cfg.GetLinux().GetSecurityContext().GetNamespaceOptions())
	}
	if cfg.GetHostname() != "" {
		t.Errorf("host-network sandbox hostname = %q, want the node's", cfg.GetHostname())
	}
	got := h.get(pod)
	if got.Status.PodIP != testHostIP {
		t.Errorf("podIP = %q, want the host IP", got.Status.PodIP)
	}
	// A second sync must not replace the IP-less sandbox.
	h.calls()
	h.sync(pod)
	if c := h.calls("RunPodSandbox"); len(c) != 0 {
		t.Errorf("host-network sandbox recreated: %v", c)
	}
}

func TestSyncRecreatesDeadSandbox(t *testing.T) {
	h := newHarness(t)
	pod := h.create(newPod("web", "app"))
	h.sync(pod)
	first := h.rt.Sandboxes()[0]
	if err := h.rt.KillSandbox(first.GetId()); err != nil {
		t.Fatal(err)
	}
	h.calls()
	h.events()

	h.sync(pod)
	if got, want := h.calls("StopContainer", "StopPodSandbox", "RunPodSandbox", "CreateContainer", "StartContainer"), []string{
		"StopContainer app", "StopPodSandbox web", "RunPodSandbox web", "CreateContainer app", "StartContainer app",
	}; !slices.Equal(got, want) {
		t.Fatalf("calls = %v, want %v", got, want)
	}
	if !slices.ContainsFunc(h.events(), func(e string) bool { return strings.HasPrefix(e, "Normal SandboxChanged") }) {
		t.Error("no SandboxChanged event")
	}
	sbs := h.rt.Sandboxes()
	latest := sbs[len(sbs)-1]
	if latest.GetMetadata().GetAttempt() != 1 {
		t.Errorf("new sandbox attempt = %d, want 1", latest.GetMetadata().GetAttempt())
	}
	cfg := h.rt.ContainerConfig(h.running(pod, "app"))
	if cfg.GetMetadata().GetAttempt() != 1 || cfg.GetLogPath() != "app/1.log" {
		t.Errorf("restarted container attempt %d log %q, want 1 and app/1.log", cfg.GetMetadata().GetAttempt(), cfg.GetLogPath())
	}
	if s := containerStatus(t, h.get(pod), "app"); s.RestartCount != 1 || s.LastTerminationState.Terminated == nil {
		t.Errorf("status after sandbox change = %+v", s)
	}
}

func TestSyncRestartsContainerWhoseImageChanged(t *testing.T) {
	h := newHarness(t)
	pod := h.create(newPod("web", "app"))
	h.sync(pod)
	pod = h.get(pod)
	pod.Spec.Containers[0].Image = "busybox:1.37"
	if _, err := h.client.CoreV1().Pods("default").Update(h.ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.calls()
	h.sync(pod)
	if got, want := h.calls("StopContainer", "CreateContainer", "StartContainer", "PullImage"), []string{
		"StopContainer app", "PullImage busybox:1.37", "CreateContainer app", "StartContainer app",
	}; !slices.Equal(got, want) {
		t.Fatalf("calls = %v, want %v", got, want)
	}
}
