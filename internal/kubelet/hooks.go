package kubelet

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/clock"
)

// Annotations that keep what stopping a container needs from its spec, so
// that its preStop hook still runs when the pod is gone from the API (force
// deleted while the agent was down); upstream's names.
const (
	annotationPreStopHandler = "io.kubernetes.container.preStopHandler"
	annotationContainerPorts = "io.kubernetes.container.ports"
)

// reasonPostStartHookError is the waiting reason of a container whose
// postStart hook failed.
const reasonPostStartHookError = "PostStartHookError"

// addHookAnnotations records c's preStop hook and the ports it may name.
func addHookAnnotations(a map[string]string, c *corev1.Container) {
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil {
		return
	}
	// Plain API types: marshalling cannot fail.
	h, _ := json.Marshal(c.Lifecycle.PreStop)
	a[annotationPreStopHandler] = string(h)
	if len(c.Ports) > 0 {
		p, _ := json.Marshal(c.Ports)
		a[annotationContainerPorts] = string(p)
	}
}

// containerSpec returns the spec of the container c is an instance of: the
// pod's, or for an orphan what its annotations kept.
func containerSpec(pod *corev1.Pod, c *runtimeapi.ContainerStatus) *corev1.Container {
	name := c.GetMetadata().GetName()
	if pod != nil {
		for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
			if i := slices.IndexFunc(list, func(s corev1.Container) bool { return s.Name == name }); i >= 0 {
				return &list[i]
			}
		}
		return &corev1.Container{Name: name}
	}
	spec := &corev1.Container{Name: name}
	var h corev1.LifecycleHandler
	if s := c.GetAnnotations()[annotationPreStopHandler]; s != "" && json.Unmarshal([]byte(s), &h) == nil {
		spec.Lifecycle = &corev1.Lifecycle{PreStop: &h}
	}
	if s := c.GetAnnotations()[annotationContainerPorts]; s != "" {
		var ports []corev1.ContainerPort
		if json.Unmarshal([]byte(s), &ports) == nil {
			spec.Ports = ports
		}
	}
	return spec
}

// runPreStop runs spec's preStop hook for at most grace seconds and
// returns how many seconds it took; StopContainer gets what is left. A
// hook still running when the grace period ends is abandoned, as the
// container is about to be killed anyway.
func (k *Kubelet) runPreStop(ctx context.Context, kill containerKill, spec *corev1.Container, grace int64) int64 {
	start := k.clock.Now()
	timer := k.clock.NewTimer(time.Duration(grace) * time.Second)
	defer timer.Stop()
	hookCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	t := handlerTarget{pod: kill.pod, container: spec, id: kill.status.GetId(), ips: kill.ips}
	done := make(chan error, 1)
	go func() {
		msg, err := k.handlers.hook(hookCtx, spec.Lifecycle.PreStop, t)
		if err != nil && hookCtx.Err() == nil {
			k.log.Info("preStop hook failed", "pod", podDesc(kill.pod), "container", spec.Name, "err", msg)
		}
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-timer.C():
		k.log.Info("preStop hook did not finish within the grace period", "pod", podDesc(kill.pod), "container", spec.Name, "gracePeriod", grace)
		cancel()
		<-done
	case <-ctx.Done():
		cancel()
		<-done
	}
	if err != nil && kill.pod != nil {
		// The hook's own message may hold secrets: events get none of it.
		ref := containerRef(kill.pod, spec, kindOf(kill.pod, spec.Name))
		k.recorder.Event(ref, corev1.EventTypeWarning, "FailedPreStopHook", "PreStopHook failed")
	}
	return int64(k.clock.Since(start) / time.Second)
}

// stopOrder sequences the stop of a pod with sidecars (restartable init
// containers, KEP-753): regular containers stop at once, and a sidecar only
// after every regular container and every sidecar declared after it, so
// that what a sidecar provides outlasts its users.
type stopOrder struct {
	// after lists, by sidecar name, the containers it waits for.
	after map[string][]string
	// stopped holds, by container name, a channel closed once the name's
	// running instances all stopped.
	stopped map[string]chan struct{}

	mu   sync.Mutex
	left map[string]int
}

// newStopOrder returns the order for stopping running of pod, or nil when
// the pod has no sidecars and everything may stop at once.
func newStopOrder(pod *corev1.Pod, running []*runtimeapi.ContainerStatus) *stopOrder {
	if pod == nil || !slices.ContainsFunc(pod.Spec.InitContainers, func(c corev1.Container) bool { return isSidecar(&c) }) {
		return nil
	}
	o := &stopOrder{after: map[string][]string{}, stopped: map[string]chan struct{}{}, left: map[string]int{}}
	for _, c := range running {
		o.left[c.GetMetadata().GetName()]++
	}
	gate := func(name string) {
		if o.stopped[name] != nil {
			return
		}
		ch := make(chan struct{})
		if o.left[name] == 0 {
			close(ch)
		}
		o.stopped[name] = ch
	}
	var waitFor []string
	for _, c := range pod.Spec.Containers {
		gate(c.Name)
		waitFor = append(waitFor, c.Name)
	}
	inits := pod.Spec.InitContainers
	for i := len(inits) - 1; i >= 0; i-- {
		gate(inits[i].Name)
		if isSidecar(&inits[i]) {
			o.after[inits[i].Name] = slices.Clone(waitFor)
			waitFor = append(waitFor, inits[i].Name)
		}
	}
	return o
}

// wait blocks until what name waits for stopped, for at most grace
// seconds, and returns how many seconds it waited.
func (o *stopOrder) wait(ctx context.Context, clk clock.Clock, name string, grace int64) int64 {
	deps := o.after[name]
	if len(deps) == 0 {
		return 0
	}
	start := clk.Now()
	timer := clk.NewTimer(time.Duration(grace) * time.Second)
	defer timer.Stop()
	for _, d := range deps {
		select {
		case <-o.stopped[d]:
		case <-timer.C():
			return grace
		case <-ctx.Done():
			return int64(clk.Since(start) / time.Second)
		}
	}
	return int64(clk.Since(start) / time.Second)
}

// done records that an instance of name stopped (or failed to).
func (o *stopOrder) done(name string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.left[name]--
	if ch := o.stopped[name]; ch != nil && o.left[name] == 0 {
		close(ch)
	}
}
