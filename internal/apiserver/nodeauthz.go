package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiff-sh/skiff/internal/authn"
	"github.com/skiff-sh/skiff/internal/registry"
)

// A node's credentials may write only what is the node's own, as
// upstream's node authorizer and NodeRestriction admission allow: its Node
// and the Node's status, its Lease, the status of pods bound to it and
// their deletion, and events. Reads stay open. A token holder may still
// join under any name (as upstream's bootstrap tokens may), but a joined
// node cannot change another.

// authorizeNode refuses a node's request for anything but its own
// objects. Creates are checked again on the decoded object (admitNode),
// since only the body names what is created.
func (s *Server) authorizeNode(r *http.Request, st *registry.Store, info requestInfo) error {
	user, _ := authn.UserFrom(r.Context())
	node, ok := user.NodeName()
	if !ok || r.Method == http.MethodGet || r.Method == http.MethodHead {
		return nil
	}
	res := st.Resource()
	gr := res.GroupResource()
	deny := func(why string) error {
		return apierrors.NewForbidden(gr, info.Name, fmt.Errorf("User %q cannot %s resource %q in API group %q: %s",
			user.Name, verbOf(r, info), gr.Resource, gr.Group, why))
	}
	switch {
	case gr.Group == "" && gr.Resource == "events", gr.Group == "events.k8s.io" && gr.Resource == "events":
		return nil
	case gr.Group == "" && gr.Resource == "nodes":
		if info.Name != "" && info.Name != node {
			return deny(fmt.Sprintf("node %q cannot modify node %q", node, info.Name))
		}
		if info.Name == "" && r.Method != http.MethodPost {
			return deny("a node may only change its own Node")
		}
		return nil
	case gr.Group == "coordination.k8s.io" && gr.Resource == "leases":
		if info.Namespace != corev1.NamespaceNodeLease || (info.Name != "" && info.Name != node) ||
			(info.Name == "" && r.Method != http.MethodPost) {
			return deny(fmt.Sprintf("node %q may only change its own Lease in %s", node, corev1.NamespaceNodeLease))
		}
		return nil
	case gr.Group == "" && gr.Resource == "pods":
		statusWrite := info.Subresource == "status" && (r.Method == http.MethodPut || r.Method == http.MethodPatch)
		deletion := info.Subresource == "" && info.Name != "" && r.Method == http.MethodDelete
		if !statusWrite && !deletion {
			return deny("a node may only update the status of its pods and delete them")
		}
		return s.podBoundTo(r.Context(), st, info, node, deny)
	}
	return deny("a node may only change its own Node, Lease and pods, and write events")
}

// podBoundTo refuses unless the pod is bound to node. A pod that does not
// exist is left to the handler's NotFound. The read is consistent: a pod
// the cache has not seen yet must not slip through as missing.
func (s *Server) podBoundTo(ctx context.Context, st *registry.Store, info requestInfo, node string, deny func(string) error) error {
	o, err := st.Get(ctx, info.Namespace, info.Name, "")
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	pod, ok := o.Obj.(*corev1.Pod)
	if !ok || pod.Spec.NodeName != node {
		return deny(fmt.Sprintf("pod %s/%s is not bound to node %q", info.Namespace, info.Name, node))
	}
	return nil
}

// admitNode checks what a node creates: only its own Node, and its own
// Lease (whose namespace authorizeNode already checked).
func admitNode(ctx context.Context, res *registry.Resource, obj runtime.Object) error {
	user, _ := authn.UserFrom(ctx)
	node, ok := user.NodeName()
	if !ok {
		return nil
	}
	gr := res.GroupResource()
	if !(gr.Group == "" && gr.Resource == "nodes") && !(gr.Group == "coordination.k8s.io" && gr.Resource == "leases") {
		return nil
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	if m.GetName() != node {
		return apierrors.NewForbidden(gr, m.GetName(), fmt.Errorf("User %q cannot create resource %q in API group %q: node %q may only create its own",
			user.Name, gr.Resource, gr.Group, node))
	}
	return nil
}

// verbOf names a request's verb as upstream's authorization does.
func verbOf(r *http.Request, info requestInfo) string {
	switch r.Method {
	case http.MethodPost:
		return "create"
	case http.MethodPut:
		return "update"
	case http.MethodPatch:
		return "patch"
	case http.MethodDelete:
		if info.Name == "" {
			return "deletecollection"
		}
		return "delete"
	}
	return strings.ToLower(r.Method)
}
