package server

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"time"

	"github.com/skiff-sh/skiff/internal/authn"
	"github.com/skiff-sh/skiff/internal/join"
	"github.com/skiff-sh/skiff/internal/pki"
)

// kubeletTransport reaches the nodes' kubelets, which accept no one but
// join.KubeletClientName: HTTP/1.1, which exec,
// attach and port-forward upgrades need, with a client certificate issued
// at each start and the cluster CA as the only root.
func kubeletTransport(certs *pki.Material) (http.RoundTripper, error) {
	certPEM, keyPEM, err := certs.IssueClientCert(join.KubeletClientName, []string{authn.GroupMasters}, 365*24*time.Hour)
	if err != nil {
		return nil, err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("server: kubelet client certificate: %w", err)
	}
	return &http.Transport{
		TLSClientConfig: &tls.Config{
			Certificates: []tls.Certificate{pair},
			RootCAs:      certs.CAPool(),
			MinVersion:   tls.VersionTLS12,
			NextProtos:   []string{"http/1.1"},
		},
		TLSHandshakeTimeout: 10 * time.Second,
		IdleConnTimeout:     90 * time.Second,
	}, nil
}
