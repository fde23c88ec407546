package server

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// fakeStreaming stands in for containerd's streaming server on 127.0.0.1:
// /echo/... switches protocols and echoes, /bye/... switches and says bye
// and hangs up, anything else refuses.
type fakeStreaming struct {
	*httptest.Server
	mu      sync.Mutex
	request *http.Request
}

func newFakeStreaming(t *testing.T) *fakeStreaming {
	fs := &fakeStreaming{}
	fs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.mu.Lock()
		fs.request = r.Clone(r.Context())
		fs.mu.Unlock()
		if !isUpgrade(r.Header) || !strings.HasPrefix(r.URL.Path, "/echo/") && !strings.HasPrefix(r.URL.Path, "/bye/") {
			http.Error(w, "token expired", http.StatusForbidden)
			return
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: %s\r\nX-Stream-Protocol-Version: %s\r\n\r\n",
			r.Header.Get("Upgrade"), r.Header.Get("X-Stream-Protocol-Version"))
		if strings.HasPrefix(r.URL.Path, "/bye/") {
			rw.WriteString("bye")
			rw.Flush()
			return
		}
		rw.Flush()
		_, _ = io.Copy(conn, rw)
	}))
	t.Cleanup(fs.Close)
	return fs
}

func (fs *fakeStreaming) lastRequest() *http.Request {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.request
}

// streamSetup is a kubelet API on 127.0.0.1 over a fake runtime whose pod
// default/web runs container app.
type streamSetup struct {
	s         *Server
	rt        *fakeRuntime
	api       *httptest.Server
	streaming *fakeStreaming
	appID     string
	sandboxID string
}

func newStreamSetup(t *testing.T) *streamSetup {
	rt := newFakeRuntime()
	st := &streamSetup{rt: rt, streaming: newFakeStreaming(t)}
	st.sandboxID = rt.addSandbox("default", "web", "u1", true)
	rt.addContainer("default", "web", "u1", "app", 0, exited, "")
	st.appID = rt.addContainer("default", "web", "u1", "app", 1, running, "")
	rt.addContainer("default", "web", "u1", "done", 0, exited, "")
	rt.addSandbox("default", "gone", "u2", false)
	rt.streamURL = st.streaming.URL + "/echo/token"
	st.s = newTestServer(t, rt, Config{})
	st.api = httptest.NewServer(st.s.Handler())
	t.Cleanup(st.api.Close)
	return st
}

// upgrade sends an upgrade request for path over a new connection and
// returns the connection, its reader and the answer.
func (st *streamSetup) upgrade(t *testing.T, method, path string, upgrade bool) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	conn, err := net.Dial("tcp", st.api.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	req, err := http.NewRequest(method, st.api.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if upgrade {
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "SPDY/3.1")
	}
	req.Header.Set("X-Stream-Protocol-Version", "v4.channel.k8s.io")
	req.Header.Set("Authorization", "Bearer user-secret")
	req.Header.Set("X-Forwarded-For", "10.9.9.9")
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		t.Fatal(err)
	}
	return conn, br, resp
}

// waitStreams fails unless every relayed stream has ended.
func (st *streamSetup) waitStreams(t *testing.T) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		st.s.streams.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a relayed stream is still open")
	}
}

func TestExecRelaysUpgradedConnection(t *testing.T) {
	st := newStreamSetup(t)
	conn, br, resp := st.upgrade(t, http.MethodPost, "/exec/default/web/app?command=sh&command=-c&command=echo+hi&stdin=true&stdout=true&stderr=true&tty=true", true)
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %s (%q), want 101", resp.Status, body)
	}
	if got := resp.Header.Get("X-Stream-Protocol-Version"); got != "v4.channel.k8s.io" {
		t.Errorf("negotiated protocol %q, want the runtime's answer v4.channel.k8s.io", got)
	}
	for _, msg := range []string{"ping", "second message"} {
		if _, err := conn.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, len(msg))
		if _, err := io.ReadFull(br, buf); err != nil {
			t.Fatal(err)
		}
		if string(buf) != msg {
			t.Fatalf("echo %q, want %q", buf, msg)
		}
	}

	want := &runtimeapi.ExecRequest{ContainerId: st.appID, Cmd: []string{"sh", "-c", "echo hi"}, Tty: true, Stdin: true, Stdout: true}
	if got := st.rt.recorded(); len(got) != 1 || !proto.Equal(got[0].(*runtimeapi.ExecRequest), want) {
		t.Errorf("runtime asked %v, want %v (stderr goes to the terminal)", got, want)
	}
	backend := st.streaming.lastRequest()
	if backend.Method != http.MethodPost || backend.URL.Path != "/echo/token" {
		t.Errorf("streaming server got %s %s, want POST /echo/token", backend.Method, backend.URL.Path)
	}
	if backend.Header.Get("X-Stream-Protocol-Version") != "v4.channel.k8s.io" || backend.Header.Get("Upgrade") != "SPDY/3.1" {
		t.Errorf("upgrade headers not forwarded: %v", backend.Header)
	}
	if backend.Header.Get("Authorization") != "" || backend.Header.Get("X-Forwarded-For") != "" {
		t.Errorf("headers beyond the upgrade forwarded: %v", backend.Header)
	}

	conn.Close()
	st.waitStreams(t)
}

