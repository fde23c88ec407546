package proxy

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/knftables"
)

// flakyNFT fails Run while fail is set.
type flakyNFT struct {
	*knftables.Fake
	mu   sync.Mutex
	fail bool
}

var errInjected = errors.New("injected nft failure")

func (f *flakyNFT) Run(ctx context.Context, tx *knftables.Transaction) error {
	f.mu.Lock()
	fail := f.fail
	f.mu.Unlock()
	if fail {
		return errInjected
	}
	return f.Fake.Run(ctx, tx)
}

func (f *flakyNFT) setFail(v bool) {
	f.mu.Lock()
	f.fail = v
	f.mu.Unlock()
}

// recordingCleaner records the flows it is asked to clean.
type recordingCleaner struct {
	mu    sync.Mutex
	flows []staleFlow
}

func (r *recordingCleaner) DeleteUDP(_ context.Context, flows []staleFlow) error {
	r.mu.Lock()
	r.flows = append(r.flows, flows...)
	r.mu.Unlock()
	return nil
}

func objects(objs ...any) []runtime.Object {
	out := make([]runtime.Object, len(objs))
	for i, o := range objs {
		out[i] = o.(runtime.Object)
	}
	return out
}

// newSyncedProxy returns a proxy whose informers run and have synced, for
// tests that drive sync themselves instead of Run's loop.
func newSyncedProxy(t *testing.T, cfg Config, nft knftables.Interface, objs ...any) (*Proxy, *fake.Clientset) {
	t.Helper()
	client := fake.NewClientset(objects(objs...)...)
	p, err := New(nil, client, nft, cfg)
	if err != nil {
		t.Fatal(err)
	}
	p.ct = &recordingCleaner{}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { p.services.RunWithContext(ctx) })
	wg.Go(func() { p.slices.RunWithContext(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	if !cache.WaitForCacheSync(ctx.Done(), p.services.HasSynced, p.slices.HasSynced) {
		t.Fatal("caches did not sync")
	}
	return p, client
}

// eventually polls cond; the timeout only keeps a broken test from hanging.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 5*time.Millisecond, 30*time.Second, true,
		func(context.Context) (bool, error) { return cond(), nil })
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func TestNewChecksConfig(t *testing.T) {
	client := fake.NewClientset()
	nft := knftables.NewFake(knftables.IPv4Family, DefaultTable)
	cases := []struct {
		name string
		cfg  Config
	}{
		{"IPv6 node IP", Config{NodeIPs: []net.IP{net.ParseIP("fd00::1")}}},
		{"IPv6 cluster CIDR", Config{ClusterCIDR: mustCIDR("fd00::/64")}},
		{"IPv6 service CIDR", Config{ServiceCIDR: mustCIDR("fd01::/108")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(nil, client, nft, tc.cfg); !errors.Is(err, ErrConfig) {
				t.Errorf("New = %v, want ErrConfig", err)
			}
		})
	}
	p, err := New(nil, client, nft, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if p.cfg.Table != DefaultTable || p.cfg.MinSyncPeriod != defaultMinSyncPeriod || p.cfg.SyncPeriod != defaultSyncPeriod {
		t.Errorf("defaults not applied: %+v", p.cfg)
	}
}

func TestRunProgramsFollowsAndCleansUp(t *testing.T) {
	nft := knftables.NewFake(knftables.IPv4Family, DefaultTable)
	client := fake.NewClientset(objects(service("web", "10.96.0.10"), slice("web", "web-1", ep("10.244.1.2")))...)
	p, err := New(nil, client, nft, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()

	select {
	case <-p.Ready():
	case err := <-done:
		t.Fatalf("Run ended before ready: %v", err)
	}
	if d := nft.Dump(); !strings.Contains(d, "service-ips { 10.96.0.10 . tcp . 80 : goto svc-default/web/http }") {
		t.Fatalf("service not programmed:\n%s", d)
	}

	s := slice("web", "web-1", ep("10.244.1.2"), ep("10.244.1.3"))
	if _, err := client.DiscoveryV1().EndpointSlices(ns).Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the new endpoint", func() bool {
		return strings.Contains(nft.Dump(), "dnat to 10.244.1.3:8080")
	})

	if _, err := client.CoreV1().Services(ns).Create(ctx, service("api", "10.96.0.11", nodePortType(30081)), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the endpointless NodePort to be rejected", func() bool {
		return strings.Contains(nft.Dump(), "no-endpoint-nodeports { tcp . 30081 : goto reject-chain }")
	})

	if err := client.CoreV1().Services(ns).Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the deleted service's chains to go", func() bool {
		return !strings.Contains(nft.Dump(), "default/web/")
	})

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	if d := nft.Dump(); d != "" {
		t.Errorf("table left behind:\n%s", d)
	}
}

