package deployment

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// syncDeployment reconciles the Deployment named by key.
func (dc *Controller) syncDeployment(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return fmt.Errorf("deployment key %q: %w", key, err)
	}
	cached, err := dc.dLister.Deployments(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get deployment %s: %w", key, err)
	}
	d := cached.DeepCopy()
	if d.Spec.Replicas == nil {
		// The API server defaults replicas; a missing value means 1 there.
		one := int32(1)
		d.Spec.Replicas = &one
	}

	if selectsEverything(d.Spec.Selector) {
		dc.recorder.Eventf(d, corev1.EventTypeWarning, "SelectingAll",
			"This deployment is selecting all pods. A non-empty selector is required.")
		if d.Status.ObservedGeneration < d.Generation {
			d.Status.ObservedGeneration = d.Generation
			return dc.writeStatus(ctx, d)
		}
		return nil
	}

	rsList, err := dc.replicaSetsForDeployment(ctx, d)
	if err != nil {
		return err
	}
	if d.DeletionTimestamp != nil {
		// The garbage collector removes the ReplicaSets; only report.
		return dc.syncStatusOnly(ctx, d, rsList)
	}
	if err := dc.checkPausedConditions(ctx, d); err != nil {
		return err
	}
	if d.Spec.Paused {
		return dc.sync(ctx, d, rsList)
	}
	scaling, err := dc.isScalingEvent(ctx, d, rsList)
	if err != nil {
		return err
	}
	if scaling {
		return dc.sync(ctx, d, rsList)
	}
	switch d.Spec.Strategy.Type {
	case appsv1.RecreateDeploymentStrategyType:
		return dc.rolloutRecreate(ctx, d, rsList)
	case appsv1.RollingUpdateDeploymentStrategyType:
		return dc.rolloutRolling(ctx, d, rsList)
	default:
		return fmt.Errorf("deployment %s: unexpected strategy type %q", key, d.Spec.Strategy.Type)
	}
}

// selectsEverything reports an empty selector, which would make the
// Deployment fight every other controller in its namespace.
func selectsEverything(sel *metav1.LabelSelector) bool {
	return sel == nil || (len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0)
}

// writeStatus stores d's status and revision annotation (the status
// subresource of apps kinds keeps annotation changes) and refreshes d with
// what the server returned, so later writes in the same sync do not conflict
// with this one.
func (dc *Controller) writeStatus(ctx context.Context, d *appsv1.Deployment) error {
	out, err := dc.client.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("update status of deployment %s/%s: %w", d.Namespace, d.Name, err)
	}
	replicas := d.Spec.Replicas
	out.DeepCopyInto(d)
	if d.Spec.Replicas == nil {
		d.Spec.Replicas = replicas
	}
	return nil
}

// checkPausedConditions flips the Progressing condition between paused and
// resumed, so the progress deadline does not run while a user holds the
// rollout.
func (dc *Controller) checkPausedConditions(ctx context.Context, d *appsv1.Deployment) error {
	if !hasProgressDeadline(d) {
		return nil
	}
	cond := getCondition(d.Status, appsv1.DeploymentProgressing)
	if cond != nil && cond.Reason == reasonTimedOut {
		// A timed-out rollout stays timed out until it progresses again.
		return nil
	}
	pausedCond := cond != nil && cond.Reason == reasonPaused
	switch {
	case d.Spec.Paused && !pausedCond:
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionUnknown,
			reasonPaused, "Deployment is paused", dc.clock.Now()))
	case !d.Spec.Paused && pausedCond:
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionUnknown,
			reasonResumed, "Deployment is resumed", dc.clock.Now()))
	default:
		return nil
	}
	return dc.writeStatus(ctx, d)
}

