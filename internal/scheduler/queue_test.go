package scheduler

import (
	"context"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

func newTestQueue(clk *clocktesting.FakeClock) *schedulingQueue {
	return newSchedulingQueue(clk, time.Second, 10*time.Second, 5*time.Minute)
}

func popName(t *testing.T, q *schedulingQueue) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	qp, ok := q.Pop(ctx)
	if !ok {
		t.Fatal("Pop timed out")
	}
	return qp.pod.Name
}

func TestQueueOrder(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(1000, 0))
	q := newTestQueue(clk)
	q.Add(pod("old-low", "", "", priority(1)), true)
	clk.Step(time.Second)
	q.Add(pod("new-high", "", "", priority(5)), true)
	clk.Step(time.Second)
	q.Add(pod("newer-low", "", "", priority(1)), true)
	for _, want := range []string{"new-high", "old-low", "newer-low"} {
		if got := popName(t, q); got != want {
			t.Fatalf("popped %s, want %s", got, want)
		}
	}
}

func TestQueueBackoff(t *testing.T) {
	cases := []struct {
		name     string
		attempts int
		want     time.Duration
	}{
		{"first failure", 1, time.Second},
		{"second", 2, 2 * time.Second},
		{"third", 3, 4 * time.Second},
		{"fourth", 4, 8 * time.Second},
		{"capped", 5, 10 * time.Second},
		{"stays capped", 20, 10 * time.Second},
	}
	q := newTestQueue(clocktesting.NewFakeClock(time.Now()))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := q.backoffDuration(tc.attempts); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestQueueUnschedulableWaitsForEvent checks that a parked pod is not
// retried by time alone, moves on a cluster event, and still honours its
// backoff when the event arrives early.
func TestQueueUnschedulableWaitsForEvent(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(1000, 0))
	q := newTestQueue(clk)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go q.runFlusher(ctx)

	q.Add(pod("p", "", ""), true)
	popName(t, q)
	q.Requeue("default/p", true, false)
	if a, b, u := q.Len(); a != 0 || b != 0 || u != 1 {
		t.Fatalf("after failure: active=%d backoff=%d unschedulable=%d", a, b, u)
	}

	// An event during the 1s backoff sends the pod to the backoff heap.
	q.MoveAllToActive()
	if a, b, u := q.Len(); a != 0 || b != 1 || u != 0 {
		t.Fatalf("after event: active=%d backoff=%d unschedulable=%d", a, b, u)
	}
	waitFor(t, func() bool { return clk.HasWaiters() })
	clk.Step(time.Second)
	waitFor(t, func() bool { a, _, _ := q.Len(); return a == 1 })
	popName(t, q)

	// Status-only updates do not wake a parked pod; spec changes do.
	q.Requeue("default/p", true, false)
	clk.Step(time.Minute)
	q.Add(pod("p", "", ""), false)
	if _, _, u := q.Len(); u != 1 {
		t.Fatal("status-only update woke the pod")
	}
	q.Add(pod("p", "", ""), true)
	waitFor(t, func() bool { a, _, _ := q.Len(); return a == 1 })
}

func TestQueueEventDuringAttempt(t *testing.T) {
	q := newTestQueue(clocktesting.NewFakeClock(time.Unix(1000, 0)))
	q.Add(pod("p", "", ""), true)
	popName(t, q)
	q.MoveAllToActive() // e.g. a node was added while p was being scheduled
	q.Requeue("default/p", true, false)
	if _, b, u := q.Len(); b != 1 || u != 0 {
		t.Fatalf("backoff=%d unschedulable=%d, want the pod in backoff", b, u)
	}
}

func TestQueuePodSensitiveMove(t *testing.T) {
	q := newTestQueue(clocktesting.NewFakeClock(time.Unix(1000, 0)))
	q.Add(pod("res", "", ""), true)
	q.Add(pod("aff", "", ""), true)
	popName(t, q)
	popName(t, q)
	q.Requeue("default/res", true, false)
	q.Requeue("default/aff", true, true)
	q.MovePodSensitive()
	if _, b, u := q.Len(); b != 1 || u != 1 {
		t.Fatalf("backoff=%d unschedulable=%d", b, u)
	}
}

func TestQueueMaxUnschedulable(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(1000, 0))
	q := newTestQueue(clk)
	q.Add(pod("p", "", ""), true)
	popName(t, q)
	q.Requeue("default/p", true, false)
	if d := q.flush(); d != 5*time.Minute {
		t.Fatalf("next flush in %v, want 5m", d)
	}
	clk.Step(5 * time.Minute)
	q.flush()
	if a, _, _ := q.Len(); a != 1 {
		t.Fatal("parked pod not retried after the maximum wait")
	}
}

func TestQueueDelete(t *testing.T) {
	q := newTestQueue(clocktesting.NewFakeClock(time.Unix(1000, 0)))
	q.Add(pod("a", "", ""), true)
	q.Add(pod("b", "", ""), true)
	q.Delete("default/a")
	if got := popName(t, q); got != "b" {
		t.Fatalf("popped %s", got)
	}
	// A pod deleted while in flight is not requeued.
	q.Delete("default/b")
	q.Requeue("default/b", true, false)
	if a, b, u := q.Len(); a+b+u != 0 {
		t.Fatalf("deleted pod requeued: %d %d %d", a, b, u)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met")
		}
		time.Sleep(time.Millisecond)
	}
}
