package endpointutil

import (
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/controller/podutil"
)

// TriggerTimes computes the endpoints.kubernetes.io/last-change-trigger-time
// annotation as upstream does: the time of the earliest pod readiness
// transition (or Service creation) that the coming write reflects, so that
// a watcher can measure how long a change took to reach the endpoints.
//
// Observe must not run concurrently for the same Service; the workqueue
// guarantees that for the controllers' syncs.
type TriggerTimes struct {
	mu       sync.Mutex
	services map[string]triggerState
}

type triggerState struct {
	service time.Time
	pods    map[string]time.Time
}

// NewTriggerTimes returns an empty tracker.
func NewTriggerTimes() *TriggerTimes {
	return &TriggerTimes{services: map[string]triggerState{}}
}

// Observe records the Service's pods as seen by this sync and returns the
// trigger time for its write: the Service's creation on its first sync, the
// earliest change since the previous sync afterwards, or zero when no change
// with a known time happened.
func (t *TriggerTimes) Observe(key string, svc *corev1.Service, pods []*corev1.Pod) time.Time {
	t.mu.Lock()
	prev, known := t.services[key]
	t.mu.Unlock()

	var earliest time.Time
	next := triggerState{service: svc.CreationTimestamp.Time, pods: make(map[string]time.Time, len(pods))}
	for _, p := range pods {
		c := podutil.ReadyCondition(p)
		if c == nil || c.LastTransitionTime.IsZero() {
			continue
		}
		at := c.LastTransitionTime.Time
		next.pods[p.Name] = at
		if at.After(prev.pods[p.Name]) {
			earliest = earlier(earliest, at)
		}
	}
	if next.service.After(prev.service) {
		earliest = earlier(earliest, next.service)
	}

	t.mu.Lock()
	t.services[key] = next
	t.mu.Unlock()
	if !known {
		return svc.CreationTimestamp.Time
	}
	return earliest
}

// Forget drops what was recorded for a Service that is gone.
func (t *TriggerTimes) Forget(key string) {
	t.mu.Lock()
	delete(t.services, key)
	t.mu.Unlock()
}

func earlier(cur, t time.Time) time.Time {
	if cur.IsZero() || t.Before(cur) {
		return t
	}
	return cur
}