// sync handles a paused Deployment or a pure scaling event: it resizes the
// ReplicaSets without rolling anything out.
func (dc *Controller) sync(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) error {
	newRS, oldRSs, err := dc.getAllReplicaSetsAndSyncRevision(ctx, d, rsList, false)
	if err != nil {
		return err
	}
	if err := dc.scale(ctx, d, newRS, oldRSs); err != nil {
		return err
	}
	if d.Spec.Paused {
		if err := dc.cleanupDeployment(ctx, oldRSs, d); err != nil {
			return err
		}
	}
	return dc.syncDeploymentStatus(ctx, append(oldRSs, newRS), newRS, d)
}

// syncStatusOnly only refreshes the status, for a Deployment being deleted.
func (dc *Controller) syncStatusOnly(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) error {
	newRS, oldRSs, err := dc.getAllReplicaSetsAndSyncRevision(ctx, d, rsList, false)
	if err != nil {
		return err
	}
	return dc.syncDeploymentStatus(ctx, append(oldRSs, newRS), newRS, d)
}

// isScalingEvent reports whether spec.replicas moved away from the size the
// active ReplicaSets were last scaled for.
func (dc *Controller) isScalingEvent(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) (bool, error) {
	newRS, oldRSs, err := dc.getAllReplicaSetsAndSyncRevision(ctx, d, rsList, false)
	if err != nil {
		return false, err
	}
	for _, rs := range filterActive(append(oldRSs, newRS)) {
		desired, ok := int32Annotation(rs, DesiredReplicasAnnotation)
		if ok && desired != *d.Spec.Replicas {
			return true, nil
		}
	}
	return false, nil
}

// getAllReplicaSetsAndSyncRevision splits rsList into the new ReplicaSet
// (created when create is set and none matches the template) and the old
// ones, and brings the revision annotations up to date.
func (dc *Controller) getAllReplicaSetsAndSyncRevision(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet, create bool) (*appsv1.ReplicaSet, []*appsv1.ReplicaSet, error) {
	oldRSs := findOldReplicaSets(d, rsList)
	newRS, err := dc.getNewReplicaSet(ctx, d, rsList, oldRSs, create)
	if err != nil {
		return nil, nil, err
	}
	// Later steps of this sync reread rsList; give them the copy just
	// written so they do not repeat the write from a stale version.
	for i := range rsList {
		if newRS != nil && rsList[i].Name == newRS.Name {
			rsList[i] = newRS
		}
	}
	return newRS, oldRSs, nil
}

// getNewReplicaSet returns the ReplicaSet running d's current template. An
// existing one (say, the target of kubectl rollout undo) moves to the next
// revision; otherwise one is created when create is set.
func (dc *Controller) getNewReplicaSet(ctx context.Context, d *appsv1.Deployment, rsList, oldRSs []*appsv1.ReplicaSet, create bool) (*appsv1.ReplicaSet, error) {
	newRevision := strconv.FormatInt(maxRevision(oldRSs)+1, 10)
	if existing := findNewReplicaSet(d, rsList); existing != nil {
		return dc.syncExistingNewReplicaSet(ctx, d, existing, newRevision)
	}
	if !create {
		return nil, nil
	}
	return dc.createNewReplicaSet(ctx, d, oldRSs, newRevision)
}

func (dc *Controller) syncExistingNewReplicaSet(ctx context.Context, d *appsv1.Deployment, rs *appsv1.ReplicaSet, newRevision string) (*appsv1.ReplicaSet, error) {
	cp := rs.DeepCopy()
	annotationsChanged := setNewReplicaSetAnnotations(d, cp, newRevision, true)
	if annotationsChanged || cp.Spec.MinReadySeconds != d.Spec.MinReadySeconds {
		cp.Spec.MinReadySeconds = d.Spec.MinReadySeconds
		out, err := dc.client.AppsV1().ReplicaSets(cp.Namespace).Update(ctx, cp, metav1.UpdateOptions{})
		if err != nil {
			return nil, fmt.Errorf("update replica set %s/%s: %w", cp.Namespace, cp.Name, err)
		}
		return out, nil
	}
	needsUpdate := setDeploymentRevision(d, cp.Annotations[RevisionAnnotation])
	if hasProgressDeadline(d) && getCondition(d.Status, appsv1.DeploymentProgressing) == nil {
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue,
			reasonFoundNewRS, fmt.Sprintf("Found new replica set %q", cp.Name), dc.clock.Now()))
		needsUpdate = true
	}
	if needsUpdate {
		if err := dc.writeStatus(ctx, d); err != nil {
			return nil, err
		}
	}
	return cp, nil
}

