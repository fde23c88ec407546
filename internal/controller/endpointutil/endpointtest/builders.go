package endpointtest

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Namespace is where the builders put their objects.
const Namespace = "default"

// ServiceUID is the UID of the Service that Service returns.
const ServiceUID = types.UID("uid-svc-web")

// T0 is the time the tests' fake clocks start at; the builders date
// creations and readiness before it.
var T0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// ServiceOption shapes a test Service.
type ServiceOption func(*corev1.Service)

// Service returns the Service "web" selecting app=web with one port "http"
// 80 -> 8080.
func Service(opts ...ServiceOption) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: Namespace, UID: ServiceUID, CreationTimestamp: metav1.NewTime(T0.Add(-time.Hour))},
		Spec: corev1.ServiceSpec{
			Type:       corev1.ServiceTypeClusterIP,
			Selector:   map[string]string{"app": "web"},
			ClusterIP:  "10.96.0.10",
			ClusterIPs: []string{"10.96.0.10"},
			IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP,
				TargetPort: intstr.FromInt32(8080)}},
		},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Headless makes the Service headless.
func Headless() ServiceOption {
	return func(s *corev1.Service) {
		s.Spec.ClusterIP, s.Spec.ClusterIPs = corev1.ClusterIPNone, []string{corev1.ClusterIPNone}
	}
}

// PublishNotReady sets publishNotReadyAddresses.
func PublishNotReady() ServiceOption {
	return func(s *corev1.Service) { s.Spec.PublishNotReadyAddresses = true }
}

// ServicePorts replaces the Service's ports.
func ServicePorts(p ...corev1.ServicePort) ServiceOption {
	return func(s *corev1.Service) { s.Spec.Ports = p }
}

// ServiceLabels replaces the Service's labels.
func ServiceLabels(l map[string]string) ServiceOption {
	return func(s *corev1.Service) { s.Labels = l }
}

// Selector replaces the Service's selector; nil leaves it without one.
func Selector(sel map[string]string) ServiceOption {
	return func(s *corev1.Service) { s.Spec.Selector = sel }
}

// PodOption shapes a test pod.
type PodOption func(*corev1.Pod)

// Pod returns a running, ready pod labelled app=web on node-a with ip.
func Pod(name, ip string, opts ...PodOption) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: Namespace, UID: types.UID("uid-" + name),
			Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{NodeName: "node-a", Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}},
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue,
				LastTransitionTime: metav1.NewTime(T0.Add(-30 * time.Minute))}}},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

// NotReady makes the pod not ready.
func NotReady() PodOption {
	return func(p *corev1.Pod) { p.Status.Conditions[0].Status = corev1.ConditionFalse }
}

// ReadyAt makes the pod ready since at.
func ReadyAt(at time.Time) PodOption {
	return func(p *corev1.Pod) {
		p.Status.Conditions[0].Status = corev1.ConditionTrue
		p.Status.Conditions[0].LastTransitionTime = metav1.NewTime(at)
	}
}

// Terminating marks the pod deleted at T0.
func Terminating() PodOption {
	return func(p *corev1.Pod) {
		ts := metav1.NewTime(T0)
		p.DeletionTimestamp = &ts
	}
}

// OnNode moves the pod to node n; "" leaves it unscheduled.
func OnNode(n string) PodOption { return func(p *corev1.Pod) { p.Spec.NodeName = n } }

// PodLabels replaces the pod's labels.
func PodLabels(l map[string]string) PodOption { return func(p *corev1.Pod) { p.Labels = l } }

// Phase sets the pod's phase.
func Phase(ph corev1.PodPhase) PodOption { return func(p *corev1.Pod) { p.Status.Phase = ph } }

// NoIP leaves the pod without addresses.
func NoIP() PodOption {
	return func(p *corev1.Pod) { p.Status.PodIP, p.Status.PodIPs = "", nil }
}

// IPs gives the pod addrs, the first as its primary address.
func IPs(addrs ...string) PodOption {
	return func(p *corev1.Pod) {
		p.Status.PodIP, p.Status.PodIPs = addrs[0], nil
		for _, a := range addrs {
			p.Status.PodIPs = append(p.Status.PodIPs, corev1.PodIP{IP: a})
		}
	}
}

// ContainerPorts sets the ports of the pod's container.
func ContainerPorts(ports ...corev1.ContainerPort) PodOption {
	return func(p *corev1.Pod) { p.Spec.Containers[0].Ports = ports }
}

// Hostname sets the pod's hostname and subdomain.
func Hostname(host, subdomain string) PodOption {
	return func(p *corev1.Pod) { p.Spec.Hostname, p.Spec.Subdomain = host, subdomain }
}

// Node returns a node, in zone unless zone is empty.
func Node(name, zone string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if zone != "" {
		n.Labels = map[string]string{corev1.LabelTopologyZone: zone}
	}
	return n
}
