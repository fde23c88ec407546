package replicaset

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
)

func TestScaleUp(t *testing.T) {
	tests := []struct {
		name     string
		kind     kind
		replicas int32
		existing []runtime.Object
	}{
		{name: "replicaset from zero", kind: kindRS, replicas: 3},
		{name: "replicationcontroller from zero", kind: kindRC, replicas: 2},
		{name: "replicaset tops up", kind: kindRS, replicas: 3, existing: []runtime.Object{newPod("old", ownedBy(kindRS))}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.kind, append(tc.existing, newSet(tc.kind, tc.replicas, 0))...)
			if err := h.sync(); err != nil {
				t.Fatalf("sync: %v", err)
			}
			pods := h.pods()
			if len(pods) != int(tc.replicas) {
				t.Fatalf("got %d pods, want %d", len(pods), tc.replicas)
			}
			want := ownerRef(tc.kind)
			for _, p := range pods {
				if p.Name == "old" {
					continue
				}
				if len(p.OwnerReferences) != 1 || !equalRef(p.OwnerReferences[0], want) {
					t.Errorf("pod %s owner refs = %+v, want [%+v]", p.Name, p.OwnerReferences, want)
				}
				if p.GenerateName != "web-" || p.Labels["tier"] != "front" || p.Annotations["note"] != "from-template" ||
					!slices.Equal(p.Finalizers, []string{"example.com/keep"}) || p.Spec.Containers[0].Image != "nginx" {
					t.Errorf("pod %s not built from template: %+v", p.Name, p.ObjectMeta)
				}
			}
			created := int(tc.replicas) - len(tc.existing)
			if got := countPrefix(h.events(), "Normal SuccessfulCreate Created pod: web-"); got != created {
				t.Errorf("SuccessfulCreate events = %d, want %d", got, created)
			}
			if st := h.status(); st.Replicas != int32(len(tc.existing)) || st.ObservedGeneration != 4 {
				t.Errorf("status = %+v, want replicas %d (before creation) and observedGeneration 4", st, len(tc.existing))
			}
			// The next sync, once the informer saw the new pods, changes nothing
			// but the status.
			if err := h.sync(); err != nil {
				t.Fatalf("second sync: %v", err)
			}
			if got := len(h.pods()); got != int(tc.replicas) {
				t.Errorf("after second sync %d pods, want %d", got, tc.replicas)
			}
			if st := h.status(); st.Replicas != tc.replicas || st.FullyLabeledReplicas != tc.replicas {
				t.Errorf("status = %+v, want %d replicas all fully labeled", st, tc.replicas)
			}
		})
	}
}

func TestScaleDownDeletesLowestRanked(t *testing.T) {
	tests := []struct {
		name     string
		kind     kind
		replicas int32
		pods     []runtime.Object
		deleted  []string
	}{
		{
			name: "unassigned, pending and not ready go first", kind: kindRS, replicas: 2,
			pods: []runtime.Object{
				newPod("ready", ownedBy(kindRS), onNode("n1"), ready(t0.Add(-time.Hour))),
				newPod("unassigned", ownedBy(kindRS), phase(corev1.PodPending)),
				newPod("pending", ownedBy(kindRS), onNode("n1"), phase(corev1.PodPending)),
				newPod("notready", ownedBy(kindRS), onNode("n2")),
			},
			deleted: []string{"pending", "unassigned"},
		},
		{
			name: "replicationcontroller removes the restarting pod", kind: kindRC, replicas: 1,
			pods: []runtime.Object{
				newPod("steady", ownedBy(kindRC), onNode("n1"), ready(t0.Add(-time.Hour))),
				newPod("flaky", ownedBy(kindRC), onNode("n2"), ready(t0.Add(-time.Hour)), restarts(4)),
			},
			deleted: []string{"flaky"},
		},
		{
			name: "to zero", kind: kindRS, replicas: 0,
			pods:    []runtime.Object{newPod("a", ownedBy(kindRS)), newPod("b", ownedBy(kindRS))},
			deleted: []string{"a", "b"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.kind, append(tc.pods, newSet(tc.kind, tc.replicas, 0))...)
			if err := h.sync(); err != nil {
				t.Fatalf("sync: %v", err)
			}
			var left []string
			for _, p := range h.pods() {
				left = append(left, p.Name)
			}
			for _, d := range tc.deleted {
				if slices.Contains(left, d) {
					t.Errorf("pod %s survived; left %v", d, left)
				}
			}
			if len(left) != int(tc.replicas) {
				t.Errorf("left %v, want %d pods", left, tc.replicas)
			}
			var want []string
			for _, d := range tc.deleted {
				want = append(want, "Normal SuccessfulDelete Deleted pod: "+d)
			}
			got := h.events()
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("events = %q, want %q", got, want)
			}
		})
	}
}

