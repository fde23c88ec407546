package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/skiff-sh/skiff/internal/oci"
)

func busyboxCluster(t *testing.T) *cluster {
	requireNode(t)
	return startCluster(t, map[string]*oci.Image{busyboxRef: busyboxImage(t), "docker.io/library/httpd:latest": httpdImage(t)})
}

func shPod(name, script string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PodSpec{
			Containers:                    []corev1.Container{{Name: "main", Image: "busybox", ImagePullPolicy: corev1.PullIfNotPresent, Command: []string{"sh", "-c", script}}},
			TerminationGracePeriodSeconds: ptr(int64(1)),
		},
	}
}

func ptr[T any](v T) *T { return &v }

func (c *cluster) create(t *testing.T, pod *corev1.Pod) {
	t.Helper()
	if _, err := c.client.CoreV1().Pods(pod.Namespace).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// waitPod polls the pod until cond holds.
func (c *cluster) waitPod(t *testing.T, name, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	var last *corev1.Pod
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		p, err := c.client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
		if err == nil {
			last = p
			if cond(p) {
				return p
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("pod %s: timed out waiting for %s; status %+v", name, what, last.Status)
	return nil
}

func running(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Running == nil {
			return false
		}
	}
	return true
}

func waitingReason(reason string) func(*corev1.Pod) bool {
	return func(p *corev1.Pod) bool {
		for _, cs := range p.Status.ContainerStatuses {
			if cs.State.Waiting != nil && cs.State.Waiting.Reason == reason {
				return true
			}
		}
		return false
	}
}

func (c *cluster) events(t *testing.T, pod string) string {
	t.Helper()
	evs, err := c.client.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.name=" + pod})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range evs.Items {
		fmt.Fprintf(&b, "%s %s %s\n", e.Type, e.Reason, e.Message)
	}
	return b.String()
}

// A container killed from outside is restarted and RESTARTS counts it.
func TestKilledContainerRestarts(t *testing.T) {
	c := busyboxCluster(t)
	marker := fmt.Sprintf("e2e-restart-%d", time.Now().UnixNano())
	c.create(t, shPod("victim", "sleep 3600; : "+marker))
	c.waitPod(t, "victim", "Running", running)
	pids := processesMentioning(marker)
	if len(pids) == 0 {
		t.Fatal("no process of the container found")
	}
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	p := c.waitPod(t, "victim", "a restart", func(p *corev1.Pod) bool {
		return running(p) && p.Status.ContainerStatuses[0].RestartCount == 1
	})
	last := p.Status.ContainerStatuses[0].LastTerminationState.Terminated
	if last == nil || last.ExitCode != 137 || last.Reason != "Error" {
		t.Errorf("lastState = %+v, want terminated with 137 (Error)", last)
	}
	if out := kubectl(t, c, "get", "pod", "victim"); !strings.Contains(out, "Running   1 (") {
		t.Errorf("kubectl get pod:\n%s", out)
	}
}

// The two container patterns: an init container prepares a shared volume
// that the main container serves, and a sidecar reads the log file the main
// container writes into another shared volume.
func TestInitContainerAndSidecarShareVolumes(t *testing.T) {
	c := busyboxCluster(t)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "patterns", Namespace: "default"},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: ptr(int64(1)),
			InitContainers: []corev1.Container{{
				Name: "fetch", Image: "busybox", ImagePullPolicy: corev1.PullIfNotPresent,
				Command:      []string{"sh", "-c", "echo prepared-by-init > /work/index.html"},
				VolumeMounts: []corev1.VolumeMount{{Name: "work", MountPath: "/work"}},
			}},
			Containers: []corev1.Container{
				{
					Name: "web", Image: "busybox", ImagePullPolicy: corev1.PullIfNotPresent,
					Command: []string{"sh", "-c", "httpd -p 80 -h /work; while true; do echo tick >> /logs/app.log; sleep 1; done"},
					VolumeMounts: []corev1.VolumeMount{
						{Name: "work", MountPath: "/work"},
						{Name: "logs", MountPath: "/logs"},
					},
				},
				{
					Name: "sidecar", Image: "busybox", ImagePullPolicy: corev1.PullIfNotPresent,
					Command:      []string{"sh", "-c", "until [ -f /logs/app.log ]; do sleep 0.2; done; tail -f /logs/app.log"},
					VolumeMounts: []corev1.VolumeMount{{Name: "logs", MountPath: "/logs"}},
				},
			},
			Volumes: []corev1.Volume{
				{Name: "work", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "logs", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			},
		},
	}
	c.create(t, pod)
	p := c.waitPod(t, "patterns", "Running", running)
	if init := p.Status.InitContainerStatuses; len(init) != 1 || init[0].State.Terminated == nil || init[0].State.Terminated.Reason != "Completed" {
		t.Errorf("init container status: %+v", init)
	}
	if body := httpGet(t, "http://"+p.Status.PodIP+"/"); body != "prepared-by-init\n" {
		t.Errorf("main container served %q", body)
	}
	eventually(t, 15*time.Second, "the sidecar to read the main container's log", func() bool {
		out, err := kubectlErr(c, "logs", "patterns", "-c", "sidecar")
		return err == nil && strings.Count(out, "tick") >= 2
	})
}