// createNewReplicaSet creates "<deployment>-<hash>" for d's template. A
// foreign ReplicaSet already holding that name is a hash collision: the
// collision count is bumped so the next attempt hashes differently.
func (dc *Controller) createNewReplicaSet(ctx context.Context, d *appsv1.Deployment, oldRSs []*appsv1.ReplicaSet, newRevision string) (*appsv1.ReplicaSet, error) {
	template := d.Spec.Template.DeepCopy()
	hash := computeHash(template, d.Status.CollisionCount)
	template.Labels = cloneAndAddLabel(d.Spec.Template.Labels, appsv1.DefaultDeploymentUniqueLabelKey, hash)
	zero := int32(0)
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name:            d.Name + "-" + hash,
			Namespace:       d.Namespace,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(d, controllerKind)},
			Labels:          template.Labels,
		},
		Spec: appsv1.ReplicaSetSpec{
			Replicas:        &zero,
			MinReadySeconds: d.Spec.MinReadySeconds,
			Selector:        cloneSelectorAndAddLabel(d.Spec.Selector, appsv1.DefaultDeploymentUniqueLabelKey, hash),
			Template:        *template,
		},
	}
	replicas, err := newRSNewReplicas(d, append(oldRSs, rs), rs)
	if err != nil {
		return nil, fmt.Errorf("deployment %s/%s: %w", d.Namespace, d.Name, err)
	}
	rs.Spec.Replicas = &replicas
	setNewReplicaSetAnnotations(d, rs, newRevision, false)

	created, err := dc.client.AppsV1().ReplicaSets(d.Namespace).Create(ctx, rs, metav1.CreateOptions{})
	alreadyExists := false
	switch {
	case err == nil:
	case apierrors.IsAlreadyExists(err):
		alreadyExists = true
		existing, getErr := dc.rsLister.ReplicaSets(d.Namespace).Get(rs.Name)
		if getErr != nil {
			return nil, fmt.Errorf("get existing replica set %s/%s: %w", d.Namespace, rs.Name, getErr)
		}
		if ref := metav1.GetControllerOf(existing); ref != nil && ref.UID == d.UID &&
			equalIgnoreHash(&d.Spec.Template, &existing.Spec.Template) {
			// Our own creation, not yet seen by the informer.
			created = existing
			break
		}
		return nil, dc.recordCollision(ctx, d, rs.Name, err)
	case apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		return nil, err
	default:
		msg := fmt.Sprintf("Failed to create new replica set %q: %v", rs.Name, err)
		if hasProgressDeadline(d) {
			setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionFalse,
				reasonFailedRSCreate, msg, dc.clock.Now()))
			if werr := dc.writeStatus(ctx, d); werr != nil {
				dc.log.Debug("record replica set create failure", "deployment", d.Name, "err", werr)
			}
		}
		dc.recorder.Event(d, corev1.EventTypeWarning, reasonFailedRSCreate, msg)
		return nil, fmt.Errorf("create replica set %s/%s: %w", d.Namespace, rs.Name, err)
	}
	if !alreadyExists && replicas > 0 {
		dc.recorder.Eventf(d, corev1.EventTypeNormal, "ScalingReplicaSet",
			"Scaled up replica set %s from 0 to %d", created.Name, replicas)
	}
	needsUpdate := setDeploymentRevision(d, newRevision)
	if !alreadyExists && hasProgressDeadline(d) {
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue,
			reasonNewRSCreated, fmt.Sprintf("Created new replica set %q", created.Name), dc.clock.Now()))
		needsUpdate = true
	}
	if needsUpdate {
		if err := dc.writeStatus(ctx, d); err != nil {
			return nil, err
		}
	}
	return created, nil
}