func TestAdoptAndRelease(t *testing.T) {
	other := metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "other", UID: "uid-other", Controller: ptrTo(true)}
	tests := []struct {
		name      string
		kind      kind
		pod       *corev1.Pod
		wantOwner bool
		wantPods  int
	}{
		{name: "matching orphan is adopted", kind: kindRS, pod: newPod("orphan"), wantOwner: true, wantPods: 1},
		{name: "rc adopts a matching orphan", kind: kindRC, pod: newPod("orphan"), wantOwner: true, wantPods: 1},
		{name: "non-matching orphan is ignored", kind: kindRS, pod: newPod("stray", withLabels(map[string]string{"app": "db"})), wantPods: 2},
		{name: "owned pod no longer matching is released", kind: kindRS,
			pod: newPod("relabeled", ownedBy(kindRS), withLabels(map[string]string{"app": "db"})), wantPods: 2},
		{name: "pod of another controller is left alone", kind: kindRS,
			pod: newPod("foreign", func(p *corev1.Pod) { p.OwnerReferences = []metav1.OwnerReference{other} }), wantPods: 2},
		{name: "terminating orphan is not adopted", kind: kindRS, pod: newPod("dying", terminating()), wantPods: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.kind, tc.pod, newSet(tc.kind, 1, 0))
			if err := h.sync(); err != nil {
				t.Fatalf("sync: %v", err)
			}
			got, err := h.client.CoreV1().Pods(ns).Get(h.ctx, tc.pod.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatalf("get pod: %v", err)
			}
			owned := false
			for _, r := range got.OwnerReferences {
				if r.UID == setUID {
					owned = equalRef(r, ownerRef(tc.kind))
				}
			}
			if owned != tc.wantOwner {
				t.Errorf("owned by set = %v, want %v; refs %+v", owned, tc.wantOwner, got.OwnerReferences)
			}
			if n := len(h.pods()); n != tc.wantPods {
				t.Errorf("%d pods, want %d", n, tc.wantPods)
			}
		})
	}
}

func TestExpectationsPreventDoubleCreation(t *testing.T) {
	h := newHarness(t, kindRS, newSet(kindRS, 3, 0))
	// Creates succeed but never reach the store, as if the watch lagged.
	h.client.PrependReactor("create", "pods", func(a clienttesting.Action) (bool, runtime.Object, error) {
		return true, a.(clienttesting.CreateAction).GetObject(), nil
	})
	for i := range 3 {
		if err := h.sync(); err != nil {
			t.Fatalf("sync %d: %v", i, err)
		}
	}
	if got := h.countActions("create", "pods"); got != 3 {
		t.Fatalf("creates = %d, want 3 while expectations are outstanding", got)
	}
	h.clock.Step(expectationsTTL + time.Second)
	if err := h.sync(); err != nil {
		t.Fatalf("sync after ttl: %v", err)
	}
	if got := h.countActions("create", "pods"); got != 6 {
		t.Errorf("creates = %d, want 6 once expectations expired", got)
	}
}

func TestStatusCountsReadyAndAvailable(t *testing.T) {
	tests := []struct {
		name     string
		kind     kind
		minReady int32
		pods     []runtime.Object
		want     setStatus
		recheck  time.Duration
	}{
		{
			name: "minReadySeconds holds back fresh pods", kind: kindRS, minReady: 10,
			pods: []runtime.Object{
				newPod("old", ownedBy(kindRS), ready(t0.Add(-time.Minute))),
				newPod("fresh", ownedBy(kindRS), ready(t0.Add(-4*time.Second))),
				newPod("starting", ownedBy(kindRS)),
			},
			want:    setStatus{Replicas: 3, FullyLabeledReplicas: 3, ReadyReplicas: 2, AvailableReplicas: 1, ObservedGeneration: 4},
			recheck: 7 * time.Second,
		},
		{
			name: "rc without minReadySeconds and a partly labeled pod", kind: kindRC,
			pods: []runtime.Object{
				newPod("a", ownedBy(kindRC), ready(t0)),
				newPod("b", ownedBy(kindRC), withLabels(map[string]string{"app": "web"})),
			},
			want: setStatus{Replicas: 2, FullyLabeledReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1, ObservedGeneration: 4},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.kind, append(tc.pods, newSet(tc.kind, int32(len(tc.pods)), tc.minReady))...)
			if err := h.sync(); err != nil {
				t.Fatalf("sync: %v", err)
			}
			if got := h.status(); !statusEqual(got, tc.want) {
				t.Errorf("status = %+v, want %+v", got, tc.want)
			}
			v, err := h.c.sets.get(ns, "web")
			if err != nil {
				t.Fatal(err)
			}
			pods, _ := h.c.pods.Pods(ns).List(labels.Everything())
			wait, ok := h.c.nextAvailable(v, pods)
			if ok != (tc.recheck != 0) || (ok && wait != tc.recheck) {
				t.Errorf("recheck in %v (%v), want %v", wait, ok, tc.recheck)
			}
			if !ok {
				return
			}
			h.clock.Step(wait)
			if err := h.sync(); err != nil {
				t.Fatalf("sync after wait: %v", err)
			}
			if got := h.status().AvailableReplicas; got != tc.want.ReadyReplicas {
				t.Errorf("available after recheck = %d, want %d", got, tc.want.ReadyReplicas)
			}
		})
	}
}

