package nodestatus

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// statusUpdateAttempts is how often one status update tries to read and
// write the Node before waiting for the next period, as upstream's kubelet.
const statusUpdateAttempts = 5

// observation is one reading of the host and the runtime; a nil reading
// could not be taken and leaves what the Node reports as it was.
type observation struct {
	now        time.Time
	cpus       int
	sys        *systemInfo
	mem        *memoryInfo
	fs         *fsInfo
	procs      *processInfo
	runtime    RuntimeStatus
	runtimeErr error
}

func (a *Agent) observe(ctx context.Context) observation {
	o := observation{now: a.clock.Now(), cpus: a.host.numCPU()}
	if s, err := a.host.system(); err != nil {
		a.log.Warn("read system info", "err", err)
	} else {
		o.sys = &s
	}
	if m, err := a.host.memory(); err != nil {
		a.log.Warn("read memory", "err", err)
	} else {
		o.mem = &m
	}
	if f, err := a.host.filesystem(a.cfg.DataDir); err != nil {
		a.log.Warn("read data filesystem", "err", err)
	} else {
		o.fs = &f
	}
	if p, err := a.host.processes(); err != nil {
		a.log.Warn("read process count", "err", err)
	} else {
		o.procs = &p
	}
	if o.runtime, o.runtimeErr = a.runtime(ctx); o.runtimeErr != nil {
		a.log.Warn("container runtime status", "err", o.runtimeErr)
	}
	return o
}

// syncStatus computes the status over the Node as the API has it and writes
// it when it changed, or when the last write is StatusReportFrequency old.
//
// The write is an UpdateStatus carrying the resourceVersion read, not a
// patch: nodes/status ignores spec and metadata, so nothing others own is
// overwritten, and a write that raced another (say the lifecycle controller
// marking the node Unknown) fails with a conflict and is recomputed over
// the newer Node.
func (a *Agent) syncStatus(ctx context.Context) (ready bool, err error) {
	o := a.observe(ctx)
	for attempt := range statusUpdateAttempts {
		if ready, err = a.tryUpdateStatus(ctx, o, attempt == 0); err == nil || ctx.Err() != nil {
			return ready, err
		}
		a.log.Debug("update node status", "attempt", attempt+1, "err", err)
	}
	return false, fmt.Errorf("node %q: %d attempts: %w", a.cfg.NodeName, statusUpdateAttempts, err)
}

// tryUpdateStatus writes the node's status if it changed or is due, and
// tells whether it says Ready.
func (a *Agent) tryUpdateStatus(ctx context.Context, o observation, first bool) (bool, error) {
	opts := metav1.GetOptions{}
	if first {
		// The API server's cache usually has the latest Node; a stale copy
		// costs a conflict and a fresh read.
		opts.ResourceVersion = "0"
	}
	node, err := a.client.CoreV1().Nodes().Get(ctx, a.cfg.NodeName, opts)
	if err != nil {
		return false, fmt.Errorf("get node: %w", err)
	}
	updated := node.DeepCopy()
	a.setStatus(&updated.Status, o)
	ready := isReady(&updated.Status)
	if o.now.Before(a.lastReport.Add(a.cfg.StatusReportFrequency)) && !statusChanged(&node.Status, &updated.Status) {
		return ready, nil
	}
	if _, err := a.client.CoreV1().Nodes().UpdateStatus(ctx, updated, metav1.UpdateOptions{}); err != nil {
		return false, fmt.Errorf("write node status: %w", err)
	}
	a.lastReport = o.now
	return ready, nil
}

func isReady(s *corev1.NodeStatus) bool {
	for _, c := range s.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// statusChanged compares two statuses but for the conditions' heartbeat
// times, which change on every update.
func statusChanged(old, cur *corev1.NodeStatus) bool {
	a, b := old.DeepCopy(), cur.DeepCopy()
	for _, s := range []*corev1.NodeStatus{a, b} {
		for i := range s.Conditions {
			s.Conditions[i].LastHeartbeatTime = metav1.Time{}
		}
	}
	return !apiequality.Semantic.DeepEqual(a, b)
}
