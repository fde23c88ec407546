package kubelet

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/clock"
)

// Probe defaults, upstream's; the API server sets them too, but pods from
// elsewhere (tests, a bare clientset) may lack them.
const (
	defaultProbeTimeout          = 1
	defaultProbePeriod           = 10
	defaultProbeSuccessThreshold = 1
	defaultProbeFailureThreshold = 3
)

// probeType tells the three container probes apart.
type probeType int

const (
	probeLiveness probeType = iota
	probeReadiness
	probeStartup
)

// String names the probe as upstream's events do.
func (t probeType) String() string {
	switch t {
	case probeLiveness:
		return "Liveness"
	case probeReadiness:
		return "Readiness"
	}
	return "Startup"
}

func (t probeType) of(c *corev1.Container) *corev1.Probe {
	switch t {
	case probeLiveness:
		return c.LivenessProbe
	case probeReadiness:
		return c.ReadinessProbe
	}
	return c.StartupProbe
}

// probeResult is what a probe concluded about a container instance.
type probeResult int

const (
	resultUnknown probeResult = iota
	resultSuccess
	resultFailure
)

// initial is what a container instance counts as before its probe decided:
// alive, not ready, not yet started.
func (t probeType) initial() probeResult {
	switch t {
	case probeLiveness:
		return resultSuccess
	case probeReadiness:
		return resultFailure
	}
	return resultUnknown
}

// probeResults answers what a probe concluded about a container instance
// (by runtime ID) of a pod; computeActions and the status read it.
type probeResults interface {
	result(pod types.UID, id string, t probeType) probeResult
}

// probeKey names one probe of one container instance.
type probeKey struct {
	pod types.UID
	// id is the runtime's container ID.
	id string
	t  probeType
}

// probeManager runs one worker goroutine per probe of each running
// container instance and keeps their results. A worker belongs to one
// instance: a restarted container gets new workers, and the results of
// instances that stopped are forgotten. Liveness and readiness workers
// start only once the startup probe, if any, succeeded.
type probeManager struct {
	log      *slog.Logger
	clock    clock.Clock
	recorder record.EventRecorder
	runner   *handlerRunner
	// started is when this kubelet started; a container running since
	// before was adopted, not started by it.
	started time.Time
	// changed is told the pod whenever one of its results changes.
	changed func(types.UID)

	mu      sync.Mutex
	workers map[probeKey]*probeWorker
	results map[probeKey]probeResult
	wg      sync.WaitGroup
}

func newProbeManager(log *slog.Logger, clk clock.Clock, recorder record.EventRecorder, runner *handlerRunner, changed func(types.UID)) *probeManager {
	return &probeManager{
		log:      log,
		clock:    clk,
		recorder: recorder,
		runner:   runner,
		started:  clk.Now(),
		changed:  changed,
		workers:  map[probeKey]*probeWorker{},
		results:  map[probeKey]probeResult{},
	}
}

// result implements probeResults: the last result that passed its
// threshold, or the probe's initial one.
func (m *probeManager) result(pod types.UID, id string, t probeType) probeResult {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.resultLocked(probeKey{pod: pod, id: id, t: t})
}

func (m *probeManager) resultLocked(key probeKey) probeResult {
	if r, ok := m.results[key]; ok {
		return r
	}
	return key.t.initial()
}

// hasStarted reports whether instance id of c passed its startup probe, if
// it has one.
func (m *probeManager) hasStarted(pod types.UID, id string, c *corev1.Container) bool {
	return c.StartupProbe == nil || m.result(pod, id, probeStartup) == resultSuccess
}

// ready reports whether instance id of c passed its readiness probe, if
// it has one.
func (m *probeManager) ready(pod types.UID, id string, c *corev1.Container) bool {
	return c.ReadinessProbe == nil || m.result(pod, id, probeReadiness) == resultSuccess
}

// probedContainer is a container probes may run in: an app container or a
// sidecar (restartable init container).
type probedContainer struct {
	spec *corev1.Container
	kind containerKind
}

func probedContainers(pod *corev1.Pod) []probedContainer {
	var out []probedContainer
	for i := range pod.Spec.InitContainers {
		if isSidecar(&pod.Spec.InitContainers[i]) {
			out = append(out, probedContainer{spec: &pod.Spec.InitContainers[i], kind: kindInit})
		}
	}
	for i := range pod.Spec.Containers {
		out = append(out, probedContainer{spec: &pod.Spec.Containers[i], kind: kindApp})
	}
	return out
}

