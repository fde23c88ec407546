package servicelb

import (
	"context"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/skiff-sh/skiff/internal/controller"
)

func node(name, ip string, ready bool) *corev1.Node {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Status: corev1.NodeStatus{
			Addresses:  []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}},
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status}},
		},
	}
}

func service(name string, typ corev1.ServiceType, class *string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec:       corev1.ServiceSpec{Type: typ, LoadBalancerClass: class},
	}
}

func TestIngressFollowsReadyNodes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	other := "example.com/other"
	client := fake.NewClientset(
		node("a", "10.0.0.2", true), node("b", "10.0.0.1", true), node("c", "10.0.0.3", false),
		service("lb", corev1.ServiceTypeLoadBalancer, nil),
		service("other", corev1.ServiceTypeLoadBalancer, &other),
		service("plain", corev1.ServiceTypeClusterIP, nil),
	)
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(controller.Context{Client: client, Informers: factory})
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	go func() { _ = c.Run(ctx) }()

	ingress := func(name string) []string {
		s, err := client.CoreV1().Services("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var ips []string
		for _, in := range s.Status.LoadBalancer.Ingress {
			ips = append(ips, in.IP)
		}
		return ips
	}
	waitIngress := func(name string, want ...string) {
		t.Helper()
		err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
			return slices.Equal(ingress(name), want), nil
		})
		if err != nil {
			t.Fatalf("%s: ingress %v, want %v", name, ingress(name), want)
		}
	}

	waitIngress("lb", "10.0.0.1", "10.0.0.2")
	if got := ingress("other"); got != nil {
		t.Errorf("a service of another load balancer class got %v", got)
	}
	if got := ingress("plain"); got != nil {
		t.Errorf("a ClusterIP service got %v", got)
	}

	if _, err := client.CoreV1().Nodes().UpdateStatus(ctx, node("c", "10.0.0.3", true), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitIngress("lb", "10.0.0.1", "10.0.0.2", "10.0.0.3")

	if err := client.CoreV1().Nodes().Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitIngress("lb", "10.0.0.1", "10.0.0.3")

	svc, _ := client.CoreV1().Services("default").Get(ctx, "lb", metav1.GetOptions{})
	svc.Spec.Type = corev1.ServiceTypeClusterIP
	if _, err := client.CoreV1().Services("default").Update(ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitIngress("lb")
}
