package apiserver

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/registry"
)

// defaultContainerAnnotation names the container kubectl picks when a
// request does not name one.
const defaultContainerAnnotation = "kubectl.kubernetes.io/default-container"

// servePodNode answers the pod subresources that the pod's node serves:
// log, exec, attach and portforward. The request goes to the kubelet of the
// node the pod is bound to, over HTTPS with the API server's kubelet client
// certificate; exec, attach and port-forward are upgraded connections that
// the proxy splices through.
func (s *Server) servePodNode(w http.ResponseWriter, r *http.Request, st *registry.Store, info requestInfo) error {
	if s.cfg.KubeletTransport == nil {
		return apierrors.NewServiceUnavailable("this server does not reach its nodes")
	}
	o, err := st.Get(r.Context(), info.Namespace, info.Name, "")
	if err != nil {
		return err
	}
	pod := o.Obj.(*corev1.Pod)
	gr := schema.GroupResource{Resource: "pods/" + info.Subresource}
	if pod.Spec.NodeName == "" {
		return apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", pod.Name))
	}
	q := r.URL.Query()
	var path string
	switch info.Subresource {
	case "log":
		if r.Method != http.MethodGet {
			return apierrors.NewMethodNotSupported(gr, r.Method)
		}
		c, err := podContainer(pod, q.Get("container"))
		if err != nil {
			return err
		}
		q.Del("container")
		path = "/containerLogs/" + pod.Namespace + "/" + pod.Name + "/" + c
	case "exec", "attach":
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			return apierrors.NewMethodNotSupported(gr, r.Method)
		}
		c, err := podContainer(pod, q.Get("container"))
		if err != nil {
			return err
		}
		if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			return apierrors.NewBadRequest(fmt.Sprintf("cannot exec into a container in a completed pod; current phase is %s", pod.Status.Phase))
		}
		q.Del("container")
		path = "/" + info.Subresource + "/" + pod.Namespace + "/" + pod.Name + "/" + c
	case "portforward":
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			return apierrors.NewMethodNotSupported(gr, r.Method)
		}
		path = "/portForward/" + pod.Namespace + "/" + pod.Name
	default:
		return notFoundPath(r)
	}
	target, err := s.kubeletURL(r, pod.Spec.NodeName)
	if err != nil {
		return err
	}
	target.Path, target.RawQuery = path, q.Encode()
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL = target
			pr.Out.Host = target.Host
			// The node trusts the API server's certificate, not the
			// user's credentials: those stay here.
			pr.Out.Header.Del("Authorization")
		},
		Transport:     s.cfg.KubeletTransport,
		FlushInterval: -1, // logs with follow=true stream
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			s.writeError(w, r, apierrors.NewServiceUnavailable(fmt.Sprintf("error reaching node %s: %v", pod.Spec.NodeName, err)))
		},
	}
	proxy.ServeHTTP(w, r)
	return nil
}

// kubeletURL is the HTTPS address of a node's kubelet: its first internal
// address and the port it publishes in status.
func (s *Server) kubeletURL(r *http.Request, nodeName string) (*url.URL, error) {
	nodes := s.byGV[coreV1]["nodes"]
	o, err := nodes.Get(r.Context(), "", nodeName, "")
	if err != nil {
		return nil, err
	}
	node := o.Obj.(*corev1.Node)
	port := node.Status.DaemonEndpoints.KubeletEndpoint.Port
	if port == 0 {
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("node %s does not publish a kubelet port", nodeName))
	}
	var host string
	for _, t := range []corev1.NodeAddressType{corev1.NodeInternalIP, corev1.NodeExternalIP, corev1.NodeHostName} {
		for _, a := range node.Status.Addresses {
			if a.Type == t && host == "" {
				host = a.Address
			}
		}
	}
	if host == "" {
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("node %s has no address", nodeName))
	}
	return &url.URL{Scheme: "https", Host: net.JoinHostPort(host, strconv.Itoa(int(port)))}, nil
}

// podContainer resolves the container a request names, or the pod's only
// or default one, with upstream's errors. Init and ephemeral containers may
// be named too.
func podContainer(pod *corev1.Pod, name string) (string, error) {
	var names []string
	for _, c := range pod.Spec.Containers {
		names = append(names, c.Name)
	}
	var others []string
	for _, c := range pod.Spec.InitContainers {
		others = append(others, c.Name)
	}
	for _, c := range pod.Spec.EphemeralContainers {
		others = append(others, c.Name)
	}
	if name == "" {
		if d := pod.Annotations[defaultContainerAnnotation]; d != "" {
			name = d
		} else if len(names) == 1 {
			return names[0], nil
		} else {
			msg := fmt.Sprintf("a container name must be specified for pod %s, choose one of: [%s]", pod.Name, strings.Join(names, " "))
			if len(others) > 0 {
				msg += fmt.Sprintf(" or one of the init containers: [%s]", strings.Join(others, " "))
			}
			return "", apierrors.NewBadRequest(msg)
		}
	}
	for _, n := range names {
		if n == name {
			return name, nil
		}
	}
	for _, n := range others {
		if n == name {
			return name, nil
		}
	}
	return "", apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", name, pod.Name))
}
