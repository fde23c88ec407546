// Package pki creates and maintains the cluster's certificate material: a
// private CA, the API server's serving certificate and the administrator's
// client certificate. Everything lives in one directory, is created on first
// start and reused afterwards; only derived leaves are ever re-issued.
package pki

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// File names inside Config.Dir.
const (
	CACertFile     = "ca.crt"
	CAKeyFile      = "ca.key"
	ServerCertFile = "server.crt"
	ServerKeyFile  = "server.key"
	AdminCertFile  = "admin.crt"
	AdminKeyFile   = "admin.key"
)

// defaultDNSNames are the names in-cluster clients and local users reach the
// API server by.
var defaultDNSNames = []string{
	"localhost",
	"kubernetes",
	"kubernetes.default",
	"kubernetes.default.svc",
	"kubernetes.default.svc.cluster.local",
}

// Config says where the material lives and which names the serving
// certificate must cover. Loopback addresses, the in-cluster service names and
// the host name are always added.
type Config struct {
	Dir      string
	IPs      []net.IP
	DNSNames []string
}

// Paths are the absolute locations of the files Ensure manages.
type Paths struct {
	CACert, CAKey         string
	ServerCert, ServerKey string
	AdminCert, AdminKey   string
}

func pathsIn(dir string) Paths {
	return Paths{
		CACert:     filepath.Join(dir, CACertFile),
		CAKey:      filepath.Join(dir, CAKeyFile),
		ServerCert: filepath.Join(dir, ServerCertFile),
		ServerKey:  filepath.Join(dir, ServerKeyFile),
		AdminCert:  filepath.Join(dir, AdminCertFile),
		AdminKey:   filepath.Join(dir, AdminKeyFile),
	}
}

// Material is the loaded certificate set. It is immutable after Ensure and
// safe for concurrent use.
type Material struct {
	Paths Paths

	ca           *authority
	server       tls.Certificate
	adminCertPEM []byte
	adminKeyPEM  []byte
}

// Ensure loads the material from cfg.Dir, creating whatever is missing. The
// CA is never replaced once it exists; the serving and admin certificates are
// re-issued when they do not match the CA or their key, expire within 30
// days, or (serving only) do not cover every wanted name.
func Ensure(cfg Config) (*Material, error) {
	return ensure(cfg, time.Now())
}

func ensure(cfg Config, now time.Time) (*Material, error) {
	if cfg.Dir == "" {
		return nil, errors.New("pki: Config.Dir is empty")
	}
	if err := os.MkdirAll(cfg.Dir, dirMode); err != nil {
		return nil, fmt.Errorf("pki: create %s: %w", cfg.Dir, err)
	}
	// MkdirAll leaves an existing directory's mode alone; private keys live
	// here, so tighten it regardless.
	if err := os.Chmod(cfg.Dir, dirMode); err != nil {
		return nil, fmt.Errorf("pki: chmod %s: %w", cfg.Dir, err)
	}
	if err := removeStaleTemps(cfg.Dir); err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	paths := pathsIn(cfg.Dir)

	ca, err := loadOrCreateCA(paths, now)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	ips, dnsNames := wantedSANs(cfg)
	server, err := ensureLeaf(ca, paths.ServerCert, paths.ServerKey, now, leafSpec{
		usage:    x509.ExtKeyUsageServerAuth,
		template: func() *x509.Certificate { return serverTemplate(ips, dnsNames) },
		accept:   func(c *x509.Certificate) bool { return coversSANs(c, ips, dnsNames) },
	})
	if err != nil {
		return nil, fmt.Errorf("pki: serving certificate: %w", err)
	}
	admin, err := ensureLeaf(ca, paths.AdminCert, paths.AdminKey, now, leafSpec{
		usage:    x509.ExtKeyUsageClientAuth,
		template: func() *x509.Certificate { return clientTemplate(AdminCommonName, []string{AdminGroup}) },
		accept:   isAdmin,
	})
	if err != nil {
		return nil, fmt.Errorf("pki: admin certificate: %w", err)
	}
	serverPair, err := tls.X509KeyPair(server.certPEM, server.keyPEM)
	if err != nil {
		return nil, fmt.Errorf("pki: load serving key pair: %w", err)
	}
	return &Material{
		Paths:        paths,
		ca:           ca,
		server:       serverPair,
		adminCertPEM: admin.certPEM,
		adminKeyPEM:  admin.keyPEM,
	}, nil
}

