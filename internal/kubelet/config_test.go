package kubelet

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "alpha", "B": "beta", "EMPTY": ""}
	lookup := func(n string) (string, bool) { v, ok := vars[n]; return v, ok }
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"$(A)", "alpha"},
		{"$(A)-$(B)", "alpha-beta"},
		{"x$(EMPTY)y", "xy"},
		{"$(MISSING)", "$(MISSING)"},
		{"$$(A)", "$(A)"},
		{"$$$(A)", "$alpha"},
		{"$A", "$A"},
		{"$(A", "$(A"},
		{"$()", "$()"},
		{"end$", "end$"},
		{"$(A)$", "alpha$"},
		{"a$$b", "a$b"},
	}
	for _, tc := range tests {
		if got := expand(tc.in, lookup); got != tc.want {
			t.Errorf("expand(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestPodFieldValues(t *testing.T) {
	h := newHarness(t)
	pod := newPod("web", "app")
	pod.Labels = map[string]string{"b": "2", "a": "1"}
	pod.Annotations = map[string]string{"note": `say "hi"`}
	pod.Spec.ServiceAccountName = "sa"
	ips := []string{"10.0.0.5", "fd00::5"}
	tests := map[string]string{
		"metadata.name":             "web",
		"metadata.namespace":        "default",
		"metadata.uid":              "web-uid",
		"metadata.labels":           "a=\"1\"\nb=\"2\"",
		"metadata.labels['a']":      "1",
		"metadata.annotations":      `note="say \"hi\""`,
		"metadata.annotations['x']": "",
		"spec.nodeName":             testNode,
		"spec.serviceAccountName":   "sa",
		"status.hostIP":             testHostIP,
		"status.hostIPs":            testHostIP,
		"status.podIP":              "10.0.0.5",
		"status.podIPs":             "10.0.0.5,fd00::5",
	}
	for path, want := range tests {
		got, err := h.k.podFieldValue(pod, path, ips)
		if err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", path, got, err, want)
		}
	}
	if _, err := h.k.podFieldValue(pod, "spec.bogus", ips); err == nil {
		t.Error("unsupported field path accepted")
	}
}

func TestResourceFieldValue(t *testing.T) {
	c := container("app")
	c.Resources = resources("cpu=250m,memory=100Mi", "cpu=1500m")
	alloc := corev1.ResourceList{corev1.ResourceMemory: resourceQuantity("8Gi"), corev1.ResourceCPU: resourceQuantity("4")}
	tests := []struct {
		res, divisor, want string
	}{
		{"requests.cpu", "", "1"},
		{"requests.cpu", "1m", "250"},
		{"limits.cpu", "", "2"},
		{"limits.cpu", "100m", "15"},
		{"requests.memory", "1Mi", "100"},
		{"limits.memory", "1Gi", "8"},
	}
	for _, tc := range tests {
		ref := &corev1.ResourceFieldSelector{Resource: tc.res}
		if tc.divisor != "" {
			ref.Divisor = resourceQuantity(tc.divisor)
		}
		got, err := resourceFieldValue(&c, ref, alloc)
		if err != nil || got != tc.want {
			t.Errorf("%s / %q = %q, %v; want %q", tc.res, tc.divisor, got, err, tc.want)
		}
	}
}

func TestEnvErrors(t *testing.T) {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "default"}, Data: map[string]string{"k": "v"}}
	h := newHarness(t, cm)
	keyRef := func(name, key string, opt bool) corev1.EnvVar {
		return corev1.EnvVar{Name: "X", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key, Optional: ptr.To(opt)}}}
	}
	tests := []struct {
		name    string
		env     corev1.EnvVar
		from    []corev1.EnvFromSource
		wantErr string
		wantSet bool
	}{
		{"present", keyRef("cfg", "k", false), nil, "", true},
		{"missing key", keyRef("cfg", "nope", false), nil, "couldn't find key nope in ConfigMap default/cfg", false},
		{"missing key optional", keyRef("cfg", "nope", true), nil, "", false},
		{"missing map", keyRef("gone", "k", false), nil, `configmap "gone" not found`, false},
		{"missing map optional", keyRef("gone", "k", true), nil, "", false},
		{"missing envFrom", corev1.EnvVar{Name: "Y", Value: "y"}, []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}}}}, `secret "gone" not found`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := newPod("web", "app")
			c := &pod.Spec.Containers[0]
			c.Env = []corev1.EnvVar{tc.env}
			c.EnvFrom = tc.from
			env, err := h.k.makeEnv(pod, c, nil, h.k.newObjectSource(h.ctx, "default"))
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, set := env.lookup("X"); set != tc.wantSet {
				t.Errorf("X set = %v, want %v", set, tc.wantSet)
			}
		})
	}
}

