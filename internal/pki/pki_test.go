package pki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// snapshot captures the on-disk bytes of every managed file.
type snapshot map[string][]byte

func takeSnapshot(t *testing.T, dir string) snapshot {
	t.Helper()
	s := snapshot{}
	for _, name := range []string{CACertFile, CAKeyFile, ServerCertFile, ServerKeyFile, AdminCertFile, AdminKeyFile} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
		s[name] = data
	}
	return s
}

func mustEnsure(t *testing.T, cfg Config, now time.Time) *Material {
	t.Helper()
	m, err := ensure(cfg, now)
	if err != nil {
		t.Fatalf("ensure: %v", err)
	}
	return m
}

func TestEnsureReusesMaterial(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	cfg := Config{Dir: dir, IPs: []net.IP{net.ParseIP("10.43.0.1")}, DNSNames: []string{"skiff.example"}}
	first, err := Ensure(cfg)
	if err != nil {
		t.Fatalf("first Ensure: %v", err)
	}
	before := takeSnapshot(t, dir)
	second, err := Ensure(cfg)
	if err != nil {
		t.Fatalf("second Ensure: %v", err)
	}
	if !bytes.Equal(first.CAPEM(), second.CAPEM()) {
		t.Error("CA changed between calls")
	}
	if !first.ServingCertificate().Equal(second.ServingCertificate()) {
		t.Error("serving certificate changed between calls")
	}
	c1, k1 := first.AdminPEM()
	c2, k2 := second.AdminPEM()
	if !bytes.Equal(c1, c2) || !bytes.Equal(k1, k2) {
		t.Error("admin credentials changed between calls")
	}
	after := takeSnapshot(t, dir)
	for name := range before {
		if !bytes.Equal(before[name], after[name]) {
			t.Errorf("%s rewritten on second call", name)
		}
	}
}

func TestEnsureSANs(t *testing.T) {
	m := mustEnsure(t, Config{
		Dir:      t.TempDir(),
		IPs:      []net.IP{net.ParseIP("10.43.0.1"), net.ParseIP("127.0.0.1"), nil},
		DNSNames: []string{"API.Example.", "", "localhost"},
	}, time.Now())
	cert := m.ServingCertificate()
	for _, ip := range []string{"127.0.0.1", "::1", "10.43.0.1"} {
		if !slices.ContainsFunc(cert.IPAddresses, net.ParseIP(ip).Equal) {
			t.Errorf("IP SAN %s missing from %v", ip, cert.IPAddresses)
		}
	}
	if len(cert.IPAddresses) != 3 {
		t.Errorf("IP SANs not deduplicated: %v", cert.IPAddresses)
	}
	want := append(slices.Clone(defaultDNSNames), "api.example")
	for _, n := range want {
		if !slices.Contains(cert.DNSNames, n) {
			t.Errorf("DNS SAN %q missing from %v", n, cert.DNSNames)
		}
	}
	if host, err := os.Hostname(); err == nil && !slices.Contains(cert.DNSNames, strings.ToLower(host)) {
		t.Errorf("host name %q missing from %v", host, cert.DNSNames)
	}
	for _, name := range []string{"kubernetes.default.svc", "localhost"} {
		if err := cert.VerifyHostname(name); err != nil {
			t.Errorf("VerifyHostname(%s): %v", name, err)
		}
	}
}