func TestStreamEndsWhenRuntimeHangsUp(t *testing.T) {
	st := newStreamSetup(t)
	st.rt.streamURL = st.streaming.URL + "/bye/token"
	_, br, resp := st.upgrade(t, http.MethodGet, "/attach/default/web/u1/app?stdout=1", true)
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %s, want 101", resp.Status)
	}
	rest, err := io.ReadAll(br)
	if err != nil || string(rest) != "bye" {
		t.Fatalf("read %q, %v; want bye and the end of the stream", rest, err)
	}
	want := &runtimeapi.AttachRequest{ContainerId: st.appID, Stdout: true}
	if got := st.rt.recorded(); len(got) != 1 || !proto.Equal(got[0].(*runtimeapi.AttachRequest), want) {
		t.Errorf("runtime asked %v, want %v", got, want)
	}
	st.waitStreams(t)
}

func TestPortForward(t *testing.T) {
	for _, tc := range []struct {
		path string
		want *runtimeapi.PortForwardRequest
	}{
		{"/portForward/default/web", &runtimeapi.PortForwardRequest{}},
		{"/portForward/default/web/u1?port=80&port=8080", &runtimeapi.PortForwardRequest{Port: []int32{80, 8080}}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			st := newStreamSetup(t)
			conn, _, resp := st.upgrade(t, http.MethodPost, tc.path, true)
			if resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("status %s, want 101", resp.Status)
			}
			tc.want.PodSandboxId = st.sandboxID
			if got := st.rt.recorded(); len(got) != 1 || !proto.Equal(got[0].(*runtimeapi.PortForwardRequest), tc.want) {
				t.Errorf("runtime asked %v, want %v", got, tc.want)
			}
			conn.Close()
			st.waitStreams(t)
		})
	}
}

func TestStreamErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		path      string
		noUpgrade bool
		streamURL string
		code      int
		body      string
	}{
		{name: "no upgrade", path: "/exec/default/web/app?command=ls&stdout=true", noUpgrade: true, code: 400, body: "Upgrade request required"},
		{name: "no command", path: "/exec/default/web/app?stdout=true", code: 400, body: "command"},
		{name: "no streams", path: "/exec/default/web/app?command=ls", code: 400, body: "at least 1 of stdin, stdout, stderr"},
		{name: "bad flag", path: "/exec/default/web/app?command=ls&stdout=yes", code: 400, body: "stdout"},
		{name: "unknown pod", path: "/exec/default/db/app?command=ls&stdout=true", code: 404, body: `pod "db" does not exist`},
		{name: "other UID", path: "/exec/default/web/u9/app?command=ls&stdout=true", code: 404, body: `pod "web" does not exist`},
		{name: "unknown container", path: "/attach/default/web/nope?stdout=true", code: 404, body: `container "nope" not found in pod "web"`},
		{name: "container not running", path: "/attach/default/web/done?stdout=true", code: 400, body: `container "done" in pod "web" is not running`},
		{name: "pod not running", path: "/portForward/default/gone", code: 400, body: `pod "gone" is not running`},
		{name: "bad port", path: "/portForward/default/web?port=70000", code: 400, body: "port"},
		{name: "runtime refuses", path: "/exec/default/web/app?command=ls&stdout=true", streamURL: "/refuse/token", code: 403, body: "token expired"},
		{name: "https streaming URL", path: "/exec/default/web/app?command=ls&stdout=true", streamURL: "https://127.0.0.1:1/exec/x", code: 500, body: "only http"},
		{name: "streaming URL by name", path: "/exec/default/web/app?command=ls&stdout=true", streamURL: "http://localhost:1/exec/x", code: 500, body: "loopback"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newStreamSetup(t)
			switch {
			case strings.HasPrefix(tc.streamURL, "/"):
				st.rt.streamURL = st.streaming.URL + tc.streamURL
			case tc.streamURL != "":
				st.rt.streamURL = tc.streamURL
			}
			_, _, resp := st.upgrade(t, http.MethodPost, tc.path, !tc.noUpgrade)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.code || !strings.Contains(string(body), tc.body) {
				t.Errorf("got %s %q, want %d saying %q", resp.Status, body, tc.code, tc.body)
			}
			st.waitStreams(t)
		})
	}
}

func TestStreamURL(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		host string // empty when refused
	}{
		{"http://127.0.0.1:35000/exec/abc", "127.0.0.1:35000"},
		{"http://127.0.0.1/exec/abc", "127.0.0.1:80"},
		{"http://[::1]:35000/exec/abc", "[::1]:35000"},
		{"http://192.0.2.10:35000/exec/abc", ""},
		{"http://localhost:35000/exec/abc", ""},
		{"https://127.0.0.1:35000/exec/abc", ""},
		{"/exec/abc", ""},
		{"http://%zz", ""},
	} {
		t.Run(tc.raw, func(t *testing.T) {
			u, err := streamURL(tc.raw)
			if tc.host == "" {
				if err == nil {
					t.Fatalf("accepted %s", u)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if u.Host != tc.host {
				t.Errorf("host %q, want %q", u.Host, tc.host)
			}
		})
	}
}

func TestParseStreamOptions(t *testing.T) {
	for _, tc := range []struct {
		query string
		want  streamOptions
		err   bool
	}{
		{query: "stdin=true&stdout=true&stderr=true", want: streamOptions{stdin: true, stdout: true, stderr: true}},
		{query: "input=1&output=1&error=1", want: streamOptions{stdin: true, stdout: true, stderr: true}},
		{query: "stdout=1&stderr=1&tty=true", want: streamOptions{stdout: true, tty: true}},
		{query: "stdout=false&output=1", want: streamOptions{stdout: true}},
		{query: "tty=true", err: true},
		{query: "stdin=sure", err: true},
	} {
		t.Run(tc.query, func(t *testing.T) {
			q, _ := url.ParseQuery(tc.query)
			got, err := parseStreamOptions(q)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if !tc.err && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