func TestMissingConfigMapIsConfigError(t *testing.T) {
	h := newHarness(t)
	pod := newPod("web", "app")
	pod.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}, Key: "k"}}}}
	pod = h.create(pod)
	if _, err := h.trySync(pod); !errors.Is(err, errConfig) {
		t.Fatalf("sync error = %v, want errConfig", err)
	}
	s := containerStatus(t, h.get(pod), "app")
	if s.State.Waiting == nil || s.State.Waiting.Reason != reasonCreateContainerConfigError || !strings.Contains(s.State.Waiting.Message, `configmap "gone" not found`) {
		t.Errorf("status = %+v", s.State)
	}
	if !slices.ContainsFunc(h.events(), func(e string) bool { return strings.HasPrefix(e, "Warning Failed Error: ") }) {
		t.Error("no Failed event")
	}
}

func TestStartFailureIsRunContainerError(t *testing.T) {
	h := newHarness(t)
	h.rt.FailStart("app", errors.New(`exec: "nope": executable file not found in $PATH`))
	pod := h.create(newPod("web", "app"))
	if _, err := h.trySync(pod); err == nil {
		t.Fatal("sync succeeded")
	}
	s := containerStatus(t, h.get(pod), "app")
	if s.State.Waiting == nil || s.State.Waiting.Reason != reasonRunContainerError {
		t.Fatalf("status = %+v", s.State)
	}
	if s.LastTerminationState.Terminated == nil || s.LastTerminationState.Terminated.ExitCode != 128 {
		t.Errorf("lastState = %+v", s.LastTerminationState)
	}
}

func TestSandboxFailure(t *testing.T) {
	h := newHarness(t)
	h.rt.FailRunSandbox(errors.New("cni plugin not initialized"))
	pod := h.create(newPod("web", "app"))
	if _, err := h.trySync(pod); err == nil {
		t.Fatal("sync succeeded")
	}
	got := h.get(pod)
	if r := waitingReasonOf(containerStatus(t, got, "app")); r != reasonContainerCreating {
		t.Errorf("waiting reason = %q, want ContainerCreating", r)
	}
	if c := condition(got, corev1.PodReadyToStartContainers); c.Status != corev1.ConditionFalse {
		t.Errorf("PodReadyToStartContainers = %+v", c)
	}
	if !slices.ContainsFunc(h.events(), func(e string) bool {
		return strings.HasPrefix(e, "Warning FailedCreatePodSandBox Failed to create pod sandbox: run sandbox: cni plugin not initialized")
	}) {
		t.Error("no FailedCreatePodSandBox event")
	}
}

func TestLinuxResources(t *testing.T) {
	tests := []struct {
		name                 string
		req, lim             string
		shares, quota, memLi int64
	}{
		{"none", "", "", 2, 0, 0},
		{"request", "cpu=100m", "", 102, 0, 0},
		{"tiny request", "cpu=1m", "", 2, 0, 0},
		{"limit only", "", "cpu=2,memory=1Gi", 2048, 200000, 1 << 30},
		{"both", "cpu=500m", "cpu=750m", 512, 75000, 0},
		{"tiny limit", "cpu=1m", "cpu=1m", 2, 1000, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := newPod("p", "app")
			pod.Spec.Containers[0].Resources = resources(tc.req, tc.lim)
			r := linuxResources(pod, &pod.Spec.Containers[0], 0)
			if r.GetCpuShares() != tc.shares || r.GetCpuQuota() != tc.quota || r.GetCpuPeriod() != 100000 || r.GetMemoryLimitInBytes() != tc.memLi {
				t.Errorf("resources = %v", r)
			}
		})
	}
}

func TestOOMScoreAdj(t *testing.T) {
	pod := newPod("p", "app")
	c := &pod.Spec.Containers[0]
	if got := oomScoreAdj(pod, c, 0); got != bestEffortOOMScoreAdj {
		t.Errorf("best effort = %d", got)
	}
	c.Resources = resources("cpu=1,memory=1Gi", "cpu=1,memory=1Gi")
	if got := oomScoreAdj(pod, c, 0); got != guaranteedOOMScoreAdj {
		t.Errorf("guaranteed = %d", got)
	}
	c.Resources = resources("memory=1Gi", "")
	if got := oomScoreAdj(pod, c, 4<<30); got != 750 {
		t.Errorf("burstable with a quarter of memory = %d, want 750", got)
	}
	c.Resources = resources("memory=4Gi", "")
	if got := oomScoreAdj(pod, c, 4<<30); got != 3 {
		t.Errorf("burstable with all memory = %d, want 3", got)
	}
}

