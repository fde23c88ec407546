package scheduler

import (
	"container/heap"
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"
)

// Where a queued pod currently is.
const (
	inActive = iota
	inBackoff
	inUnschedulable
	inFlight
)

// queuedPod is a pending pod with its scheduling history.
type queuedPod struct {
	pod      *corev1.Pod
	key      string
	attempts int
	// added orders pods of equal priority: earlier first.
	added        time.Time
	backoffUntil time.Time
	parkedAt     time.Time // when it entered the unschedulable set
	// cycle is the scheduling cycle that popped it; a move request in or
	// after that cycle means the failure may already be stale.
	cycle int64
	// updated marks a pod changed while in flight, so a failure computed
	// from the old spec does not park it.
	updated bool
	// podSensitive marks a failure a new or relabelled bound pod may cure
	// (inter-pod affinity, topology spread).
	podSensitive bool
	where        int
	heapIndex    int
}

// schedulingQueue holds unbound pods: an active heap by priority then
// age, a backoff heap by expiry, and a set of unschedulable pods waiting
// for a cluster event. Nothing polls: a flusher sleeps until the next
// backoff expiry, and Pop sleeps until a pod is active.
type schedulingQueue struct {
	clock            clock.Clock
	initialBackoff   time.Duration
	maxBackoff       time.Duration
	maxUnschedulable time.Duration

	mu            sync.Mutex
	active        podHeap
	backoff       podHeap
	unschedulable map[string]*queuedPod
	// sensitive is the subset of unschedulable that pod events may cure.
	sensitive  map[string]*queuedPod
	pods       map[string]*queuedPod
	schedCycle int64
	// parkDue is when the longest parked pod must be retried anyway.
	parkDue   time.Time
	moveCycle int64

	popWake   chan struct{}
	flushWake chan struct{}
}

func newSchedulingQueue(clk clock.Clock, initial, maxB, maxUnsched time.Duration) *schedulingQueue {
	return &schedulingQueue{
		clock:            clk,
		initialBackoff:   initial,
		maxBackoff:       maxB,
		maxUnschedulable: maxUnsched,
		active:           podHeap{less: activeLess},
		backoff:          podHeap{less: backoffLess},
		unschedulable:    make(map[string]*queuedPod),
		sensitive:        make(map[string]*queuedPod),
		pods:             make(map[string]*queuedPod),
		popWake:          make(chan struct{}, 1),
		flushWake:        make(chan struct{}, 1),
	}
}

func activeLess(a, b *queuedPod) bool {
	pa, pb := podPriority(a.pod), podPriority(b.pod)
	if pa != pb {
		return pa > pb
	}
	return a.added.Before(b.added)
}

func backoffLess(a, b *queuedPod) bool { return a.backoffUntil.Before(b.backoffUntil) }

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Add enqueues a new pending pod or refreshes a known one. When specChanged,
// a pod parked as unschedulable gets another chance, since the change may
// be what it needed; a status-only update (often the scheduler's own
// write) does not.
func (q *schedulingQueue) Add(pod *corev1.Pod, specChanged bool) {
	key := pod.Namespace + "/" + pod.Name
	q.mu.Lock()
	defer q.mu.Unlock()
	qp, ok := q.pods[key]
	if !ok {
		qp = &queuedPod{pod: pod, key: key, added: q.clock.Now()}
		q.pods[key] = qp
		q.pushActive(qp)
		return
	}
	qp.pod = pod
	switch qp.where {
	case inFlight:
		qp.updated = qp.updated || specChanged
	case inActive:
		heap.Fix(&q.active, qp.heapIndex)
	case inUnschedulable:
		if specChanged {
			q.unpark(qp)
			q.activateOrBackoff(qp)
		}
	}
}

func (q *schedulingQueue) unpark(qp *queuedPod) {
	delete(q.unschedulable, qp.key)
	delete(q.sensitive, qp.key)
}

// Delete forgets a pod that was deleted or got bound.
func (q *schedulingQueue) Delete(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	qp, ok := q.pods[key]
	if !ok {
		return
	}
	delete(q.pods, key)
	switch qp.where {
	case inActive:
		heap.Remove(&q.active, qp.heapIndex)
	case inBackoff:
		heap.Remove(&q.backoff, qp.heapIndex)
	case inUnschedulable:
		q.unpark(qp)
	}
}

// Pop blocks until a pod is active or ctx ends.
func (q *schedulingQueue) Pop(ctx context.Context) (*queuedPod, bool) {
	for {
		q.mu.Lock()
		if q.active.Len() > 0 {
			qp := heap.Pop(&q.active).(*queuedPod)
			qp.where = inFlight
			qp.updated = false
			qp.attempts++
			q.schedCycle++
			qp.cycle = q.schedCycle
			pod := qp.pod
			q.mu.Unlock()
			return &queuedPod{pod: pod, key: qp.key, attempts: qp.attempts, cycle: qp.cycle}, true
		}
		q.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, false
		case <-q.popWake:
		}
	}
}

// Done drops a pod that was scheduled.
func (q *schedulingQueue) Done(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if qp, ok := q.pods[key]; ok && qp.where == inFlight {
		delete(q.pods, key)
	}
}

