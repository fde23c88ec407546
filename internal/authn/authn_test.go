package authn

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/internal/pki"
)

type fixture struct {
	material *pki.Material
	foreign  *pki.Material // an unrelated CA
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	m, err := pki.Ensure(pki.Config{Dir: filepath.Join(t.TempDir(), "tls")})
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := pki.Ensure(pki.Config{Dir: filepath.Join(t.TempDir(), "foreign")})
	if err != nil {
		t.Fatal(err)
	}
	return fixture{material: m, foreign: foreign}
}

func parseCert(t *testing.T, certPEM []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(certPEM)
	if block == nil {
		t.Fatal("no PEM block")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func issue(t *testing.T, m *pki.Material, cn string, orgs ...string) (certPEM, keyPEM []byte) {
	t.Helper()
	certPEM, keyPEM, err := m.IssueClientCert(cn, orgs, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return certPEM, keyPEM
}

func TestAuthenticate(t *testing.T) {
	fx := newFixture(t)
	ca := fx.material.CACertificate()
	nodeCert, _ := issue(t, fx.material, "system:node:n1", "system:nodes", "system:nodes")
	node := parseCert(t, nodeCert)
	noCNCert, _ := issue(t, fx.material, "placeholder")
	noCN := parseCert(t, noCNCert)
	noCN.Subject.CommonName = "" // only the parsed subject matters here
	foreignCert, _ := issue(t, fx.foreign, "intruder", "system:masters")
	foreign := parseCert(t, foreignCert)
	serving := fx.material.ServingCertificate()

	tokens := StaticTokens{
		"good":    {Name: "alice", UID: "u1", Groups: []string{"dev"}},
		"already": {Name: "bob", Groups: []string{GroupAuthenticated, "ops"}},
	}
	verified := func(leaf *x509.Certificate) *tls.ConnectionState {
		return &tls.ConnectionState{
			PeerCertificates: []*x509.Certificate{leaf},
			VerifiedChains:   [][]*x509.Certificate{{leaf, ca}},
		}
	}
	tests := []struct {
		name       string
		tokens     TokenSource
		tls        *tls.ConnectionState
		authz      string
		wantOK     bool
		wantErr    bool
		wantName   string
		wantGroups []string
	}{
		{name: "no credentials", tokens: tokens},
		{
			name: "client certificate", tokens: tokens, tls: verified(node),
			wantOK: true, wantName: "system:node:n1", wantGroups: []string{"system:nodes", GroupAuthenticated},
		},
		{
			name: "certificate wins over token", tokens: tokens, tls: verified(node), authz: "Bearer good",
			wantOK: true, wantName: "system:node:n1", wantGroups: []string{"system:nodes", GroupAuthenticated},
		},
		{name: "certificate not verified by TLS", tls: &tls.ConnectionState{PeerCertificates: []*x509.Certificate{node}}, wantErr: true},
		{name: "certificate from another CA", tls: verified(foreign), wantErr: true},
		{name: "server-only certificate", tls: verified(serving), wantErr: true},
		{name: "certificate without CN", tls: verified(noCN), wantErr: true},
		{
			name: "bad certificate but good token", tokens: tokens, tls: verified(foreign), authz: "Bearer good",
			wantOK: true, wantName: "alice", wantGroups: []string{"dev", GroupAuthenticated},
		},
		{
			name: "bearer token", tokens: tokens, authz: "Bearer good",
			wantOK: true, wantName: "alice", wantGroups: []string{"dev", GroupAuthenticated},
		},
		{
			name: "scheme is case-insensitive", tokens: tokens, authz: "bearer  good ",
			wantOK: true, wantName: "alice", wantGroups: []string{"dev", GroupAuthenticated},
		},
		{
			name: "authenticated group not duplicated", tokens: tokens, authz: "Bearer already",
			wantOK: true, wantName: "bob", wantGroups: []string{GroupAuthenticated, "ops"},
		},
		{name: "unknown token", tokens: tokens, authz: "Bearer nope", wantErr: true},
		{name: "empty token", tokens: tokens, authz: "Bearer ", wantErr: true},
		{name: "token with spaces", tokens: tokens, authz: "Bearer good extra", wantErr: true},
		{name: "no token source", authz: "Bearer good", wantErr: true},
		{name: "basic auth is not a credential", tokens: tokens, authz: "Basic YWxpY2U6cHc="},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := New(fx.material.CAPool(), tc.tokens)
			r := httptest.NewRequest(http.MethodGet, "https://skiff/api", nil)
			r.TLS = tc.tls
			if tc.authz != "" {
				r.Header.Set("Authorization", tc.authz)
			}
			u, ok, err := a.Authenticate(r)
			if ok != tc.wantOK || (err != nil) != tc.wantErr {
				t.Fatalf("Authenticate = (%+v, %v, %v), want ok=%v err=%v", u, ok, err, tc.wantOK, tc.wantErr)
			}
			if !ok {
				return
			}
			if u.Name != tc.wantName || !slices.Equal(u.Groups, tc.wantGroups) {
				t.Errorf("user = %+v, want name %q groups %v", u, tc.wantName, tc.wantGroups)
			}
		})
	}
}

func TestAuthenticateWithoutCAPool(t *testing.T) {
	fx := newFixture(t)
	certPEM, _ := issue(t, fx.material, "someone")
	leaf := parseCert(t, certPEM)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf}, VerifiedChains: [][]*x509.Certificate{{leaf}}}
	if u, ok, err := New(nil, nil).Authenticate(r); ok || err != nil {
		t.Fatalf("Authenticate = (%+v, %v, %v), want certificate auth disabled", u, ok, err)
	}
}

