package kubelet

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
)

// ServiceLister reads Services from a cache: the kubelet gives every
// container the Docker-link style variables of the Services of its
// namespace.
type ServiceLister interface {
	Services(namespace string) corelisters.ServiceNamespaceLister
}

// masterService is the API's own Service, whose variables every pod gets,
// with enableServiceLinks or without.
const masterService = "kubernetes"

// serviceEnv returns the service variables of pod's containers, as
// upstream's kubelet builds them: the pod namespace's Services when
// enableServiceLinks is on, and the API's Service from the default
// namespace always.
func (k *Kubelet) serviceEnv(pod *corev1.Pod) (map[string]string, error) {
	if k.services == nil {
		return nil, nil
	}
	var svcs []*corev1.Service
	if pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks {
		list, err := k.services.Services(pod.Namespace).List(labels.Everything())
		if err != nil {
			return nil, fmt.Errorf("list services: %w", err)
		}
		svcs = list
	}
	byName := make(map[string]*corev1.Service, len(svcs)+1)
	for _, s := range svcs {
		byName[s.Name] = s
	}
	// A Service of the pod's own namespace wins over the API's of the same
	// name.
	if _, ok := byName[masterService]; !ok {
		if s, err := k.services.Services(metav1.NamespaceDefault).Get(masterService); err == nil {
			byName[masterService] = s
		}
	}
	env := map[string]string{}
	for _, s := range byName {
		addServiceEnv(env, s)
	}
	return env, nil
}

// addServiceEnv adds one Service's variables; a Service without a cluster
// IP (headless, ExternalName) has none.
func addServiceEnv(env map[string]string, s *corev1.Service) {
	ip := s.Spec.ClusterIP
	if ip == "" || ip == corev1.ClusterIPNone || len(s.Spec.Ports) == 0 {
		return
	}
	name := envName(s.Name)
	env[name+"_SERVICE_HOST"] = ip
	env[name+"_SERVICE_PORT"] = strconv.Itoa(int(s.Spec.Ports[0].Port))
	for i, p := range s.Spec.Ports {
		port := strconv.Itoa(int(p.Port))
		if p.Name != "" {
			env[name+"_SERVICE_PORT_"+envName(p.Name)] = port
		}
		proto := strings.ToLower(string(p.Protocol))
		if proto == "" {
			proto = "tcp"
		}
		url := proto + "://" + net.JoinHostPort(ip, port)
		if i == 0 {
			env[name+"_PORT"] = url
		}
		prefix := name + "_PORT_" + port + "_" + strings.ToUpper(proto)
		env[prefix] = url
		env[prefix+"_PROTO"] = proto
		env[prefix+"_PORT"] = port
		env[prefix+"_ADDR"] = ip
	}
}

func envName(s string) string {
	return strings.ToUpper(strings.ReplaceAll(s, "-", "_"))
}
