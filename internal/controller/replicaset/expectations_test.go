package replicaset

import (
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

func TestExpectations(t *testing.T) {
	const key = "ns/rs"
	tests := []struct {
		name  string
		steps func(e *expectations, c *clocktesting.FakeClock)
		want  bool
	}{
		{name: "unknown key", steps: func(*expectations, *clocktesting.FakeClock) {}, want: true},
		{name: "creations outstanding", steps: func(e *expectations, _ *clocktesting.FakeClock) {
			e.expectCreations(key, 2)
			e.creationObserved(key)
		}, want: false},
		{name: "creations all observed", steps: func(e *expectations, _ *clocktesting.FakeClock) {
			e.expectCreations(key, 2)
			e.creationObserved(key)
			e.creationObserved(key)
		}, want: true},
		{name: "deletion seen twice counts once", steps: func(e *expectations, _ *clocktesting.FakeClock) {
			e.expectDeletions(key, []string{"ns/a", "ns/b"})
			e.deletionObserved(key, "ns/a")
			e.deletionObserved(key, "ns/a")
		}, want: false},
		{name: "deletions all observed", steps: func(e *expectations, _ *clocktesting.FakeClock) {
			e.expectDeletions(key, []string{"ns/a", "ns/b"})
			e.deletionObserved(key, "ns/b")
			e.deletionObserved(key, "ns/a")
		}, want: true},
		{name: "expired record", steps: func(e *expectations, c *clocktesting.FakeClock) {
			e.expectCreations(key, 3)
			c.Step(expectationsTTL + time.Second)
		}, want: true},
		{name: "forgotten", steps: func(e *expectations, _ *clocktesting.FakeClock) {
			e.expectCreations(key, 3)
			e.forget(key)
		}, want: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			e := newExpectations(c)
			tc.steps(e, c)
			if got := e.satisfied(key); got != tc.want {
				t.Errorf("satisfied = %v, want %v", got, tc.want)
			}
		})
	}
}
