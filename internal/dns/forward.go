package dns

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sync/singleflight"
)

// ednsUDPSize is the EDNS0 buffer size offered to upstreams and to clients:
// the 2020 DNS flag day's value, which avoids IP fragmentation on common
// paths. Clients get answers cut to their own size.
const ednsUDPSize = 1232

var (
	// errNoUpstream means no upstream gave a usable answer in time; the
	// client gets SERVFAIL.
	errNoUpstream = errors.New("dns: no upstream answered")
	errMismatch   = errors.New("dns: answer does not match the question")
)

// forwarder resolves names outside the cluster through upstream resolvers.
type forwarder struct {
	upstreams []string
	timeout   time.Duration
	// cache is nil when caching is disabled.
	cache *answerCache
	// flight lets concurrent clients asking the same uncached question
	// share one upstream query.
	flight   singleflight.Group
	udp, tcp *dns.Client
}

func newForwarder(upstreams []string, timeout time.Duration, cache *answerCache) *forwarder {
	return &forwarder{
		upstreams: upstreams,
		timeout:   timeout,
		cache:     cache,
		udp:       &dns.Client{Net: "udp", Timeout: timeout},
		tcp:       &dns.Client{Net: "tcp", Timeout: timeout},
	}
}

// resolve returns the answer to q, from the cache or the upstreams. The
// message is the caller's to change. The error wraps errNoUpstream when no
// upstream answered usably within the forward timeout.
func (f *forwarder) resolve(ctx context.Context, q dns.Question, do, cd bool) (*dns.Msg, error) {
	key := keyOf(q, do, cd)
	if f.cache != nil {
		if m, ok := f.cache.get(key); ok {
			return m, nil
		}
	}
	v, err, _ := f.flight.Do(fmt.Sprintf("%s/%d/%d/%t/%t", key.name, key.qtype, key.qclass, do, cd), func() (any, error) {
		m, err := f.exchange(ctx, key)
		if err != nil {
			return nil, err
		}
		// The cache and every waiting caller share m: each caller copies.
		if f.cache != nil {
			f.cache.put(key, m)
		}
		return m, nil
	})
	if err != nil {
		return nil, err
	}
	m, ok := v.(*dns.Msg)
	if !ok {
		return nil, fmt.Errorf("dns: forward %s: unexpected result %T", key.name, v)
	}
	return m.Copy(), nil
}

// exchange asks the upstreams in order until one answers usably, giving each
// an equal share of the time left.
func (f *forwarder) exchange(ctx context.Context, key cacheKey) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	req := new(dns.Msg)
	req.SetQuestion(key.name, key.qtype)
	req.Question[0].Qclass = key.qclass
	req.CheckingDisabled = key.cd
	req.SetEdns0(ednsUDPSize, key.do)
	deadline, _ := ctx.Deadline()
	var errs []error
	for i, up := range f.upstreams {
		share := time.Until(deadline) / time.Duration(len(f.upstreams)-i)
		tctx, tcancel := context.WithTimeout(ctx, share)
		m, err := f.exchangeOne(tctx, req, up)
		tcancel()
		if err == nil {
			return m, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", up, err))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("%w: %s: %w", errNoUpstream, key.name, errors.Join(errs...))
}

// exchangeOne asks one upstream over UDP, and again over TCP if the answer
// was truncated. An answer that says the upstream failed is an error, so that
// the next upstream is tried.
func (f *forwarder) exchangeOne(ctx context.Context, req *dns.Msg, upstream string) (*dns.Msg, error) {
	m, _, err := f.udp.ExchangeContext(ctx, req, upstream)
	if err != nil {
		return nil, err
	}
	if m.Truncated {
		if m, _, err = f.tcp.ExchangeContext(ctx, req, upstream); err != nil {
			return nil, fmt.Errorf("over tcp: %w", err)
		}
	}
	if len(m.Question) != 1 || !strings.EqualFold(m.Question[0].Name, req.Question[0].Name) ||
		m.Question[0].Qtype != req.Question[0].Qtype || m.Question[0].Qclass != req.Question[0].Qclass {
		return nil, errMismatch
	}
	switch m.Rcode {
	case dns.RcodeSuccess, dns.RcodeNameError:
		return m, nil
	}
	return nil, fmt.Errorf("answered %s", dns.RcodeToString[m.Rcode])
}
