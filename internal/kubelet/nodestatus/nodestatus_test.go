package nodestatus

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func TestNewValidatesConfig(t *testing.T) {
	long := strings.Repeat("a", 64)
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
	}{
		{"no node name", func(c *Config) { c.NodeName = "" }},
		{"invalid node name", func(c *Config) { c.NodeName = "Node_1" }},
		{"invalid label key", func(c *Config) { c.Labels = map[string]string{"a b": "c"} }},
		{"invalid label value", func(c *Config) { c.Labels = map[string]string{"a": "b c"} }},
		{"hostname too long for its label", func(c *Config) {
			c.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: long}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			tc.mutate(&cfg)
			if _, err := New(nil, fake.NewClientset(), readyInfo, nil, cfg); !errors.Is(err, ErrConfig) {
				t.Errorf("err %v, want ErrConfig", err)
			}
		})
	}
	if _, err := New(nil, nil, readyInfo, nil, testConfig()); !errors.Is(err, ErrConfig) {
		t.Errorf("no client: err %v, want ErrConfig", err)
	}
}

func TestNewAppliesDefaults(t *testing.T) {
	a, err := New(nil, fake.NewClientset(), readyInfo, nil, Config{NodeName: testNode})
	if err != nil {
		t.Fatal(err)
	}
	c := a.cfg
	if c.MaxPods != 110 || c.LeaseDuration != 40*time.Second || c.RenewInterval != 10*time.Second ||
		c.StatusUpdateFrequency != 10*time.Second || c.StatusReportFrequency != 5*time.Minute ||
		c.DataDir != "/" || c.KubeletVersion == "" {
		t.Errorf("defaults not applied: %+v", c)
	}
	if h := c.labels()[corev1.LabelHostname]; h != testNode {
		t.Errorf("hostname label %q without a Hostname address, want the node name", h)
	}
}

func readyInfo(context.Context) (RuntimeStatus, error) { return readyRuntime(), nil }

// TestRunRenewsLeaseWhileStatusIsStuck runs the agent on the fake clock with
// a runtime that hangs after registration: the status loop is stuck, and the
// Lease must be renewed on time regardless.
func TestRunRenewsLeaseWhileStatusIsStuck(t *testing.T) {
	h := newHarness(t, testConfig())
	h.rt.gate = make(chan struct{})
	leaseWrites := make(chan *coordinationv1.Lease, 10)
	h.client.PrependReactor("*", "leases", func(action k8stesting.Action) (bool, runtime.Object, error) {
		// Creates and updates both carry the object written.
		if a, ok := action.(interface{ GetObject() runtime.Object }); ok {
			leaseWrites <- a.GetObject().(*coordinationv1.Lease).DeepCopy()
		}
		return false, nil, nil
	})

	ctx, cancel := context.WithCancel(h.ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.a.Run(ctx) }()

	wait(t, h.a.Registered(), "registration")
	if n := h.node(); len(n.Status.Conditions) != 4 {
		t.Errorf("registered node has conditions %v, want 4", n.Status.Conditions)
	}
	first := wait(t, leaseWrites, "lease create")
	if !first.Spec.RenewTime.Time.Equal(testStart) {
		t.Errorf("lease created with renew time %v, want %v", first.Spec.RenewTime, testStart)
	}
	for i := 1; i <= 3; i++ {
		h.clock.Step(10 * time.Second)
		l := wait(t, leaseWrites, "lease renewal")
		if want := testStart.Add(time.Duration(i) * 10 * time.Second); !l.Spec.RenewTime.Time.Equal(want) {
			t.Errorf("renewal %d at %v, want %v", i, l.Spec.RenewTime, want)
		}
	}
	if w := h.statusWrites(); w != 0 {
		t.Errorf("%d status writes while the runtime hangs, want 0", w)
	}

	close(h.rt.gate)
	cancel()
	if err := wait(t, done, "Run to return"); err != nil {
		t.Errorf("Run: %v", err)
	}
}

func TestRunReturnsWhenCanceledBeforeRegistering(t *testing.T) {
	h := newHarness(t, testConfig())
	h.client.PrependReactor("create", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("connection refused")
	})
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan error, 1)
	go func() { done <- h.a.Run(ctx) }()
	cancel()
	if err := wait(t, done, "Run to return"); err != nil {
		t.Errorf("Run: %v", err)
	}
	select {
	case <-h.a.Registered():
		t.Error("Registered closed without a Node")
	default:
	}
}
