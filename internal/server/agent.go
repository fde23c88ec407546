package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/internal/agent"
	"github.com/skiff-sh/skiff/internal/join"
	"github.com/skiff-sh/skiff/internal/oci"
	"github.com/skiff-sh/skiff/internal/pki"
	"github.com/skiff-sh/skiff/internal/podnet"
)

// runAgent runs this machine as a node of the cluster, talking to the API
// in process.
func (s *Server) runAgent(ctx context.Context, api http.Handler, certs *pki.Material, images *oci.Store) error {
	cfg := *s.cfg.Agent
	if cfg.KubeletTLS == nil {
		cfg.KubeletTLS = func(nodeName string, nodeIP net.IP) (*tls.Config, error) {
			return kubeletServerTLS(certs, nodeName, nodeIP)
		}
	}
	if cfg.DataDir == "" {
		cfg.DataDir = filepath.Join(s.cfg.DataDir, "agent")
	}
	_, cluster, err := net.ParseCIDR(s.cfg.ClusterCIDR)
	if err != nil {
		return fmt.Errorf("server: --cluster-cidr: %w", err)
	}
	cfg.ClusterCIDR, cfg.ServiceCIDR = cluster, s.serviceCIDR
	if cfg.ClusterDNS == nil {
		dns, err := podnet.ClusterDNS(s.serviceCIDR)
		if err != nil {
			return err
		}
		cfg.ClusterDNS = []net.IP{dns}
	}
	if cfg.Images == nil {
		cfg.Images = images
	}
	cfg.Version = s.cfg.Version.GitVersion
	client, err := kubernetes.NewForConfig(s.loopbackConfig(api, "skiff-agent"))
	if err != nil {
		return fmt.Errorf("server: agent client: %w", err)
	}
	a, err := agent.New(s.log.With("component", "agent"), client, cfg)
	if err != nil {
		return err
	}
	go func() {
		select {
		case <-a.Ready():
			close(s.settled)
		case <-ctx.Done():
		}
	}()
	return a.Run(ctx)
}

// kubeletServerTLS is the TLS configuration of the in-process node's
// kubelet: a certificate from the cluster CA for its name and address, and
// only the API server's kubelet client certificate accepted.
func kubeletServerTLS(certs *pki.Material, nodeName string, nodeIP net.IP) (*tls.Config, error) {
	certPEM, keyPEM, err := certs.IssueServingCert(nodeName, []net.IP{nodeIP}, []string{nodeName}, 365*24*time.Hour)
	if err != nil {
		return nil, err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("server: kubelet serving certificate: %w", err)
	}
	return agent.KubeletTLSConfig(pair, certs.CAPool(), join.KubeletClientName), nil
}

// ImagesDir holds the images the cluster's nodes pull before any registry,
// served at /v2/ on the API's port: `skiff image import` writes there.
func (s *Server) ImagesDir() string { return filepath.Join(s.cfg.DataDir, "images") }
