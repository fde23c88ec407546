package deployment

import (
	"context"
	"reflect"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
)

func TestNewDeploymentCreatesReplicaSet(t *testing.T) {
	h := newHarness(t)
	d := newDeployment("web", 3, "nginx:1")
	d.Annotations = map[string]string{"kubernetes.io/change-cause": "initial"}
	h.create(d)
	h.mustSync("web")

	rss := h.replicaSets()
	if len(rss) != 1 {
		t.Fatalf("replica sets = %d, want 1", len(rss))
	}
	rs := rss[0]
	hash := rs.Labels[appsv1.DefaultDeploymentUniqueLabelKey]
	checks := []struct {
		name      string
		got, want any
	}{
		{"hash label set", hash != "", true},
		{"name", rs.Name, "web-" + hash},
		{"template hash label", rs.Spec.Template.Labels[appsv1.DefaultDeploymentUniqueLabelKey], hash},
		{"selector hash label", rs.Spec.Selector.MatchLabels[appsv1.DefaultDeploymentUniqueLabelKey], hash},
		{"revision", rs.Annotations[RevisionAnnotation], "1"},
		{"desired-replicas", rs.Annotations[DesiredReplicasAnnotation], "3"},
		{"max-replicas", rs.Annotations[MaxReplicasAnnotation], "4"},
		{"change-cause copied", rs.Annotations["kubernetes.io/change-cause"], "initial"},
		{"replicas", *rs.Spec.Replicas, int32(3)},
		{"controlled by deployment", metav1.IsControlledBy(rs, d), true},
		{"deployment revision", h.deployment("web").Annotations[RevisionAnnotation], "1"},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if c.got != c.want {
				t.Errorf("got %v, want %v", c.got, c.want)
			}
		})
	}
	if ev := h.events(); !hasEvent(ev, "Normal ScalingReplicaSet Scaled up replica set "+rs.Name+" from 0 to 3") {
		t.Errorf("events = %q, want scale-up event", ev)
	}
}

func TestStatusForRolloutStatus(t *testing.T) {
	h := newHarness(t)
	h.create(newDeployment("web", 2, "nginx:1"))
	h.mustSync("web")

	d := h.deployment("web")
	if rolloutDone(d) {
		t.Fatalf("rollout done before any pod is available: %+v", d.Status)
	}
	if c := getCondition(d.Status, appsv1.DeploymentAvailable); c == nil || c.Reason != reasonMinimumUnavailable {
		t.Errorf("Available = %+v, want MinimumReplicasUnavailable", c)
	}
	if c := getCondition(d.Status, appsv1.DeploymentProgressing); c == nil || c.Reason != reasonNewRSCreated && c.Reason != reasonRSUpdated {
		t.Errorf("Progressing = %+v, want NewReplicaSetCreated", c)
	}

	h.settle()
	h.mustSync("web")
	d = h.deployment("web")
	want := appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2}
	got := d.Status
	got.Conditions = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("status = %+v, want %+v", got, want)
	}
	if !rolloutDone(d) {
		t.Errorf("rollout not done")
	}
	conds := []struct {
		typ    appsv1.DeploymentConditionType
		status corev1.ConditionStatus
		reason string
	}{
		{appsv1.DeploymentAvailable, corev1.ConditionTrue, reasonMinimumAvailable},
		{appsv1.DeploymentProgressing, corev1.ConditionTrue, reasonNewRSAvailable},
	}
	for _, c := range conds {
		t.Run(string(c.typ), func(t *testing.T) {
			got := getCondition(d.Status, c.typ)
			if got == nil || got.Status != c.status || got.Reason != c.reason {
				t.Errorf("condition = %+v, want %s/%s", got, c.status, c.reason)
			}
		})
	}
}

