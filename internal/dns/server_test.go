package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes/fake"
)

// Every socket in these tests is on 127.0.0.1; the upstreams are fakes the
// tests start, never a real resolver.

// fakeUpstream is a DNS server on 127.0.0.1 that answers from a fixed zone
// and counts the questions it gets.
type fakeUpstream struct {
	addr string
	mu   sync.Mutex
	asks map[string]int // "udp A example.com." -> count
}

func startUpstream(t testing.TB) *fakeUpstream {
	t.Helper()
	u := &fakeUpstream{asks: map[string]int{}}
	pc, ln, err := listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u.addr = pc.LocalAddr().String()
	for _, srv := range []*dns.Server{
		{PacketConn: pc, Handler: dns.HandlerFunc(u.serve)},
		{Listener: ln, Handler: dns.HandlerFunc(u.serve)},
	} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := srv.ActivateAndServe(); err != nil {
				t.Errorf("fake upstream: %v", err)
			}
		}()
		<-started
		t.Cleanup(func() {
			if err := srv.Shutdown(); err != nil {
				t.Errorf("fake upstream shutdown: %v", err)
			}
			<-done
		})
	}
	return u
}

func (u *fakeUpstream) serve(w dns.ResponseWriter, req *dns.Msg) {
	q := req.Question[0]
	network := w.RemoteAddr().Network()
	u.mu.Lock()
	u.asks[network+" "+dns.TypeToString[q.Qtype]+" "+strings.ToLower(q.Name)]++
	u.mu.Unlock()

	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	rr := func(s string) dns.RR {
		r, err := dns.NewRR(s)
		if err != nil {
			panic(err)
		}
		return r
	}
	soa := rr("example.com. 300 IN SOA ns.example.com. hostmaster.example.com. 1 7200 1800 86400 30")
	switch name := strings.ToLower(q.Name); {
	case name == "example.com." && q.Qtype == dns.TypeA:
		m.Answer = []dns.RR{rr(q.Name + " 60 IN A 192.0.2.1")}
	case name == "example.com.":
		m.Ns = []dns.RR{soa}
	case name == "big.example.com.":
		for i := range 40 {
			m.Answer = append(m.Answer, rr(fmt.Sprintf(`%s 60 IN TXT "record %02d %s"`, q.Name, i, strings.Repeat("x", 50))))
		}
	case name == "fail.example.com.":
		m.Rcode = dns.RcodeServerFailure
	default:
		m.Rcode = dns.RcodeNameError
		m.Ns = []dns.RR{soa}
	}
	if opt := req.IsEdns0(); opt != nil {
		m.SetEdns0(opt.UDPSize(), false)
	}
	if network == "udp" {
		m.Truncate(clientUDPSize(req))
	}
	if err := w.WriteMsg(m); err != nil {
		panic(err)
	}
}

func (u *fakeUpstream) count(key string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.asks[key]
}

// silentUpstream is a UDP socket on 127.0.0.1 that never answers.
func silentUpstream(t testing.TB) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc.LocalAddr().String()
}

