package join

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/internal/pki"
)

var nodeIP = net.IPv4(10, 0, 0, 2)

type fixture struct {
	material *pki.Material
	token    Token
	handler  http.Handler
}

func newFixture(t *testing.T, cfg HandlerConfig) *fixture {
	t.Helper()
	m, err := pki.Ensure(pki.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := NewToken(m.CACertificate().Raw)
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(nil, m, tok, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{material: m, token: tok, handler: h}
}

// serve runs h over TLS on 127.0.0.1 with a certificate from the cluster CA,
// counting the requests that reach the join path.
func (f *fixture) serve(t *testing.T) (url string, joins *atomic.Int32) {
	t.Helper()
	certPEM, keyPEM, err := f.material.IssueServingCert("test-server", []net.IP{net.IPv4(127, 0, 0, 1)}, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	joins = new(atomic.Int32)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == JoinPath {
			joins.Add(1)
		} else if r.Header.Get("Authorization") != "" {
			t.Errorf("%s %s carried credentials", r.Method, r.URL.Path)
		}
		f.handler.ServeHTTP(w, r)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL, joins
}

func TestJoin(t *testing.T) {
	f := newFixture(t, HandlerConfig{})
	url, joins := f.serve(t)

	creds, err := Join(t.Context(), url, f.token, Request{NodeName: "node-1", Addresses: []net.IP{nodeIP}})
	if err != nil {
		t.Fatal(err)
	}
	if joins.Load() != 1 {
		t.Fatalf("server saw %d join requests, want 1", joins.Load())
	}
	if creds.NodeName != "node-1" || creds.KubeletClientName != KubeletClientName {
		t.Fatalf("node %q, kubelet client %q", creds.NodeName, creds.KubeletClientName)
	}
	if string(creds.CA) != string(f.material.CAPEM()) {
		t.Fatal("CA is not the cluster CA")
	}
	roots := f.material.CAPool()

	client := leaf(t, creds.ClientCert, creds.ClientKey)
	if client.Subject.CommonName != "system:node:node-1" || !slices.Equal(client.Subject.Organization, []string{"system:nodes"}) {
		t.Fatalf("client certificate subject %v", client.Subject)
	}
	if _, err := client.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("client certificate: %v", err)
	}
	serving := leaf(t, creds.ServingCert, creds.ServingKey)
	if _, err := serving.Verify(x509.VerifyOptions{Roots: roots, DNSName: "node-1"}); err != nil {
		t.Fatalf("serving certificate for node-1: %v", err)
	}
	if err := serving.VerifyHostname(nodeIP.String()); err != nil {
		t.Fatalf("serving certificate for %s: %v", nodeIP, err)
	}
	for _, c := range []*x509.Certificate{client, serving} {
		if d := time.Until(c.NotAfter); d < 364*24*time.Hour || d > 366*24*time.Hour {
			t.Fatalf("%s valid for %s, want a year", c.Subject.CommonName, d)
		}
	}

	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := creds.WriteKubeconfig(kubeconfig, url); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != url || string(cfg.CertData) != string(creds.ClientCert) || string(cfg.CAData) != string(creds.CA) {
		t.Fatalf("kubeconfig does not hold the credentials: host %q", cfg.Host)
	}
}

func TestJoinRefused(t *testing.T) {
	f := newFixture(t, HandlerConfig{})
	url, joins := f.serve(t)
	otherCA, err := pki.Ensure(pki.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := NewToken(otherCA.CACertificate().Raw)
	if err != nil {
		t.Fatal(err)
	}
	wrongSecret := Token{caHash: f.token.caHash, secret: foreign.secret}
	req := Request{NodeName: "node-1", Addresses: []net.IP{nodeIP}}

	for _, tc := range []struct {
		name      string
		url       string
		token     Token
		req       Request
		wantErr   error
		wantText  string
		wantJoins int32
	}{
		{name: "CA hash mismatch", url: url, token: foreign, req: req, wantErr: ErrWrongCA, wantJoins: 0},
		{name: "wrong secret", url: url, token: wrongSecret, req: req, wantErr: ErrUnauthorized, wantJoins: 1},
		{name: "bad node name", url: url, token: f.token, req: Request{NodeName: "Node_1", Addresses: []net.IP{nodeIP}}, wantText: "400 Bad Request: nodeName", wantJoins: 1},
		{name: "zero token", url: url, req: req, wantErr: ErrInvalidToken},
		{name: "plain http", url: strings.Replace(url, "https:", "http:", 1), token: f.token, req: req, wantText: "want https"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			joins.Store(0)
			_, err := Join(t.Context(), tc.url, tc.token, tc.req)
			if err == nil {
				t.Fatal("Join succeeded")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("Join: %v, want %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Fatalf("Join: %v, want it to mention %q", err, tc.wantText)
			}
			if got := joins.Load(); got != tc.wantJoins {
				t.Fatalf("server saw %d join requests, want %d", got, tc.wantJoins)
			}
		})
	}
}

// An impostor can relay the real CA, but cannot complete a TLS handshake
// with a certificate from it, so the secret never reaches it.
func TestJoinImpostorNeverSeesSecret(t *testing.T) {
	f := newFixture(t, HandlerConfig{})
	var posts atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+CACertsPath, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(f.material.CAPEM()) })
	mux.HandleFunc(JoinPath, func(http.ResponseWriter, *http.Request) { posts.Add(1) })
	impostor := httptest.NewUnstartedServer(mux)
	// The refused handshake is the point of the test, not worth a log line.
	impostor.Config.ErrorLog = log.New(io.Discard, "", 0)
	impostor.StartTLS()
	t.Cleanup(impostor.Close)

	_, err := Join(t.Context(), impostor.URL, f.token, Request{NodeName: "node-1", Addresses: []net.IP{nodeIP}})
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Fatalf("Join against an impostor: %v, want an unknown-authority error", err)
	}
	if posts.Load() != 0 {
		t.Fatal("the impostor received the join request")
	}
}