// sync brings the pod's probe workers in line with its running
// containers. The workers outlive the sync whose ctx they inherit: they
// end when sync, removePod or stop ends them.
func (m *probeManager) sync(ctx context.Context, pod *corev1.Pod, rt *runtimePod, ips []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	want := map[probeKey]probeTarget{}
	running := map[string]bool{}
	for _, pc := range probedContainers(pod) {
		c := pc.spec
		st := rt.latest(c.Name)
		if st == nil || st.GetState() != runtimeapi.ContainerState_CONTAINER_RUNNING {
			continue
		}
		id := st.GetId()
		running[id] = true
		if c.LivenessProbe == nil && c.ReadinessProbe == nil && c.StartupProbe == nil {
			continue
		}
		t := probeTarget{
			handlerTarget: handlerTarget{pod: pod, container: c, id: id, ips: ips},
			kind:          pc.kind,
			startedAt:     nanoTime(st.GetStartedAt()),
		}
		t.adopted = t.startedAt.Before(m.started)
		if t.adopted && !m.knownLocked(pod.UID, id) {
			m.adoptLocked(pod, c.Name, id)
		}
		key := func(pt probeType) probeKey { return probeKey{pod: pod.UID, id: id, t: pt} }
		if c.StartupProbe != nil {
			switch m.resultLocked(key(probeStartup)) {
			case resultUnknown:
				want[key(probeStartup)] = t
				continue
			case resultFailure:
				// The sync kills it; nothing more to probe.
				continue
			}
		}
		if c.LivenessProbe != nil && m.resultLocked(key(probeLiveness)) != resultFailure {
			want[key(probeLiveness)] = t
		}
		if c.ReadinessProbe != nil {
			want[key(probeReadiness)] = t
		}
	}
	for key, w := range m.workers {
		if _, ok := want[key]; key.pod == pod.UID && !ok {
			w.cancel()
			delete(m.workers, key)
		}
	}
	for key := range m.results {
		if key.pod == pod.UID && !running[key.id] {
			delete(m.results, key)
		}
	}
	for key, t := range want {
		if m.workers[key] == nil {
			m.startLocked(ctx, key, t)
		}
	}
}

// knownLocked reports whether the manager holds anything of instance id.
func (m *probeManager) knownLocked(pod types.UID, id string) bool {
	for key := range m.workers {
		if key.pod == pod && key.id == id {
			return true
		}
	}
	for key := range m.results {
		if key.pod == pod && key.id == id {
			return true
		}
	}
	return false
}

