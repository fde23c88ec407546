package join

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/skiff-sh/skiff/internal/authn"
	"github.com/skiff-sh/skiff/internal/fsutil"
	"github.com/skiff-sh/skiff/internal/pki"
)

// CredentialsFile is the name of the file Save writes in its directory.
const CredentialsFile = "credentials.json"

// ErrExpired is returned by Load for credentials past their validity; the
// agent must join again.
var ErrExpired = errors.New("join: credentials have expired")

// Credentials are what a node receives on joining, all PEM-encoded.
type Credentials struct {
	// NodeName is the node the credentials were issued to.
	NodeName string
	// CA is the cluster CA, for verifying the API server and the API
	// server's client certificate at the kubelet.
	CA []byte
	// ClientCert and ClientKey authenticate the node to the API server as
	// system:node:<NodeName> in group system:nodes.
	ClientCert, ClientKey []byte
	// ServingCert and ServingKey are the kubelet's HTTPS server identity,
	// valid for the node's name and addresses.
	ServingCert, ServingKey []byte
	// KubeletClientName is the common name of the API server's client
	// certificate, the only caller the kubelet may accept.
	KubeletClientName string
}

// credentialsJSON is both the join response and the file Save writes.
type credentialsJSON struct {
	NodeName          string `json:"nodeName,omitempty"`
	CA                string `json:"ca"`
	ClientCert        string `json:"clientCert"`
	ClientKey         string `json:"clientKey"`
	ServingCert       string `json:"servingCert"`
	ServingKey        string `json:"servingKey"`
	KubeletClientName string `json:"kubeletClientName"`
}

func (c *Credentials) toJSON() credentialsJSON {
	return credentialsJSON{
		NodeName:          c.NodeName,
		CA:                string(c.CA),
		ClientCert:        string(c.ClientCert),
		ClientKey:         string(c.ClientKey),
		ServingCert:       string(c.ServingCert),
		ServingKey:        string(c.ServingKey),
		KubeletClientName: c.KubeletClientName,
	}
}

func (j credentialsJSON) credentials() *Credentials {
	return &Credentials{
		NodeName:          j.NodeName,
		CA:                []byte(j.CA),
		ClientCert:        []byte(j.ClientCert),
		ClientKey:         []byte(j.ClientKey),
		ServingCert:       []byte(j.ServingCert),
		ServingKey:        []byte(j.ServingKey),
		KubeletClientName: j.KubeletClientName,
	}
}

// Save writes the credentials to dir/credentials.json (mode 0600, replaced
// atomically), creating dir. One file rather than one per PEM means a crash
// can never leave a key beside a certificate it does not belong to.
func (c *Credentials) Save(dir string) error {
	data, err := json.MarshalIndent(c.toJSON(), "", "  ")
	if err != nil {
		return fmt.Errorf("join: encode credentials: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("join: create %s: %w", dir, err)
	}
	if err := fsutil.WriteFile(filepath.Join(dir, CredentialsFile), data, 0o600); err != nil {
		return fmt.Errorf("join: save credentials: %w", err)
	}
	return nil
}

// Load reads the credentials Save wrote, so that a restarted agent need not
// join again. It returns an error wrapping os.ErrNotExist when there are
// none and one wrapping ErrExpired when they are no longer valid; both mean
// "join".
func Load(dir string) (*Credentials, error) {
	path := filepath.Join(dir, CredentialsFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("join: load credentials: %w", err)
	}
	var j credentialsJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("join: load credentials from %s: %w", path, err)
	}
	c := j.credentials()
	if err := c.validate(time.Now()); err != nil {
		return nil, fmt.Errorf("join: credentials in %s: %w", path, err)
	}
	return c, nil
}

// WriteKubeconfig writes a kubeconfig (mode 0600) with which the node
// reaches the API server at serverURL.
func (c *Credentials) WriteKubeconfig(path, serverURL string) error {
	return pki.WriteKubeconfig(path, serverURL, c.CA, c.ClientCert, c.ClientKey)
}

// validate checks that the credentials are complete, each key belongs to its
// certificate, both certificates chain to the CA for their purpose and the
// client certificate names the node. Expiry is checked against now on its
// own and reported as ErrExpired; the chain is checked at the moment each
// certificate became valid, so that a node clock slightly behind the
// server's does not reject certificates the server just issued.
func (c *Credentials) validate(now time.Time) error {
	if c.NodeName == "" {
		return errors.New("node name is empty")
	}
	if c.KubeletClientName == "" {
		return errors.New("kubelet client name is empty")
	}
	ca, err := parseCA(c.CA)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	client, err := checkLeaf(roots, c.ClientCert, c.ClientKey, x509.ExtKeyUsageClientAuth)
	if err != nil {
		return fmt.Errorf("client certificate: %w", err)
	}
	if want := authn.NodeUserPrefix + c.NodeName; client.Subject.CommonName != want {
		return fmt.Errorf("client certificate is for %q, want %q", client.Subject.CommonName, want)
	}
	serving, err := checkLeaf(roots, c.ServingCert, c.ServingKey, x509.ExtKeyUsageServerAuth)
	if err != nil {
		return fmt.Errorf("serving certificate: %w", err)
	}
	for _, cert := range []*x509.Certificate{client, serving} {
		if now.After(cert.NotAfter) {
			return fmt.Errorf("%w: %q expired at %s", ErrExpired, cert.Subject.CommonName, cert.NotAfter.Format(time.RFC3339))
		}
	}
	return nil
}

func checkLeaf(roots *x509.CertPool, certPEM, keyPEM []byte, usage x509.ExtKeyUsage) (*x509.Certificate, error) {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	leaf := pair.Leaf
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots:       roots,
		CurrentTime: leaf.NotBefore,
		KeyUsages:   []x509.ExtKeyUsage{usage},
	}); err != nil {
		return nil, err
	}
	return leaf, nil
}

// parseCA returns the single CA certificate in caPEM.
func parseCA(caPEM []byte) (*x509.Certificate, error) {
	block, rest := pem.Decode(caPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("CA: no CERTIFICATE PEM block")
	}
	if next, _ := pem.Decode(rest); next != nil {
		return nil, errors.New("CA: more than one PEM block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("CA: %w", err)
	}
	if !cert.IsCA {
		return nil, errors.New("CA: certificate is not a CA")
	}
	return cert, nil
}
