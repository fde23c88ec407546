package proxy

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
	"time"
)

// ctnetlink, the kernel's conntrack interface over netlink (see
// include/uapi/linux/netfilter/nfnetlink_conntrack.h). Only what deleting
// entries by their original tuple needs.
const (
	nfnlSubsysCTNetlink = 1
	ctMsgGet            = 1
	ctMsgDelete         = 2

	ctaTupleOrig  = 1
	ctaTupleReply = 2
	ctaTupleIP    = 1
	ctaTupleProto = 2
	ctaIPv4Src    = 1
	ctaIPv4Dst    = 2
	ctaProtoNum   = 1
	ctaProtoSrc   = 2
	ctaProtoDst   = 3

	nlaNested   = 0x8000
	nlaTypeMask = 0x3fff

	ipprotoUDP = 17

	// conntrackTimeout bounds a dump or delete: the kernel answers at
	// once, so a silent socket means something is wrong.
	conntrackTimeout = 5 * time.Second
)

// conntrack deletes conntrack entries through ctnetlink. Each call opens its
// own socket, in the network namespace of the calling thread.
type conntrack struct{}

func newConntrack() *conntrack { return &conntrack{} }

// ctTuple is the part of a conntrack tuple the cleanup looks at.
type ctTuple struct {
	src, dst         netip.Addr
	proto            uint8
	srcPort, dstPort uint16
}

// DeleteUDP deletes the UDP entries of flows: those whose reply comes from
// the flow's endpoint and whose original destination is the flow's service
// address, or its NodePort on any address. The dump is filtered here rather
// than in the kernel, whose dump filters differ between versions.
func (c *conntrack) DeleteUDP(ctx context.Context, flows []staleFlow) error {
	if len(flows) == 0 {
		return nil
	}
	byEndpoint := map[netip.AddrPort][]staleFlow{}
	for _, f := range flows {
		byEndpoint[f.endpoint] = append(byEndpoint[f.endpoint], f)
	}
	sock, err := openNetfilter()
	if err != nil {
		return err
	}
	defer syscall.Close(sock.fd)

	var doomed []ctTuple
	err = sock.dump(ctx, func(orig, reply ctTuple) {
		if orig.proto != ipprotoUDP {
			return
		}
		for _, f := range byEndpoint[netip.AddrPortFrom(reply.src, reply.srcPort)] {
			if (f.dest.IsValid() && f.dest == netip.AddrPortFrom(orig.dst, orig.dstPort)) ||
				(f.nodePort != 0 && f.nodePort == orig.dstPort) {
				doomed = append(doomed, orig)
				return
			}
		}
	})
	if err != nil {
		return err
	}
	for _, t := range doomed {
		if err := sock.delete(ctx, t); err != nil && !errors.Is(err, syscall.ENOENT) {
			return err
		}
	}
	return nil
}

type netfilterSocket struct {
	fd  int
	seq uint32
}

func openNetfilter() (*netfilterSocket, error) {
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, syscall.NETLINK_NETFILTER)
	if err != nil {
		return nil, fmt.Errorf("proxy: conntrack socket: %w", err)
	}
	tv := syscall.NsecToTimeval(conntrackTimeout.Nanoseconds())
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("proxy: conntrack socket: %w", err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("proxy: conntrack socket: %w", err)
	}
	return &netfilterSocket{fd: fd}, nil
}

// request sends one ctnetlink message of the given type with attrs.
func (s *netfilterSocket) request(msgType, flags uint16, attrs []byte) (uint32, error) {
	s.seq++
	msg := make([]byte, syscall.NLMSG_HDRLEN+4, syscall.NLMSG_HDRLEN+4+len(attrs))
	ne := binary.NativeEndian
	ne.PutUint16(msg[4:], nfnlSubsysCTNetlink<<8|msgType)
	ne.PutUint16(msg[6:], syscall.NLM_F_REQUEST|flags)
	ne.PutUint32(msg[8:], s.seq)
	// nfgenmsg: family, version 0, resource id 0.
	msg[syscall.NLMSG_HDRLEN] = syscall.AF_INET
	msg = append(msg, attrs...)
	ne.PutUint32(msg[0:], uint32(len(msg)))
	if err := syscall.Sendto(s.fd, msg, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return 0, fmt.Errorf("proxy: conntrack send: %w", err)
	}
	return s.seq, nil
}