func TestSecurityContexts(t *testing.T) {
	pod := newPod("p", "app")
	pod.Spec.SecurityContext = &corev1.PodSecurityContext{
		RunAsUser: ptr.To[int64](100), FSGroup: ptr.To[int64](300), SupplementalGroups: []int64{400},
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	pod.Spec.HostPID = true
	pod.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: ptr.To(true), AllowPrivilegeEscalation: ptr.To(false)}
	sc := containerSecurityContext(pod, &pod.Spec.Containers[0])
	if !sc.GetPrivileged() || len(sc.GetMaskedPaths()) != 0 || !sc.GetNoNewPrivs() || sc.GetRunAsUser().GetValue() != 100 {
		t.Errorf("container security context = %v", sc)
	}
	if !slices.Equal(sc.GetSupplementalGroups(), []int64{300, 400}) {
		t.Errorf("supplemental groups = %v", sc.GetSupplementalGroups())
	}
	if sc.GetSeccomp().GetProfileType().String() != "RuntimeDefault" || sc.GetNamespaceOptions().GetPid().String() != "NODE" {
		t.Errorf("seccomp %v pid %v", sc.GetSeccomp(), sc.GetNamespaceOptions())
	}
	sb := sandboxSecurityContext(pod)
	if !sb.GetPrivileged() || sb.GetRunAsUser().GetValue() != 100 {
		t.Errorf("sandbox security context = %v", sb)
	}

	nonRoot := newPod("p", "app")
	nonRoot.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{RunAsNonRoot: ptr.To(true)}
	c := &nonRoot.Spec.Containers[0]
	if err := verifyNonRoot(nonRoot, c, nil, ""); err == nil {
		t.Error("image without USER accepted under runAsNonRoot")
	}
	if err := verifyNonRoot(nonRoot, c, ptr.To[int64](1000), ""); err != nil {
		t.Errorf("numeric non-root USER refused: %v", err)
	}
	if err := verifyNonRoot(nonRoot, c, nil, "nobody"); err == nil {
		t.Error("non-numeric USER accepted")
	}
	c.SecurityContext.RunAsUser = ptr.To[int64](0)
	if err := verifyNonRoot(nonRoot, c, ptr.To[int64](1000), ""); err == nil {
		t.Error("runAsUser 0 accepted")
	}
}

func TestHostPathTypes(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	if err := syscall.Mknod(sock, syscall.S_IFSOCK|0o600, 0); err != nil {
		t.Skipf("cannot make a socket node: %v", err)
	}
	tests := []struct {
		path    string
		typ     corev1.HostPathType
		wantErr string
	}{
		{filepath.Join(dir, "any"), corev1.HostPathUnset, ""},
		{filepath.Join(dir, "new", "dir"), corev1.HostPathDirectoryOrCreate, ""},
		{dir, corev1.HostPathDirectory, ""},
		{file, corev1.HostPathDirectory, "is not a directory"},
		{filepath.Join(dir, "missing"), corev1.HostPathDirectory, "does not exist"},
		{filepath.Join(dir, "newfile"), corev1.HostPathFileOrCreate, ""},
		{file, corev1.HostPathFile, ""},
		{dir, corev1.HostPathFile, "is not a file"},
		{sock, corev1.HostPathSocket, ""},
		{file, corev1.HostPathSocket, "is not a socket file"},
		{file, corev1.HostPathCharDev, "is not a character device"},
		{file, corev1.HostPathBlockDev, "is not a block device"},
	}
	for _, tc := range tests {
		err := checkHostPath(&corev1.HostPathVolumeSource{Path: tc.path, Type: ptr.To(tc.typ)})
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s %s: %v", tc.typ, tc.path, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s %s: err %v, want %q", tc.typ, tc.path, err, tc.wantErr)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "newfile")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("FileOrCreate did not create a file: %v", err)
	}
}