// noResolvConf is a resolv.conf without nameservers, so that a test that sets
// no upstreams can never reach the host's resolvers.
func noResolvConf(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(path, []byte("search example.internal\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// startServer runs a Server on 127.0.0.1 over a fake clientset holding objs
// and waits until it is ready.
func startServer(t testing.TB, cfg Config, objs ...runtime.Object) (*Server, *fake.Clientset) {
	t.Helper()
	client := fake.NewClientset(objs...)
	cfg.Addr = "127.0.0.1:0"
	if cfg.Upstreams == nil {
		cfg.ResolvConf = noResolvConf(t)
	}
	s, err := New(nil, client, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-s.Ready():
	case err := <-errc:
		t.Fatalf("Run ended early: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("server not ready after 10s")
	}
	return s, client
}

func ask(t testing.TB, network, addr, name string, qtype uint16, edns uint16) *dns.Msg {
	t.Helper()
	req := new(dns.Msg)
	req.SetQuestion(name, qtype)
	if edns > 0 {
		req.SetEdns0(edns, false)
	}
	c := &dns.Client{Net: network, Timeout: 5 * time.Second}
	resp, _, err := c.Exchange(req, addr)
	if err != nil {
		t.Fatalf("%s %s %s: %v", network, dns.TypeToString[qtype], name, err)
	}
	return resp
}

func TestServerClusterNames(t *testing.T) {
	s, _ := startServer(t, Config{}, testObjects()...)
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			resp := ask(t, network, s.Addr(), "Web.Default.svc.cluster.local.", dns.TypeA, 0)
			if resp.Rcode != dns.RcodeSuccess || !resp.Authoritative || resp.Truncated {
				t.Fatalf("answer: %v", resp)
			}
			if q := resp.Question[0].Name; q != "Web.Default.svc.cluster.local." {
				t.Errorf("question = %q, want it as asked", q)
			}
			if got := records(resp.Answer); len(got) != 1 || got[0] != "Web.Default.svc.cluster.local. A 10.96.0.20" {
				t.Errorf("answer = %q", got)
			}
			if resp.IsEdns0() != nil {
				t.Error("OPT record in the answer to a request without")
			}

			resp = ask(t, network, s.Addr(), "nope.default.svc.cluster.local.", dns.TypeA, 0)
			if resp.Rcode != dns.RcodeNameError || len(resp.Ns) != 1 || resp.Ns[0].Header().Rrtype != dns.TypeSOA {
				t.Errorf("unknown service: %v", resp)
			}
			resp = ask(t, network, s.Addr(), "web.default.svc.cluster.local.", dns.TypeAAAA, 0)
			if resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 0 || len(resp.Ns) != 1 {
				t.Errorf("NODATA: %v", resp)
			}
			// Without upstreams an ExternalName is the CNAME alone.
			resp = ask(t, network, s.Addr(), "ext.default.svc.cluster.local.", dns.TypeA, 0)
			if got := records(resp.Answer); resp.Rcode != dns.RcodeSuccess || len(got) != 1 ||
				got[0] != "ext.default.svc.cluster.local. CNAME Example.COM." {
				t.Errorf("ExternalName: %v", resp)
			}
			// Without upstreams, other names are refused.
			resp = ask(t, network, s.Addr(), "example.com.", dns.TypeA, 0)
			if resp.Rcode != dns.RcodeRefused || resp.RecursionAvailable {
				t.Errorf("no upstream: %v", resp)
			}
		})
	}
}

func TestServerEDNS(t *testing.T) {
	s, _ := startServer(t, Config{}, testObjects()...)
	req := new(dns.Msg)
	req.SetQuestion("web.default.svc.cluster.local.", dns.TypeA)
	req.SetEdns0(4096, true)
	resp, _, err := (&dns.Client{Net: "udp", Timeout: 5 * time.Second}).Exchange(req, s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	opt := resp.IsEdns0()
	if opt == nil || !opt.Do() || opt.Version() != 0 {
		t.Errorf("OPT = %v, want one with DO", opt)
	}

	req.IsEdns0().SetVersion(1)
	resp, _, err = (&dns.Client{Net: "udp", Timeout: 5 * time.Second}).Exchange(req, s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if resp.Rcode != dns.RcodeBadVers || resp.IsEdns0() == nil {
		t.Errorf("EDNS version 1: rcode %s, OPT %v", dns.RcodeToString[resp.Rcode], resp.IsEdns0())
	}
}

func TestServerTruncatesOverUDP(t *testing.T) {
	objs := []runtime.Object{namespace("default"), service("default", "big", headless)}
	slice := endpointSlice("default", "big", "big-1", discoveryv1.AddressTypeIPv4, nil)
	for i := range 100 {
		slice.Endpoints = append(slice.Endpoints, endpointAt(fmt.Sprintf("10.3.0.%d", i+1), "", true))
	}
	s, _ := startServer(t, Config{}, append(objs, slice)...)
	const name = "big.default.svc.cluster.local."
	tests := []struct {
		network string
		edns    uint16
		full    bool
	}{
		{"udp", 0, false},
		{"udp", 1232, false},
		{"udp", 4096, true},
		{"tcp", 0, true},
	}
	for _, tc := range tests {
		resp := ask(t, tc.network, s.Addr(), name, dns.TypeA, tc.edns)
		if resp.Truncated == tc.full || (len(resp.Answer) == 100) != tc.full {
			t.Errorf("%s with buffer %d: TC %v, %d answers; want full %v", tc.network, tc.edns, resp.Truncated, len(resp.Answer), tc.full)
		}
	}
}

func TestServerForwardsAndCaches(t *testing.T) {
	up := startUpstream(t)
	s, _ := startServer(t, Config{Upstreams: []string{up.addr}}, testObjects()...)

	for i := range 3 {
		name := []string{"example.com.", "example.com.", "EXAMPLE.com."}[i]
		resp := ask(t, "udp", s.Addr(), name, dns.TypeA, 0)
		if resp.Rcode != dns.RcodeSuccess || !resp.RecursionAvailable || resp.Authoritative {
			t.Fatalf("query %d: %v", i, resp)
		}
		if got := records(resp.Answer); len(got) != 1 || got[0] != name+" A 192.0.2.1" {
			t.Errorf("query %d: answer %q", i, got)
		}
		if ttl := resp.Answer[0].Header().Ttl; ttl > 60 || ttl < 50 {
			t.Errorf("query %d: TTL %d, want from the upstream's 60", i, ttl)
		}
	}
	if n := up.count("udp A example.com."); n != 1 {
		t.Errorf("upstream asked %d times, want 1 (then cached)", n)
	}

	for range 2 {
		resp := ask(t, "tcp", s.Addr(), "nx.example.com.", dns.TypeA, 0)
		if resp.Rcode != dns.RcodeNameError || len(resp.Ns) != 1 {
			t.Errorf("NXDOMAIN: %v", resp)
		}
		resp = ask(t, "udp", s.Addr(), "example.com.", dns.TypeAAAA, 0)
		if resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 0 || len(resp.Ns) != 1 {
			t.Errorf("NODATA: %v", resp)
		}
	}
	if n := up.count("udp A nx.example.com."); n != 1 {
		t.Errorf("NXDOMAIN asked upstream %d times, want 1", n)
	}
	if n := up.count("udp AAAA example.com."); n != 1 {
		t.Errorf("NODATA asked upstream %d times, want 1", n)
	}

	// An answer too big for UDP is fetched again over TCP, then cut to the
	// client's size.
	resp := ask(t, "udp", s.Addr(), "big.example.com.", dns.TypeTXT, 4096)
	if resp.Truncated || len(resp.Answer) != 40 {
		t.Errorf("big answer with 4096 bytes: TC %v, %d records", resp.Truncated, len(resp.Answer))
	}
	if n := up.count("tcp TXT big.example.com."); n != 1 {
		t.Errorf("upstream asked over TCP %d times, want 1", n)
	}
	resp = ask(t, "udp", s.Addr(), "big.example.com.", dns.TypeTXT, 0)
	if !resp.Truncated {
		t.Errorf("big answer in 512 bytes not truncated: %d records", len(resp.Answer))
	}
	if resp = ask(t, "tcp", s.Addr(), "big.example.com.", dns.TypeTXT, 0); len(resp.Answer) != 40 {
		t.Errorf("big answer over TCP: %d records", len(resp.Answer))
	}

	// An ExternalName is followed through the upstream.
	resp = ask(t, "udp", s.Addr(), "ext.default.svc.cluster.local.", dns.TypeA, 0)
	want := []string{"example.com. A 192.0.2.1", "ext.default.svc.cluster.local. CNAME Example.COM."}
	if got := records(resp.Answer); resp.Rcode != dns.RcodeSuccess || strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("ExternalName: %s %q, want %q", dns.RcodeToString[resp.Rcode], got, want)
	}

	// A failing upstream is a failure, not cached.
	for range 2 {
		if resp := ask(t, "udp", s.Addr(), "fail.example.com.", dns.TypeA, 0); resp.Rcode != dns.RcodeServerFailure {
			t.Errorf("upstream SERVFAIL: %v", resp)
		}
	}
	if n := up.count("udp A fail.example.com."); n != 2 {
		t.Errorf("failing name asked %d times, want 2", n)
	}
	// Cluster names never reach the upstream.
	ask(t, "udp", s.Addr(), "nope.default.svc.cluster.local.", dns.TypeA, 0)
	if n := up.count("udp A nope.default.svc.cluster.local."); n != 0 {
		t.Errorf("cluster name forwarded %d times", n)
	}
}

func TestServerUpstreamDown(t *testing.T) {
	up := startUpstream(t)
	silent := silentUpstream(t)
	tests := []struct {
		name      string
		upstreams []string
		rcode     int
	}{
		{"silent upstream", []string{silent}, dns.RcodeServerFailure},
		{"closed port", []string{closedPort(t)}, dns.RcodeServerFailure},
		{"falls over to the next", []string{silent, up.addr}, dns.RcodeSuccess},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := startServer(t, Config{Upstreams: tc.upstreams, ForwardTimeout: 400 * time.Millisecond})
			resp := ask(t, "udp", s.Addr(), "example.com.", dns.TypeA, 0)
			if resp.Rcode != tc.rcode {
				t.Errorf("rcode %s, want %s", dns.RcodeToString[resp.Rcode], dns.RcodeToString[tc.rcode])
			}
		})
	}
}