// ConfigMaps and Secrets reach a container as env and as files.
func TestConfigMapAndSecret(t *testing.T) {
	c := busyboxCluster(t)
	ctx := context.Background()
	if _, err := c.client.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings"}, Data: map[string]string{"color": "blue"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.client.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds"}, StringData: map[string]string{"password": "s3cret"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := shPod("config", "echo env:$COLOR:$PASSWORD; echo file:$(cat /cm/color):$(cat /sec/password); sleep 3600")
	pod.Spec.Containers[0].Env = []corev1.EnvVar{
		{Name: "COLOR", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}, Key: "color"}}},
		{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "password"}}},
	}
	pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "cm", MountPath: "/cm"}, {Name: "sec", MountPath: "/sec"}}
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "cm", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}}},
		{Name: "sec", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "creds"}}},
	}
	c.create(t, pod)
	c.waitPod(t, "config", "Running", running)
	eventually(t, 10*time.Second, "the values in the logs", func() bool {
		out, err := kubectlErr(c, "logs", "config")
		return err == nil && strings.Contains(out, "env:blue:s3cret") && strings.Contains(out, "file:blue:s3cret")
	})
}

// A memory-backed emptyDir is a tmpfs of its sizeLimit, unmounted when the
// pod goes; containers get the service variables of the API's Service.
func TestMemoryVolumeAndServiceEnv(t *testing.T) {
	c := busyboxCluster(t)
	pod := shPod("mem", "grep ' /cache ' /proc/mounts; echo api:$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT; sleep 3600")
	size := resource.MustParse("16Mi")
	pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "cache", MountPath: "/cache"}}
	pod.Spec.Volumes = []corev1.Volume{{Name: "cache", VolumeSource: corev1.VolumeSource{
		EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: &size}}}}
	c.create(t, pod)
	p := c.waitPod(t, "mem", "Running", running)
	eventually(t, 10*time.Second, "the mount and the variables in the logs", func() bool {
		out, err := kubectlErr(c, "logs", "mem")
		return err == nil && strings.Contains(out, "tmpfs /cache tmpfs") && strings.Contains(out, "size=16384k") &&
			strings.Contains(out, "api:10.198.0.1:443")
	})
	podDir := filepath.Join(c.dir, "agent", "pods", string(p.UID))
	if !mountedUnder(podDir) {
		t.Fatalf("no mount under %s while the pod runs", podDir)
	}
	grace := int64(1)
	if err := c.client.CoreV1().Pods("default").Delete(context.Background(), "mem", metav1.DeleteOptions{GracePeriodSeconds: &grace}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the tmpfs unmounted after the pod", func() bool { return !mountedUnder(podDir) })
}

func mountedUnder(dir string) bool {
	data, err := os.ReadFile("/proc/self/mountinfo")
	return err == nil && strings.Contains(string(data), " "+dir+"/")
}

// A memory limit reaches the container's cgroup, and going over it is
// reported as OOMKilled.
func TestMemoryLimitAndOOMKilled(t *testing.T) {
	c := busyboxCluster(t)
	limited := shPod("limited", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max 2>/dev/null; sleep 3600")
	limited.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("32Mi")}
	c.create(t, limited)
	p := c.waitPod(t, "limited", "Running", running)
	if p.Status.QOSClass != corev1.PodQOSBurstable {
		t.Errorf("qosClass = %s, want Burstable", p.Status.QOSClass)
	}
	eventually(t, 10*time.Second, "the limit in the container's cgroup", func() bool {
		out, err := kubectlErr(c, "logs", "limited")
		return err == nil && strings.Contains(out, "33554432")
	})

	hog := shPod("hog", "x=aaaaaaaaaaaaaaaa; while true; do x=$x$x; done")
	hog.Spec.RestartPolicy = corev1.RestartPolicyNever
	hog.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("16Mi")}
	c.create(t, hog)
	p = c.waitPod(t, "hog", "OOMKilled", func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Terminated != nil
	})
	if term := p.Status.ContainerStatuses[0].State.Terminated; term.Reason != "OOMKilled" || p.Status.Phase != corev1.PodFailed {
		t.Errorf("terminated %+v, phase %s; want OOMKilled and Failed", term, p.Status.Phase)
	}
}