func TestEnsureReissue(t *testing.T) {
	now := time.Now()
	base := func(dir string) Config {
		return Config{Dir: dir, IPs: []net.IP{net.ParseIP("10.43.0.1"), net.ParseIP("192.0.2.10")}}
	}
	tests := []struct {
		name       string
		cfg        func(dir string) Config
		mutate     func(t *testing.T, dir string)
		at         time.Time
		wantServer bool // serving pair re-issued
		wantAdmin  bool // admin pair re-issued
		wantIP     string
	}{
		{name: "unchanged", cfg: base, at: now},
		{
			name: "subset of SANs keeps certificate",
			cfg:  func(dir string) Config { return Config{Dir: dir, IPs: []net.IP{net.ParseIP("10.43.0.1")}} },
			at:   now,
		},
		{
			name: "new IP re-issues serving only",
			cfg: func(dir string) Config {
				c := base(dir)
				c.IPs = append(c.IPs, net.ParseIP("198.51.100.7"))
				return c
			},
			at:         now,
			wantServer: true,
			wantIP:     "198.51.100.7",
		},
		{
			name: "new DNS name re-issues serving only",
			cfg: func(dir string) Config {
				c := base(dir)
				c.DNSNames = []string{"new.example"}
				return c
			},
			at:         now,
			wantServer: true,
		},
		{name: "far from expiry keeps certificates", cfg: base, at: now.Add(300 * 24 * time.Hour)},
		{
			name:       "near expiry re-issues leaves",
			cfg:        base,
			at:         now.Add(340 * 24 * time.Hour),
			wantServer: true,
			wantAdmin:  true,
		},
		{
			name: "key newer than certificate (crash mid-write)",
			cfg:  base,
			mutate: func(t *testing.T, dir string) {
				key, err := newKey()
				if err != nil {
					t.Fatal(err)
				}
				keyPEM, err := encodeKeyPEM(key)
				if err != nil {
					t.Fatal(err)
				}
				writeTestFile(t, filepath.Join(dir, ServerKeyFile), keyPEM)
			},
			at:         now,
			wantServer: true,
		},
		{
			name:       "serving certificate removed",
			cfg:        base,
			mutate:     func(t *testing.T, dir string) { removeTestFile(t, filepath.Join(dir, ServerCertFile)) },
			at:         now,
			wantServer: true,
		},
		{
			name:      "admin key removed",
			cfg:       base,
			mutate:    func(t *testing.T, dir string) { removeTestFile(t, filepath.Join(dir, AdminKeyFile)) },
			at:        now,
			wantAdmin: true,
		},
		{
			name:       "corrupt serving certificate",
			cfg:        base,
			mutate:     func(t *testing.T, dir string) { writeTestFile(t, filepath.Join(dir, ServerCertFile), []byte("junk")) },
			at:         now,
			wantServer: true,
		},
		{
			name: "admin certificate signed by another CA",
			cfg:  base,
			mutate: func(t *testing.T, dir string) {
				other, _, err := newAuthority(now)
				if err != nil {
					t.Fatal(err)
				}
				certPEM, keyPEM, err := other.issue(clientTemplate(AdminCommonName, []string{AdminGroup}), now, leafValidity)
				if err != nil {
					t.Fatal(err)
				}
				writeTestFile(t, filepath.Join(dir, AdminKeyFile), keyPEM)
				writeTestFile(t, filepath.Join(dir, AdminCertFile), certPEM)
			},
			at:        now,
			wantAdmin: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			mustEnsure(t, base(dir), now)
			before := takeSnapshot(t, dir)
			if tc.mutate != nil {
				tc.mutate(t, dir)
			}
			m := mustEnsure(t, tc.cfg(dir), tc.at)
			after := takeSnapshot(t, dir)

			for _, name := range []string{CACertFile, CAKeyFile} {
				if !bytes.Equal(before[name], after[name]) {
					t.Errorf("%s changed; the CA must never be replaced", name)
				}
			}
			if got := !bytes.Equal(before[ServerCertFile], after[ServerCertFile]); got != tc.wantServer {
				t.Errorf("serving certificate re-issued = %v, want %v", got, tc.wantServer)
			}
			if got := !bytes.Equal(before[AdminCertFile], after[AdminCertFile]); got != tc.wantAdmin {
				t.Errorf("admin certificate re-issued = %v, want %v", got, tc.wantAdmin)
			}
			if tc.wantIP != "" && !slices.ContainsFunc(m.ServingCertificate().IPAddresses, net.ParseIP(tc.wantIP).Equal) {
				t.Errorf("new IP %s missing from %v", tc.wantIP, m.ServingCertificate().IPAddresses)
			}
			// Whatever happened, the result must be a consistent set.
			if _, err := tls.X509KeyPair(after[ServerCertFile], after[ServerKeyFile]); err != nil {
				t.Errorf("serving pair inconsistent: %v", err)
			}
			if _, err := tls.X509KeyPair(after[AdminCertFile], after[AdminKeyFile]); err != nil {
				t.Errorf("admin pair inconsistent: %v", err)
			}
		})
	}
}

