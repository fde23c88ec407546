package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

type tlsConfigs struct {
	server *tls.Config
	// client presents a certificate of the cluster CA, foreign one of
	// another CA, anonymous none; all trust the server.
	client, foreign, anonymous *tls.Config
}

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T, cn string) testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return testCA{cert: cert, key: key}
}

func (ca testCA) issue(t *testing.T, cn string, usage x509.ExtKeyUsage, ips ...net.IP) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func testTLS(t *testing.T) tlsConfigs {
	t.Helper()
	ca := newTestCA(t, "cluster-ca")
	other := newTestCA(t, "other-ca")
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	serverCert := ca.issue(t, "node", x509.ExtKeyUsageServerAuth, net.IPv4(127, 0, 0, 1))
	client := func(certs ...tls.Certificate) *tls.Config {
		return &tls.Config{RootCAs: pool, Certificates: certs}
	}
	return tlsConfigs{
		server: &tls.Config{
			Certificates: []tls.Certificate{serverCert},
			ClientCAs:    pool,
			ClientAuth:   tls.RequireAndVerifyClientCert,
		},
		client:    client(ca.issue(t, "kube-apiserver-kubelet-client", x509.ExtKeyUsageClientAuth)),
		foreign:   client(other.issue(t, "kube-apiserver-kubelet-client", x509.ExtKeyUsageClientAuth)),
		anonymous: client(),
	}
}

func TestNewValidatesConfig(t *testing.T) {
	good := testTLS(t).server
	noClientAuth := good.Clone()
	noClientAuth.ClientAuth = tls.VerifyClientCertIfGiven
	noCAs := good.Clone()
	noCAs.ClientCAs = nil
	noCert := good.Clone()
	noCert.Certificates = nil
	for _, tc := range []struct {
		name string
		rt   Runtime
		tls  *tls.Config
		ok   bool
	}{
		{"valid", newFakeRuntime(), good, true},
		{"no runtime", nil, good, false},
		{"no TLS", newFakeRuntime(), nil, false},
		{"client certificates optional", newFakeRuntime(), noClientAuth, false},
		{"no client CAs", newFakeRuntime(), noCAs, false},
		{"no server certificate", newFakeRuntime(), noCert, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(nil, tc.rt, Config{TLS: tc.tls})
			if (err == nil) != tc.ok {
				t.Fatalf("New: err = %v, want ok = %v", err, tc.ok)
			}
			if tc.ok && (s.cfg.Address != ":10250" || s.cfg.PodLogsDir != "/var/log/pods") {
				t.Errorf("defaults: address %q, pod logs dir %q", s.cfg.Address, s.cfg.PodLogsDir)
			}
		})
	}
}

func TestClientCertificateRequired(t *testing.T) {
	certs := testTLS(t)
	s := newTestServer(t, newFakeRuntime(), Config{TLS: certs.server})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.serve(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	url := "https://" + ln.Addr().String() + "/containerLogs/default/web/app"

	for _, tc := range []struct {
		name     string
		cfg      *tls.Config
		accepted bool
	}{
		{"no certificate", certs.anonymous, false},
		{"certificate of another CA", certs.foreign, false},
		{"certificate of the cluster CA", certs.client, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := &http.Transport{TLSClientConfig: tc.cfg}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
			resp, err := c.Get(url)
			if !tc.accepted {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("request answered %s, want the handshake refused", resp.Status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			// No such pod: the request got through to the API.
			if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), `pod "web" does not exist`) {
				t.Errorf("got %s %q, want 404 for the missing pod", resp.Status, body)
			}
			if resp.ProtoMajor != 1 {
				t.Errorf("protocol %s, want HTTP/1.1 for upgrades", resp.Proto)
			}
		})
	}
}

func TestRunStopsWithContext(t *testing.T) {
	s := newTestServer(t, newFakeRuntime(), Config{Address: "127.0.0.1:0"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

func TestRunReportsListenError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s := newTestServer(t, newFakeRuntime(), Config{Address: ln.Addr().String()})
	if err := s.Run(context.Background()); err == nil {
		t.Fatal("Run on a taken address succeeded")
	}
}

func TestStatusOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"bad request", badRequest("x"), http.StatusBadRequest},
		{"not found", notFound("x"), http.StatusNotFound},
		{"wrapped not found", errors.Join(errors.New("ctx"), notFound("x")), http.StatusNotFound},
		{"wrapped runtime not found", fmt.Errorf("status: %w", status.Error(codes.NotFound, "gone")), http.StatusNotFound},
		{"runtime busy", status.Error(codes.ResourceExhausted, "busy"), http.StatusTooManyRequests},
		{"other", errors.New("boom"), http.StatusInternalServerError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := statusOf(tc.err); got != tc.want {
				t.Errorf("statusOf(%v) = %d, want %d", tc.err, got, tc.want)
			}
		})
	}
}
