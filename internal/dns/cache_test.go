package dns

import (
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
	clocktesting "k8s.io/utils/clock/testing"
)

func answerMsg(name string, ttl uint32) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	m.Response = true
	m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: ttl}, A: net.IPv4(192, 0, 2, 1)}}
	return m
}

func negativeMsg(name string, rcode int, soaTTL, minTTL uint32) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	m.Response, m.Rcode = true, rcode
	m.Ns = []dns.RR{&dns.SOA{
		Hdr: dns.RR_Header{Name: "example.", Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: soaTTL},
		Ns:  "ns.example.", Mbox: "hostmaster.example.", Minttl: minTTL,
	}}
	return m
}

func TestCacheTTL(t *testing.T) {
	truncated := answerMsg("a.example.", 60)
	truncated.Truncated = true
	servfail := answerMsg("a.example.", 60)
	servfail.Rcode = dns.RcodeServerFailure
	withOPT := answerMsg("a.example.", 60)
	withOPT.SetEdns0(1232, false)
	nodataNoSOA := answerMsg("a.example.", 60)
	nodataNoSOA.Answer = nil
	tests := []struct {
		name string
		msg  *dns.Msg
		ttl  uint32
		ok   bool
	}{
		{"answer", answerMsg("a.example.", 60), 60, true},
		{"answer capped", answerMsg("a.example.", 86400), maxCacheTTL, true},
		{"zero TTL", answerMsg("a.example.", 0), 0, false},
		{"OPT TTL ignored", withOPT, 60, true},
		{"NXDOMAIN by SOA minimum", negativeMsg("a.example.", dns.RcodeNameError, 300, 30), 30, true},
		{"NXDOMAIN by SOA TTL", negativeMsg("a.example.", dns.RcodeNameError, 10, 30), 10, true},
		{"NODATA", negativeMsg("a.example.", dns.RcodeSuccess, 300, 30), 30, true},
		{"negative capped", negativeMsg("a.example.", dns.RcodeNameError, 86400, 86400), maxNegativeTTL, true},
		{"negative without SOA", nodataNoSOA, 0, false},
		{"truncated", truncated, 0, false},
		{"SERVFAIL", servfail, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ttl, ok := cacheTTL(tc.msg)
			if ttl != tc.ttl || ok != tc.ok {
				t.Errorf("cacheTTL = %d, %v; want %d, %v", ttl, ok, tc.ttl, tc.ok)
			}
		})
	}
}

func TestCacheAging(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	c := newAnswerCache(10, clk)
	q := dns.Question{Name: "A.Example.", Qtype: dns.TypeA, Qclass: dns.ClassINET}
	c.put(keyOf(q, false, false), answerMsg("a.example.", 60))

	clk.SetTime(clk.Now().Add(10 * time.Second))
	lower := dns.Question{Name: "a.example.", Qtype: dns.TypeA, Qclass: dns.ClassINET}
	m, ok := c.get(keyOf(lower, false, false))
	if !ok {
		t.Fatal("miss after 10s of 60")
	}
	if ttl := m.Answer[0].Header().Ttl; ttl != 50 {
		t.Errorf("TTL after 10s = %d, want 50", ttl)
	}
	// The copy is the caller's: changing it leaves the cache alone.
	m.Answer[0].Header().Ttl = 1
	if m, _ := c.get(keyOf(lower, false, false)); m.Answer[0].Header().Ttl != 50 {
		t.Error("cached answer changed through a copy")
	}
	if _, ok := c.get(keyOf(lower, true, false)); ok {
		t.Error("hit with the DO bit, stored without")
	}

	clk.SetTime(clk.Now().Add(50 * time.Second))
	if _, ok := c.get(keyOf(lower, false, false)); ok {
		t.Error("hit after the TTL ran out")
	}
	if len(c.items) != 0 || c.lru.Len() != 0 {
		t.Errorf("expired entry kept: %d items", len(c.items))
	}
}

func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	c := newAnswerCache(2, clk)
	key := func(name string) cacheKey {
		return keyOf(dns.Question{Name: name, Qtype: dns.TypeA, Qclass: dns.ClassINET}, false, false)
	}
	c.put(key("a.example."), answerMsg("a.example.", 60))
	c.put(key("b.example."), answerMsg("b.example.", 60))
	c.get(key("a.example."))
	c.put(key("c.example."), answerMsg("c.example.", 60))
	for name, want := range map[string]bool{"a.example.": true, "b.example.": false, "c.example.": true} {
		if _, ok := c.get(key(name)); ok != want {
			t.Errorf("%s cached = %v, want %v", name, ok, want)
		}
	}
	// Replacing an entry does not grow the cache.
	c.put(key("c.example."), answerMsg("c.example.", 30))
	if c.lru.Len() != 2 || len(c.items) != 2 {
		t.Errorf("cache holds %d/%d entries, want 2", c.lru.Len(), len(c.items))
	}
}