// TestRollingUpdateBounds walks a rolling update of 4 replicas with
// maxSurge=1 and maxUnavailable=1, checking the bounds after every step.
func TestRollingUpdateBounds(t *testing.T) {
	h := newHarness(t)
	d := newDeployment("web", 4, "nginx:1")
	one := intstr.FromInt32(1)
	d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: &one, MaxUnavailable: &one}
	h.create(d)
	h.rollOut("web")
	h.events()

	h.edit("web", setImage("nginx:2"))
	h.mustSync("web")
	oldRS, newRS := h.rsByImage("nginx:1"), h.rsByImage("nginx:2")
	if newRS == nil {
		t.Fatalf("no new replica set")
	}
	if got := newRS.Annotations[RevisionAnnotation]; got != "2" {
		t.Errorf("new revision = %q, want 2", got)
	}
	if *newRS.Spec.Replicas != 1 || *oldRS.Spec.Replicas != 3 {
		t.Errorf("after first step old=%d new=%d, want 3 and 1", *oldRS.Spec.Replicas, *newRS.Spec.Replicas)
	}

	// New pods that never become available hold the rollout: the old
	// ReplicaSet may not drop below minAvailable = 3.
	h.setRSStatus(oldRS, 3, 3)
	h.setRSStatus(newRS, 1, 0)
	for range 3 {
		h.mustSync("web")
		h.checkBounds(t, 4, 1, 1)
	}
	oldRS, newRS = h.rsByImage("nginx:1"), h.rsByImage("nginx:2")
	if *oldRS.Spec.Replicas != 3 || *newRS.Spec.Replicas != 2 {
		t.Errorf("held rollout old=%d new=%d, want 3 and 2", *oldRS.Spec.Replicas, *newRS.Spec.Replicas)
	}

	for range 20 {
		h.settle()
		h.mustSync("web")
		h.checkBounds(t, 4, 1, 1)
		if rolloutDone(h.deployment("web")) {
			break
		}
	}
	oldRS, newRS = h.rsByImage("nginx:1"), h.rsByImage("nginx:2")
	if *oldRS.Spec.Replicas != 0 || *newRS.Spec.Replicas != 4 {
		t.Errorf("final old=%d new=%d, want 0 and 4", *oldRS.Spec.Replicas, *newRS.Spec.Replicas)
	}
	dep := h.deployment("web")
	if !rolloutDone(dep) || dep.Annotations[RevisionAnnotation] != "2" {
		t.Errorf("deployment not complete at revision 2: %+v %v", dep.Status, dep.Annotations)
	}
	ev := h.events()
	if !hasEvent(ev, "Scaled down replica set "+oldRS.Name) || !hasEvent(ev, "Scaled up replica set "+newRS.Name) {
		t.Errorf("events = %q", ev)
	}
}

// checkBounds asserts the rolling update invariants on the stored state:
// no more than replicas+surge pods asked for, and never fewer than
// replicas-unavailable pods available.
func (h *harness) checkBounds(t *testing.T, replicas, surge, unavailable int32) {
	t.Helper()
	rss := h.replicaSets()
	if got := specReplicas(rss); got > replicas+surge {
		t.Errorf("total desired replicas %d > %d", got, replicas+surge)
	}
	// The ReplicaSet controller may remove pods the spec no longer asks
	// for; what it may keep is min(spec, available).
	var avail int32
	for _, rs := range rss {
		avail += min(*rs.Spec.Replicas, rs.Status.AvailableReplicas)
	}
	if avail < replicas-unavailable {
		t.Errorf("available replicas %d < %d", avail, replicas-unavailable)
	}
}

func TestRecreateOrder(t *testing.T) {
	h := newHarness(t)
	d := newDeployment("web", 2, "nginx:1")
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	h.create(d)
	h.rollOut("web")
	oldRS := h.rsByImage("nginx:1")
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: "web-old", Namespace: ns, Labels: map[string]string{"app": "web"},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(oldRS, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))},
		},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
	if _, err := h.client.CoreV1().Pods(ns).Create(h.ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	h.edit("web", setImage("nginx:2"))
	steps := []struct {
		name    string
		before  func()
		wantOld int32
		wantNew int32 // -1: no new ReplicaSet yet
	}{
		{"old scaled to zero first", nil, 0, -1},
		{"waits while old replica set reports pods", nil, 0, -1},
		{"waits while an old pod exists", func() { h.setRSStatus(oldRS, 0, 0) }, 0, -1},
		{"new scaled up once old pods are gone", func() {
			if err := h.client.CoreV1().Pods(ns).Delete(h.ctx, pod.Name, metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
		}, 0, 2},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if s.before != nil {
				s.before()
			}
			h.mustSync("web")
			if got := *h.rsByImage("nginx:1").Spec.Replicas; got != s.wantOld {
				t.Errorf("old replicas = %d, want %d", got, s.wantOld)
			}
			newRS := h.rsByImage("nginx:2")
			switch {
			case s.wantNew < 0 && newRS != nil:
				t.Errorf("new replica set %s exists too early", newRS.Name)
			case s.wantNew >= 0 && newRS == nil:
				t.Errorf("no new replica set")
			case s.wantNew >= 0 && *newRS.Spec.Replicas != s.wantNew:
				t.Errorf("new replicas = %d, want %d", *newRS.Spec.Replicas, s.wantNew)
			}
		})
	}
}

