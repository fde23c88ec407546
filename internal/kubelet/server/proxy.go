package server

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"time"
)

const (
	// handshakeTimeout bounds reaching the runtime's streaming server
	// and its answer to the upgrade.
	handshakeTimeout = 30 * time.Second
	// maxRelayedBody bounds a refusal from the streaming server that is
	// passed on to the client.
	maxRelayedBody = 64 << 10
)

// isUpgrade reports whether a request asks to switch protocols.
func isUpgrade(h http.Header) bool {
	return h.Get("Upgrade") != "" && hasToken(h.Values("Connection"), "upgrade")
}

func hasToken(values []string, token string) bool {
	for _, v := range values {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// forwardedHeader reports whether a client's request header goes on to the
// runtime: those that negotiate the upgrade and its protocol, and nothing
// that could carry credentials.
func forwardedHeader(name string) bool {
	switch name = textproto.CanonicalMIMEHeaderKey(name); name {
	case "Upgrade", "X-Stream-Protocol-Version", "Origin":
		return true
	}
	return strings.HasPrefix(name, "Sec-Websocket-")
}

// hopHeader reports whether a response header belongs to one connection
// and so is not relayed.
func hopHeader(name string) bool {
	switch textproto.CanonicalMIMEHeaderKey(name) {
	case "Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "Content-Length":
		return true
	}
	return false
}

// streamURL checks a streaming URL the runtime returned. containerd's
// streaming server listens on loopback and serves plain HTTP; anything else
// is refused rather than reached from the node's API.
func streamURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("server: invalid streaming URL from the runtime: %w", err)
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("server: streaming URL %q from the runtime: only http is supported", raw)
	}
	if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("server: streaming URL %q from the runtime is not on a loopback address", raw)
	}
	if u.Port() == "" {
		u.Host = net.JoinHostPort(u.Hostname(), "80")
	}
	return u, nil
}

// proxyUpgrade relays the upgrade request r to the runtime's streaming
// server at rawURL: it forwards the request, passes the answer back and,
// once protocols are switched, splices the two connections until either
// side closes or the server stops. It returns an error only when nothing
// was written to w.
func (s *Server) proxyUpgrade(w http.ResponseWriter, r *http.Request, rawURL string) error {
	target, err := streamURL(rawURL)
	if err != nil {
		return err
	}
	ctx := r.Context()
	hsCtx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	var d net.Dialer
	backend, err := d.DialContext(hsCtx, "tcp", target.Host)
	if err != nil {
		return fmt.Errorf("reach the runtime's streaming server: %w", err)
	}
	resp, br, err := handshake(hsCtx, backend, r, target)
	if err != nil {
		backend.Close()
		return err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		defer backend.Close()
		defer resp.Body.Close()
		for k, vs := range resp.Header {
			if !hopHeader(k) {
				w.Header()[k] = vs
			}
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, io.LimitReader(resp.Body, maxRelayedBody))
		return nil
	}

	client, cbuf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		backend.Close()
		return fmt.Errorf("take over the client connection: %w", err)
	}
	s.streams.Add(1)
	defer s.streams.Done()
	var head bytes.Buffer
	fmt.Fprintf(&head, "HTTP/1.1 %s\r\n", resp.Status)
	_ = resp.Header.Write(&head)
	head.WriteString("\r\n")
	if _, err := client.Write(head.Bytes()); err != nil {
		client.Close()
		backend.Close()
		s.log.Debug("client left during the upgrade", "path", r.URL.Path, "err", err)
		return nil
	}
	// Either reader may hold bytes that arrived with the headers.
	splice(ctx, client, cbuf.Reader, backend, br)
	return nil
}

// handshake sends the upgrade request to the streaming server on conn and
// reads its answer; the reader holds whatever followed the answer.
func handshake(ctx context.Context, conn net.Conn, r *http.Request, target *url.URL) (*http.Response, *bufio.Reader, error) {
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	// A deadline in the past is what interrupts the exchange if ctx ends
	// before its own deadline.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	out := &http.Request{
		Method:     r.Method,
		URL:        target,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     http.Header{},
		Host:       target.Host,
	}
	for k, vs := range r.Header {
		if forwardedHeader(k) {
			out.Header[k] = vs
		}
	}
	out.Header.Set("Connection", "Upgrade")
	if err := out.Write(conn); err != nil {
		return nil, nil, fmt.Errorf("send the upgrade to the runtime's streaming server: %w", err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, out)
	if err != nil {
		return nil, nil, fmt.Errorf("read the runtime's streaming server's answer: %w", err)
	}
	if !stop() {
		resp.Body.Close()
		return nil, nil, fmt.Errorf("upgrade with the runtime's streaming server: %w", ctx.Err())
	}
	_ = conn.SetDeadline(time.Time{})
	return resp, br, nil
}

// splice copies between a and b until one side stops sending or ctx ends,
// then closes both and waits for both copies.
func splice(ctx context.Context, a net.Conn, ar io.Reader, b net.Conn, br io.Reader) {
	// Copy errors are how a stream ends: one side closed.
	done := make(chan struct{}, 2)
	go func() {
		_, _ = io.Copy(b, ar)
		done <- struct{}{}
	}()
	go func() {
		_, _ = io.Copy(a, br)
		done <- struct{}{}
	}()
	finished := 0
	select {
	case <-done:
		finished++
	case <-ctx.Done():
	}
	a.Close()
	b.Close()
	for ; finished < 2; finished++ {
		<-done
	}
}
