package garbagecollector

import (
	"slices"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// objectRef identifies an object in the graph and on the work queues. It is
// comparable so the queues can deduplicate it.
type objectRef struct {
	APIVersion string
	Kind       string
	Namespace  string
	Name       string
	UID        types.UID
}

func (r objectRef) String() string {
	ns := r.Namespace
	if ns != "" {
		ns += "/"
	}
	return r.APIVersion + "/" + r.Kind + ", " + ns + r.Name + ", uid " + string(r.UID)
}

// sameObject compares coordinates without the version: owner references may
// name another version of the owner's group.
func (r objectRef) sameObject(o objectRef) bool {
	g1, _ := schema.ParseGroupVersion(r.APIVersion)
	g2, _ := schema.ParseGroupVersion(o.APIVersion)
	return r.UID == o.UID && g1.Group == g2.Group && r.Kind == o.Kind &&
		r.Namespace == o.Namespace && r.Name == o.Name
}

// node is one object of the dependency graph. A virtual node stands for an
// owner that some dependent names but no informer has shown yet.
type node struct {
	ref        objectRef
	owners     []metav1.OwnerReference
	dependents map[types.UID]struct{}
	virtual    bool
	// beingDeleted: the object carries a deletionTimestamp.
	beingDeleted bool
	// deletingDependents: being deleted in the foreground, so its dependents
	// go first.
	deletingDependents bool
	// orphaning: being deleted with the orphan finalizer.
	orphaning bool
}

// changeType says what an informer (or a worker's live lookup) observed.
type changeType int

const (
	changeUpsert changeType = iota
	changeDelete
	// changeVirtualDelete: a live lookup found the object gone before its
	// informer reported it.
	changeVirtualDelete
)

// change is one observation to fold into the graph, in order.
type change struct {
	typ        changeType
	ref        objectRef
	owners     []metav1.OwnerReference
	deleting   bool
	finalizers []string
}

// effects are the work items a change produces.
type effects struct {
	attemptToDelete []objectRef
	attemptToOrphan []objectRef
}

func (e *effects) delete(r objectRef) { e.attemptToDelete = append(e.attemptToDelete, r) }

// graph is the owner→dependents graph. One goroutine applies changes; the
// workers only read.
type graph struct {
	mu    sync.RWMutex
	nodes map[types.UID]*node
	// ownerRef builds an owner's coordinates as seen from a dependent.
	ownerRef func(dependent objectRef, ref metav1.OwnerReference) objectRef
}

func newGraph(ownerRef func(objectRef, metav1.OwnerReference) objectRef) *graph {
	return &graph{nodes: map[types.UID]*node{}, ownerRef: ownerRef}
}

// apply folds one change into the graph and reports the work it causes.
func (g *graph) apply(c *change) effects {
	g.mu.Lock()
	defer g.mu.Unlock()
	var eff effects
	switch c.typ {
	case changeUpsert:
		g.upsert(c, &eff)
	case changeDelete:
		if n, ok := g.nodes[c.ref.UID]; ok {
			g.remove(n, &eff)
		}
	case changeVirtualDelete:
		g.virtualDelete(c.ref, &eff)
	}
	return eff
}

func (g *graph) upsert(c *change, eff *effects) {
	n, ok := g.nodes[c.ref.UID]
	if !ok {
		n = &node{ref: c.ref, dependents: map[types.UID]struct{}{}}
		g.nodes[c.ref.UID] = n
		g.linkOwners(n, c.owners, eff)
	} else {
		if n.virtual {
			// Dependents that named this owner by other coordinates (another
			// namespace, say) may be referring to an object that does not
			// exist: they verify their references again.
			if !n.ref.sameObject(c.ref) {
				g.queueDependents(n, eff)
			}
			n.virtual = false
			n.ref = c.ref
		}
		g.updateOwners(n, c.owners, eff)
	}
	n.owners = c.owners
	n.beingDeleted = c.deleting
	foreground := c.deleting && slices.Contains(c.finalizers, metav1.FinalizerDeleteDependents)
	orphan := c.deleting && slices.Contains(c.finalizers, metav1.FinalizerOrphanDependents)
	if orphan && !n.orphaning {
		eff.attemptToOrphan = append(eff.attemptToOrphan, n.ref)
	}
	if foreground && !n.deletingDependents {
		g.queueDependents(n, eff)
		// With no dependents left the owner's finalizer can go at once.
		eff.delete(n.ref)
	}
	n.orphaning = orphan
	n.deletingDependents = foreground
}

// linkOwners records n as a dependent of each owner, creating virtual owners
// for those not seen yet; those get verified by a live lookup.
func (g *graph) linkOwners(n *node, owners []metav1.OwnerReference, eff *effects) {
	for _, o := range owners {
		owner, ok := g.nodes[o.UID]
		if !ok {
			owner = &node{
				ref:        g.ownerRef(n.ref, o),
				dependents: map[types.UID]struct{}{},
				virtual:    true,
			}
			g.nodes[o.UID] = owner
			eff.delete(owner.ref)
		} else if !owner.virtual && owner.ref.Namespace != g.ownerRef(n.ref, o).Namespace {
			// The UID belongs to an object outside the namespace the reference
			// can name (a cluster-scoped dependent of a namespaced owner, for
			// one): the reference is dangling, which only a check finds.
			eff.delete(n.ref)
		}
		owner.dependents[n.ref.UID] = struct{}{}
	}
}

func (g *graph) unlinkOwners(n *node, owners []metav1.OwnerReference) {
	for _, o := range owners {
		if owner, ok := g.nodes[o.UID]; ok {
			delete(owner.dependents, n.ref.UID)
		}
	}
}

// updateOwners applies a change of n's owner references. An owner waiting
// for its blocking dependents is re-checked when one of them stops blocking.
func (g *graph) updateOwners(n *node, owners []metav1.OwnerReference, eff *effects) {
	var added, removed []metav1.OwnerReference
	for _, o := range owners {
		old := findOwner(n.owners, o.UID)
		if old == nil {
			added = append(added, o)
			continue
		}
		if blocks(*old) && !blocks(o) {
			g.wakeOwner(o.UID, eff)
		}
	}
	for _, o := range n.owners {
		if findOwner(owners, o.UID) == nil {
			removed = append(removed, o)
			g.wakeOwner(o.UID, eff)
		}
	}
	g.linkOwners(n, added, eff)
	g.unlinkOwners(n, removed)
}

// wakeOwner queues an owner waiting in the foreground for its dependents.
func (g *graph) wakeOwner(uid types.UID, eff *effects) {
	if owner, ok := g.nodes[uid]; ok && owner.deletingDependents {
		eff.delete(owner.ref)
	}
}

// remove drops n; its dependents may now be orphans and its foreground
// owners may now be free to go.
func (g *graph) remove(n *node, eff *effects) {
	delete(g.nodes, n.ref.UID)
	g.unlinkOwners(n, n.owners)
	for _, o := range n.owners {
		g.wakeOwner(o.UID, eff)
	}
	g.queueDependents(n, eff)
}

// queueDependents has every dependent of n re-examined.
func (g *graph) queueDependents(n *node, eff *effects) {
	for uid := range n.dependents {
		if dep, ok := g.nodes[uid]; ok {
			eff.delete(dep.ref)
		}
	}
}

// virtualDelete handles a live lookup that found ref absent. A node whose
// coordinates disagree with ref stays: only the dependents that named ref
// are re-examined, each verifying its own owner reference.
func (g *graph) virtualDelete(ref objectRef, eff *effects) {
	n, ok := g.nodes[ref.UID]
	if !ok {
		return
	}
	if n.ref.sameObject(ref) {
		g.remove(n, eff)
		return
	}
	g.queueDependents(n, eff)
}

// dependentView is what a worker needs of one dependent.
type dependentView struct {
	ref                objectRef
	blocking           bool
	deletingDependents bool
}

// nodeView is a consistent copy of a node for a worker.
type nodeView struct {
	ref                objectRef
	virtual            bool
	beingDeleted       bool
	deletingDependents bool
	dependents         []dependentView
}

// blockingDependents are the dependents that hold a foreground owner.
func (v nodeView) blockingDependents() []dependentView {
	var out []dependentView
	for _, d := range v.dependents {
		if d.blocking {
			out = append(out, d)
		}
	}
	return out
}

// view returns a copy of the node with uid, if the graph has it.
func (g *graph) view(uid types.UID) (nodeView, bool) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	n, ok := g.nodes[uid]
	if !ok {
		return nodeView{}, false
	}
	v := nodeView{
		ref:                n.ref,
		virtual:            n.virtual,
		beingDeleted:       n.beingDeleted,
		deletingDependents: n.deletingDependents,
	}
	for duid := range n.dependents {
		d, ok := g.nodes[duid]
		if !ok {
			continue
		}
		o := findOwner(d.owners, uid)
		v.dependents = append(v.dependents, dependentView{
			ref:                d.ref,
			blocking:           o != nil && blocks(*o),
			deletingDependents: d.deletingDependents,
		})
	}
	return v, true
}

func findOwner(owners []metav1.OwnerReference, uid types.UID) *metav1.OwnerReference {
	for i := range owners {
		if owners[i].UID == uid {
			return &owners[i]
		}
	}
	return nil
}

func blocks(o metav1.OwnerReference) bool {
	return o.BlockOwnerDeletion != nil && *o.BlockOwnerDeletion
}