// loadOrCreateCA creates the CA only when its certificate is absent. A
// certificate without its key is an error rather than a reason to start over:
// a new CA would silently invalidate every credential already handed out.
func loadOrCreateCA(paths Paths, now time.Time) (*authority, error) {
	certPEM, err := os.ReadFile(paths.CACert)
	if errors.Is(err, os.ErrNotExist) {
		return createCA(paths, now)
	}
	if err != nil {
		return nil, fmt.Errorf("read CA certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(paths.CAKey)
	if err != nil {
		return nil, fmt.Errorf("read CA key (the CA certificate %s exists, so its key is required): %w", paths.CACert, err)
	}
	cert, err := parseCertPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("CA certificate %s: %w", paths.CACert, err)
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		return nil, fmt.Errorf("CA certificate %s and key %s do not match: %w", paths.CACert, paths.CAKey, err)
	}
	key, err := parseKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("CA key %s: %w", paths.CAKey, err)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("CA certificate %s is not a CA", paths.CACert)
	}
	if now.After(cert.NotAfter) {
		return nil, fmt.Errorf("CA certificate %s expired at %s; remove %s to create a new cluster CA",
			paths.CACert, cert.NotAfter.Format(time.RFC3339), filepath.Dir(paths.CACert))
	}
	return &authority{cert: cert, key: key, certPEM: certPEM}, nil
}

func createCA(paths Paths, now time.Time) (*authority, error) {
	ca, keyPEM, err := newAuthority(now)
	if err != nil {
		return nil, err
	}
	if err := writePair(paths.CACert, paths.CAKey, ca.certPEM, keyPEM); err != nil {
		return nil, fmt.Errorf("write CA: %w", err)
	}
	return ca, nil
}

// leafSpec describes one managed leaf certificate.
type leafSpec struct {
	usage    x509.ExtKeyUsage
	template func() *x509.Certificate
	// accept reports whether a stored, otherwise valid certificate still
	// has the wanted identity.
	accept func(*x509.Certificate) bool
}

type pemPair struct{ certPEM, keyPEM []byte }

func ensureLeaf(ca *authority, certPath, keyPath string, now time.Time, spec leafSpec) (pemPair, error) {
	certPEM, keyPEM, missing, err := readPair(certPath, keyPath)
	if err != nil {
		return pemPair{}, err
	}
	if !missing && leafUsable(ca, certPEM, keyPEM, now, spec) {
		return pemPair{certPEM: certPEM, keyPEM: keyPEM}, nil
	}
	certPEM, keyPEM, err = ca.issue(spec.template(), now, leafValidity)
	if err != nil {
		return pemPair{}, err
	}
	if err := writePair(certPath, keyPath, certPEM, keyPEM); err != nil {
		return pemPair{}, err
	}
	return pemPair{certPEM: certPEM, keyPEM: keyPEM}, nil
}

// leafUsable treats any defect in a stored leaf as a reason to re-issue: leaves
// are derived from the CA, so replacing them loses nothing.
func leafUsable(ca *authority, certPEM, keyPEM []byte, now time.Time, spec leafSpec) bool {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil || pair.Leaf == nil {
		return false
	}
	cert := pair.Leaf
	if ca.verifyLeaf(cert, spec.usage, now) != nil {
		return false
	}
	if cert.NotAfter.Sub(now) < renewThreshold {
		return false
	}
	return spec.accept(cert)
}

func isAdmin(c *x509.Certificate) bool {
	return c.Subject.CommonName == AdminCommonName && slices.Contains(c.Subject.Organization, AdminGroup)
}

// wantedSANs merges the configured names with the ones every cluster needs,
// dropping duplicates so that the certificate stays tidy.
func wantedSANs(cfg Config) ([]net.IP, []string) {
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	for _, ip := range cfg.IPs {
		if ip == nil || slices.ContainsFunc(ips, ip.Equal) {
			continue
		}
		ips = append(ips, ip)
	}
	names := slices.Clone(defaultDNSNames)
	extra := cfg.DNSNames
	// The host name is a convenience SAN; without it loopback and the
	// service names still work, so a lookup failure is not fatal.
	if host, err := os.Hostname(); err == nil {
		extra = append(slices.Clone(extra), host)
	}
	for _, n := range extra {
		n = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(n), "."))
		if n == "" || slices.Contains(names, n) {
			continue
		}
		names = append(names, n)
	}
	return ips, names
}