func TestWriteProjectionUpdatesAtomically(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vol")
	v1 := map[string]projectedFile{"a": {data: []byte("1"), mode: 0o644}, "sub/b": {data: []byte("2"), mode: 0o400}}
	if err := writeProjection(dir, v1); err != nil {
		t.Fatal(err)
	}
	read := func(p string) string {
		data, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			return "<" + err.Error() + ">"
		}
		return string(data)
	}
	if read("a") != "1" || read("sub/b") != "2" {
		t.Fatalf("first write: a=%q sub/b=%q", read("a"), read("sub/b"))
	}
	target, _ := os.Readlink(filepath.Join(dir, dataLink))
	if err := writeProjection(dir, v1); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.Readlink(filepath.Join(dir, dataLink)); again != target {
		t.Error("unchanged content rewritten")
	}
	v2 := map[string]projectedFile{"a": {data: []byte("one"), mode: 0o644}, "c": {data: []byte("3"), mode: 0o644}}
	if err := writeProjection(dir, v2); err != nil {
		t.Fatal(err)
	}
	if read("a") != "one" || read("c") != "3" {
		t.Errorf("second write: a=%q c=%q", read("a"), read("c"))
	}
	if _, err := os.Lstat(filepath.Join(dir, "sub")); !os.IsNotExist(err) {
		t.Errorf("removed key still linked: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, target)); !os.IsNotExist(err) {
		t.Errorf("old data directory kept: %v", err)
	}
	if err := writeProjection(dir, map[string]projectedFile{"../escape": {}}); err == nil {
		t.Error("path escaping the volume accepted")
	}
}

func TestSecretVolumeAndPullSecrets(t *testing.T) {
	auth := base64.StdEncoding.EncodeToString([]byte("bob:hunter2"))
	pull := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "regcred", Namespace: "default"},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":{` +
			`"https://index.docker.io/v1/":{"username":"hub","password":"hubpw"},` +
			`"registry.example.com:5000":{"auth":"` + auth + `"},` +
			`"*.example.org/team":{"username":"team","password":"t"}}}`)},
	}
	legacy := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "old", Namespace: "default"},
		Type:       corev1.SecretTypeDockercfg,
		Data:       map[string][]byte{corev1.DockerConfigKey: []byte(`{"quay.io":{"username":"q","password":"qp"}}`)},
	}
	h := newHarness(t, pull, legacy)
	pod := newPod("web", "app")
	pod.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "regcred"}, {Name: "old"}, {Name: "missing"}}
	tests := []struct {
		image, wantUser string
	}{
		{"busybox", "hub"},
		{"docker.io/library/busybox:1", "hub"},
		{"registry.example.com:5000/app:v1", "bob"},
		{"registry.example.com/app:v1", ""},
		{"eu.example.org/team/app", "team"},
		{"eu.example.org/other/app", ""},
		{"quay.io/x/y@sha256:abc", "q"},
	}
	for _, tc := range tests {
		creds := h.k.pullCredentials(pod, tc.image, h.k.newObjectSource(h.ctx, "default"))
		got := ""
		if len(creds) > 0 {
			got = creds[0].GetUsername()
		}
		if got != tc.wantUser {
			t.Errorf("%s: user %q, want %q", tc.image, got, tc.wantUser)
		}
		if tc.wantUser == "bob" && creds[0].GetPassword() != "hunter2" {
			t.Errorf("auth field not decoded: %v", creds[0])
		}
	}
	if !slices.ContainsFunc(h.events(), func(e string) bool { return strings.Contains(e, "default/missing") }) {
		t.Error("missing pull secret not reported")
	}

	// The pull itself carries the credential.
	pod.Spec.Containers[0].Image = "registry.example.com:5000/app:v1"
	pod = h.create(pod)
	h.sync(pod)
	if auths := h.rt.PullAuths("registry.example.com:5000/app:v1"); len(auths) != 1 || auths[0].GetUsername() != "bob" {
		t.Errorf("pull auths = %v", auths)
	}
}

func TestPodHostname(t *testing.T) {
	long := strings.Repeat("a", 62) + "-b"
	pod := newPod(long)
	if got := podHostname(pod); got != strings.Repeat("a", 62) {
		t.Errorf("hostname = %q", got)
	}
	pod.Spec.Hostname = "h"
	if got := podHostname(pod); got != "h" {
		t.Errorf("hostname = %q", got)
	}
}

