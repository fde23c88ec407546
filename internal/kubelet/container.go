package kubelet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/skiff-sh/skiff/internal/kubelet/labels"
	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Waiting reasons of a container that could not be started.
const (
	reasonCrashLoopBackOff           = "CrashLoopBackOff"
	reasonCreateContainerConfigError = "CreateContainerConfigError"
	reasonCreateContainerError       = "CreateContainerError"
	reasonRunContainerError          = "RunContainerError"
)

// minGracePeriod is the least time a container gets to stop; upstream's
// minimum too.
const minGracePeriod = 2

// containerKind tells init containers from app containers, for event
// field paths.
type containerKind string

const (
	kindInit containerKind = "initContainers"
	kindApp  containerKind = "containers"
)

// containerRef is the object reference container events are recorded on:
// the pod, with the container as the field path.
func containerRef(pod *corev1.Pod, c *corev1.Container, kind containerKind) *corev1.ObjectReference {
	return &corev1.ObjectReference{
		Kind:            "Pod",
		APIVersion:      "v1",
		Namespace:       pod.Namespace,
		Name:            pod.Name,
		UID:             pod.UID,
		ResourceVersion: pod.ResourceVersion,
		FieldPath:       fmt.Sprintf("spec.%s{%s}", kind, c.Name),
	}
}

// podDesc names a pod in logs and messages as upstream does.
func podDesc(pod *corev1.Pod) string {
	if pod == nil {
		return "<unknown>"
	}
	return fmt.Sprintf("%s_%s(%s)", pod.Name, pod.Namespace, pod.UID)
}

// startContainer starts one (init or app) container in sb: back-off,
// image, config, create, start. A failure is recorded as the container's
// waiting reason; the returned duration asks for a retry when a back-off
// ends.
func (k *Kubelet) startContainer(ctx context.Context, st *podState, pod *corev1.Pod, c *corev1.Container, kind containerKind, sb sandboxTarget, rt *runtimePod, vols map[string]volume, src *objectSource) (time.Duration, error) {
	ref := containerRef(pod, c, kind)
	now := k.clock.Now()
	crashKey := c.Name + "/" + containerHash(c)
	if last := rt.latest(c.Name); last != nil && last.GetState() == runtimeapi.ContainerState_CONTAINER_EXITED {
		started, finished := nanoTime(last.GetStartedAt()), nanoTime(last.GetFinishedAt())
		if !started.IsZero() && finished.Sub(started) >= k.cfg.BackoffReset {
			st.crash.reset(crashKey)
		}
		if wait := st.crash.remaining(crashKey, finished, now); wait > 0 {
			st.waiting[c.Name] = waitingReason{
				reason:  reasonCrashLoopBackOff,
				message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s", st.crash.delay(crashKey), c.Name, podDesc(pod)),
			}
			k.recorder.Eventf(ref, corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container %s in pod %s", c.Name, podDesc(pod))
			return wait, nil
		}
		st.crash.next(crashKey, now)
	}

	image, wait, err := k.ensureImage(ctx, st, pod, c, ref, sb, src)
	if err != nil || wait > 0 {
		return wait, err
	}
	fail := func(reason string, err error) (time.Duration, error) {
		st.waiting[c.Name] = waitingReason{reason: reason, message: err.Error()}
		k.recorder.Eventf(ref, corev1.EventTypeWarning, "Failed", "Error: %v", err)
		return 0, fmt.Errorf("container %q: %w", c.Name, err)
	}
	if err := verifyNonRoot(pod, c, image.uid, image.user); err != nil {
		return fail(reasonCreateContainerConfigError, fmt.Errorf("%w: %w", errConfig, err))
	}
	restarts := k.nextRestartCount(pod, rt, c.Name)
	cfg, err := k.containerConfig(pod, c, restarts, image.ref, sb, vols, src)
	if err != nil {
		return fail(reasonCreateContainerConfigError, fmt.Errorf("%w: %w", errConfig, err))
	}
	created, err := k.runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{
		PodSandboxId:  sb.id,
		Config:        cfg,
		SandboxConfig: sb.config,
	})
	if err != nil {
		return fail(reasonCreateContainerError, err)
	}
	k.recorder.Eventf(ref, corev1.EventTypeNormal, "Created", "Created container %s", c.Name)
	if _, err := k.runtime.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: created.GetContainerId()}); err != nil {
		return fail(reasonRunContainerError, err)
	}
	k.recorder.Eventf(ref, corev1.EventTypeNormal, "Started", "Started container %s", c.Name)
	id := created.GetContainerId()
	if c.Lifecycle != nil && c.Lifecycle.PostStart != nil {
		msg, err := k.handlers.hook(ctx, c.Lifecycle.PostStart, handlerTarget{pod: pod, container: c, id: id, ips: sb.ips})
		if err != nil {
			k.log.Info("postStart hook failed", "pod", podDesc(pod), "container", c.Name, "err", msg)
			// The hook's own message may hold secrets: events get none of it.
			k.recorder.Event(ref, corev1.EventTypeWarning, "FailedPostStartHook", "PostStartHook failed")
			kill := containerKill{
				pod:     pod,
				status:  &runtimeapi.ContainerStatus{Id: id, Metadata: &runtimeapi.ContainerMetadata{Name: c.Name}},
				grace:   containerGrace(pod, nil),
				message: "FailedPostStartHook",
				ips:     sb.ips,
			}
			if kerr := k.killContainer(ctx, kill, nil); kerr != nil {
				err = errors.Join(err, kerr)
			}
			st.waiting[c.Name] = waitingReason{reason: reasonPostStartHookError, message: msg}
			return 0, fmt.Errorf("container %q: %w: %w", c.Name, errPostStartHook, err)
		}
	}
	delete(st.waiting, c.Name)
	k.log.Info("container started", "pod", podDesc(pod), "container", c.Name, "id", id, "restartCount", restarts)
	return 0, nil
}

