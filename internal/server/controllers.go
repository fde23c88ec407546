package server

import (
	"context"
	"fmt"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/skiff-sh/skiff/internal/controller/manager"
	"github.com/skiff-sh/skiff/internal/pki"
)

// ControllerConfig tunes the controller manager.
type ControllerConfig struct {
	Manager manager.Config
}

// loopbackConfig is how the server's own components reach its API: over
// HTTPS on loopback with the admin certificate, like any other client.
func (s *Server) loopbackConfig(certs *pki.Material) *rest.Config {
	certPEM, keyPEM := certs.AdminPEM()
	return &rest.Config{
		Host:            s.url,
		TLSClientConfig: rest.TLSClientConfig{CAData: certs.CAPEM(), CertData: certPEM, KeyData: keyPEM},
		QPS:             -1, // in-process components are not rate limited
		UserAgent:       "skiff-controller-manager",
		ContentConfig:   rest.ContentConfig{ContentType: "application/vnd.kubernetes.protobuf"},
	}
}

// runControllers runs the scheduler and the controllers under leader
// election until ctx ends.
func (s *Server) runControllers(ctx context.Context, certs *pki.Material) error {
	cfg := s.loopbackConfig(certs)
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("controller client: %w", err)
	}
	factories, err := s.controllerFactories(cfg)
	if err != nil {
		return err
	}
	return manager.New(s.log, client, s.cfg.Controllers.Manager, factories...).Run(ctx)
}

// controllerFactories lists what the manager runs, in start order.
func (s *Server) controllerFactories(cfg *rest.Config) ([]manager.Factory, error) {
	return nil, nil
}