func TestRunRebuildsAVanishedTable(t *testing.T) {
	nft := knftables.NewFake(knftables.IPv4Family, DefaultTable)
	client := fake.NewClientset(objects(service("web", "10.96.0.10"), slice("web", "web-1", ep("10.244.1.2")))...)
	cfg := testConfig()
	cfg.SyncPeriod = 10 * time.Millisecond
	p, err := New(nil, client, nft, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	<-p.Ready()
	want := nft.Dump()

	// As `nft flush ruleset` would.
	tx := nft.NewTransaction()
	tx.Delete(&knftables.Table{})
	if err := nft.Run(ctx, tx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the table to be rebuilt", func() bool { return nft.Dump() == want })
}

func TestAlteredTableIsNoticed(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(tx *knftables.Transaction)
		want   string
	}{
		{"untouched", func(*knftables.Transaction) {}, ""},
		{"table deleted", func(tx *knftables.Transaction) { tx.Delete(&knftables.Table{}) }, "missing"},
		{"table flushed", func(tx *knftables.Transaction) {
			c := newRuleConfig(ipv4, testConfig())
			for name := range c.staticChains() {
				tx.Flush(&knftables.Chain{Name: name})
			}
		}, "has 0 rules"},
		{"base chain deleted", func(tx *knftables.Transaction) {
			tx.Flush(&knftables.Chain{Name: chainNATOutput})
			tx.Delete(&knftables.Chain{Name: chainNATOutput})
		}, "chain nat-output missing"},
		{"dispatch rule deleted", func(tx *knftables.Transaction) {
			tx.Flush(&knftables.Chain{Name: chainServices})
			tx.Add(&knftables.Rule{Chain: chainServices, Rule: "ip daddr . meta l4proto . th dport vmap @" + mapServiceIPs})
		}, "chain services has 1 rules instead of 2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			nft := knftables.NewFake(knftables.IPv4Family, DefaultTable)
			p, _ := newSyncedProxy(t, testConfig(), nft, service("web", "10.96.0.10"), slice("web", "web-1", ep("10.244.1.2")))
			if _, err := p.sync(t.Context()); err != nil {
				t.Fatal(err)
			}
			tx := nft.NewTransaction()
			tc.mutate(tx)
			if err := nft.Run(t.Context(), tx); err != nil {
				t.Fatal(err)
			}
			reason, err := p.altered(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if (tc.want == "") != (reason == "") || !strings.Contains(reason, tc.want) {
				t.Errorf("altered = %q, want %q", reason, tc.want)
			}
		})
	}
}

func TestFailedSyncRebuildsEverything(t *testing.T) {
	nft := &flakyNFT{Fake: knftables.NewFake(knftables.IPv4Family, DefaultTable)}
	p, client := newSyncedProxy(t, testConfig(), nft, service("web", "10.96.0.10"), slice("web", "web-1", ep("10.244.1.2")))
	ctx := t.Context()
	if _, err := p.sync(ctx); err != nil {
		t.Fatal(err)
	}

	nft.setFail(true)
	if _, err := client.DiscoveryV1().EndpointSlices(ns).Update(ctx, slice("web", "web-1", ep("10.244.1.3")), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the update to reach the cache", func() bool { p.mu.Lock(); defer p.mu.Unlock(); return p.dirty[ns+"/web"] })
	if _, err := p.sync(ctx); !errors.Is(err, errInjected) {
		t.Fatalf("sync = %v, want the injected failure", err)
	}
	if p.rs.synced {
		t.Fatal("a failed sync must leave the table marked for a rebuild")
	}

	nft.setFail(false)
	if _, err := p.sync(ctx); err != nil {
		t.Fatal(err)
	}
	if d := nft.Dump(); !strings.Contains(d, "dnat to 10.244.1.3:8080") || strings.Contains(d, "10.244.1.2") {
		t.Errorf("rebuild missed the change:\n%s", d)
	}
}

func TestRemovedUDPEndpointsGoToConntrackCleanup(t *testing.T) {
	udp := func(ips ...string) *discoveryv1.EndpointSlice {
		var eps []discoveryv1.Endpoint
		for _, ip := range ips {
			eps = append(eps, ep(ip))
		}
		return portSlice("dns", "dns-1", []discoveryv1.EndpointPort{{Name: ptr.To("dns"), Port: ptr.To[int32](53), Protocol: ptr.To(corev1.ProtocolUDP)}}, eps...)
	}
	svc := service("dns", "10.96.0.53", withPorts(corev1.ServicePort{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}))
	nft := knftables.NewFake(knftables.IPv4Family, DefaultTable)
	p, client := newSyncedProxy(t, testConfig(), nft, svc, udp("10.244.1.2", "10.244.1.3"))
	ctx := t.Context()
	if _, err := p.sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := client.DiscoveryV1().EndpointSlices(ns).Update(ctx, udp("10.244.1.2"), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the update to reach the cache", func() bool { p.mu.Lock(); defer p.mu.Unlock(); return p.dirty[ns+"/dns"] })
	if _, err := p.sync(ctx); err != nil {
		t.Fatal(err)
	}
	got := p.ct.(*recordingCleaner).flows
	if len(got) != 1 || got[0].endpoint.String() != "10.244.1.3:53" || got[0].dest.String() != "10.96.0.53:53" {
		t.Errorf("cleaned flows = %v", got)
	}
}

func TestSliceMovedBetweenServicesUpdatesBoth(t *testing.T) {
	nft := knftables.NewFake(knftables.IPv4Family, DefaultTable)
	p, _ := newSyncedProxy(t, testConfig(), nft)
	old := slice("a", "s-1", ep("10.244.1.2"))
	cur := slice("b", "s-1", ep("10.244.1.2"))
	p.sliceChanged(old)
	p.sliceChanged(cache.DeletedFinalStateUnknown{Key: "default/s-1", Obj: cur})
	if !p.dirty[ns+"/a"] || !p.dirty[ns+"/b"] {
		t.Errorf("dirty = %v, want both services", p.dirty)
	}
}
