package dns

import (
	"container/list"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"k8s.io/utils/clock"
)

const (
	// maxCacheTTL and maxNegativeTTL cap how long an answer is kept whatever
	// its TTL says (CoreDNS's cache plugin defaults).
	maxCacheTTL    = 3600
	maxNegativeTTL = 1800
)

// cacheKey identifies a forwarded question. The DO and CD bits are part of
// it: they change what the upstream puts in the answer.
type cacheKey struct {
	name   string // lower case
	qtype  uint16
	qclass uint16
	do, cd bool
}

func keyOf(q dns.Question, do, cd bool) cacheKey {
	return cacheKey{name: strings.ToLower(q.Name), qtype: q.Qtype, qclass: q.Qclass, do: do, cd: cd}
}

type cacheEntry struct {
	key     cacheKey
	msg     *dns.Msg
	stored  time.Time
	expires time.Time
}

// answerCache keeps forwarded answers for their TTL, the least recently used
// going first when it is full.
type answerCache struct {
	clock clock.PassiveClock
	size  int

	mu    sync.Mutex
	lru   *list.List // of *cacheEntry, most recently used first
	items map[cacheKey]*list.Element
}

func newAnswerCache(size int, clk clock.PassiveClock) *answerCache {
	return &answerCache{clock: clk, size: size, lru: list.New(), items: make(map[cacheKey]*list.Element)}
}

// get returns a copy of the answer kept for k, its TTLs lowered by the time
// it has spent in the cache.
func (c *answerCache) get(k cacheKey) (*dns.Msg, bool) {
	now := c.clock.Now()
	c.mu.Lock()
	el, ok := c.items[k]
	if !ok {
		c.mu.Unlock()
		return nil, false
	}
	e := el.Value.(*cacheEntry)
	if !now.Before(e.expires) {
		c.lru.Remove(el)
		delete(c.items, k)
		c.mu.Unlock()
		return nil, false
	}
	c.lru.MoveToFront(el)
	c.mu.Unlock()

	m := e.msg.Copy()
	age := uint32(now.Sub(e.stored) / time.Second)
	for _, section := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range section {
			h := rr.Header()
			if h.Ttl > age {
				h.Ttl -= age
			} else {
				h.Ttl = 0
			}
		}
	}
	return m, true
}

// put keeps m for k if it can be cached. The cache owns m afterwards.
func (c *answerCache) put(k cacheKey, m *dns.Msg) {
	ttl, ok := cacheTTL(m)
	if !ok {
		return
	}
	now := c.clock.Now()
	e := &cacheEntry{key: k, msg: m, stored: now, expires: now.Add(time.Duration(ttl) * time.Second)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[k]; ok {
		el.Value = e
		c.lru.MoveToFront(el)
		return
	}
	c.items[k] = c.lru.PushFront(e)
	for c.lru.Len() > c.size {
		oldest := c.lru.Back()
		c.lru.Remove(oldest)
		delete(c.items, oldest.Value.(*cacheEntry).key)
	}
}

// cacheTTL returns how long m may be kept: the smallest TTL of its records
// for an answer, the SOA's negative TTL (RFC 2308) for NXDOMAIN or NODATA.
// Failures, truncated answers and negative ones without SOA are not kept.
func cacheTTL(m *dns.Msg) (uint32, bool) {
	if m.Truncated || (m.Rcode != dns.RcodeSuccess && m.Rcode != dns.RcodeNameError) {
		return 0, false
	}
	if m.Rcode == dns.RcodeSuccess && len(m.Answer) > 0 {
		ttl := uint32(maxCacheTTL)
		for _, section := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
			for _, rr := range section {
				if rr.Header().Rrtype == dns.TypeOPT {
					continue
				}
				ttl = min(ttl, rr.Header().Ttl)
			}
		}
		return ttl, ttl > 0
	}
	for _, rr := range m.Ns {
		if soa, ok := rr.(*dns.SOA); ok {
			ttl := min(soa.Hdr.Ttl, soa.Minttl, maxNegativeTTL)
			return ttl, ttl > 0
		}
	}
	return 0, false
}