// adoptLocked carries over what the API last showed of a container this
// kubelet did not start (it ran before a restart): started and ready stay
// as they were until the probes say otherwise, so an agent restart
// neither re-runs startup probes nor turns ready pods unready.
func (m *probeManager) adoptLocked(pod *corev1.Pod, name, id string) {
	for _, s := range append(append([]corev1.ContainerStatus(nil), pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...) {
		if s.Name != name || s.ContainerID != runtimeName+"://"+id {
			continue
		}
		if s.Started != nil && *s.Started {
			m.results[probeKey{pod: pod.UID, id: id, t: probeStartup}] = resultSuccess
		}
		if s.Ready {
			m.results[probeKey{pod: pod.UID, id: id, t: probeReadiness}] = resultSuccess
		}
	}
}

// removePod stops the pod's workers and forgets its results.
func (m *probeManager) removePod(pod types.UID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for key, w := range m.workers {
		if key.pod == pod {
			w.cancel()
			delete(m.workers, key)
		}
	}
	for key := range m.results {
		if key.pod == pod {
			delete(m.results, key)
		}
	}
}

// stop ends every worker and waits for them; no sync may run meanwhile.
func (m *probeManager) stop() {
	m.mu.Lock()
	for key, w := range m.workers {
		w.cancel()
		delete(m.workers, key)
	}
	m.mu.Unlock()
	m.wg.Wait()
}

// set records a result that passed its threshold, unless w was stopped
// meanwhile, and tells the pod when it changed.
func (m *probeManager) set(w *probeWorker, r probeResult) {
	m.mu.Lock()
	if m.workers[w.key] != w {
		m.mu.Unlock()
		return
	}
	old := m.resultLocked(w.key)
	m.results[w.key] = r
	m.mu.Unlock()
	if old != r {
		m.changed(w.key.pod)
	}
}

// probeTarget is the container instance a worker probes.
type probeTarget struct {
	handlerTarget
	kind      containerKind
	startedAt time.Time
	// adopted: the container ran before this kubelet started.
	adopted bool
}

// probeWorker probes one container instance every period.
type probeWorker struct {
	m      *probeManager
	key    probeKey
	target probeTarget
	spec   corev1.Probe
	cancel context.CancelFunc

	// The rest belongs to the worker's goroutine once it runs.
	timer clock.Timer
	next  time.Time
	// last is the previous probe's result and run how many probes in a
	// row had it.
	last probeResult
	run  int
}

// startLocked starts the worker for key. The first probe comes once the
// initial delay after the container's start passed; an adopted container's
// comes at a random point of one period, so that the probes of every pod
// on the node do not all run at once after an agent restart.
func (m *probeManager) startLocked(ctx context.Context, key probeKey, t probeTarget) {
	w := &probeWorker{m: m, key: key, target: t, spec: withProbeDefaults(*key.t.of(t.container))}
	ctx, w.cancel = context.WithCancel(context.WithoutCancel(ctx))
	period := seconds(w.spec.PeriodSeconds)
	now := m.clock.Now()
	w.next = t.startedAt.Add(seconds(w.spec.InitialDelaySeconds))
	if w.next.Before(now) {
		w.next = now
	}
	if t.adopted {
		w.next = w.next.Add(rand.N(period))
	}
	// The first timer is armed here rather than in the goroutine: a test
	// stepping a fake clock right after the sync must not step past it.
	if w.next.After(now) {
		w.timer = m.clock.NewTimer(w.next.Sub(now))
	}
	m.workers[key] = w
	m.wg.Go(func() { w.loop(ctx) })
}

func withProbeDefaults(p corev1.Probe) corev1.Probe {
	if p.TimeoutSeconds <= 0 {
		p.TimeoutSeconds = defaultProbeTimeout
	}
	if p.PeriodSeconds <= 0 {
		p.PeriodSeconds = defaultProbePeriod
	}
	if p.SuccessThreshold <= 0 {
		p.SuccessThreshold = defaultProbeSuccessThreshold
	}
	if p.FailureThreshold <= 0 {
		p.FailureThreshold = defaultProbeFailureThreshold
	}
	return p
}

func seconds(n int32) time.Duration {
	return time.Duration(n) * time.Second
}

func (w *probeWorker) loop(ctx context.Context) {
	defer func() {
		if w.timer != nil {
			w.timer.Stop()
		}
	}()
	period := seconds(w.spec.PeriodSeconds)
	for {
		if w.timer != nil {
			select {
			case <-ctx.Done():
				return
			case <-w.timer.C():
			}
		}
		if ctx.Err() != nil {
			return
		}
		// The next round is armed before this one probes, so that whoever
		// sees the probe arrive may step a fake clock at once.
		now := w.m.clock.Now()
		for !w.next.After(now) {
			w.next = w.next.Add(period)
		}
		if w.timer == nil {
			w.timer = w.m.clock.NewTimer(w.next.Sub(now))
		} else {
			w.timer.Reset(w.next.Sub(now))
		}
		if !w.probe(ctx) {
			return
		}
	}
}

// probe runs the probe once and records its result once it held for the
// threshold; it reports whether the worker goes on.
func (w *probeWorker) probe(ctx context.Context) bool {
	t := w.target
	ref := containerRef(t.pod, t.container, t.kind)
	out, err := w.m.runner.probe(ctx, &w.spec, t.handlerTarget)
	if ctx.Err() != nil {
		// Stopped mid-probe: the answer is about a container being torn down.
		return false
	}
	if err != nil {
		w.m.log.Info("probe errored", "pod", podDesc(t.pod), "container", t.container.Name, "probe", w.key.t, "err", err)
		w.m.recorder.Eventf(ref, corev1.EventTypeWarning, "Unhealthy", "%s probe errored and resulted in unknown state: %v", w.key.t, err)
		return true
	}
	r := resultSuccess
	switch {
	case !out.ok:
		r = resultFailure
		w.m.recorder.Eventf(ref, corev1.EventTypeWarning, "Unhealthy", "%s probe failed: %s", w.key.t, out.output)
	case out.warning:
		w.m.recorder.Eventf(ref, corev1.EventTypeWarning, "ProbeWarning", "%s probe warning: %s", w.key.t, out.output)
	}
	if r == w.last {
		w.run++
	} else {
		w.last, w.run = r, 1
	}
	if (r == resultFailure && w.run < int(w.spec.FailureThreshold)) || (r == resultSuccess && w.run < int(w.spec.SuccessThreshold)) {
		return true
	}
	w.m.set(w, r)
	switch {
	case w.key.t == probeStartup:
		// Started, or doomed: either way the question is answered.
		return false
	case w.key.t == probeLiveness && r == resultFailure:
		// The sync kills the container; probing it while it stops only
		// adds noise.
		return false
	}
	return true
}