// recordCollision bumps status.collisionCount and returns createErr so the
// Deployment is retried with a fresh hash.
func (dc *Controller) recordCollision(ctx context.Context, d *appsv1.Deployment, name string, createErr error) error {
	if d.Status.CollisionCount == nil {
		d.Status.CollisionCount = new(int32)
	}
	*d.Status.CollisionCount++
	if err := dc.writeStatus(ctx, d); err != nil {
		return err
	}
	dc.log.Info("replica set name collision", "deployment", d.Namespace+"/"+d.Name, "replicaSet", name,
		"collisionCount", *d.Status.CollisionCount)
	return fmt.Errorf("replica set %s/%s: hash collision: %w", d.Namespace, name, createErr)
}

// scale resizes the ReplicaSets after spec.replicas changed. With a single
// active ReplicaSet it takes the whole size; during a rolling update the
// change is spread over the active ReplicaSets in proportion to their size.
func (dc *Controller) scale(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet) error {
	if rs := findActiveOrLatest(newRS, oldRSs); rs != nil {
		if *rs.Spec.Replicas == *d.Spec.Replicas {
			return nil
		}
		_, _, err := dc.scaleReplicaSetAndRecordEvent(ctx, rs, *d.Spec.Replicas, d)
		return err
	}
	if isSaturated(d, newRS) {
		for _, old := range filterActive(oldRSs) {
			if _, _, err := dc.scaleReplicaSetAndRecordEvent(ctx, old, 0, d); err != nil {
				return err
			}
		}
		return nil
	}
	if !isRollingUpdate(d) {
		return nil
	}
	return dc.scaleProportionally(ctx, d, filterActive(append(oldRSs, newRS)))
}

func (dc *Controller) scaleProportionally(ctx context.Context, d *appsv1.Deployment, active []*appsv1.ReplicaSet) error {
	var allowed int32
	if *d.Spec.Replicas > 0 {
		allowed = *d.Spec.Replicas + maxSurge(d)
	}
	toAdd := allowed - specReplicas(active)
	op := ""
	switch {
	case toAdd > 0:
		sort.Sort(bySizeNewer(active))
		op = "up"
	case toAdd < 0:
		sort.Sort(bySizeOlder(active))
		op = "down"
	}
	sizes := make(map[string]int32, len(active))
	var added int32
	for _, rs := range active {
		p := proportion(rs, d, toAdd, added)
		sizes[rs.Name] = *rs.Spec.Replicas + p
		added += p
	}
	if toAdd != 0 && len(active) > 0 {
		// Rounding leftovers go to the largest ReplicaSet.
		first := active[0].Name
		sizes[first] = max(sizes[first]+toAdd-added, 0)
	}
	for _, rs := range active {
		if _, _, err := dc.scaleReplicaSet(ctx, rs, sizes[rs.Name], d, op); err != nil {
			return err
		}
	}
	return nil
}

// scaleReplicaSetAndRecordEvent resizes rs to size when it differs.
func (dc *Controller) scaleReplicaSetAndRecordEvent(ctx context.Context, rs *appsv1.ReplicaSet, size int32, d *appsv1.Deployment) (bool, *appsv1.ReplicaSet, error) {
	if *rs.Spec.Replicas == size {
		return false, rs, nil
	}
	op := "down"
	if *rs.Spec.Replicas < size {
		op = "up"
	}
	return dc.scaleReplicaSet(ctx, rs, size, d, op)
}