func coversSANs(c *x509.Certificate, ips []net.IP, dnsNames []string) bool {
	for _, ip := range ips {
		if !slices.ContainsFunc(c.IPAddresses, ip.Equal) {
			return false
		}
	}
	for _, n := range dnsNames {
		if !slices.ContainsFunc(c.DNSNames, func(have string) bool { return strings.EqualFold(have, n) }) {
			return false
		}
	}
	return true
}

// CACertificate returns the parsed CA certificate.
func (m *Material) CACertificate() *x509.Certificate { return m.ca.cert }

// ServingCertificate returns the parsed serving certificate.
func (m *Material) ServingCertificate() *x509.Certificate { return m.server.Leaf }

// CAPEM returns the PEM-encoded CA certificate, e.g. for kubeconfigs and
// agents joining the cluster.
func (m *Material) CAPEM() []byte { return slices.Clone(m.ca.certPEM) }

// CAPool returns a new pool holding only the cluster CA.
func (m *Material) CAPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(m.ca.cert)
	return pool
}

// AdminPEM returns the administrator's client certificate and key.
func (m *Material) AdminPEM() (certPEM, keyPEM []byte) {
	return slices.Clone(m.adminCertPEM), slices.Clone(m.adminKeyPEM)
}

// ServerTLSConfig returns a fresh TLS configuration for the API server.
// Client certificates are requested but optional, since token and anonymous
// callers must still reach the server; when one is presented it must chain
// to the cluster CA. Both h2 and http/1.1 are offered: normal requests gain
// from HTTP/2, while kubectl's SPDY-based exec/attach/port-forward negotiate
// http/1.1 themselves because they need connection hijacking.
func (m *Material) ServerTLSConfig() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{m.server},
		ClientCAs:    m.CAPool(),
		ClientAuth:   tls.VerifyClientCertIfGiven,
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2", "http/1.1"},
	}
}

// IssueClientCert creates a new key and a client-auth certificate for it, e.g.
// for an agent joining the cluster. orgs become the user's groups.
func (m *Material) IssueClientCert(cn string, orgs []string, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	if cn == "" {
		return nil, nil, errors.New("pki: issue client certificate: common name is empty")
	}
	certPEM, keyPEM, err = m.ca.issue(clientTemplate(cn, orgs), time.Now(), validity)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: issue client certificate: %w", err)
	}
	return certPEM, keyPEM, nil
}

// IssueServingCert creates a new key and a server-auth certificate for the
// given addresses, e.g. for a node's kubelet.
func (m *Material) IssueServingCert(cn string, ips []net.IP, dnsNames []string, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	if len(ips)+len(dnsNames) == 0 {
		return nil, nil, errors.New("pki: issue serving certificate: no address to certify")
	}
	tmpl := serverTemplate(ips, dnsNames)
	tmpl.Subject.CommonName = cn
	certPEM, keyPEM, err = m.ca.issue(tmpl, time.Now(), validity)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: issue serving certificate: %w", err)
	}
	return certPEM, keyPEM, nil
}

// SignCSR signs the public key of a PEM certificate request as a client
// certificate. The identity comes from cn and orgs, not from the request's
// subject: the caller has authenticated the requester and decides who it is.
func (m *Material) SignCSR(csrPEM []byte, cn string, orgs []string, validity time.Duration) ([]byte, error) {
	if cn == "" {
		return nil, errors.New("pki: sign CSR: common name is empty")
	}
	csr, err := parseCSRPEM(csrPEM)
	if err != nil {
		return nil, fmt.Errorf("pki: sign CSR: %w", err)
	}
	cert, err := m.ca.sign(clientTemplate(cn, orgs), csr.PublicKey, time.Now(), validity)
	if err != nil {
		return nil, fmt.Errorf("pki: sign CSR: %w", err)
	}
	return encodeCertPEM(cert), nil
}

func parseCSRPEM(data []byte) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	if block.Type != "CERTIFICATE REQUEST" && block.Type != "NEW CERTIFICATE REQUEST" {
		return nil, fmt.Errorf("unexpected PEM block %q, want CERTIFICATE REQUEST", block.Type)
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse certificate request: %w", err)
	}
	// Proof of possession: only the holder of the private key may obtain a
	// certificate for the public key.
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("certificate request signature: %w", err)
	}
	return csr, nil
}
