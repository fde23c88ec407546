package integration

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/controller/manager"
	"github.com/skiff-sh/skiff/internal/server"
)

// TestLeaderElection runs two servers on one etcd: only the lease holder
// runs the controllers, and the other takes over when the holder stops.
func TestLeaderElection(t *testing.T) {
	etcd := []string{startExternalEtcd(t)}
	fast := func(identity string) serverOption {
		return withControllerConfig(server.ControllerConfig{Manager: manager.Config{
			Identity: identity, LeaseDuration: 2 * time.Second, RenewDeadline: time.Second, RetryPeriod: 200 * time.Millisecond,
		}})
	}
	a := startServer(t, t.TempDir(), withExternalEtcd(etcd), fast("server-a"))
	holder := func() (string, error) {
		l, err := a.client.CoordinationV1().Leases("kube-system").Get(testContext(t), "skiff-controller-manager", metav1.GetOptions{})
		if err != nil || l.Spec.HolderIdentity == nil {
			return "", err
		}
		return *l.Spec.HolderIdentity, nil
	}
	eventually(t, 20*time.Second, "server-a leads", func() (bool, error) {
		h, err := holder()
		return h == "server-a", err
	})
	b := startServer(t, t.TempDir(), withExternalEtcd(etcd), fast("server-b"))
	time.Sleep(time.Second) // several retry periods: b must not take the lease from a live leader
	if h, err := holder(); err != nil || h != "server-a" {
		t.Fatalf("lease holder = %q (%v) while server-a runs, want server-a", h, err)
	}
	a.stop()
	eventually(t, 20*time.Second, "server-b takes over", func() (bool, error) {
		l, err := b.client.CoordinationV1().Leases("kube-system").Get(testContext(t), "skiff-controller-manager", metav1.GetOptions{})
		if err != nil || l.Spec.HolderIdentity == nil {
			return false, err
		}
		return *l.Spec.HolderIdentity == "server-b", nil
	})
}