func TestEnsureErrors(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name    string
		mutate  func(t *testing.T, dir string)
		at      time.Time
		wantErr string
	}{
		{
			name:    "CA key missing",
			mutate:  func(t *testing.T, dir string) { removeTestFile(t, filepath.Join(dir, CAKeyFile)) },
			at:      now,
			wantErr: "read CA key",
		},
		{
			name: "CA key does not match",
			mutate: func(t *testing.T, dir string) {
				key, err := newKey()
				if err != nil {
					t.Fatal(err)
				}
				keyPEM, err := encodeKeyPEM(key)
				if err != nil {
					t.Fatal(err)
				}
				writeTestFile(t, filepath.Join(dir, CAKeyFile), keyPEM)
			},
			at:      now,
			wantErr: "do not match",
		},
		{
			name:    "CA expired",
			at:      now.Add(11 * 365 * 24 * time.Hour),
			wantErr: "expired",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			mustEnsure(t, Config{Dir: dir}, now)
			if tc.mutate != nil {
				tc.mutate(t, dir)
			}
			_, err := ensure(Config{Dir: dir}, tc.at)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want it to mention %q", err, tc.wantErr)
			}
		})
	}
	t.Run("empty dir", func(t *testing.T) {
		if _, err := Ensure(Config{}); err == nil {
			t.Fatal("expected an error for an empty Dir")
		}
	})
}

func TestCertificateProfiles(t *testing.T) {
	m := mustEnsure(t, Config{Dir: t.TempDir()}, time.Now())
	ca := m.CACertificate()
	if ca.Subject.CommonName != caCommonName || !ca.IsCA {
		t.Errorf("CA subject %q IsCA %v", ca.Subject.CommonName, ca.IsCA)
	}
	if _, ok := ca.PublicKey.(*ecdsa.PublicKey); !ok {
		t.Errorf("CA key type %T, want ECDSA", ca.PublicKey)
	}
	if d := ca.NotAfter.Sub(ca.NotBefore); d < 9*365*24*time.Hour {
		t.Errorf("CA validity %s, want about 10 years", d)
	}
	if d := m.ServingCertificate().NotAfter.Sub(time.Now()); d < 360*24*time.Hour || d > 366*24*time.Hour {
		t.Errorf("serving validity %s, want about 1 year", d)
	}
	certPEM, _ := m.AdminPEM()
	admin, err := parseCertPEM(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	if admin.Subject.CommonName != AdminCommonName || !slices.Equal(admin.Subject.Organization, []string{AdminGroup}) {
		t.Errorf("admin subject = %v", admin.Subject)
	}
	if !slices.Equal(admin.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) {
		t.Errorf("admin ExtKeyUsage = %v", admin.ExtKeyUsage)
	}
}

func TestFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "tls")
	m := mustEnsure(t, Config{Dir: dir}, time.Now())
	kubeconfig := filepath.Join(t.TempDir(), "admin.kubeconfig")
	if err := m.WriteAdminKubeconfig(kubeconfig, "https://127.0.0.1:6443"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want os.FileMode
	}{
		{dir, 0o700 | os.ModeDir},
		{m.Paths.CAKey, 0o600},
		{m.Paths.ServerKey, 0o600},
		{m.Paths.AdminKey, 0o600},
		{m.Paths.CACert, 0o644},
		{m.Paths.ServerCert, 0o644},
		{m.Paths.AdminCert, 0o644},
		{kubeconfig, 0o600},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(tc.path), func(t *testing.T) {
			fi, err := os.Stat(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode() != tc.want {
				t.Errorf("mode = %v, want %v", fi.Mode(), tc.want)
			}
		})
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestKubeconfigContents(t *testing.T) {
	m := mustEnsure(t, Config{Dir: t.TempDir()}, time.Now())
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := m.WriteAdminKubeconfig(path, "https://127.0.0.1:6443"); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CurrentContext != KubeconfigContext {
		t.Errorf("current-context = %q", cfg.CurrentContext)
	}
	ctx := cfg.Contexts[KubeconfigContext]
	if ctx == nil || ctx.Cluster != KubeconfigCluster || ctx.AuthInfo != KubeconfigUser {
		t.Fatalf("context = %+v", ctx)
	}
	cluster := cfg.Clusters[KubeconfigCluster]
	if cluster == nil || cluster.Server != "https://127.0.0.1:6443" || !bytes.Equal(cluster.CertificateAuthorityData, m.CAPEM()) {
		t.Errorf("cluster = %+v", cluster)
	}
	certPEM, keyPEM := m.AdminPEM()
	user := cfg.AuthInfos[KubeconfigUser]
	if user == nil || !bytes.Equal(user.ClientCertificateData, certPEM) || !bytes.Equal(user.ClientKeyData, keyPEM) {
		t.Errorf("user credentials not embedded")
	}
	if err := WriteKubeconfig(path, "", nil, nil, nil); err == nil {
		t.Error("expected an error for an empty server URL")
	}
}

// startServer serves HTTPS on 127.0.0.1 and reports the caller's client
// certificate CN (or "-" for none) and the negotiated protocol.
func startServer(t *testing.T, m *Material) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		TLSConfig: m.ServerTLSConfig(),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			cn := "-"
			if len(r.TLS.VerifiedChains) > 0 {
				cn = r.TLS.VerifiedChains[0][0].Subject.CommonName
			}
			_, _ = io.WriteString(w, cn+" "+r.Proto)
		}),
		// Rejected handshakes are expected in these tests; keep output clean.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	return "https://" + ln.Addr().String()
}

