package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiff-sh/skiff/internal/authn"
	"github.com/skiff-sh/skiff/internal/registry"
)

// A node's credentials may write only what is the node's own, as
// upstream's node authorizer and NodeRestriction admission allow: its Node
// and the Node's status, its Lease, the status of pods bound to it and
// their deletion, and events. It may read Secrets, ConfigMaps and claims
// only as its pods use them; other reads are open. A token holder may still
// join under any name (as upstream's bootstrap tokens may), but a joined
// node cannot change another.

// authorizeNode refuses a node's request for anything but its own
// objects. Creates are checked again on the decoded object (admitNode),
// since only the body names what is created.
func (s *Server) authorizeNode(r *http.Request, st *registry.Store, info requestInfo) error {
	user, _ := authn.UserFrom(r.Context())
	node, ok := user.NodeName()
	if !ok {
		return nil
	}
	res := st.Resource()
	gr := res.GroupResource()
	deny := func(why string) error {
		return apierrors.NewForbidden(gr, info.Name, fmt.Errorf("User %q cannot %s resource %q in API group %q: %s",
			user.Name, verbOf(r, info), gr.Resource, gr.Group, why))
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		if gr.Group != "" || !podReferenced[gr.Resource] {
			return nil
		}
		// Secrets, ConfigMaps and claims: only those a pod bound to the
		// node uses, one at a time, as upstream's node authorizer.
		if info.Name == "" || info.Watch {
			return deny(fmt.Sprintf("node %q may only get the %s of its pods, one by one", node, gr.Resource))
		}
		return s.usedOnNode(r.Context(), info, node, gr.Resource, deny)
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
// exist is left to the handler's NotFound. Every status write of a node
// comes here, so the cache answers; only a pod the cache has not seen yet
// costs a consistent read, so that it cannot slip through as missing.
func (s *Server) podBoundTo(ctx context.Context, st *registry.Store, info requestInfo, node string, deny func(string) error) error {
	o, err := st.Get(ctx, info.Namespace, info.Name, "0")
	if apierrors.IsNotFound(err) {
		o, err = st.Get(ctx, info.Namespace, info.Name, "")
	}
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

// podReferenced are the resources a node reads only for its pods.
var podReferenced = map[string]bool{"secrets": true, "configmaps": true, "persistentvolumeclaims": true}

// usedOnNode refuses unless a pod bound to node in the object's namespace
// refers to it.
func (s *Server) usedOnNode(ctx context.Context, info requestInfo, node, resource string, deny func(string) error) error {
	pods, ok := s.reg.Store(corev1.SchemeGroupVersion.WithResource("pods"))
	if !ok {
		return deny("no pods")
	}
	// The node learnt of its pods through a watch served from this cache,
	// so the cache has every pod the node may ask for.
	list, err := pods.List(ctx, info.Namespace, &metav1.ListOptions{FieldSelector: "spec.nodeName=" + node, ResourceVersion: "0"})
	if err != nil {
		return err
	}
	for _, o := range list.Items {
		if pod, ok := o.Obj.(*corev1.Pod); ok && podRefers(pod, resource, info.Name) {
			return nil
		}
	}
	return deny(fmt.Sprintf("no relationship found between node %q and this object", node))
}

// podRefers tells whether the pod uses the named Secret, ConfigMap or
// PersistentVolumeClaim: in a volume, a projection, an environment
// variable, envFrom or an image pull secret.
func podRefers(pod *corev1.Pod, resource, name string) bool {
	for _, v := range pod.Spec.Volumes {
		switch {
		case resource == "secrets" && v.Secret != nil && v.Secret.SecretName == name,
			resource == "configmaps" && v.ConfigMap != nil && v.ConfigMap.Name == name,
			resource == "persistentvolumeclaims" && v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == name:
			return true
		}
		if v.Projected != nil {
			for _, src := range v.Projected.Sources {
				if resource == "secrets" && src.Secret != nil && src.Secret.Name == name ||
					resource == "configmaps" && src.ConfigMap != nil && src.ConfigMap.Name == name {
					return true
				}
			}
		}
	}
	if resource == "secrets" {
		for _, ref := range pod.Spec.ImagePullSecrets {
			if ref.Name == name {
				return true
			}
		}
	}
	containers := append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...)
	for _, ec := range pod.Spec.EphemeralContainers {
		containers = append(containers, corev1.Container(ec.EphemeralContainerCommon))
	}
	for _, c := range containers {
		for _, from := range c.EnvFrom {
			if resource == "secrets" && from.SecretRef != nil && from.SecretRef.Name == name ||
				resource == "configmaps" && from.ConfigMapRef != nil && from.ConfigMapRef.Name == name {
				return true
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom == nil {
				continue
			}
			if resource == "secrets" && e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Name == name ||
				resource == "configmaps" && e.ValueFrom.ConfigMapKeyRef != nil && e.ValueFrom.ConfigMapKeyRef.Name == name {
				return true
			}
		}
	}
	return false
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