// Bad input fails the pod that has it, with upstream's reasons, and no other.
func TestBadInput(t *testing.T) {
	c := busyboxCluster(t)
	missing := shPod("no-image", "true")
	missing.Spec.Containers[0].Image = "127.0.0.1:1/nowhere/none:1"
	c.create(t, missing)
	badCmd := shPod("bad-command", "")
	badCmd.Spec.Containers[0].Command = []string{"/no/such/binary"}
	c.create(t, badCmd)
	noCM := shPod("no-configmap", "sleep 3600")
	noCM.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "absent"}, Key: "k"}}}}
	c.create(t, noCM)
	c.create(t, shPod("fine", "sleep 3600"))

	c.waitPod(t, "fine", "Running", running)
	c.waitPod(t, "no-image", "ErrImagePull or ImagePullBackOff", func(p *corev1.Pod) bool {
		return waitingReason("ErrImagePull")(p) || waitingReason("ImagePullBackOff")(p)
	})
	if ev := c.events(t, "no-image"); !strings.Contains(ev, "Failed") || !strings.Contains(ev, "127.0.0.1:1/nowhere/none:1") {
		t.Errorf("no-image events:\n%s", ev)
	}
	c.waitPod(t, "bad-command", "RunContainerError or CrashLoopBackOff", func(p *corev1.Pod) bool {
		return waitingReason("RunContainerError")(p) || waitingReason("CrashLoopBackOff")(p)
	})
	c.waitPod(t, "no-configmap", "CreateContainerConfigError", waitingReason("CreateContainerConfigError"))
	if ev := c.events(t, "no-configmap"); !strings.Contains(ev, `configmap "absent" not found`) {
		t.Errorf("no-configmap events:\n%s", ev)
	}
}

// Deletion waits for the container to stop within its grace period, and the
// pod object goes only when its containers are gone.
func TestGracefulDeletion(t *testing.T) {
	c := busyboxCluster(t)
	pod := shPod("graceful", "trap 'sleep 2; exit 0' TERM; while true; do sleep 0.1; done")
	pod.Spec.TerminationGracePeriodSeconds = ptr(int64(10))
	c.create(t, pod)
	c.waitPod(t, "graceful", "Running", running)
	start := time.Now()
	if err := c.client.CoreV1().Pods("default").Delete(context.Background(), "graceful", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if p, err := c.client.CoreV1().Pods("default").Get(context.Background(), "graceful", metav1.GetOptions{}); err != nil || p.DeletionTimestamp == nil {
		t.Fatalf("one second into a 2 s shutdown the pod should still be there, terminating: %v", err)
	}
	eventually(t, 15*time.Second, "the pod to go", func() bool {
		_, err := c.client.CoreV1().Pods("default").Get(context.Background(), "graceful", metav1.GetOptions{})
		return err != nil
	})
	if took := time.Since(start); took < 2*time.Second || took > 9*time.Second {
		t.Errorf("deletion took %v: the container's 2 s shutdown should set the pace, not the 10 s grace", took)
	}
}

// A server restart, node included, leaves running containers alone.
func TestServerRestartKeepsContainers(t *testing.T) {
	c := busyboxCluster(t)
	c.create(t, shPod("steady", "sleep 3600"))
	before := c.waitPod(t, "steady", "Running", running)
	c.restart(t)
	time.Sleep(3 * time.Second) // a few relists and syncs of the adopted pod
	after := c.waitPod(t, "steady", "Running", running)
	b, a := before.Status.ContainerStatuses[0], after.Status.ContainerStatuses[0]
	if a.ContainerID != b.ContainerID || a.RestartCount != 0 || after.Status.PodIP != before.Status.PodIP {
		t.Errorf("after restart: container %s (was %s), restarts %d, IP %s (was %s)", a.ContainerID, b.ContainerID, a.RestartCount, after.Status.PodIP, before.Status.PodIP)
	}
}

// A failing liveness probe restarts the container; a readiness probe gates
// the Ready condition.
func TestProbes(t *testing.T) {
	c := busyboxCluster(t)
	live := shPod("liveness", "touch /tmp/healthy; sleep 3; rm /tmp/healthy; sleep 3600")
	live.Spec.Containers[0].LivenessProbe = &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"cat", "/tmp/healthy"}}},
		PeriodSeconds: 1, FailureThreshold: 1,
	}
	c.create(t, live)

	ready := shPod("readiness", "mkdir -p /www; httpd -p 8080 -h /www; sleep 3600")
	ready.Spec.Containers[0].ReadinessProbe = &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ok", Port: intstr.FromInt32(8080)}},
		PeriodSeconds: 1,
	}
	c.create(t, ready)

	p := c.waitPod(t, "readiness", "Running, not ready", running)
	if podReady(p) {
		t.Fatal("ready before its readiness probe ever passed")
	}
	time.Sleep(2 * time.Second)
	if p, _ = c.client.CoreV1().Pods("default").Get(context.Background(), "readiness", metav1.GetOptions{}); podReady(p) {
		t.Fatal("ready while /ok is missing")
	}
	kubectl(t, c, "exec", "readiness", "--", "sh", "-c", "echo ok > /www/ok")
	c.waitPod(t, "readiness", "Ready once /ok answers", podReady)

	c.waitPod(t, "liveness", "a restart after the liveness probe failed", func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].RestartCount >= 1
	})
	if ev := c.events(t, "liveness"); !strings.Contains(ev, "Unhealthy Liveness probe failed") || !strings.Contains(ev, "failed liveness probe, will be restarted") {
		t.Errorf("liveness events:\n%s", ev)
	}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
