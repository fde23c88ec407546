package clusterdns

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/skiff-sh/skiff/internal/controller"
)

func node(name, cidr string, ready bool) *corev1.Node {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status}}}}
	if cidr != "" {
		n.Spec.PodCIDR, n.Spec.PodCIDRs = cidr, []string{cidr}
	}
	return n
}

func TestServiceAndEndpoints(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := fake.NewClientset(node("b", "10.42.1.0/24", false), node("a", "10.42.0.0/24", true), node("new", "", true))
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(controller.Context{Client: client, Informers: factory}, Config{ServiceIP: net.ParseIP("10.43.0.10")})
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	go func() { _ = c.Run(ctx) }()

	var slice *discoveryv1.EndpointSlice
	waitSlice := func(want ...string) {
		t.Helper()
		err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
			slice, err = client.DiscoveryV1().EndpointSlices(Namespace).Get(ctx, slicePrefix+"0", metav1.GetOptions{})
			return err == nil && endpoints(slice) == strings.Join(want, " "), nil
		})
		if err != nil {
			t.Fatalf("endpoint slice %+v, want %v", slice, want)
		}
	}
	waitSlice("10.42.0.1@a/ready", "10.42.1.1@b/not-ready")
	if ports := slice.Ports; len(ports) != 2 || *ports[0].Port != 53 || *ports[1].Protocol != corev1.ProtocolTCP {
		t.Errorf("ports %+v", ports)
	}
	if slice.Labels[discoveryv1.LabelServiceName] != ServiceName || slice.Labels[discoveryv1.LabelManagedBy] != ManagedBy {
		t.Errorf("labels %v", slice.Labels)
	}

	svc, err := client.CoreV1().Services(Namespace).Get(ctx, ServiceName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.ClusterIP != "10.43.0.10" || len(svc.Spec.Selector) != 0 ||
		svc.Spec.InternalTrafficPolicy == nil || *svc.Spec.InternalTrafficPolicy != corev1.ServiceInternalTrafficPolicyLocal {
		t.Errorf("service spec %+v", svc.Spec)
	}

	if _, err := client.CoreV1().Nodes().Update(ctx, node("new", "10.42.2.0/24", true), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitSlice("10.42.0.1@a/ready", "10.42.1.1@b/not-ready", "10.42.2.1@new/ready")
	if err := client.CoreV1().Nodes().Delete(ctx, "b", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitSlice("10.42.0.1@a/ready", "10.42.2.1@new/ready")
}

func endpoints(s *discoveryv1.EndpointSlice) string {
	var out []string
	for _, e := range s.Endpoints {
		state := "ready"
		if !*e.Conditions.Ready {
			state = "not-ready"
		}
		out = append(out, e.Addresses[0]+"@"+*e.NodeName+"/"+state)
	}
	return strings.Join(out, " ")
}

// A large cluster's nodes spread over slices of maxPerSlice; slices no
// longer needed go.
func TestSlicesChunked(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := fake.NewClientset()
	for i := range 250 {
		n := node(fmt.Sprintf("n%03d", i), fmt.Sprintf("10.%d.%d.0/24", 42+i/256, i%256), true)
		if _, err := client.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(controller.Context{Client: client, Informers: factory}, Config{ServiceIP: net.ParseIP("10.43.0.10")})
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	go func() { _ = c.Run(ctx) }()

	sizes := func() []int {
		list, err := client.DiscoveryV1().EndpointSlices(Namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var out []int
		for _, s := range list.Items {
			out = append(out, len(s.Endpoints))
		}
		slices.Sort(out)
		return out
	}
	waitSizes := func(want ...int) {
		t.Helper()
		err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
			return slices.Equal(sizes(), want), nil
		})
		if err != nil {
			t.Fatalf("slice sizes %v, want %v", sizes(), want)
		}
	}
	waitSizes(50, 100, 100)
	// Fewer deletions than the fake watch's buffer of 100 events.
	for i := 90; i < 150; i++ {
		if err := client.CoreV1().Nodes().Delete(ctx, fmt.Sprintf("n%03d", i), metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitSizes(90, 100)
}
