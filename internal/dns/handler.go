package dns

import (
	"context"
	"strings"

	"github.com/miekg/dns"
)

// handler serves the queries of one Run; ctx bounds the forwarded ones.
type handler struct {
	ctx context.Context
	s   *Server
}

func (h handler) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	resp := h.s.answer(h.ctx, req)
	size := dns.MaxMsgSize
	if w.RemoteAddr().Network() == "udp" {
		size = clientUDPSize(req)
	}
	resp.Truncate(size)
	if err := w.WriteMsg(resp); err != nil {
		h.s.log.Debug("cannot send answer", "client", w.RemoteAddr().String(), "err", err)
	}
}

// clientUDPSize is the largest answer the client takes over UDP: what its
// EDNS0 record offers, or 512 bytes without one.
func clientUDPSize(req *dns.Msg) int {
	if opt := req.IsEdns0(); opt != nil {
		return max(dns.MinMsgSize, int(opt.UDPSize()))
	}
	return dns.MinMsgSize
}

// answer builds the response to req; it never fails, failures are codes.
func (s *Server) answer(ctx context.Context, req *dns.Msg) *dns.Msg {
	resp := new(dns.Msg)
	resp.SetReply(req)
	resp.RecursionAvailable = s.fwd != nil
	opt := req.IsEdns0()
	do := opt != nil && opt.Do()
	switch {
	case req.Opcode != dns.OpcodeQuery:
		resp.Rcode = dns.RcodeNotImplemented
	case len(req.Question) != 1:
		resp.Rcode = dns.RcodeFormatError
	case opt != nil && opt.Version() != 0:
		resp.Rcode = dns.RcodeBadVers
	case req.Question[0].Qclass != dns.ClassINET,
		req.Question[0].Qtype == dns.TypeAXFR, req.Question[0].Qtype == dns.TypeIXFR:
		resp.Rcode = dns.RcodeRefused
	default:
		s.resolve(ctx, resp, req, do)
	}
	if opt != nil {
		// RFC 6891: an OPT record answers one, never a request without.
		resp.SetEdns0(ednsUDPSize, do)
	}
	return resp
}

// resolve fills resp with the answer to req's question: the cluster's own, or
// the upstreams'.
func (s *Server) resolve(ctx context.Context, resp *dns.Msg, req *dns.Msg, do bool) {
	q, cd := req.Question[0], req.CheckingDisabled
	if !s.serving.Load() {
		// Until the caches are synced an answer about the cluster could
		// deny a name that exists; the client will retry.
		if s.resolver.inZone(strings.ToLower(q.Name)) {
			resp.Rcode = dns.RcodeServerFailure
			return
		}
	} else if res, ok := s.resolver.resolve(q); ok {
		resp.Authoritative = true
		resp.Rcode = res.rcode
		resp.Answer, resp.Ns, resp.Extra = res.answer, res.ns, res.extra
		if res.chase != "" {
			s.chase(ctx, resp, dns.Question{Name: res.chase, Qtype: q.Qtype, Qclass: q.Qclass}, do, cd)
		}
		return
	}
	if s.fwd == nil {
		resp.Rcode = dns.RcodeRefused
		return
	}
	m, err := s.fwd.resolve(ctx, q, do, cd)
	if err != nil {
		s.log.Debug("forward failed", "name", q.Name, "type", dns.TypeToString[q.Qtype], "err", err)
		resp.Rcode = dns.RcodeServerFailure
		return
	}
	resp.Rcode = m.Rcode
	// RFC 6840: AD only for a client that showed it understands it.
	resp.AuthenticatedData = m.AuthenticatedData && (do || req.AuthenticatedData)
	resp.Answer, resp.Ns, resp.Extra = m.Answer, m.Ns, withoutOPT(m.Extra)
	// The upstream answered the name in the case of the first client to ask
	// it; this client gets its own back.
	for _, rr := range resp.Answer {
		if h := rr.Header(); strings.EqualFold(h.Name, q.Name) {
			h.Name = q.Name
		}
	}
}

// chase appends the answer to q, the out-of-zone target of an ExternalName
// service, so that stub resolvers, which do not follow CNAMEs themselves, get
// addresses. Without an answer the CNAME stands alone.
func (s *Server) chase(ctx context.Context, resp *dns.Msg, q dns.Question, do, cd bool) {
	if s.fwd == nil {
		return
	}
	m, err := s.fwd.resolve(ctx, q, do, cd)
	if err != nil {
		s.log.Debug("cannot follow CNAME", "name", q.Name, "err", err)
		return
	}
	resp.Answer = append(resp.Answer, m.Answer...)
	if len(m.Answer) == 0 {
		resp.Rcode = m.Rcode
		resp.Ns = m.Ns
	}
}

func withoutOPT(rrs []dns.RR) []dns.RR {
	out := rrs[:0]
	for _, rr := range rrs {
		if rr.Header().Rrtype != dns.TypeOPT {
			out = append(out, rr)
		}
	}
	return out
}