// TestRollbackReusesReplicaSet does what kubectl rollout undo does: patch
// the template back to an old ReplicaSet's and let the controller promote
// that ReplicaSet to the next revision.
func TestRollbackReusesReplicaSet(t *testing.T) {
	h := newHarness(t)
	h.create(newDeployment("web", 2, "nginx:1"))
	h.rollOut("web")
	h.edit("web", setImage("nginx:2"))
	h.rollOut("web")
	h.edit("web", setImage("nginx:3"))
	h.rollOut("web")
	v1 := h.rsByImage("nginx:1")

	h.edit("web", func(d *appsv1.Deployment) {
		d.Spec.Template = *v1.Spec.Template.DeepCopy()
		delete(d.Spec.Template.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	})
	h.rollOut("web")

	if n := len(h.replicaSets()); n != 3 {
		t.Errorf("replica sets = %d, want 3 (no new one for a rollback)", n)
	}
	v1 = h.rsByImage("nginx:1")
	checks := []struct{ name, got, want string }{
		{"revision bumped", v1.Annotations[RevisionAnnotation], "4"},
		{"history kept", v1.Annotations[RevisionHistoryAnnotation], "1"},
		{"deployment revision", h.deployment("web").Annotations[RevisionAnnotation], "4"},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if c.got != c.want {
				t.Errorf("got %q, want %q", c.got, c.want)
			}
		})
	}
	if *v1.Spec.Replicas != 2 || *h.rsByImage("nginx:3").Spec.Replicas != 0 {
		t.Errorf("rollback did not move the pods back to the old replica set")
	}
}

func TestPauseBlocksRolloutButNotScaling(t *testing.T) {
	h := newHarness(t)
	h.create(newDeployment("web", 3, "nginx:1"))
	h.rollOut("web")

	h.edit("web", func(d *appsv1.Deployment) { d.Spec.Paused = true })
	h.mustSync("web")
	if c := getCondition(h.deployment("web").Status, appsv1.DeploymentProgressing); c == nil || c.Reason != reasonPaused {
		t.Errorf("Progressing = %+v, want DeploymentPaused", c)
	}

	h.edit("web", func(d *appsv1.Deployment) {
		d.Spec.Template.Spec.Containers[0].Image = "nginx:2"
		five := int32(5)
		d.Spec.Replicas = &five
	})
	h.mustSync("web")
	if h.rsByImage("nginx:2") != nil {
		t.Fatalf("new replica set created while paused")
	}
	if got := *h.rsByImage("nginx:1").Spec.Replicas; got != 5 {
		t.Errorf("replicas while paused = %d, want 5", got)
	}

	h.edit("web", func(d *appsv1.Deployment) { d.Spec.Paused = false })
	h.mustSync("web")
	if h.rsByImage("nginx:2") == nil {
		t.Fatalf("no rollout after resume")
	}
	h.rollOut("web")
	if c := getCondition(h.deployment("web").Status, appsv1.DeploymentProgressing); c == nil || c.Reason != reasonNewRSAvailable {
		t.Errorf("Progressing after resume = %+v, want NewReplicaSetAvailable", c)
	}
}

func TestResumedCondition(t *testing.T) {
	h := newHarness(t)
	d := newDeployment("web", 1, "nginx:1")
	d.Spec.Paused = true
	h.create(d)
	h.mustSync("web")
	if len(h.replicaSets()) != 0 {
		t.Fatalf("paused new deployment created a replica set")
	}
	h.edit("web", func(d *appsv1.Deployment) { d.Spec.Paused = false })
	if err := h.sync("web"); err != nil {
		t.Fatal(err)
	}
	h.waitCaches()
	c := getCondition(h.deployment("web").Status, appsv1.DeploymentProgressing)
	if c == nil || (c.Reason != reasonResumed && c.Reason != reasonNewRSCreated) {
		t.Errorf("Progressing = %+v, want DeploymentResumed or NewReplicaSetCreated", c)
	}
}