func TestInactivePodsAreReplaced(t *testing.T) {
	tests := []struct {
		name string
		kind kind
		gone *corev1.Pod
	}{
		{name: "failed pod", kind: kindRS, gone: newPod("failed", ownedBy(kindRS), phase(corev1.PodFailed))},
		{name: "succeeded pod", kind: kindRC, gone: newPod("done", ownedBy(kindRC), phase(corev1.PodSucceeded))},
		{name: "terminating pod", kind: kindRS, gone: newPod("dying", ownedBy(kindRS), terminating())},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.kind, newPod("live", ownedBy(tc.kind)), tc.gone, newSet(tc.kind, 2, 0))
			if err := h.sync(); err != nil {
				t.Fatalf("sync: %v", err)
			}
			if st := h.status(); st.Replicas != 1 {
				t.Errorf("status replicas = %d, want 1 (inactive pod not counted)", st.Replicas)
			}
			if got := h.countActions("create", "pods"); got != 1 {
				t.Errorf("creates = %d, want 1 replacement", got)
			}
			if got := h.countActions("delete", "pods"); got != 0 {
				t.Errorf("deletes = %d, want 0", got)
			}
		})
	}
}

func TestCreateFailures(t *testing.T) {
	tests := []struct {
		name        string
		okCreates   int32
		replicas    int32
		wantCalls   int
		wantCreated int
	}{
		{name: "first create fails and stops the batch", okCreates: 0, replicas: 5, wantCalls: 1, wantCreated: 0},
		{name: "slow start stops after the failing batch", okCreates: 3, replicas: 10, wantCalls: 7, wantCreated: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, kindRS, newSet(kindRS, tc.replicas, 0))
			h.client.PrependReactor("create", "pods", func(clienttesting.Action) (bool, runtime.Object, error) {
				if h.created.Load() >= tc.okCreates {
					return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "", errors.New("exceeded quota"))
				}
				return false, nil, nil
			})
			err := h.sync()
			if err == nil {
				t.Fatal("sync succeeded, want the create error")
			}
			if got := h.countActions("create", "pods"); got != tc.wantCalls {
				t.Errorf("create calls = %d, want %d", got, tc.wantCalls)
			}
			if got := len(h.pods()); got != tc.wantCreated {
				t.Errorf("pods = %d, want %d", got, tc.wantCreated)
			}
			events := h.events()
			if countPrefix(events, "Warning FailedCreate Error creating: ") == 0 {
				t.Errorf("no FailedCreate event in %q", events)
			}
			st := h.status()
			i := findCondition(st.Conditions, conditionReplicaFailure)
			if i < 0 || st.Conditions[i].Reason != "FailedCreate" || !strings.Contains(st.Conditions[i].Message, "exceeded quota") {
				t.Fatalf("conditions = %+v, want ReplicaFailure/FailedCreate", st.Conditions)
			}
			// Once creation works again the condition goes away.
			h.client.ReactionChain = h.client.ReactionChain[1:]
			h.c.exp.forget(ns + "/web")
			if err := h.sync(); err != nil {
				t.Fatalf("sync after recovery: %v", err)
			}
			if err := h.sync(); err != nil {
				t.Fatalf("second sync after recovery: %v", err)
			}
			if st := h.status(); findCondition(st.Conditions, conditionReplicaFailure) >= 0 {
				t.Errorf("ReplicaFailure still set: %+v", st.Conditions)
			}
		})
	}
}

