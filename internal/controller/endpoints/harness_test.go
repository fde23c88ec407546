package endpoints

import (
	"testing"

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