func TestProgressDeadlineExceeded(t *testing.T) {
	h := newHarness(t)
	d := newDeployment("web", 2, "nginx:1")
	deadline := int32(30)
	d.Spec.ProgressDeadlineSeconds = &deadline
	h.create(d)
	h.mustSync("web")
	// No pod ever becomes available.
	h.setRSStatus(h.rsByImage("nginx:1"), 2, 0)
	h.mustSync("web")
	if c := getCondition(h.deployment("web").Status, appsv1.DeploymentProgressing); c == nil || c.Status != corev1.ConditionTrue {
		t.Fatalf("Progressing before deadline = %+v", c)
	}

	// Without progress the controller must come back on its own once the
	// deadline passes.
	h.mustSync("web")
	for h.dc.queue.Len() > 0 {
		k, _ := h.dc.queue.Get()
		h.dc.queue.Done(k)
	}
	h.clock.Step(time.Duration(deadline+2) * time.Second)
	err := wait.PollUntilContextTimeout(h.ctx, time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) {
		return h.dc.queue.Len() > 0, nil
	})
	if err != nil {
		t.Errorf("deployment was not requeued for its deadline")
	}

	h.mustSync("web")
	c := getCondition(h.deployment("web").Status, appsv1.DeploymentProgressing)
	if c == nil || c.Status != corev1.ConditionFalse || c.Reason != reasonTimedOut {
		t.Fatalf("Progressing = %+v, want False/ProgressDeadlineExceeded", c)
	}

	// Progress after the timeout clears it.
	h.settle()
	h.mustSync("web")
	c = getCondition(h.deployment("web").Status, appsv1.DeploymentProgressing)
	if c == nil || c.Status != corev1.ConditionTrue {
		t.Errorf("Progressing after recovery = %+v", c)
	}
}

func TestRevisionHistoryLimit(t *testing.T) {
	h := newHarness(t)
	d := newDeployment("web", 1, "img:1")
	limit := int32(1)
	d.Spec.RevisionHistoryLimit = &limit
	h.create(d)
	h.rollOut("web")
	for _, img := range []string{"img:2", "img:3", "img:4"} {
		h.edit("web", setImage(img))
		h.rollOut("web")
		h.mustSync("web")
	}
	var images []string
	for _, rs := range h.replicaSets() {
		images = append(images, rs.Spec.Template.Spec.Containers[0].Image)
	}
	if len(images) != 2 || images[0] != "img:3" || images[1] != "img:4" {
		t.Errorf("kept replica sets = %v, want [img:3 img:4]", images)
	}
}

func TestScalingProportional(t *testing.T) {
	h := newHarness(t)
	d := newDeployment("web", 10, "img:1")
	three, two := intstr.FromInt32(3), intstr.FromInt32(2)
	d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: &three, MaxUnavailable: &two}
	h.create(d)
	h.rollOut("web")
	h.edit("web", setImage("img:2"))
	h.mustSync("web") // new RS at 3, old down to 8 once the budget allows
	total := specReplicas(h.replicaSets())

	h.edit("web", func(d *appsv1.Deployment) {
		twenty := int32(20)
		d.Spec.Replicas = &twenty
	})
	h.mustSync("web")
	got := specReplicas(h.replicaSets())
	if got != 23 {
		t.Errorf("total after scaling to 20 = %d (was %d), want 23 = 20 + surge", got, total)
	}
	for _, rs := range h.replicaSets() {
		if *rs.Spec.Replicas > 0 && rs.Annotations[DesiredReplicasAnnotation] != "20" {
			t.Errorf("%s desired-replicas = %q, want 20", rs.Name, rs.Annotations[DesiredReplicasAnnotation])
		}
	}
}

func TestSelectingAll(t *testing.T) {
	h := newHarness(t)
	d := newDeployment("web", 1, "img:1")
	d.Spec.Selector = &metav1.LabelSelector{}
	d.Generation = 3
	h.create(d)
	h.mustSync("web")
	if n := len(h.replicaSets()); n != 0 {
		t.Errorf("replica sets = %d, want 0", n)
	}
	if got := h.deployment("web").Status.ObservedGeneration; got != 3 {
		t.Errorf("observedGeneration = %d, want 3", got)
	}
	if ev := h.events(); !hasEvent(ev, "Warning SelectingAll") {
		t.Errorf("events = %q, want SelectingAll", ev)
	}
}

