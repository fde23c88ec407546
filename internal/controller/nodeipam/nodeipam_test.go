package nodeipam

import (
	"context"
	"net"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"

	"github.com/skiff-sh/skiff/internal/controller"
)

func mustCIDR(t *testing.T, s string) *net.IPNet {
	t.Helper()
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCIDRSet(t *testing.T) {
	set, err := newCIDRSet(mustCIDR(t, "10.42.0.0/22"), 24)
	if err != nil {
		t.Fatal(err)
	}
	if !set.occupy(mustCIDR(t, "10.42.1.0/24")) {
		t.Fatal("occupy of a range inside the set failed")
	}
	for _, bad := range []string{"10.43.0.0/24", "10.42.0.0/25", "10.42.0.0/16"} {
		if set.occupy(mustCIDR(t, bad)) {
			t.Errorf("occupy(%s) = true, want false", bad)
		}
	}
	var got []string
	for {
		c, err := set.allocate()
		if err != nil {
			if err != ErrFull {
				t.Fatalf("allocate: %v", err)
			}
			break
		}
		got = append(got, c.String())
	}
	want := []string{"10.42.0.0/24", "10.42.2.0/24", "10.42.3.0/24"}
	if len(got) != len(want) {
		t.Fatalf("allocated %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("allocated %v, want %v", got, want)
		}
	}
	set.release(mustCIDR(t, "10.42.2.0/24"))
	c, err := set.allocate()
	if err != nil || c.String() != "10.42.2.0/24" {
		t.Fatalf("after release: %v, %v", c, err)
	}
}

func TestCIDRSetIPv6(t *testing.T) {
	set, err := newCIDRSet(mustCIDR(t, "fd00:42::/56"), 64)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := set.allocate()
	b, _ := set.allocate()
	if a.String() != "fd00:42::/64" || b.String() != "fd00:42:0:1::/64" {
		t.Fatalf("got %s, %s", a, b)
	}
}

func TestNewRejectsBadMask(t *testing.T) {
	for _, tc := range []struct {
		cidr string
		mask int
	}{{"10.42.0.0/16", 8}, {"10.42.0.0/16", 33}, {"10.0.0.0/8", 30}} {
		if _, err := newCIDRSet(mustCIDR(t, tc.cidr), tc.mask); err == nil {
			t.Errorf("newCIDRSet(%s, /%d) succeeded", tc.cidr, tc.mask)
		}
	}
}

func node(name, cidr string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if cidr != "" {
		n.Spec.PodCIDR, n.Spec.PodCIDRs = cidr, []string{cidr}
	}
	return n
}

// TestController runs the allocator over a fake clientset: a node that
// already has a range keeps it, new nodes get the free ones, a full range
// is reported as an event, and a deleted node's range goes to the next.
func TestController(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := fake.NewClientset(node("old", "10.42.0.0/24"))
	factory := informers.NewSharedInformerFactory(client, 0)
	rec := record.NewFakeRecorder(10)
	c, err := New(controller.Context{
		Client: client, Informers: factory,
		Recorder: func(string) record.EventRecorder { return rec },
	}, Config{ClusterCIDR: mustCIDR(t, "10.42.0.0/23")})
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()

	cidrOf := func(name string) string {
		n, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return ""
		}
		return n.Spec.PodCIDR
	}
	waitFor := func(name, want string) {
		t.Helper()
		err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
			return cidrOf(name) == want, nil
		})
		if err != nil {
			t.Fatalf("node %s: podCIDR %q, want %q", name, cidrOf(name), want)
		}
	}
	create := func(name string) {
		t.Helper()
		if _, err := client.CoreV1().Nodes().Create(ctx, node(name, ""), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	create("a")
	waitFor("a", "10.42.1.0/24")
	waitFor("old", "10.42.0.0/24")

	create("b")
	select {
	case ev := <-rec.Events:
		if want := "Normal CIDRNotAvailable Node b status is now: CIDRNotAvailable"; ev != want {
			t.Fatalf("event %q, want %q", ev, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no CIDRNotAvailable event for a node beyond the range")
	}

	if err := client.CoreV1().Nodes().Delete(ctx, "old", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor("b", "10.42.0.0/24")

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestCIDRSetUndo(t *testing.T) {
	set, err := newCIDRSet(mustCIDR(t, "10.42.0.0/22"), 24)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := set.allocate()
	set.undo(first)
	again, _ := set.allocate()
	if again.String() != "10.42.0.0/24" {
		t.Errorf("after undo: %s, want 10.42.0.0/24 again", again)
	}
}
