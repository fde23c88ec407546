// Package loopback lets the server's own components call its API in process.
//
// The scheduler, the controllers and the in-process agent are API clients
// like any other, but they share the server's address space: sending their
// requests through TLS and HTTP/2 framing only to decode them again on the
// other side of a loopback socket costs a fifth of the CPU of a busy control
// plane. Transport hands each request straight to the API's handler and
// streams the response back through a pipe, so that watches, which never
// end, work as they do over a socket.
package loopback

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// Transport is an http.RoundTripper that serves requests with a handler.
type Transport struct {
	handler http.Handler
}

// New returns a Transport serving requests with h. Requests reach h
// without any credentials: h must identify the caller itself.
func New(h http.Handler) *Transport {
	return &Transport{handler: h}
}

// RoundTrip serves req and returns once the handler has written the
// response headers; the body streams while the handler runs. Closing the
// body cancels the handler's request context.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	in := req.Clone(ctx)
	in.RequestURI = req.URL.RequestURI()
	in.RemoteAddr = "127.0.0.1:0"
	if in.Host == "" {
		in.Host = req.URL.Host
	}
	if in.Body == nil {
		in.Body = http.NoBody
	}
	pr, pw := io.Pipe()
	w := &responseWriter{header: http.Header{}, pipe: pw, started: make(chan struct{})}
	go t.serve(w, in)

	select {
	case <-w.started:
	case <-ctx.Done():
		cancel()
		pr.CloseWithError(ctx.Err())
		return nil, ctx.Err()
	}
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", w.status, http.StatusText(w.status)),
		StatusCode:    w.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        w.sent,
		Body:          &body{PipeReader: pr, cancel: cancel},
		ContentLength: -1,
		Request:       req,
	}, nil
}

func (t *Transport) serve(w *responseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil && v != http.ErrAbortHandler {
			// A socket server would log and drop the connection; the
			// client sees its response cut short in the same way.
			w.start(http.StatusInternalServerError)
			w.pipe.CloseWithError(fmt.Errorf("loopback: handler panic: %v", v))
			return
		}
		w.start(http.StatusOK)
		w.pipe.Close()
	}()
	t.handler.ServeHTTP(w, r)
}

// responseWriter writes a response into a pipe. Writes block until the
// client reads, which is the back-pressure a socket would apply.
type responseWriter struct {
	header http.Header
	pipe   *io.PipeWriter

	once    sync.Once
	started chan struct{}
	status  int
	sent    http.Header // the headers as they were when the status was written
}

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(status int) {
	// Informational responses are not passed on, as net/http's client
	// does not return them either.
	if status >= 100 && status < 200 {
		return
	}
	w.start(status)
}

func (w *responseWriter) start(status int) {
	w.once.Do(func() {
		w.status = status
		w.sent = w.header.Clone()
		close(w.started)
	})
}

func (w *responseWriter) Write(p []byte) (int, error) {
	w.start(http.StatusOK)
	// Once the client has closed the body this fails, as a write to a
	// closed socket would.
	return w.pipe.Write(p)
}

// Flush implements http.Flusher: every Write already reaches the reader.
func (w *responseWriter) Flush() { w.start(http.StatusOK) }

type body struct {
	*io.PipeReader
	cancel context.CancelFunc
}

func (b *body) Close() error {
	b.cancel()
	return b.PipeReader.Close()
}