func TestRunReconciles(t *testing.T) {
	for _, k := range []kind{kindRS, kindRC} {
		t.Run(string(k), func(t *testing.T) {
			h := newHarness(t, k, newPod("orphan"), newSet(k, 3, 0))
			done := make(chan error, 1)
			go func() { done <- h.c.Run(h.ctx) }()
			err := wait.PollUntilContextTimeout(h.ctx, 10*time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) {
				return len(h.pods()) == 3 && h.status().Replicas == 3, nil
			})
			if err != nil {
				t.Fatalf("set never reached 3 replicas: pods %d, status %+v", len(h.pods()), h.status())
			}
			for _, p := range h.pods() {
				if ref := metav1.GetControllerOf(&p); ref == nil || ref.UID != setUID {
					t.Errorf("pod %s not controlled by the set", p.Name)
				}
			}
		})
	}
}

func equalRef(a, b metav1.OwnerReference) bool {
	return a.APIVersion == b.APIVersion && a.Kind == b.Kind && a.Name == b.Name && a.UID == b.UID &&
		a.Controller != nil && *a.Controller && a.BlockOwnerDeletion != nil && *a.BlockOwnerDeletion
}

func countPrefix(events []string, prefix string) int {
	n := 0
	for _, e := range events {
		if strings.HasPrefix(e, prefix) {
			n++
		}
	}
	return n
}

func ptrTo[T any](v T) *T { return &v }

func TestBurstCapsOneSync(t *testing.T) {
	owned := func(names ...string) []runtime.Object {
		var out []runtime.Object
		for _, n := range names {
			out = append(out, newPod(n, ownedBy(kindRS)))
		}
		return out
	}
	tests := []struct {
		name     string
		replicas int32
		pods     []runtime.Object
		creates  int
		deletes  int
	}{
		{name: "scale up", replicas: 5, creates: 2},
		{name: "scale down", replicas: 0, pods: owned("a", "b", "c", "d", "e"), deletes: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, kindRS, append(tc.pods, newSet(kindRS, tc.replicas, 0))...)
			h.c.cfg.BurstReplicas = 2
			if err := h.sync(); err != nil {
				t.Fatalf("sync: %v", err)
			}
			if got := h.countActions("create", "pods"); got != tc.creates {
				t.Errorf("creates = %d, want %d", got, tc.creates)
			}
			if got := h.countActions("delete", "pods"); got != tc.deletes {
				t.Errorf("deletes = %d, want %d", got, tc.deletes)
			}
		})
	}
}

func TestNamespaceTerminatingIsNotAnError(t *testing.T) {
	h := newHarness(t, kindRS, newSet(kindRS, 2, 0))
	h.client.PrependReactor("create", "pods", func(clienttesting.Action) (bool, runtime.Object, error) {
		err := apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "", errors.New("namespace default is being terminated"))
		err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{Type: corev1.NamespaceTerminatingCause})
		return true, nil, err
	})
	if err := h.sync(); err != nil {
		t.Fatalf("sync = %v, want nil in a terminating namespace", err)
	}
	if events := h.events(); len(events) != 0 {
		t.Errorf("events = %q, want none", events)
	}
	if !h.c.exp.satisfied(ns + "/web") {
		t.Error("expectations still outstanding for creations that failed")
	}
}

func TestPodEventsSettleExpectations(t *testing.T) {
	const key = ns + "/web"
	tests := []struct {
		name   string
		expect func(e *expectations)
		event  func(c *Controller)
	}{
		{
			name:   "owned pod added",
			expect: func(e *expectations) { e.expectCreations(key, 1) },
			event:  func(c *Controller) { c.podAdded(newPod("a", ownedBy(kindRS))) },
		},
		{
			name:   "pod marked terminating",
			expect: func(e *expectations) { e.expectDeletions(key, []string{ns + "/a"}) },
			event: func(c *Controller) {
				old := newPod("a", ownedBy(kindRS))
				old.ResourceVersion = "1"
				cur := newPod("a", ownedBy(kindRS), terminating())
				cur.ResourceVersion = "2"
				c.podUpdated(old, cur)
			},
		},
		{
			name:   "pod gone while the watch was down",
			expect: func(e *expectations) { e.expectDeletions(key, []string{ns + "/a"}) },
			event: func(c *Controller) {
				c.podDeleted(cache.DeletedFinalStateUnknown{Key: ns + "/a", Obj: newPod("a", ownedBy(kindRS))})
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, kindRS, newSet(kindRS, 1, 0))
			h.waitCaches()
			tc.expect(h.c.exp)
			tc.event(h.c)
			if !h.c.exp.satisfied(key) {
				t.Error("expectation not settled by the pod event")
			}
		})
	}
}
