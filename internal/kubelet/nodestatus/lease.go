package nodestatus

import (
	"context"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinationclient "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/utils/ptr"
)

// leaseUpdateAttempts is how often one renewal tries to write the Lease, as
// upstream's lease controller.
const leaseUpdateAttempts = 5

// syncLease renews the Lease. It starts from the copy it last wrote, without
// a read, as upstream's lease controller does: nobody else writes this Lease,
// so that copy is almost always current. When that fails it reads the
// Lease, or creates it, and renews what it found.
func (a *Agent) syncLease(ctx context.Context) error {
	if a.lease != nil {
		err := a.updateLease(ctx, a.lease)
		if err == nil {
			return nil
		}
		a.log.Debug("renew lease from the last copy", "err", err)
	}
	lease, created, err := a.ensureLease(ctx)
	if err != nil {
		return err
	}
	a.lease = lease
	if created {
		return nil
	}
	return a.updateLease(ctx, lease)
}

func (a *Agent) leases() coordinationclient.LeaseInterface {
	return a.client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
}

// ensureLease returns the Lease, creating it when missing; created reports
// whether it did.
func (a *Agent) ensureLease(ctx context.Context) (lease *coordinationv1.Lease, created bool, err error) {
	lease, err = a.leases().Get(ctx, a.cfg.NodeName, metav1.GetOptions{})
	if err == nil {
		return lease, false, nil
	}
	if !apierrors.IsNotFound(err) {
		return nil, false, fmt.Errorf("get lease: %w", err)
	}
	lease = a.newLease(nil)
	// A Lease is only created owned by its Node, so that the garbage
	// collector removes it with the Node.
	owner, err := a.nodeOwner(ctx)
	if err != nil {
		return nil, false, err
	}
	lease.OwnerReferences = owner
	lease, err = a.leases().Create(ctx, lease, metav1.CreateOptions{})
	if err != nil {
		return nil, false, fmt.Errorf("create lease: %w", err)
	}
	return lease, true, nil
}

// updateLease renews base; a conflict re-reads the Lease and tries again.
func (a *Agent) updateLease(ctx context.Context, base *coordinationv1.Lease) error {
	var err error
	for range leaseUpdateAttempts {
		lease := a.newLease(base)
		if len(lease.OwnerReferences) == 0 {
			// Unlike a create, a renewal goes ahead without its owner: the
			// heartbeat matters more.
			if owner, oerr := a.nodeOwner(ctx); oerr == nil {
				lease.OwnerReferences = owner
			}
		}
		var out *coordinationv1.Lease
		if out, err = a.leases().Update(ctx, lease, metav1.UpdateOptions{}); err == nil {
			a.lease = out
			return nil
		}
		if ctx.Err() != nil {
			break
		}
		if apierrors.IsConflict(err) {
			fresh, created, eerr := a.ensureLease(ctx)
			if eerr != nil {
				return eerr
			}
			if created {
				a.lease = fresh
				return nil
			}
			base = fresh
		}
	}
	return fmt.Errorf("renew lease: %w", err)
}

// newLease is base, or a new Lease when base is nil, renewed now. The holder
// and duration are set on every renewal so that a restart with another
// duration takes effect.
func (a *Agent) newLease(base *coordinationv1.Lease) *coordinationv1.Lease {
	var lease *coordinationv1.Lease
	if base == nil {
		lease = &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: a.cfg.NodeName, Namespace: corev1.NamespaceNodeLease},
		}
	} else {
		lease = base.DeepCopy()
	}
	lease.Spec.HolderIdentity = ptr.To(a.cfg.NodeName)
	lease.Spec.LeaseDurationSeconds = ptr.To(int32((a.cfg.LeaseDuration + time.Second - 1) / time.Second))
	lease.Spec.RenewTime = &metav1.MicroTime{Time: a.clock.Now()}
	return lease
}

// nodeOwner is the owner reference of the Lease: the Node, as it exists now.
func (a *Agent) nodeOwner(ctx context.Context) ([]metav1.OwnerReference, error) {
	node, err := a.client.CoreV1().Nodes().Get(ctx, a.cfg.NodeName, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("get node for the lease owner: %w", err)
	}
	return []metav1.OwnerReference{{
		APIVersion: "v1",
		Kind:       "Node",
		Name:       node.Name,
		UID:        node.UID,
	}}, nil
}
