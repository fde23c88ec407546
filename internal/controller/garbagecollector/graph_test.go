package garbagecollector

import (
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func testRef(kind, name, uid string) objectRef {
	apiVersion := "v1"
	if kind == "ReplicaSet" {
		apiVersion = "apps/v1"
	}
	return objectRef{APIVersion: apiVersion, Kind: kind, Namespace: "ns", Name: name, UID: types.UID(uid)}
}

func ownerOf(r objectRef, block bool) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: r.APIVersion, Kind: r.Kind, Name: r.Name, UID: r.UID, BlockOwnerDeletion: &block}
}

func newTestGraph() *graph {
	return newGraph(func(dep objectRef, o metav1.OwnerReference) objectRef {
		return objectRef{APIVersion: o.APIVersion, Kind: o.Kind, Namespace: dep.Namespace, Name: o.Name, UID: o.UID}
	})
}

func uids(refs []objectRef) []string {
	out := make([]string, 0, len(refs))
	for _, r := range refs {
		out = append(out, string(r.UID))
	}
	slices.Sort(out)
	return out
}

func TestGraphApply(t *testing.T) {
	rs := testRef("ReplicaSet", "rs", "rs-uid")
	pod1 := testRef("Pod", "p1", "p1-uid")
	pod2 := testRef("Pod", "p2", "p2-uid")
	upsert := func(r objectRef, owners ...metav1.OwnerReference) *change {
		return &change{typ: changeUpsert, ref: r, owners: owners}
	}
	deleting := func(r objectRef, finalizer string) *change {
		return &change{typ: changeUpsert, ref: r, deleting: true, finalizers: []string{finalizer}}
	}
	tests := []struct {
		name       string
		setup      []*change
		change     *change
		wantDelete []string
		wantOrphan []string
	}{
		{
			name:       "dependent of an unseen owner creates a virtual owner to verify",
			change:     upsert(pod1, ownerOf(rs, true)),
			wantDelete: []string{"rs-uid"},
		},
		{
			name:   "dependent of a known owner needs nothing",
			setup:  []*change{upsert(rs)},
			change: upsert(pod1, ownerOf(rs, true)),
		},
		{
			name:       "owner deletion queues its dependents",
			setup:      []*change{upsert(rs), upsert(pod1, ownerOf(rs, true)), upsert(pod2, ownerOf(rs, false))},
			change:     &change{typ: changeDelete, ref: rs},
			wantDelete: []string{"p1-uid", "p2-uid"},
		},
		{
			name:       "foreground deletion queues dependents and the owner",
			setup:      []*change{upsert(rs), upsert(pod1, ownerOf(rs, true))},
			change:     deleting(rs, metav1.FinalizerDeleteDependents),
			wantDelete: []string{"p1-uid", "rs-uid"},
		},
		{
			name:       "orphan deletion queues the owner for orphaning",
			setup:      []*change{upsert(rs), upsert(pod1, ownerOf(rs, true))},
			change:     deleting(rs, metav1.FinalizerOrphanDependents),
			wantOrphan: []string{"rs-uid"},
		},
		{
			name:   "repeated foreground observation queues nothing new",
			setup:  []*change{upsert(rs), upsert(pod1, ownerOf(rs, true)), deleting(rs, metav1.FinalizerDeleteDependents)},
			change: deleting(rs, metav1.FinalizerDeleteDependents),
		},
		{
			name:       "dependent deletion wakes a foreground owner",
			setup:      []*change{upsert(rs), upsert(pod1, ownerOf(rs, true)), deleting(rs, metav1.FinalizerDeleteDependents)},
			change:     &change{typ: changeDelete, ref: pod1},
			wantDelete: []string{"rs-uid"},
		},
		{
			name:       "a dependent that stops blocking wakes a foreground owner",
			setup:      []*change{upsert(rs), upsert(pod1, ownerOf(rs, true)), deleting(rs, metav1.FinalizerDeleteDependents)},
			change:     upsert(pod1, ownerOf(rs, false)),
			wantDelete: []string{"rs-uid"},
		},
		{
			name:       "an owner UID seen in another namespace makes the dependent verify",
			setup:      []*change{upsert(objectRef{APIVersion: "apps/v1", Kind: "ReplicaSet", Namespace: "elsewhere", Name: "rs", UID: "rs-uid"})},
			change:     upsert(pod1, ownerOf(rs, true)),
			wantDelete: []string{"p1-uid"},
		},
		{
			name:       "a virtual owner observed in another namespace makes dependents verify",
			setup:      []*change{upsert(pod1, ownerOf(rs, true))},
			change:     upsert(objectRef{APIVersion: "apps/v1", Kind: "ReplicaSet", Namespace: "elsewhere", Name: "rs", UID: "rs-uid"}),
			wantDelete: []string{"p1-uid"},
		},
		{
			name:       "virtual delete of a virtual owner queues its dependents",
			setup:      []*change{upsert(pod1, ownerOf(rs, true))},
			change:     &change{typ: changeVirtualDelete, ref: rs},
			wantDelete: []string{"p1-uid"},
		},
		{
			name:       "virtual delete with other coordinates keeps the node but queues dependents",
			setup:      []*change{upsert(rs), upsert(pod1, ownerOf(rs, true))},
			change:     &change{typ: changeVirtualDelete, ref: testRef("ReplicaSet", "other", "rs-uid")},
			wantDelete: []string{"p1-uid"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newTestGraph()
			for _, c := range tc.setup {
				g.apply(c)
			}
			eff := g.apply(tc.change)
			if got := uids(eff.attemptToDelete); !slices.Equal(got, uids(refsOf(tc.wantDelete))) {
				t.Errorf("attemptToDelete = %v, want %v", got, tc.wantDelete)
			}
			if got := uids(eff.attemptToOrphan); !slices.Equal(got, uids(refsOf(tc.wantOrphan))) {
				t.Errorf("attemptToOrphan = %v, want %v", got, tc.wantOrphan)
			}
		})
	}
}

func refsOf(uidList []string) []objectRef {
	out := make([]objectRef, 0, len(uidList))
	for _, u := range uidList {
		out = append(out, objectRef{UID: types.UID(u)})
	}
	return out
}

func TestGraphViewBlockingDependents(t *testing.T) {
	rs := testRef("ReplicaSet", "rs", "rs-uid")
	g := newTestGraph()
	g.apply(&change{typ: changeUpsert, ref: rs})
	g.apply(&change{typ: changeUpsert, ref: testRef("Pod", "p1", "p1-uid"), owners: []metav1.OwnerReference{ownerOf(rs, true)}})
	g.apply(&change{typ: changeUpsert, ref: testRef("Pod", "p2", "p2-uid"), owners: []metav1.OwnerReference{ownerOf(rs, false)}})
	v, ok := g.view(rs.UID)
	if !ok {
		t.Fatal("owner missing from graph")
	}
	if len(v.dependents) != 2 {
		t.Fatalf("dependents = %d, want 2", len(v.dependents))
	}
	blocking := v.blockingDependents()
	if len(blocking) != 1 || blocking[0].ref.UID != "p1-uid" {
		t.Fatalf("blocking = %+v, want only p1", blocking)
	}
}