func TestServerAcceptsClients(t *testing.T) {
	m := mustEnsure(t, Config{Dir: t.TempDir()}, time.Now())
	url := startServer(t, m)

	foreign, _, err := newAuthority(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	foreignCert, foreignKey, err := foreign.issue(clientTemplate("intruder", []string{AdminGroup}), time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	nodeCert, nodeKey, err := m.IssueClientCert("system:node:n1", []string{"system:nodes"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	csrKey, csrPEM := newCSR(t, "ignored-subject")
	csrCert, err := m.SignCSR(csrPEM, "agent-1", []string{"skiff:agents"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		config  func(t *testing.T) *rest.Config
		want    string // response prefix when the request succeeds
		wantErr bool
	}{
		{
			name: "admin kubeconfig",
			config: func(t *testing.T) *rest.Config {
				path := filepath.Join(t.TempDir(), "kubeconfig")
				if err := m.WriteAdminKubeconfig(path, url); err != nil {
					t.Fatal(err)
				}
				cfg, err := clientcmd.BuildConfigFromFlags("", path)
				if err != nil {
					t.Fatal(err)
				}
				return cfg
			},
			want: AdminCommonName + " ",
		},
		{
			name:   "issued node certificate",
			config: restConfig(url, m.CAPEM(), nodeCert, nodeKey),
			want:   "system:node:n1 ",
		},
		{
			name:   "certificate from CSR",
			config: restConfig(url, m.CAPEM(), csrCert, csrKey),
			want:   "agent-1 ",
		},
		{
			name:   "no client certificate",
			config: restConfig(url, m.CAPEM(), nil, nil),
			want:   "- ",
		},
		{
			name:    "client certificate from another CA",
			config:  restConfig(url, m.CAPEM(), foreignCert, foreignKey),
			wantErr: true,
		},
		{
			name:    "client trusting another CA",
			config:  restConfig(url, foreign.certPEM, nil, nil),
			wantErr: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client, err := rest.HTTPClientFor(tc.config(t))
			if err != nil {
				t.Fatal(err)
			}
			defer client.CloseIdleConnections()
			resp, err := client.Get(url + "/whoami")
			if tc.wantErr {
				if err == nil {
					resp.Body.Close()
					t.Fatal("request succeeded, want a TLS failure")
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
			if !strings.HasPrefix(string(body), tc.want) {
				t.Errorf("response %q, want prefix %q", body, tc.want)
			}
		})
	}
}

func TestALPN(t *testing.T) {
	m := mustEnsure(t, Config{Dir: t.TempDir()}, time.Now())
	url := startServer(t, m)
	addr := strings.TrimPrefix(url, "https://")
	tests := []struct {
		offer []string
		want  string
	}{
		{offer: []string{"h2", "http/1.1"}, want: "h2"},
		{offer: []string{"http/1.1"}, want: "http/1.1"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.offer, ","), func(t *testing.T) {
			conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: m.CAPool(), NextProtos: tc.offer, ServerName: "localhost"})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if got := conn.ConnectionState().NegotiatedProtocol; got != tc.want {
				t.Errorf("negotiated %q, want %q", got, tc.want)
			}
		})
	}
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: m.CAPool(), MaxVersion: tls.VersionTLS11})
	if err == nil {
		conn.Close()
		t.Error("TLS 1.1 handshake succeeded, want it refused")
	}
}

func TestSignCSRErrors(t *testing.T) {
	m := mustEnsure(t, Config{Dir: t.TempDir()}, time.Now())
	_, csrPEM := newCSR(t, "x")
	block, _ := pem.Decode(csrPEM)
	tampered := slices.Clone(block.Bytes)
	tampered[len(tampered)-5] ^= 0xff
	tests := []struct {
		name     string
		csr      []byte
		cn       string
		validity time.Duration
	}{
		{name: "not PEM", csr: []byte("hello"), cn: "a", validity: time.Hour},
		{name: "wrong block type", csr: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: block.Bytes}), cn: "a", validity: time.Hour},
		{name: "bad signature", csr: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: tampered}), cn: "a", validity: time.Hour},
		{name: "empty common name", csr: csrPEM, cn: "", validity: time.Hour},
		{name: "zero validity", csr: csrPEM, cn: "a", validity: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := m.SignCSR(tc.csr, tc.cn, nil, tc.validity); err == nil {
				t.Fatal("expected an error")
			}
		})
	}
	if _, _, err := m.IssueClientCert("", nil, time.Hour); err == nil {
		t.Error("IssueClientCert with empty CN: expected an error")
	}
}