// scaleReplicaSet writes rs's size and replica annotations and reports a
// scaling event as kubectl describe shows it.
func (dc *Controller) scaleReplicaSet(ctx context.Context, rs *appsv1.ReplicaSet, size int32, d *appsv1.Deployment, op string) (bool, *appsv1.ReplicaSet, error) {
	sizeChanged := *rs.Spec.Replicas != size
	maxReplicas := *d.Spec.Replicas + maxSurge(d)
	if !sizeChanged && !replicasAnnotationsNeedUpdate(rs, *d.Spec.Replicas, maxReplicas) {
		return false, rs, nil
	}
	oldSize := *rs.Spec.Replicas
	cp := rs.DeepCopy()
	cp.Spec.Replicas = &size
	setReplicasAnnotations(cp, *d.Spec.Replicas, maxReplicas)
	out, err := dc.client.AppsV1().ReplicaSets(cp.Namespace).Update(ctx, cp, metav1.UpdateOptions{})
	if err != nil {
		return false, rs, fmt.Errorf("scale replica set %s/%s to %d: %w", rs.Namespace, rs.Name, size, err)
	}
	if sizeChanged {
		dc.recorder.Eventf(d, corev1.EventTypeNormal, "ScalingReplicaSet",
			"Scaled %s replica set %s from %d to %d", op, out.Name, oldSize, size)
	}
	return sizeChanged, out, nil
}

// cleanupDeployment deletes the oldest fully scaled-down ReplicaSets beyond
// spec.revisionHistoryLimit.
func (dc *Controller) cleanupDeployment(ctx context.Context, oldRSs []*appsv1.ReplicaSet, d *appsv1.Deployment) error {
	if !hasRevisionHistoryLimit(d) {
		return nil
	}
	var alive []*appsv1.ReplicaSet
	for _, rs := range oldRSs {
		if rs != nil && rs.DeletionTimestamp == nil {
			alive = append(alive, rs)
		}
	}
	diff := len(alive) - int(*d.Spec.RevisionHistoryLimit)
	if diff <= 0 {
		return nil
	}
	sort.Sort(byRevision(alive))
	for _, rs := range alive[:diff] {
		// Never delete a ReplicaSet that still has, or may still get, pods.
		if rs.Status.Replicas != 0 || *rs.Spec.Replicas != 0 || rs.Generation > rs.Status.ObservedGeneration {
			continue
		}
		err := dc.client.AppsV1().ReplicaSets(rs.Namespace).Delete(ctx, rs.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete old replica set %s/%s: %w", rs.Namespace, rs.Name, err)
		}
	}
	return nil
}

// syncDeploymentStatus writes the status computed from the ReplicaSets when
// it differs from the stored one.
func (dc *Controller) syncDeploymentStatus(ctx context.Context, allRSs []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, d *appsv1.Deployment) error {
	st := dc.calculateStatus(allRSs, newRS, d)
	if reflect.DeepEqual(d.Status, st) {
		return nil
	}
	d.Status = st
	return dc.writeStatus(ctx, d)
}

// calculateStatus derives the replica counts and the Available condition
// from the ReplicaSets; other conditions are carried over.
func (dc *Controller) calculateStatus(allRSs []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, d *appsv1.Deployment) appsv1.DeploymentStatus {
	available := availableReplicas(allRSs)
	total := statusReplicas(allRSs)
	st := appsv1.DeploymentStatus{
		ObservedGeneration:  d.Generation,
		Replicas:            total,
		UpdatedReplicas:     statusReplicas([]*appsv1.ReplicaSet{newRS}),
		ReadyReplicas:       readyReplicas(allRSs),
		AvailableReplicas:   available,
		UnavailableReplicas: max(total-available, 0),
		CollisionCount:      d.Status.CollisionCount,
	}
	st.Conditions = append(st.Conditions, d.Status.Conditions...)
	if available >= *d.Spec.Replicas-maxUnavailable(d) {
		setCondition(&st, newCondition(appsv1.DeploymentAvailable, corev1.ConditionTrue,
			reasonMinimumAvailable, "Deployment has minimum availability.", dc.clock.Now()))
	} else {
		setCondition(&st, newCondition(appsv1.DeploymentAvailable, corev1.ConditionFalse,
			reasonMinimumUnavailable, "Deployment does not have minimum availability.", dc.clock.Now()))
	}
	return st
}
