package kubelet

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

func svc(ns, name, ip string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{ClusterIP: ip, Ports: ports}}
}

func TestServiceEnv(t *testing.T) {
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	for _, s := range []*corev1.Service{
		svc("default", "kubernetes", "10.43.0.1", corev1.ServicePort{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP}),
		svc("default", "other", "10.43.0.9", corev1.ServicePort{Port: 80, Protocol: corev1.ProtocolTCP}),
		svc("web", "httpd-src", "10.43.0.5",
			corev1.ServicePort{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP},
			corev1.ServicePort{Name: "dns-udp", Port: 53, Protocol: corev1.ProtocolUDP}),
		svc("web", "headless", corev1.ClusterIPNone, corev1.ServicePort{Port: 80}),
	} {
		if err := idx.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	h := newHarness(t)
	h.k.services = corelisters.NewServiceLister(idx)

	pod := newPod("p", "app")
	pod.Namespace = "web"
	c := &pod.Spec.Containers[0]
	c.Env = []corev1.EnvVar{
		{Name: "HTTPD_SRC_SERVICE_PORT", Value: "mine"},
		{Name: "URL", Value: "http://$(HTTPD_SRC_SERVICE_HOST):$(HTTPD_SRC_SERVICE_PORT_HTTP)"},
	}
	env, err := h.k.makeEnv(pod, c, nil, h.k.newObjectSource(h.ctx, "web"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, kv := range env.cri() {
		got[kv.Key] = string(kv.Value)
	}
	want := map[string]string{
		"HTTPD_SRC_SERVICE_PORT":         "mine",
		"URL":                            "http://10.43.0.5:8080",
		"HTTPD_SRC_SERVICE_HOST":         "10.43.0.5",
		"HTTPD_SRC_SERVICE_PORT_HTTP":    "8080",
		"HTTPD_SRC_SERVICE_PORT_DNS_UDP": "53",
		"HTTPD_SRC_PORT":                 "tcp://10.43.0.5:8080",
		"HTTPD_SRC_PORT_8080_TCP":        "tcp://10.43.0.5:8080",
		"HTTPD_SRC_PORT_8080_TCP_PROTO":  "tcp",
		"HTTPD_SRC_PORT_8080_TCP_PORT":   "8080",
		"HTTPD_SRC_PORT_8080_TCP_ADDR":   "10.43.0.5",
		"HTTPD_SRC_PORT_53_UDP":          "udp://10.43.0.5:53",
		"HTTPD_SRC_PORT_53_UDP_PROTO":    "udp",
		"HTTPD_SRC_PORT_53_UDP_PORT":     "53",
		"HTTPD_SRC_PORT_53_UDP_ADDR":     "10.43.0.5",
		"KUBERNETES_SERVICE_HOST":        "10.43.0.1",
		"KUBERNETES_SERVICE_PORT":        "443",
		"KUBERNETES_SERVICE_PORT_HTTPS":  "443",
		"KUBERNETES_PORT":                "tcp://10.43.0.1:443",
		"KUBERNETES_PORT_443_TCP":        "tcp://10.43.0.1:443",
		"KUBERNETES_PORT_443_TCP_PROTO":  "tcp",
		"KUBERNETES_PORT_443_TCP_PORT":   "443",
		"KUBERNETES_PORT_443_TCP_ADDR":   "10.43.0.1",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("environment (-want +got):\n%s", diff)
	}

	// Without service links only the API's service is there.
	off := false
	pod.Spec.EnableServiceLinks = &off
	c.Env = nil
	env, err = h.k.makeEnv(pod, c, nil, h.k.newObjectSource(h.ctx, "web"))
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range env.cri() {
		if !strings.HasPrefix(kv.Key, "KUBERNETES_") {
			t.Errorf("with enableServiceLinks false: %s", kv.Key)
		}
	}
	if _, ok := env.lookup("KUBERNETES_SERVICE_HOST"); !ok {
		t.Error("KUBERNETES_SERVICE_HOST missing with enableServiceLinks false")
	}
}