// containerConfig builds the CRI config of a container.
func (k *Kubelet) containerConfig(pod *corev1.Pod, c *corev1.Container, restarts int32, imageRef string, sb sandboxTarget, vols map[string]volume, src *objectSource) (*runtimeapi.ContainerConfig, error) {
	env, err := k.makeEnv(pod, c, sb.ips, src)
	if err != nil {
		return nil, err
	}
	mounts, err := k.makeMounts(pod, c, vols, env, restarts, sb.ips)
	if err != nil {
		return nil, err
	}
	// The runtime creates the log file but not its directory.
	if err := os.MkdirAll(filepath.Join(sb.config.GetLogDirectory(), c.Name), 0o755); err != nil {
		return nil, fmt.Errorf("create container log directory: %w", err)
	}
	return &runtimeapi.ContainerConfig{
		Metadata:    &runtimeapi.ContainerMetadata{Name: c.Name, Attempt: uint32(restarts)},
		Image:       &runtimeapi.ImageSpec{Image: imageRef, UserSpecifiedImage: c.Image},
		Command:     expandAll(c.Command, env.lookup),
		Args:        expandAll(c.Args, env.lookup),
		WorkingDir:  c.WorkingDir,
		Envs:        env.cri(),
		Mounts:      mounts,
		Labels:      containerLabels(pod, c),
		Annotations: containerAnnotations(pod, c, restarts),
		LogPath:     containerLogPath(c.Name, restarts),
		Stdin:       c.Stdin,
		StdinOnce:   c.StdinOnce,
		Tty:         c.TTY,
		Linux: &runtimeapi.LinuxContainerConfig{
			Resources:       linuxResources(pod, c, k.cfg.NodeAllocatable.Memory().Value()),
			SecurityContext: containerSecurityContext(pod, c),
		},
	}, nil
}

