package endpointslice

import (
	"cmp"
	"slices"
	"testing"

	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/skiff-sh/skiff/internal/controller/endpointutil/endpointtest"
)

// harness runs the controller in an endpointtest.Env.
type harness struct {
	*endpointtest.Env
	c *Controller
}

func newHarness(t *testing.T, cfg Config, objs ...runtime.Object) *harness {
	t.Helper()
	return newHarnessClock(t, cfg, clocktesting.NewFakeClock(endpointtest.T0), objs...)
}

// newHarnessClock is newHarness with the workqueue on clk; a test that
// runs the workers needs a real clock for their retries to fire.
func newHarnessClock(t *testing.T, cfg Config, clk clock.WithTicker, objs ...runtime.Object) *harness {
	t.Helper()
	env := endpointtest.New(t, objs...)
	c, err := New(env.Context(clk), cfg)
	if err != nil {
		t.Fatalf("new controller: %v", err)
	}
	env.Start(c.sync)
	return &harness{Env: env, c: c}
}

// epState is the part of an endpoint most tests check.
type epState struct {
	ip, pod                     string
	ready, serving, terminating bool
}

func stateOf(ep discoveryv1.Endpoint) epState {
	st := epState{ip: ep.Addresses[0]}
	if ep.TargetRef != nil {
		st.pod = ep.TargetRef.Name
	}
	b := func(p *bool) bool { return p != nil && *p }
	st.ready, st.serving, st.terminating = b(ep.Conditions.Ready), b(ep.Conditions.Serving), b(ep.Conditions.Terminating)
	return st
}

// endpointsOf returns the endpoints of all stored slices, sorted by pod.
func endpointsOf(items []discoveryv1.EndpointSlice) []epState {
	var out []epState
	for _, s := range items {
		for _, ep := range s.Endpoints {
			out = append(out, stateOf(ep))
		}
	}
	slices.SortFunc(out, func(a, b epState) int { return cmp.Or(cmp.Compare(a.pod, b.pod), cmp.Compare(a.ip, b.ip)) })
	return out
}