// receive reads the answers to request seq until it is done, handing each
// data message to fn. It returns the request's error, if any.
func (s *netfilterSocket) receive(ctx context.Context, seq uint32, fn func(data []byte)) error {
	buf := make([]byte, 1<<16)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, _, err := syscall.Recvfrom(s.fd, buf, 0)
		if err != nil {
			return fmt.Errorf("proxy: conntrack receive: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return fmt.Errorf("proxy: conntrack receive: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Seq != seq {
				continue
			}
			switch m.Header.Type {
			case syscall.NLMSG_DONE:
				return nil
			case syscall.NLMSG_ERROR:
				if len(m.Data) < 4 {
					return errors.New("proxy: conntrack: short error message")
				}
				if errno := int32(binary.NativeEndian.Uint32(m.Data)); errno != 0 {
					return fmt.Errorf("proxy: conntrack: %w", syscall.Errno(-errno))
				}
				return nil // the acknowledgement of a request
			default:
				if len(m.Data) >= 4 {
					fn(m.Data[4:]) // past the nfgenmsg
				}
			}
		}
	}
}

// dump walks the IPv4 conntrack table, calling fn with each entry's tuples.
func (s *netfilterSocket) dump(ctx context.Context, fn func(orig, reply ctTuple)) error {
	seq, err := s.request(ctMsgGet, syscall.NLM_F_DUMP, nil)
	if err != nil {
		return err
	}
	return s.receive(ctx, seq, func(data []byte) {
		var orig, reply ctTuple
		var haveOrig, haveReply bool
		for typ, val := range attrs(data) {
			switch typ {
			case ctaTupleOrig:
				orig, haveOrig = parseTuple(val)
			case ctaTupleReply:
				reply, haveReply = parseTuple(val)
			}
		}
		if haveOrig && haveReply {
			fn(orig, reply)
		}
	})
}

// delete removes the entry whose original tuple is t.
func (s *netfilterSocket) delete(ctx context.Context, t ctTuple) error {
	src, dst := t.src.As4(), t.dst.As4()
	ip := appendAttr(nil, ctaIPv4Src, src[:])
	ip = appendAttr(ip, ctaIPv4Dst, dst[:])
	proto := appendAttr(nil, ctaProtoNum, []byte{t.proto})
	proto = appendAttr(proto, ctaProtoSrc, binary.BigEndian.AppendUint16(nil, t.srcPort))
	proto = appendAttr(proto, ctaProtoDst, binary.BigEndian.AppendUint16(nil, t.dstPort))
	tuple := appendAttr(nil, ctaTupleIP|nlaNested, ip)
	tuple = appendAttr(tuple, ctaTupleProto|nlaNested, proto)
	seq, err := s.request(ctMsgDelete, syscall.NLM_F_ACK, appendAttr(nil, ctaTupleOrig|nlaNested, tuple))
	if err != nil {
		return err
	}
	return s.receive(ctx, seq, func([]byte) {})
}

func parseTuple(b []byte) (ctTuple, bool) {
	var t ctTuple
	var ok bool
	for typ, val := range attrs(b) {
		switch typ {
		case ctaTupleIP:
			for typ, val := range attrs(val) {
				if len(val) != 4 {
					continue
				}
				switch typ {
				case ctaIPv4Src:
					t.src, ok = netip.AddrFrom4([4]byte(val)), true
				case ctaIPv4Dst:
					t.dst = netip.AddrFrom4([4]byte(val))
				}
			}
		case ctaTupleProto:
			for typ, val := range attrs(val) {
				switch {
				case typ == ctaProtoNum && len(val) == 1:
					t.proto = val[0]
				case typ == ctaProtoSrc && len(val) == 2:
					t.srcPort = binary.BigEndian.Uint16(val)
				case typ == ctaProtoDst && len(val) == 2:
					t.dstPort = binary.BigEndian.Uint16(val)
				}
			}
		}
	}
	return t, ok && t.dst.IsValid()
}

// attrs iterates over the netlink attributes in b, yielding type and value.
func attrs(b []byte) func(yield func(uint16, []byte) bool) {
	return func(yield func(uint16, []byte) bool) {
		for len(b) >= syscall.NLA_HDRLEN {
			l := int(binary.NativeEndian.Uint16(b))
			if l < syscall.NLA_HDRLEN || l > len(b) {
				return
			}
			if !yield(binary.NativeEndian.Uint16(b[2:])&nlaTypeMask, b[syscall.NLA_HDRLEN:l]) {
				return
			}
			b = b[min(nlaAlign(l), len(b)):]
		}
	}
}

func appendAttr(b []byte, typ uint16, val []byte) []byte {
	l := syscall.NLA_HDRLEN + len(val)
	b = binary.NativeEndian.AppendUint16(b, uint16(l))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, val...)
	return append(b, make([]byte, nlaAlign(l)-l)...)
}

func nlaAlign(l int) int { return (l + syscall.NLA_ALIGNTO - 1) &^ (syscall.NLA_ALIGNTO - 1) }
