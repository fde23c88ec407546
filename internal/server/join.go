package server

import (
	"net/http"
	"path/filepath"

	"github.com/skiff-sh/skiff/internal/join"
	"github.com/skiff-sh/skiff/internal/pki"
)

// JoinTokenPath is the file holding the token agents join with.
func (s *Server) JoinTokenPath() string { return filepath.Join(s.cfg.DataDir, join.TokenFile) }

// joinHandler serves the join endpoints with the cluster's token, creating
// the token on the first start. Nodes may not claim the server's own
// addresses or names in their serving certificates.
func (s *Server) joinHandler(certs *pki.Material) (http.Handler, error) {
	token, created, err := join.EnsureToken(s.cfg.DataDir, certs.CACertificate().Raw)
	if err != nil {
		return nil, err
	}
	if created {
		s.log.Info("join token created: agents join with --server and --token-file", "file", s.JoinTokenPath())
	}
	serving := certs.ServingCertificate()
	return join.NewHandler(s.log.With("component", "join"), certs, token, join.HandlerConfig{
		ReservedIPs:      serving.IPAddresses,
		ReservedDNSNames: serving.DNSNames,
	})
}