// closedPort is a 127.0.0.1 UDP port nothing listens on.
func closedPort(t testing.TB) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	return addr
}

func TestServerFollowsUpdates(t *testing.T) {
	s, client := startServer(t, Config{}, namespace("default"))
	ctx := context.Background()
	const name = "late.default.svc.cluster.local."
	if resp := ask(t, "udp", s.Addr(), name, dns.TypeA, 0); resp.Rcode != dns.RcodeNameError {
		t.Fatalf("before: %v", resp)
	}
	svc := service("default", "late", clusterIP("10.96.0.40"))
	if _, err := client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err := wait.PollUntilContextTimeout(ctx, 5*time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) {
		resp := ask(t, "udp", s.Addr(), name, dns.TypeA, 0)
		return resp.Rcode == dns.RcodeSuccess && len(resp.Answer) == 1, nil
	})
	if err != nil {
		t.Fatalf("new service never answered: %v", err)
	}
}

func TestAnswerBeforeSync(t *testing.T) {
	s, err := New(nil, fake.NewClientset(testObjects()...), Config{Addr: "127.0.0.1:0", ResolvConf: noResolvConf(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for name, want := range map[string]int{
		"web.default.svc.cluster.local.": dns.RcodeServerFailure,
		"example.com.":                   dns.RcodeRefused,
		// Reverse names of unknown addresses are not the cluster's.
		"20.0.96.10.in-addr.arpa.": dns.RcodeRefused,
	} {
		req := new(dns.Msg)
		req.SetQuestion(name, dns.TypeA)
		if resp := s.answer(ctx, req); resp.Rcode != want {
			t.Errorf("%s before sync: %s, want %s", name, dns.RcodeToString[resp.Rcode], dns.RcodeToString[want])
		}
	}
}

func TestAnswerRejects(t *testing.T) {
	s, err := New(nil, fake.NewClientset(), Config{Addr: "127.0.0.1:0", ResolvConf: noResolvConf(t)})
	if err != nil {
		t.Fatal(err)
	}
	s.serving.Store(true)
	q := func(mut func(*dns.Msg)) *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion("web.default.svc.cluster.local.", dns.TypeA)
		mut(m)
		return m
	}
	tests := []struct {
		name  string
		req   *dns.Msg
		rcode int
	}{
		{"notify", q(func(m *dns.Msg) { m.Opcode = dns.OpcodeNotify }), dns.RcodeNotImplemented},
		{"two questions", q(func(m *dns.Msg) { m.Question = append(m.Question, m.Question[0]) }), dns.RcodeFormatError},
		{"chaos class", q(func(m *dns.Msg) { m.Question[0].Qclass = dns.ClassCHAOS }), dns.RcodeRefused},
		{"zone transfer", q(func(m *dns.Msg) { m.Question[0].Qtype = dns.TypeAXFR }), dns.RcodeRefused},
	}
	for _, tc := range tests {
		if resp := s.answer(context.Background(), tc.req); resp.Rcode != tc.rcode {
			t.Errorf("%s: %s, want %s", tc.name, dns.RcodeToString[resp.Rcode], dns.RcodeToString[tc.rcode])
		}
	}
}

func TestNewConfig(t *testing.T) {
	client := fake.NewClientset()
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no address", Config{}},
		{"address without port", Config{Addr: "127.0.0.1"}},
		{"bad domain", Config{Addr: "127.0.0.1:0", Domain: "a..b"}},
		{"bad upstream", Config{Addr: "127.0.0.1:0", Upstreams: []string{"resolver.example"}}},
	}
	for _, tc := range tests {
		if _, err := New(nil, client, tc.cfg); err == nil {
			t.Errorf("%s: New accepted %+v", tc.name, tc.cfg)
		}
	}
	if _, err := New(nil, nil, Config{Addr: "127.0.0.1:0"}); err == nil {
		t.Error("New accepted a nil client")
	}
}

func TestRunErrors(t *testing.T) {
	s, _ := startServer(t, Config{})
	if err := s.Run(context.Background()); !errors.Is(err, ErrAlreadyRun) {
		t.Errorf("second Run: %v, want ErrAlreadyRun", err)
	}
	// The port is taken by the running server.
	other, err := New(nil, fake.NewClientset(), Config{Addr: s.Addr(), ResolvConf: noResolvConf(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Run(context.Background()); err == nil {
		t.Error("Run on a taken port succeeded")
	}
	if other.Addr() != "" {
		t.Errorf("Addr = %q after a failed bind", other.Addr())
	}
}