func TestRestartCountSurvivesLostContainers(t *testing.T) {
	h := newHarness(t)
	pod := h.create(newPod("web", "app"))
	logs := filepath.Join(h.k.podLogDir(pod), "app")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"0.log", "4.log", "junk"} {
		if err := os.WriteFile(filepath.Join(logs, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	h.sync(pod)
	if cfg := h.rt.ContainerConfig(h.running(pod, "app")); cfg.GetMetadata().GetAttempt() != 5 || cfg.GetLogPath() != "app/5.log" {
		t.Errorf("attempt %d log %q, want 5 after the logs of 4", cfg.GetMetadata().GetAttempt(), cfg.GetLogPath())
	}
}

func TestPruneKeepsTwoInstances(t *testing.T) {
	h := newHarness(t)
	pod := h.create(newPod("web", "app"))
	h.sync(pod)
	for range 3 {
		h.exit(pod, "app", 0)
		h.sync(pod) // first restart is immediate; later ones wait
		h.clock.Step(10 * time.Minute)
		h.sync(pod)
	}
	n := 0
	for _, c := range h.rt.Containers() {
		if c.GetMetadata().GetName() == "app" {
			n++
		}
	}
	if n != keepPerContainer {
		t.Errorf("%d instances kept, want %d", n, keepPerContainer)
	}
	if s := containerStatus(t, h.get(pod), "app"); s.RestartCount != 3 || s.LastTerminationState.Terminated == nil {
		t.Errorf("status = %+v", s)
	}
}

func TestAPIDataVolumes(t *testing.T) {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "ca", Namespace: "default"}, Data: map[string]string{"ca.crt": "CERT"}}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "tls", Namespace: "default"}, Data: map[string][]byte{"tls.key": []byte("KEY"), "other": []byte("x")}}
	h := newHarness(t, cm, secret)
	pod := newPod("web", "app")
	pod.Spec.Containers[0].Resources = resources("", "memory=64Mi")
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "tls", Items: []corev1.KeyToPath{{Key: "tls.key", Path: "key", Mode: ptr.To[int32](0o400)}}}}},
		{Name: "info", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
			{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
			{Path: "mem", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "app", Resource: "limits.memory", Divisor: resourceQuantity("1Mi")}},
		}}}},
		{Name: "bundle", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "ca"}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}}},
			{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "absent"}, Optional: ptr.To(true)}},
		}}}},
	}
	pod = h.create(pod)
	h.sync(pod)
	vols := filepath.Join(h.cfg.PodsDir, string(pod.UID), "volumes")
	for path, want := range map[string]string{
		filepath.Join(pluginSecret, "tls", "key"):             "KEY",
		filepath.Join(pluginDownward, "info", "labels"):       `app="web"`,
		filepath.Join(pluginDownward, "info", "mem"):          "64",
		filepath.Join(pluginProjected, "bundle", "ca.crt"):    "CERT",
		filepath.Join(pluginProjected, "bundle", "namespace"): "default",
	} {
		data, err := os.ReadFile(filepath.Join(vols, path))
		if err != nil || string(data) != want {
			t.Errorf("%s = %q, %v; want %q", path, data, err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(vols, pluginSecret, "tls", "other")); !os.IsNotExist(err) {
		t.Errorf("unlisted secret key written: %v", err)
	}

	// A source the kubelet cannot serve blocks the pod with an event.
	bad := newPod("bad", "app")
	bad.Spec.Volumes = []corev1.Volume{{Name: "token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
		{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}},
	}}}}}
	bad = h.create(bad)
	if _, err := h.trySync(bad); err == nil {
		t.Fatal("sync succeeded")
	}
	if !slices.ContainsFunc(h.events(), func(e string) bool {
		return strings.HasPrefix(e, "Warning FailedMount") && strings.Contains(e, "serviceAccountToken")
	}) {
		t.Error("no FailedMount event")
	}
	if c := h.calls("RunPodSandbox"); slices.Contains(c, "RunPodSandbox bad") {
		t.Error("sandbox created for a pod whose volumes failed")
	}
}

func TestMemoryVolumeSize(t *testing.T) {
	h := newHarness(t)
	h.k.cfg.NodeAllocatable = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("8Gi")}
	limited := func(limits ...string) *corev1.Pod {
		p := newPod("p", "a")
		p.Spec.Containers = nil
		for i, l := range limits {
			c := corev1.Container{Name: fmt.Sprint("c", i)}
			if l != "" {
				c.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(l)}
			}
			p.Spec.Containers = append(p.Spec.Containers, c)
		}
		return p
	}
	sized := func(s string) *corev1.EmptyDirVolumeSource {
		ed := &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}
		if s != "" {
			q := resource.MustParse(s)
			ed.SizeLimit = &q
		}
		return ed
	}
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		ed   *corev1.EmptyDirVolumeSource
		want string
	}{
		{"no limits: node allocatable", limited(""), sized(""), "8Gi"},
		{"pod limit", limited("64Mi", "64Mi"), sized(""), "128Mi"},
		{"sizeLimit below the pod limit", limited("64Mi"), sized("16Mi"), "16Mi"},
		{"sizeLimit above the pod limit", limited("64Mi"), sized("1Gi"), "64Mi"},
		{"sizeLimit without pod limit", limited(""), sized("1Gi"), "1Gi"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := resource.MustParse(tc.want)
			if got := h.k.memoryVolumeSize(tc.pod, tc.ed); got != want.Value() {
				t.Errorf("size %d, want %d", got, want.Value())
			}
		})
	}
}
