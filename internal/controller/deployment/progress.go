package deployment

import (
	"context"
	"fmt"
	"reflect"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// syncRolloutStatus writes the status of a rollout in flight, including
// the Progressing condition kubectl rollout status watches: complete,
// progressing, or past spec.progressDeadlineSeconds.
func (dc *Controller) syncRolloutStatus(ctx context.Context, allRSs []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, d *appsv1.Deployment) error {
	st := dc.calculateStatus(allRSs, newRS, d)
	if !hasProgressDeadline(d) {
		removeCondition(&st, appsv1.DeploymentProgressing)
	}
	cur := getCondition(d.Status, appsv1.DeploymentProgressing)
	complete := st.Replicas == st.UpdatedReplicas && cur != nil && cur.Reason == reasonNewRSAvailable
	if hasProgressDeadline(d) && !complete {
		dc.setProgressing(d, &st, newRS, cur)
	}
	// Surface the first ReplicaSet failure (quota, admission) on the
	// Deployment, preferring the new ReplicaSet's.
	if failures := replicaFailures(allRSs, newRS); len(failures) > 0 {
		setCondition(&st, failures[0])
	} else {
		removeCondition(&st, appsv1.DeploymentReplicaFailure)
	}
	if reflect.DeepEqual(d.Status, st) {
		dc.requeueStuckDeployment(d, st)
		return nil
	}
	d.Status = st
	return dc.writeStatus(ctx, d)
}

// setProgressing updates the Progressing condition in st.
func (dc *Controller) setProgressing(d *appsv1.Deployment, st *appsv1.DeploymentStatus, newRS *appsv1.ReplicaSet, cur *appsv1.DeploymentCondition) {
	now := dc.clock.Now()
	subject := func(verb string) string {
		if newRS != nil {
			return fmt.Sprintf("ReplicaSet %q %s", newRS.Name, verb)
		}
		return fmt.Sprintf("Deployment %q %s", d.Name, verb)
	}
	switch {
	case deploymentComplete(d, st):
		setCondition(st, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue,
			reasonNewRSAvailable, subject("has successfully progressed."), now))
	case deploymentProgressing(d, st):
		c := newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue,
			reasonRSUpdated, subject("is progressing."), now)
		// Progress refreshes lastUpdateTime, which restarts the deadline,
		// even when the reason stays the same.
		if cur != nil {
			if cur.Status == corev1.ConditionTrue {
				c.LastTransitionTime = cur.LastTransitionTime
			}
			removeCondition(st, appsv1.DeploymentProgressing)
		}
		setCondition(st, c)
	case dc.deploymentTimedOut(d, st):
		setCondition(st, newCondition(appsv1.DeploymentProgressing, corev1.ConditionFalse,
			reasonTimedOut, subject("has timed out progressing."), now))
	}
}

// deploymentProgressing reports whether st shows progress over d's stored
// status: more updated, ready or available pods, or fewer old ones.
func deploymentProgressing(d *appsv1.Deployment, st *appsv1.DeploymentStatus) bool {
	old := d.Status
	oldOld := old.Replicas - old.UpdatedReplicas
	newOld := st.Replicas - st.UpdatedReplicas
	return st.UpdatedReplicas > old.UpdatedReplicas || newOld < oldOld ||
		st.ReadyReplicas > old.ReadyReplicas || st.AvailableReplicas > old.AvailableReplicas
}

// deploymentTimedOut reports whether the Progressing condition in st has
// not moved for longer than spec.progressDeadlineSeconds.
func (dc *Controller) deploymentTimedOut(d *appsv1.Deployment, st *appsv1.DeploymentStatus) bool {
	if !hasProgressDeadline(d) {
		return false
	}
	c := getCondition(*st, appsv1.DeploymentProgressing)
	if c == nil {
		return false
	}
	switch c.Reason {
	case reasonNewRSAvailable:
		return false
	case reasonTimedOut:
		return true
	}
	deadline := c.LastUpdateTime.Add(time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second)
	return deadline.Before(dc.clock.Now())
}

// requeueStuckDeployment schedules a recheck for when a rollout without
// progress would pass its deadline; nothing else would wake it then.
func (dc *Controller) requeueStuckDeployment(d *appsv1.Deployment, st appsv1.DeploymentStatus) {
	cur := getCondition(d.Status, appsv1.DeploymentProgressing)
	if !hasProgressDeadline(d) || cur == nil {
		return
	}
	if deploymentComplete(d, &st) || cur.Reason == reasonTimedOut {
		return
	}
	after := cur.LastUpdateTime.Add(time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second).Sub(dc.clock.Now())
	if after < time.Second {
		dc.enqueueRateLimited(d)
		return
	}
	dc.enqueueAfter(d, after+time.Second)
}

// replicaFailures collects ReplicaFailure conditions, the new ReplicaSet's
// first.
func replicaFailures(allRSs []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) []appsv1.DeploymentCondition {
	var out []appsv1.DeploymentCondition
	collect := func(rs *appsv1.ReplicaSet) {
		for _, c := range rs.Status.Conditions {
			if c.Type == appsv1.ReplicaSetReplicaFailure {
				out = append(out, replicaSetFailure(c))
			}
		}
	}
	if newRS != nil {
		collect(newRS)
	}
	if len(out) > 0 {
		return out
	}
	for _, rs := range allRSs {
		if rs != nil {
			collect(rs)
		}
	}
	return out
}
