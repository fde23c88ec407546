package dns

import (
	"encoding/binary"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// BenchmarkServeUDP measures the server over UDP on loopback, with clients in
// the same process sharing its cores. "max" runs closed-loop clients as fast
// as answers come; "10k" paces eight clients to 10,000 queries/s in total,
// and a query that the previous answer held back is timed from when it was
// due, so that queueing behind a slow answer counts.
func BenchmarkServeUDP(b *testing.B) {
	up := startUpstream(b)
	s, _ := startServer(b, Config{Upstreams: []string{up.addr}}, testObjects()...)
	queries := []struct {
		name  string
		qname string
		qtype uint16
	}{
		{"cluster", "web.default.svc.cluster.local.", dns.TypeA},
		{"headless", "db.default.svc.cluster.local.", dns.TypeA},
		{"search-nxdomain", "example.com.default.svc.cluster.local.", dns.TypeA},
		{"cached", "example.com.", dns.TypeA},
	}
	for _, q := range queries {
		// The first query fills the cache.
		ask(b, "udp", s.Addr(), q.qname, q.qtype, 0)
		b.Run(q.name+"/max", func(b *testing.B) { benchClosedLoop(b, s.Addr(), q.qname, q.qtype) })
		b.Run(q.name+"/10k", func(b *testing.B) { benchPaced(b, s.Addr(), q.qname, q.qtype, 10000) })
	}
	if n := up.count("udp A example.com."); n != 1 {
		b.Errorf("upstream asked %d times, want 1", n)
	}
}

// udpClient sends one packed query again and again under fresh IDs.
type udpClient struct {
	conn  net.Conn
	query []byte
	buf   []byte
	id    uint16
}

func newUDPClient(b *testing.B, addr, qname string, qtype uint16) *udpClient {
	conn, err := net.Dial("udp", addr)
	if err != nil {
		b.Fatal(err)
	}
	m := new(dns.Msg)
	m.SetQuestion(qname, qtype)
	query, err := m.Pack()
	if err != nil {
		b.Fatal(err)
	}
	return &udpClient{conn: conn, query: query, buf: make([]byte, dns.MaxMsgSize), id: m.Id}
}

// exchange returns false when no good answer came within a second.
func (c *udpClient) exchange() bool {
	c.id++
	binary.BigEndian.PutUint16(c.query, c.id)
	if _, err := c.conn.Write(c.query); err != nil {
		return false
	}
	if err := c.conn.SetReadDeadline(time.Now().Add(time.Second)); err != nil {
		return false
	}
	for {
		n, err := c.conn.Read(c.buf)
		if err != nil {
			return false
		}
		// A late answer to an earlier, timed-out query is skipped.
		if n >= 12 && binary.BigEndian.Uint16(c.buf) == c.id {
			rcode := c.buf[3] & 0x0f
			return rcode == dns.RcodeSuccess || rcode == dns.RcodeNameError
		}
	}
}

type latencies struct {
	mu   sync.Mutex
	all  []time.Duration
	lost int
}

func (l *latencies) add(d []time.Duration, lost int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all = append(l.all, d...)
	l.lost += lost
}

func (l *latencies) report(b *testing.B, elapsed time.Duration) {
	if len(l.all) == 0 {
		b.Fatal("no answers")
	}
	slices.Sort(l.all)
	pct := func(p float64) float64 {
		return float64(l.all[min(len(l.all)-1, int(float64(len(l.all))*p))].Microseconds())
	}
	b.ReportMetric(float64(len(l.all))/elapsed.Seconds(), "queries/s")
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	b.ReportMetric(float64(l.lost), "lost")
}

func benchClosedLoop(b *testing.B, addr, qname string, qtype uint16) {
	var lat latencies
	b.SetParallelism(4)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		c := newUDPClient(b, addr, qname, qtype)
		defer c.conn.Close()
		var mine []time.Duration
		lost := 0
		for pb.Next() {
			t0 := time.Now()
			if c.exchange() {
				mine = append(mine, time.Since(t0))
			} else {
				lost++
			}
		}
		lat.add(mine, lost)
	})
	lat.report(b, time.Since(start))
}

func benchPaced(b *testing.B, addr, qname string, qtype uint16, rate int) {
	const clients = 8
	interval := time.Duration(clients) * time.Second / time.Duration(rate)
	var lat latencies
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for i := range clients {
		n := b.N / clients
		if i < b.N%clients {
			n++
		}
		c := newUDPClient(b, addr, qname, qtype)
		// Clients start spread over one interval, not all at once.
		first := start.Add(time.Duration(i) * interval / clients)
		wg.Go(func() {
			defer c.conn.Close()
			mine := make([]time.Duration, 0, n)
			lost := 0
			var prevDone time.Time
			for k := range n {
				due := first.Add(time.Duration(k) * interval)
				time.Sleep(time.Until(due))
				// A query held back by the previous answer is timed from
				// when it was due; otherwise from when it left, so that the
				// sleep's overshoot is not counted against the server.
				from := time.Now()
				if prevDone.After(due) {
					from = due
				}
				if c.exchange() {
					mine = append(mine, time.Since(from))
				} else {
					lost++
				}
				prevDone = time.Now()
			}
			lat.add(mine, lost)
		})
	}
	wg.Wait()
	lat.report(b, time.Since(start))
}

// BenchmarkResolve is the cluster lookup alone, without sockets or packing.
func BenchmarkResolve(b *testing.B) {
	r := newResolver("cluster.local", 5, indexOf(b, testObjects()...))
	for _, name := range []string{
		"web.default.svc.cluster.local.",
		"db.default.svc.cluster.local.",
		"_pg._tcp.db.default.svc.cluster.local.",
		"example.com.default.svc.cluster.local.",
	} {
		q := dns.Question{Name: name, Qtype: dns.TypeA, Qclass: dns.ClassINET}
		if name[0] == '_' {
			q.Qtype = dns.TypeSRV
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r.resolve(q)
			}
		})
	}
}