func TestHashCollision(t *testing.T) {
	d := newDeployment("web", 1, "img:1")
	hash := computeHash(&d.Spec.Template, nil)
	foreign := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web-" + hash, Namespace: ns, UID: "foreign",
			Labels: map[string]string{"app": "other"}},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: new(int32),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "other"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "other"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "other"}}},
			},
		},
	}
	h := newHarness(t, foreign)
	h.create(d)
	if err := h.sync("web"); err == nil {
		t.Fatalf("sync over a colliding name succeeded")
	}
	h.waitCaches()
	if cc := h.deployment("web").Status.CollisionCount; cc == nil || *cc != 1 {
		t.Fatalf("collisionCount = %v, want 1", cc)
	}
	h.mustSync("web")
	rs := h.rsByImage("img:1")
	if rs == nil || rs.Name == foreign.Name || !metav1.IsControlledBy(rs, d) {
		t.Errorf("replica set after collision = %+v", rs)
	}
}

func TestAdoptAndRelease(t *testing.T) {
	d := newDeployment("web", 1, "img:1")
	orphan := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "orphan", Namespace: ns, UID: "orphan",
			Labels: map[string]string{"app": "web"}, CreationTimestamp: metav1.NewTime(epoch)},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: new(int32),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: *d.Spec.Template.DeepCopy(),
		},
	}
	stray := orphan.DeepCopy()
	stray.Name, stray.UID = "stray", "stray"
	stray.Labels = map[string]string{"app": "elsewhere"}
	stray.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(d, controllerKind)}
	h := newHarness(t, orphan, stray, d)
	h.mustSync("web")

	cases := []struct {
		name       string
		rs         string
		controlled bool
	}{
		{"matching orphan adopted", "orphan", true},
		{"non-matching owned released", "stray", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rs, err := h.client.AppsV1().ReplicaSets(ns).Get(h.ctx, c.rs, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := metav1.IsControlledBy(rs, d); got != c.controlled {
				t.Errorf("controlled = %v, want %v", got, c.controlled)
			}
		})
	}
	// The adopted ReplicaSet has the template, so no new one is created.
	h.mustSync("web")
	var owned []string
	for _, rs := range h.replicaSets() {
		if metav1.IsControlledBy(rs, d) {
			owned = append(owned, rs.Name+"@"+rs.Annotations[RevisionAnnotation])
		}
	}
	if len(owned) != 1 || owned[0] != "orphan@1" {
		t.Errorf("owned replica sets = %v, want [orphan@1]", owned)
	}
}

func TestRun(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan error, 1)
	go func() { done <- h.dc.Run(ctx) }()
	h.create(newDeployment("web", 1, "img:1"))
	err := wait.PollUntilContextTimeout(ctx, 5*time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) {
		return len(h.replicaSets()) == 1, nil
	})
	if err != nil {
		t.Errorf("no replica set created by the running controller")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

// Right after the controller scaled the old ReplicaSet down, that set's
// status still counts the pods about to be deleted as available. The next
// sync must not count them again and scale below minAvailable.
func TestRollingUpdateIgnoresAvailabilityBeyondSpec(t *testing.T) {
	h := newHarness(t)
	d := newDeployment("web", 10, "nginx:1")
	surge, unavailable := intstr.FromInt32(3), intstr.FromInt32(2)
	d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: &surge, MaxUnavailable: &unavailable}
	h.create(d)
	h.rollOut("web")

	h.edit("web", setImage("nginx:2"))
	h.mustSync("web")
	oldRS, newRS := h.rsByImage("nginx:1"), h.rsByImage("nginx:2")
	if *oldRS.Spec.Replicas != 8 || *newRS.Spec.Replicas != 3 {
		t.Fatalf("after first step old=%d new=%d, want 8 and 3", *oldRS.Spec.Replicas, *newRS.Spec.Replicas)
	}
	h.setRSStatus(oldRS, 10, 10) // stale: two of these pods are going
	h.setRSStatus(newRS, 3, 3)
	h.mustSync("web") // the new set grows first, to the surge
	if got := *h.rsByImage("nginx:2").Spec.Replicas; got != 5 {
		t.Fatalf("new replica set at %d, want 5", got)
	}
	h.mustSync("web")
	h.checkBounds(t, 10, 3, 2)
	if got := *h.rsByImage("nginx:1").Spec.Replicas; got != 5 {
		t.Errorf("old replica set scaled to %d, want 5 (8 kept available + 3 new - 8 minimum)", got)
	}
}
