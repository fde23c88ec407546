package deployment

import (
	"context"
	"fmt"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
)

// rolloutRolling moves one step of a rolling update: grow the new
// ReplicaSet within maxSurge, or else shrink old ones without dropping
// below spec.replicas - maxUnavailable available pods.
func (dc *Controller) rolloutRolling(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) error {
	newRS, oldRSs, err := dc.getAllReplicaSetsAndSyncRevision(ctx, d, rsList, true)
	if err != nil {
		return err
	}
	allRSs := append(append([]*appsv1.ReplicaSet(nil), oldRSs...), newRS)

	scaledUp, err := dc.reconcileNewReplicaSet(ctx, allRSs, newRS, d)
	if err != nil {
		return err
	}
	if scaledUp {
		return dc.syncRolloutStatus(ctx, allRSs, newRS, d)
	}

	scaledDown, err := dc.reconcileOldReplicaSets(ctx, allRSs, filterActive(oldRSs), newRS, d)
	if err != nil {
		return err
	}
	if scaledDown {
		return dc.syncRolloutStatus(ctx, allRSs, newRS, d)
	}

	if deploymentComplete(d, &d.Status) {
		if err := dc.cleanupDeployment(ctx, oldRSs, d); err != nil {
			return err
		}
	}
	return dc.syncRolloutStatus(ctx, allRSs, newRS, d)
}

// reconcileNewReplicaSet scales the new ReplicaSet toward spec.replicas as
// far as the surge allows, and reports whether it scaled.
func (dc *Controller) reconcileNewReplicaSet(ctx context.Context, allRSs []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, d *appsv1.Deployment) (bool, error) {
	switch {
	case *newRS.Spec.Replicas == *d.Spec.Replicas:
		return false, nil
	case *newRS.Spec.Replicas > *d.Spec.Replicas:
		scaled, _, err := dc.scaleReplicaSetAndRecordEvent(ctx, newRS, *d.Spec.Replicas, d)
		return scaled, err
	}
	size, err := newRSNewReplicas(d, allRSs, newRS)
	if err != nil {
		return false, fmt.Errorf("deployment %s/%s: %w", d.Namespace, d.Name, err)
	}
	scaled, _, err := dc.scaleReplicaSetAndRecordEvent(ctx, newRS, size, d)
	return scaled, err
}

// reconcileOldReplicaSets scales old ReplicaSets down as far as
// availability allows, unhealthy replicas first, and reports whether it
// scaled anything.
func (dc *Controller) reconcileOldReplicaSets(ctx context.Context, allRSs, oldRSs []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, d *appsv1.Deployment) (bool, error) {
	if specReplicas(oldRSs) == 0 {
		return false, nil
	}
	minAvailable := *d.Spec.Replicas - maxUnavailable(d)
	newRSUnavailable := *newRS.Spec.Replicas - newRS.Status.AvailableReplicas
	// Unavailable pods of the new ReplicaSet count against the budget: an
	// old replica may only go when the total stays above minAvailable even
	// if none of the new pods ever become available.
	maxScaledDown := specReplicas(allRSs) - minAvailable - newRSUnavailable
	if maxScaledDown <= 0 {
		return false, nil
	}
	oldRSs, cleaned, err := dc.cleanupUnhealthyReplicas(ctx, oldRSs, d, maxScaledDown)
	if err != nil {
		return false, err
	}
	allRSs = append(append([]*appsv1.ReplicaSet(nil), oldRSs...), newRS)
	scaledDown, err := dc.scaleDownOldReplicaSetsForRollingUpdate(ctx, allRSs, oldRSs, d)
	if err != nil {
		return false, err
	}
	return cleaned+scaledDown > 0, nil
}

// cleanupUnhealthyReplicas removes up to maxCleanup replicas that are not
// available from old ReplicaSets, oldest first: they serve nobody, so
// removing them costs no availability.
func (dc *Controller) cleanupUnhealthyReplicas(ctx context.Context, oldRSs []*appsv1.ReplicaSet, d *appsv1.Deployment, maxCleanup int32) ([]*appsv1.ReplicaSet, int32, error) {
	sort.Sort(byCreationTimestamp(oldRSs))
	var total int32
	for i, rs := range oldRSs {
		if total >= maxCleanup {
			break
		}
		if *rs.Spec.Replicas == 0 || *rs.Spec.Replicas == rs.Status.AvailableReplicas {
			continue
		}
		n := min(maxCleanup-total, *rs.Spec.Replicas-rs.Status.AvailableReplicas)
		if n < 0 {
			// More available than desired: nothing unhealthy to remove.
			continue
		}
		_, updated, err := dc.scaleReplicaSetAndRecordEvent(ctx, rs, *rs.Spec.Replicas-n, d)
		if err != nil {
			return nil, total, err
		}
		total += n
		oldRSs[i] = updated
	}
	return oldRSs, total, nil
}

// keptAvailable counts the available replicas each ReplicaSet keeps: no
// more than its desired count. Right after this controller scaled a set
// down, its status still counts the pods its controller is about to
// delete; counting those as available would let the next sync scale down
// again and drop below minAvailable. (Upstream sums the status alone.)
func keptAvailable(rss []*appsv1.ReplicaSet) int32 {
	return sumReplicas(rss, func(rs *appsv1.ReplicaSet) int32 { return min(rs.Status.AvailableReplicas, *rs.Spec.Replicas) })
}

// scaleDownOldReplicaSetsForRollingUpdate removes available old replicas,
// oldest ReplicaSet first, while more than minAvailable pods are available.
func (dc *Controller) scaleDownOldReplicaSetsForRollingUpdate(ctx context.Context, allRSs, oldRSs []*appsv1.ReplicaSet, d *appsv1.Deployment) (int32, error) {
	minAvailable := *d.Spec.Replicas - maxUnavailable(d)
	available := keptAvailable(allRSs)
	if available <= minAvailable {
		return 0, nil
	}
	sort.Sort(byCreationTimestamp(oldRSs))
	want := available - minAvailable
	var total int32
	for _, rs := range oldRSs {
		if total >= want {
			break
		}
		if *rs.Spec.Replicas == 0 {
			continue
		}
		n := min(*rs.Spec.Replicas, want-total)
		if _, _, err := dc.scaleReplicaSetAndRecordEvent(ctx, rs, *rs.Spec.Replicas-n, d); err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}