func TestEnsureRemovesStaleTemps(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, ".ca.key.tmp-123")
	writeTestFile(t, stale, []byte("half a key"))
	mustEnsure(t, Config{Dir: dir}, time.Now())
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale temp file still present: %v", err)
	}
}

func restConfig(url string, caPEM, certPEM, keyPEM []byte) func(*testing.T) *rest.Config {
	return func(*testing.T) *rest.Config {
		return &rest.Config{
			Host: url,
			TLSClientConfig: rest.TLSClientConfig{
				CAData:   caPEM,
				CertData: certPEM,
				KeyData:  keyPEM,
			},
		}
	}
}

func newCSR(t *testing.T, cn string) (keyPEM, csrPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}, key)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err = encodeKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	return keyPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func writeTestFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func removeTestFile(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

func TestIssueServingCert(t *testing.T) {
	m := mustEnsure(t, Config{Dir: t.TempDir()}, time.Now())
	certPEM, keyPEM, err := m.IssueServingCert("node-1", []net.IP{net.ParseIP("192.0.2.7")}, []string{"node-1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	opts := x509.VerifyOptions{Roots: m.CAPool(), DNSName: "node-1", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	if _, err := leaf.Verify(opts); err != nil {
		t.Fatalf("serving certificate does not verify for its name: %v", err)
	}
	if err := leaf.VerifyHostname("192.0.2.7"); err != nil {
		t.Fatalf("serving certificate does not cover its IP: %v", err)
	}
	if _, _, err := m.IssueServingCert("node-1", nil, nil, time.Hour); err == nil {
		t.Error("a serving certificate for no address: expected an error")
	}
}