// A server may offer several certificates (a CA bundle during rotation); the
// one with the token's hash is the one trusted.
func TestJoinPicksHashedCAFromBundle(t *testing.T) {
	f := newFixture(t, HandlerConfig{})
	other, err := pki.Ensure(pki.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	inner := f.handler
	f.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == CACertsPath {
			_, _ = w.Write(append(other.CAPEM(), f.material.CAPEM()...))
			return
		}
		inner.ServeHTTP(w, r)
	})
	url, _ := f.serve(t)
	creds, err := Join(t.Context(), url, f.token, Request{NodeName: "node-1", Addresses: []net.IP{nodeIP}})
	if err != nil {
		t.Fatal(err)
	}
	if string(creds.CA) != string(f.material.CAPEM()) {
		t.Fatal("credentials hold a CA other than the token's")
	}
}

func TestJoinHonoursContext(t *testing.T) {
	f := newFixture(t, HandlerConfig{})
	url, joins := f.serve(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Join(ctx, url, f.token, Request{NodeName: "node-1", Addresses: []net.IP{nodeIP}}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Join with a cancelled context: %v", err)
	}
	if joins.Load() != 0 {
		t.Fatal("a cancelled join reached the server")
	}
}

func TestHandler(t *testing.T) {
	f := newFixture(t, HandlerConfig{
		ReservedIPs:      []net.IP{net.IPv4(10, 0, 0, 1)},
		ReservedDNSNames: []string{"API.example.com."},
	})
	bearer := "Bearer " + f.token.secret
	body := func(name string, addrs ...string) string {
		b, err := json.Marshal(requestJSON{NodeName: name, Addresses: addrs})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, tc := range []struct {
		name, method, path, auth, body string
		wantCode                       int
		wantText                       string
	}{
		{name: "CA", method: "GET", path: CACertsPath, wantCode: 200, wantText: "BEGIN CERTIFICATE"},
		{name: "CA by POST", method: "POST", path: CACertsPath, wantCode: 405},
		{name: "join by GET", method: "GET", path: JoinPath, auth: bearer, wantCode: 405},
		{name: "join", method: "POST", path: JoinPath, auth: bearer, body: body("node-1", "10.0.0.2", "fd00::2"), wantCode: 200, wantText: "servingKey"},
		{name: "lower-case scheme", method: "POST", path: JoinPath, auth: "bearer " + f.token.secret, body: body("node-1", "10.0.0.2"), wantCode: 200},
		{name: "no token", method: "POST", path: JoinPath, body: body("node-1", "10.0.0.2"), wantCode: 401, wantText: `"reason":"Unauthorized"`},
		{name: "wrong token", method: "POST", path: JoinPath, auth: "Bearer " + f.token.secret[1:] + "A", body: body("node-1", "10.0.0.2"), wantCode: 401},
		{name: "whole token", method: "POST", path: JoinPath, auth: "Bearer " + f.token.String(), body: body("node-1", "10.0.0.2"), wantCode: 401},
		{name: "basic auth", method: "POST", path: JoinPath, auth: "Basic " + f.token.secret, body: body("node-1", "10.0.0.2"), wantCode: 401},
		{name: "bad JSON", method: "POST", path: JoinPath, auth: bearer, body: "{", wantCode: 400, wantText: "invalid request body"},
		{name: "upper-case name", method: "POST", path: JoinPath, auth: bearer, body: body("Node-1", "10.0.0.2"), wantCode: 400, wantText: "nodeName"},
		{name: "empty name", method: "POST", path: JoinPath, auth: bearer, body: body("", "10.0.0.2"), wantCode: 400, wantText: "nodeName"},
		{name: "service name", method: "POST", path: JoinPath, auth: bearer, body: body("kubernetes.default.svc", "10.0.0.2"), wantCode: 400, wantText: "reserved"},
		{name: "localhost", method: "POST", path: JoinPath, auth: bearer, body: body("localhost", "10.0.0.2"), wantCode: 400, wantText: "reserved"},
		{name: "configured name", method: "POST", path: JoinPath, auth: bearer, body: body("api.example.com", "10.0.0.2"), wantCode: 400, wantText: "reserved"},
		{name: "no address", method: "POST", path: JoinPath, auth: bearer, body: body("node-1"), wantCode: 400, wantText: "at least one"},
		{name: "bad address", method: "POST", path: JoinPath, auth: bearer, body: body("node-1", "10.0.0.300"), wantCode: 400, wantText: "is not an IP address"},
		{name: "loopback", method: "POST", path: JoinPath, auth: bearer, body: body("node-1", "127.0.0.1"), wantCode: 400, wantText: "cannot be a node address"},
		{name: "configured address", method: "POST", path: JoinPath, auth: bearer, body: body("node-1", "10.0.0.1"), wantCode: 400, wantText: "cannot be a node address"},
		{name: "too many addresses", method: "POST", path: JoinPath, auth: bearer, body: body("node-1", slices.Repeat([]string{"10.0.0.2"}, maxAddresses+1)...), wantCode: 400, wantText: "at most"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			w := httptest.NewRecorder()
			f.handler.ServeHTTP(w, r)
			if w.Code != tc.wantCode {
				t.Fatalf("status %d, want %d; body %s", w.Code, tc.wantCode, w.Body)
			}
			if !strings.Contains(w.Body.String(), tc.wantText) {
				t.Fatalf("body %q does not contain %q", w.Body, tc.wantText)
			}
			if w.Code == 400 || w.Code == 401 {
				var st metav1.Status
				if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil || st.Kind != "Status" || int(st.Code) != w.Code {
					t.Fatalf("error body is not a Status: %s (%v)", w.Body, err)
				}
			}
		})
	}
}

// failingSigner's CA works but it cannot issue serving certificates.
type failingSigner struct{ *pki.Material }

func (failingSigner) IssueServingCert(string, []net.IP, []string, time.Duration) ([]byte, []byte, error) {
	return nil, nil, errors.New("CA key unavailable")
}

func TestHandlerSignerFailure(t *testing.T) {
	f := newFixture(t, HandlerConfig{})
	h, err := NewHandler(nil, failingSigner{f.material}, f.token, HandlerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("POST", JoinPath, strings.NewReader(`{"nodeName":"node-1","addresses":["10.0.0.2"]}`))
	r.Header.Set("Authorization", "Bearer "+f.token.secret)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), "CA key") {
		t.Fatalf("status %d, body %s; want 500 without internals", w.Code, w.Body)
	}
}

func TestNewHandlerErrors(t *testing.T) {
	f := newFixture(t, HandlerConfig{})
	foreign, err := NewToken([]byte("another CA"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		signer  Signer
		token   Token
		wantErr error
	}{
		{name: "nil signer", token: f.token},
		{name: "zero token", signer: f.material, wantErr: ErrInvalidToken},
		{name: "token for another CA", signer: f.material, token: foreign, wantErr: ErrTokenForOtherCA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewHandler(nil, tc.signer, tc.token, HandlerConfig{})
			if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
				t.Fatalf("NewHandler: %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func leaf(t *testing.T, certPEM, keyPEM []byte) *x509.Certificate {
	t.Helper()
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return pair.Leaf
}