// containerLogPath is relative to the sandbox's log directory.
func containerLogPath(name string, restarts int32) string {
	return filepath.Join(name, fmt.Sprintf("%d.log", restarts))
}

func containerLabels(pod *corev1.Pod, c *corev1.Container) map[string]string {
	return map[string]string{
		labels.PodName:       pod.Name,
		labels.PodNamespace:  pod.Namespace,
		labels.PodUID:        string(pod.UID),
		labels.ContainerName: c.Name,
	}
}

func containerAnnotations(pod *corev1.Pod, c *corev1.Container, restarts int32) map[string]string {
	a := map[string]string{
		annotationContainerHash:            containerHash(c),
		annotationRestartCount:             strconv.Itoa(int(restarts)),
		annotationTerminationMessagePath:   c.TerminationMessagePath,
		annotationTerminationMessagePolicy: string(c.TerminationMessagePolicy),
	}
	if g := pod.Spec.TerminationGracePeriodSeconds; g != nil {
		a[annotationTerminationGracePeriod] = strconv.FormatInt(*g, 10)
	}
	addHookAnnotations(a, c)
	return a
}

var logFileName = regexp.MustCompile(`^(\d+)\.log$`)

// nextRestartCount is one more than the highest restart count of the
// container found in the runtime or among its log files, so that the CRI
// name (name + attempt) never repeats within the pod, even after the
// runtime lost the old containers.
func (k *Kubelet) nextRestartCount(pod *corev1.Pod, rt *runtimePod, name string) int32 {
	next := int32(0)
	for _, c := range rt.instances(name) {
		next = max(next, restartCount(c)+1)
	}
	entries, err := os.ReadDir(filepath.Join(k.podLogDir(pod), name))
	if err != nil {
		return next
	}
	for _, e := range entries {
		if m := logFileName.FindStringSubmatch(e.Name()); m != nil {
			if n, err := strconv.ParseInt(m[1], 10, 32); err == nil {
				next = max(next, int32(n)+1)
			}
		}
	}
	return next
}

// containerKill is a container to stop and how.
type containerKill struct {
	// pod is nil for an orphan.
	pod    *corev1.Pod
	status *runtimeapi.ContainerStatus
	// grace is the time between SIGTERM and SIGKILL (the runtime sends
	// both), preStop hook included.
	grace int64
	// message is the Killing event's; empty says "Stopping container".
	message string
	// ips are the pod's addresses, for an httpGet preStop hook.
	ips []string
}

// killContainer runs the container's preStop hook, waits for its turn if
// order says so, and stops it with what is left of the grace period (at
// least minGracePeriod).
func (k *Kubelet) killContainer(ctx context.Context, kill containerKill, order *stopOrder) error {
	c := kill.status
	name := c.GetMetadata().GetName()
	if order != nil {
		defer order.done(name)
	}
	spec := containerSpec(kill.pod, c)
	if kill.pod != nil {
		msg := kill.message
		if msg == "" {
			msg = "Stopping container " + name
		}
		k.recorder.Event(containerRef(kill.pod, spec, kindOf(kill.pod, name)), corev1.EventTypeNormal, "Killing", msg)
	}
	grace := kill.grace
	if spec.Lifecycle != nil && spec.Lifecycle.PreStop != nil && grace > 0 {
		grace -= k.runPreStop(ctx, kill, spec, grace)
	}
	if order != nil && grace > 0 {
		grace -= order.wait(ctx, k.clock, name, grace)
	}
	grace = max(grace, minGracePeriod)
	_, err := k.runtime.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: c.GetId(), Timeout: grace})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("stop container %s (%s): %w", name, c.GetId(), err)
	}
	return nil
}

func kindOf(pod *corev1.Pod, name string) containerKind {
	for _, c := range pod.Spec.InitContainers {
		if c.Name == name {
			return kindInit
		}
	}
	return kindApp
}
