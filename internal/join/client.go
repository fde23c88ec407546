package join

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var (
	// ErrWrongCA is returned when the server's CA is not the one the token
	// names: a wrong server, or someone in between. The secret has not
	// been sent.
	ErrWrongCA = errors.New("join: the server's CA does not match the token")
	// ErrUnauthorized is returned when the server refuses the token's
	// secret.
	ErrUnauthorized = errors.New("join: the server refused the token")
)

const (
	// maxResponseBytes bounds what a server, possibly a wrong one, can make
	// the agent read.
	maxResponseBytes = 1 << 20
	handshakeTimeout = 10 * time.Second
)

// Join obtains a node's credentials from the server at serverURL (https://
// host[:port]). It fetches the server's CA unverified, checks it against the
// token's hash, and only then sends the secret and req over TLS verified
// against that CA. ctx bounds the whole exchange.
func Join(ctx context.Context, serverURL string, token Token, req Request) (*Credentials, error) {
	if token.isZero() {
		return nil, fmt.Errorf("join: %w: token is empty", ErrInvalidToken)
	}
	base, err := url.Parse(serverURL)
	if err != nil {
		return nil, fmt.Errorf("join: server URL: %w", err)
	}
	if base.Scheme != "https" || base.Host == "" {
		return nil, fmt.Errorf("join: server URL %q: want https://host[:port]", serverURL)
	}
	ca, err := fetchCA(ctx, base, token)
	if err != nil {
		return nil, err
	}
	return requestCredentials(ctx, base, ca, token, req)
}

// fetchCA returns the certificate among those the server offers whose hash
// the token names.
func fetchCA(ctx context.Context, base *url.URL, token Token) (*x509.Certificate, error) {
	// Verification is off for this request only: the answer is checked
	// against the token's hash, which is what makes it trustworthy.
	client := newClient(&tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12})
	defer client.CloseIdleConnections()

	u := base.JoinPath(CACertsPath).String()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("join: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("join: fetch CA: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, fmt.Errorf("join: fetch CA from %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("join: fetch CA from %s: %w", u, responseError(resp, body))
	}
	found := false
	rest := body
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		found = true
		if !token.matchesCA(block.Bytes) {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("join: CA from %s: %w", u, err)
		}
		return cert, nil
	}
	if !found {
		return nil, fmt.Errorf("%w: %s returned no certificate", ErrWrongCA, u)
	}
	return nil, fmt.Errorf("%w: no certificate from %s has the token's hash", ErrWrongCA, u)
}

func requestCredentials(ctx context.Context, base *url.URL, ca *x509.Certificate, token Token, r Request) (*Credentials, error) {
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	client := newClient(&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12})
	defer client.CloseIdleConnections()

	wire := requestJSON{NodeName: r.NodeName, Addresses: make([]string, 0, len(r.Addresses))}
	for _, ip := range r.Addresses {
		wire.Addresses = append(wire.Addresses, ip.String())
	}
	payload, err := json.Marshal(wire)
	if err != nil {
		return nil, fmt.Errorf("join: encode request: %w", err)
	}
	u := base.JoinPath(JoinPath).String()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("join: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token.secret)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("join: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, fmt.Errorf("join: read answer from %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("join: %s: %w", u, responseError(resp, body))
	}
	var answer credentialsJSON
	if err := json.Unmarshal(body, &answer); err != nil {
		return nil, fmt.Errorf("join: decode answer from %s: %w", u, err)
	}
	creds := answer.credentials()
	creds.NodeName = r.NodeName
	// Keep the CA this exchange was verified against, whatever else the
	// answer says.
	creds.CA = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw})
	if err := creds.validate(time.Now()); err != nil {
		return nil, fmt.Errorf("join: credentials from %s: %w", u, err)
	}
	return creds, nil
}

func newClient(tlsConfig *tls.Config) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			TLSClientConfig:     tlsConfig,
			TLSHandshakeTimeout: handshakeTimeout,
		},
		// A redirect would carry the secret wherever the server points;
		// a join server has no reason to send one.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// responseError describes a failed answer, with the message of its Status
// body when there is one.
func responseError(resp *http.Response, body []byte) error {
	msg := resp.Status
	var st metav1.Status
	if json.Unmarshal(body, &st) == nil && st.Message != "" {
		msg += ": " + st.Message
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return fmt.Errorf("%w (%s)", ErrUnauthorized, msg)
	}
	return errors.New(msg)
}