// Requeue returns a popped pod after a failed attempt: unschedulable pods
// wait for a cluster event unless one arrived while they were being
// scheduled; errors back off and retry on their own.
func (q *schedulingQueue) Requeue(key string, unschedulable, podSensitive bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	qp, ok := q.pods[key]
	if !ok || qp.where != inFlight {
		return
	}
	now := q.clock.Now()
	qp.podSensitive = podSensitive
	qp.backoffUntil = now.Add(q.backoffDuration(qp.attempts))
	if unschedulable && q.moveCycle < qp.cycle && !qp.updated {
		qp.where = inUnschedulable
		qp.parkedAt = now
		q.unschedulable[key] = qp
		if podSensitive {
			q.sensitive[key] = qp
		}
		if due := now.Add(q.maxUnschedulable); q.parkDue.IsZero() || due.Before(q.parkDue) {
			q.parkDue = due
		}
		signal(q.flushWake)
		return
	}
	q.pushBackoff(qp)
}

// MoveAllToActive gives every unschedulable pod another chance after a
// cluster event that may have made room; each still honours its backoff.
func (q *schedulingQueue) MoveAllToActive() { q.move(false) }

// MovePodSensitive is MoveAllToActive for the pods whose failure depended
// on other pods' labels or placement; a bound pod appearing cannot help
// the others.
func (q *schedulingQueue) MovePodSensitive() { q.move(true) }

func (q *schedulingQueue) move(onlyPodSensitive bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !onlyPodSensitive {
		q.moveCycle = q.schedCycle
	}
	set := q.unschedulable
	if onlyPodSensitive {
		set = q.sensitive
	}
	for _, qp := range set {
		q.unpark(qp)
		q.activateOrBackoff(qp)
	}
}

// AddBackoff re-enqueues a pod whose binding failed after it had left the
// queue; it retries after the initial backoff.
func (q *schedulingQueue) AddBackoff(pod *corev1.Pod) {
	key := pod.Namespace + "/" + pod.Name
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, ok := q.pods[key]; ok {
		return
	}
	now := q.clock.Now()
	qp := &queuedPod{pod: pod, key: key, added: now, attempts: 1, backoffUntil: now.Add(q.initialBackoff)}
	q.pods[key] = qp
	q.pushBackoff(qp)
}

// activateOrBackoff moves qp to the active heap unless its backoff is
// still running.
func (q *schedulingQueue) activateOrBackoff(qp *queuedPod) {
	if q.clock.Now().Before(qp.backoffUntil) {
		q.pushBackoff(qp)
		return
	}
	q.pushActive(qp)
}

func (q *schedulingQueue) pushActive(qp *queuedPod) {
	qp.where = inActive
	heap.Push(&q.active, qp)
	signal(q.popWake)
}

func (q *schedulingQueue) pushBackoff(qp *queuedPod) {
	qp.where = inBackoff
	heap.Push(&q.backoff, qp)
	signal(q.flushWake)
}

// backoffDuration doubles from the initial backoff per attempt, capped.
func (q *schedulingQueue) backoffDuration(attempts int) time.Duration {
	d := q.initialBackoff
	for i := 1; i < attempts; i++ {
		if d >= q.maxBackoff/2 {
			return q.maxBackoff
		}
		d *= 2
	}
	return min(d, q.maxBackoff)
}

// flush moves pods whose backoff expired to the active heap, and pods
// parked too long to active or backoff (a safety net for missed events).
// It returns when the next flush is due, or zero if nothing waits.
func (q *schedulingQueue) flush() time.Duration {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.clock.Now()
	for q.backoff.Len() > 0 && !now.Before(q.backoff.items[0].backoffUntil) {
		q.pushActive(heap.Pop(&q.backoff).(*queuedPod))
	}
	// Scanning the parked pods is only needed once the earliest of them
	// is due; until then the cached deadline stands.
	if !q.parkDue.IsZero() && !now.Before(q.parkDue) {
		q.parkDue = time.Time{}
		for _, qp := range q.unschedulable {
			due := qp.parkedAt.Add(q.maxUnschedulable)
			if !now.Before(due) {
				q.unpark(qp)
				q.activateOrBackoff(qp)
				continue
			}
			if q.parkDue.IsZero() || due.Before(q.parkDue) {
				q.parkDue = due
			}
		}
	}
	next := q.parkDue
	if q.backoff.Len() > 0 {
		if b := q.backoff.items[0].backoffUntil; next.IsZero() || b.Before(next) {
			next = b
		}
	}
	if next.IsZero() {
		return 0
	}
	return next.Sub(now)
}

// runFlusher sleeps until the next backoff or parking deadline, or until
// the queue changes, until ctx ends.
func (q *schedulingQueue) runFlusher(ctx context.Context) {
	for {
		wait := q.flush()
		var timer clock.Timer
		var fire <-chan time.Time
		if wait > 0 {
			timer = q.clock.NewTimer(wait)
			fire = timer.C()
		}
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return
		case <-fire:
		case <-q.flushWake:
			if timer != nil {
				timer.Stop()
			}
		}
	}
}

// Len reports the number of pods in each part, for tests and logs.
func (q *schedulingQueue) Len() (active, backoff, unschedulable int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.active.Len(), q.backoff.Len(), len(q.unschedulable)
}

// podHeap is a binary heap of queued pods that tracks their positions.
type podHeap struct {
	items []*queuedPod
	less  func(a, b *queuedPod) bool
}

func (h *podHeap) Len() int           { return len(h.items) }
func (h *podHeap) Less(i, j int) bool { return h.less(h.items[i], h.items[j]) }
func (h *podHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].heapIndex = i
	h.items[j].heapIndex = j
}
func (h *podHeap) Push(x any) {
	qp := x.(*queuedPod)
	qp.heapIndex = len(h.items)
	h.items = append(h.items, qp)
}
func (h *podHeap) Pop() any {
	last := len(h.items) - 1
	qp := h.items[last]
	h.items[last] = nil
	h.items = h.items[:last]
	return qp
}