// echoUser reports the user the middleware attached, and whether the
// Authorization header reached the handler.
func echoUser(w http.ResponseWriter, r *http.Request) {
	u, ok := UserFrom(r.Context())
	if !ok {
		http.Error(w, "no user in context", http.StatusInternalServerError)
		return
	}
	fmt.Fprintf(w, "%s|%s|authz=%v", u.Name, strings.Join(u.Groups, ","), r.Header.Get("Authorization") != "")
}

// startServer runs the middleware behind the real serving TLS config on
// 127.0.0.1, as the API server will.
func startServer(t *testing.T, m *pki.Material, a *Authenticator) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler:   Middleware(http.HandlerFunc(echoUser), a, "/healthz", "/livez", "/readyz/*", "/version"),
		TLSConfig: m.ServerTLSConfig(),
		ErrorLog:  log.New(io.Discard, "", 0),
	}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	return "https://" + ln.Addr().String()
}

func httpClient(t *testing.T, caPEM, certPEM, keyPEM []byte) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	cfg := &tls.Config{RootCAs: pool}
	if certPEM != nil {
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func TestMiddleware(t *testing.T) {
	fx := newFixture(t)
	m := fx.material
	tokens := StaticTokens{"good": {Name: "alice", Groups: []string{"dev"}}}
	url := startServer(t, m, New(m.CAPool(), tokens))

	adminCert, adminKey := m.AdminPEM()
	foreignCert, foreignKey := issue(t, fx.foreign, "intruder", "system:masters")
	admin := httpClient(t, m.CAPEM(), adminCert, adminKey)
	plain := httpClient(t, m.CAPEM(), nil, nil)
	// A certificate from another CA is refused by the TLS handshake itself.
	intruder := httpClient(t, m.CAPEM(), foreignCert, foreignKey)

	const anonymous = UserAnonymous + "|" + GroupUnauthenticated + "|authz=false"
	tests := []struct {
		name     string
		client   *http.Client
		method   string
		path     string
		token    string
		wantCode int
		wantBody string // exact body for 200s; 401s are checked against the Status
		wantErr  bool
	}{
		{name: "admin certificate", client: admin, method: "GET", path: "/api", wantCode: 200,
			wantBody: "skiff-admin|system:masters," + GroupAuthenticated + "|authz=false"},
		{name: "token user, header stripped", client: plain, method: "GET", path: "/api/v1/pods", token: "good", wantCode: 200,
			wantBody: "alice|dev," + GroupAuthenticated + "|authz=false"},
		{name: "bad token", client: plain, method: "GET", path: "/api", token: "bad", wantCode: 401},
		{name: "no credentials", client: plain, method: "GET", path: "/api", wantCode: 401},
		{name: "anonymous healthz", client: plain, method: "GET", path: "/healthz", wantCode: 200, wantBody: anonymous},
		{name: "anonymous version", client: plain, method: "GET", path: "/version", wantCode: 200, wantBody: anonymous},
		{name: "anonymous HEAD livez", client: plain, method: "HEAD", path: "/livez", wantCode: 200},
		{name: "anonymous readyz subcheck", client: plain, method: "GET", path: "/readyz/etcd", wantCode: 200, wantBody: anonymous},
		{name: "anonymous path is exact", client: plain, method: "GET", path: "/healthz/etcd", wantCode: 401},
		{name: "anonymous prefix needs a slash", client: plain, method: "GET", path: "/readyzfoo", wantCode: 401},
		{name: "anonymous POST refused", client: plain, method: "POST", path: "/healthz", wantCode: 401},
		{name: "bad token on anonymous path", client: plain, method: "GET", path: "/healthz", token: "bad", wantCode: 401},
		{name: "authenticated on anonymous path", client: admin, method: "GET", path: "/healthz", wantCode: 200,
			wantBody: "skiff-admin|system:masters," + GroupAuthenticated + "|authz=false"},
		{name: "foreign certificate", client: intruder, method: "GET", path: "/api", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, url+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, err := tc.client.Do(req)
			if tc.wantErr {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("request succeeded with status %d, want a TLS failure", resp.StatusCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.wantCode {
				t.Fatalf("status = %d (%s), want %d", resp.StatusCode, body, tc.wantCode)
			}
			switch {
			case tc.wantCode == http.StatusUnauthorized:
				checkUnauthorized(t, resp, body)
			case tc.wantBody != "" && string(body) != tc.wantBody:
				t.Errorf("body = %q, want %q", body, tc.wantBody)
			}
		})
	}
}

func checkUnauthorized(t *testing.T, resp *http.Response, body []byte) {
	t.Helper()
	const want = `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}`
	if got := strings.TrimSpace(string(body)); got != want {
		t.Errorf("401 body = %s, want %s", got, want)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
}

func TestUserContext(t *testing.T) {
	ctx := t.Context()
	if _, ok := UserFrom(ctx); ok {
		t.Error("empty context reports a user")
	}
	if _, ok := UserFrom(WithUser(ctx, nil)); ok {
		t.Error("nil user reported as present")
	}
	u := &User{Name: "alice"}
	got, ok := UserFrom(WithUser(ctx, u))
	if !ok || got != u {
		t.Errorf("UserFrom = %v, %v", got, ok)
	}
}
