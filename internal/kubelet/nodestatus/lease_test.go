package nodestatus

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

var leasesGVR = coordinationv1.SchemeGroupVersion.WithResource("leases")

func (h *harness) lease() *coordinationv1.Lease {
	h.t.Helper()
	// Through the tracker, so that the test's reads are not among the
	// agent's actions.
	l, err := h.client.Tracker().Get(leasesGVR, corev1.NamespaceNodeLease, testNode)
	if err != nil {
		h.t.Fatalf("get lease: %v", err)
	}
	return l.(*coordinationv1.Lease)
}

func (h *harness) syncLease() {
	h.t.Helper()
	if err := h.a.syncLease(h.ctx); err != nil {
		h.t.Fatalf("sync lease: %v", err)
	}
}

func (h *harness) leaseActions(verb string) int {
	n := 0
	for _, act := range h.client.Actions() {
		if act.GetVerb() == verb && act.GetResource() == leasesGVR {
			n++
		}
	}
	return n
}

// checkLease checks the Lease names this node as holder and owner and was
// renewed now.
func (h *harness) checkLease(l *coordinationv1.Lease, duration int32) {
	h.t.Helper()
	wantSpec := coordinationv1.LeaseSpec{
		HolderIdentity:       ptr.To(testNode),
		LeaseDurationSeconds: ptr.To(duration),
		RenewTime:            &metav1.MicroTime{Time: h.clock.Now()},
	}
	if diff := cmp.Diff(wantSpec, l.Spec); diff != "" {
		h.t.Errorf("lease spec (-want +got):\n%s", diff)
	}
	wantOwner := []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: testNode, UID: testUID}}
	if diff := cmp.Diff(wantOwner, l.OwnerReferences); diff != "" {
		h.t.Errorf("lease owner (-want +got):\n%s", diff)
	}
}

func TestLeaseCreatedThenRenewed(t *testing.T) {
	for _, tc := range []struct {
		name     string
		duration time.Duration
		seconds  int32
	}{
		{"default duration", 0, 40},
		{"configured duration", 15 * time.Second, 15},
		{"fraction rounds up", 1500 * time.Millisecond, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.LeaseDuration = tc.duration
			h := newHarness(t, cfg)
			h.register()

			h.syncLease()
			l := h.lease()
			if l.Namespace != "kube-node-lease" || l.Name != testNode {
				t.Errorf("lease %s/%s, want kube-node-lease/%s", l.Namespace, l.Name, testNode)
			}
			h.checkLease(l, tc.seconds)

			for range 3 {
				h.clock.Step(10 * time.Second)
				h.syncLease()
				h.checkLease(h.lease(), tc.seconds)
			}
			if c, u := h.leaseActions("create"), h.leaseActions("update"); c != 1 || u != 3 {
				t.Errorf("%d creates and %d updates, want 1 and 3", c, u)
			}
			// Renewals start from the copy last written, without reading.
			if g := h.leaseActions("get"); g != 1 {
				t.Errorf("%d lease reads, want only the first", g)
			}
		})
	}
}

func TestLeaseRecreatedAfterDeletion(t *testing.T) {
	h := newHarness(t, testConfig())
	h.register()
	h.syncLease()
	if err := h.client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Delete(h.ctx, testNode, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.clock.Step(10 * time.Second)
	h.syncLease()
	h.checkLease(h.lease(), 40)
	if c := h.leaseActions("create"); c != 2 {
		t.Errorf("%d lease creates, want 2", c)
	}
}

func TestLeaseConflictReread(t *testing.T) {
	h := newHarness(t, testConfig())
	h.register()
	h.syncLease()
	conflicts := 1
	h.client.PrependReactor("update", "leases", func(k8stesting.Action) (bool, runtime.Object, error) {
		if conflicts == 0 {
			return false, nil, nil
		}
		conflicts--
		return true, nil, apierrors.NewConflict(leasesGVR.GroupResource(), testNode, errConflict)
	})
	h.clock.Step(10 * time.Second)
	h.syncLease()
	h.checkLease(h.lease(), 40)
	if g, u := h.leaseActions("get"), h.leaseActions("update"); g != 2 || u != 2 {
		t.Errorf("%d reads and %d updates, want a re-read after the conflict and a second update", g, u)
	}
}

func TestLeaseNotCreatedWithoutNode(t *testing.T) {
	h := newHarness(t, testConfig())
	if err := h.a.syncLease(h.ctx); !apierrors.IsNotFound(err) {
		t.Fatalf("err %v, want the Node not found", err)
	}
	if c := h.leaseActions("create"); c != 0 {
		t.Errorf("%d lease creates without an owner, want 0", c)
	}
}
