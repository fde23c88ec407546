package server

import (
	"context"
	"fmt"
	"net/http"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"

	"github.com/skiff-sh/skiff/internal/authn"
	"github.com/skiff-sh/skiff/internal/controller"
	"github.com/skiff-sh/skiff/internal/controller/clusterdns"
	"github.com/skiff-sh/skiff/internal/controller/deployment"
	"github.com/skiff-sh/skiff/internal/controller/endpoints"
	"github.com/skiff-sh/skiff/internal/controller/endpointslice"
	"github.com/skiff-sh/skiff/internal/controller/endpointslicemirroring"
	"github.com/skiff-sh/skiff/internal/controller/garbagecollector"
	"github.com/skiff-sh/skiff/internal/controller/manager"
	"github.com/skiff-sh/skiff/internal/controller/namespace"
	"github.com/skiff-sh/skiff/internal/controller/nodeipam"
	"github.com/skiff-sh/skiff/internal/controller/nodelifecycle"
	"github.com/skiff-sh/skiff/internal/controller/podgc"
	"github.com/skiff-sh/skiff/internal/controller/replicaset"
	"github.com/skiff-sh/skiff/internal/controller/servicelb"
	"github.com/skiff-sh/skiff/internal/loopback"
	"github.com/skiff-sh/skiff/internal/podnet"
	"github.com/skiff-sh/skiff/internal/registry"
	"github.com/skiff-sh/skiff/internal/scheduler"
)

// ControllerConfig tunes the controller manager.
type ControllerConfig struct {
	Manager       manager.Config
	Scheduler     scheduler.Config
	NodeLifecycle nodelifecycle.Config
	PodGC         podgc.Config
}

// loopbackConfig is how the server's own components reach its API: in
// process, through the API handler itself, as the user upstream's loopback
// client is. The requests are the ones any client sends; only the socket,
// TLS and HTTP/2 framing are left out.
func (s *Server) loopbackConfig(api http.Handler, userAgent string) *rest.Config {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := &authn.User{Name: "system:apiserver", Groups: []string{authn.GroupMasters, authn.GroupAuthenticated}}
		api.ServeHTTP(w, r.WithContext(authn.WithUser(r.Context(), u)))
	})
	return &rest.Config{
		Host:          s.url,
		Transport:     loopback.New(h),
		QPS:           -1, // in-process components are not rate limited
		UserAgent:     userAgent,
		ContentConfig: rest.ContentConfig{ContentType: "application/vnd.kubernetes.protobuf"},
	}
}

// runControllers runs the scheduler and the controllers under leader
// election until ctx ends.
func (s *Server) runControllers(ctx context.Context, api http.Handler, reg *registry.Registry) error {
	cfg := s.loopbackConfig(api, "skiff-controller-manager")
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("controller client: %w", err)
	}
	factories, err := s.controllerFactories(cfg, reg)
	if err != nil {
		return err
	}
	return manager.New(s.log, client, s.cfg.Controllers.Manager, factories...).Run(ctx)
}

// controllerFactories lists what the manager runs, in start order.
func (s *Server) controllerFactories(cfg *rest.Config, reg *registry.Registry) ([]manager.Factory, error) {
	meta, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("metadata client: %w", err)
	}
	// Stored resources only: a view serves the same objects again.
	var all, namespaced []schema.GroupVersionResource
	for _, st := range reg.Stores() {
		res := st.Resource()
		if !res.ViewOf.Empty() {
			continue
		}
		all = append(all, res.GVR)
		if res.Namespaced {
			namespaced = append(namespaced, res.GVR)
		}
	}
	cc := s.cfg.Controllers
	dnsIP, err := podnet.ClusterDNS(s.serviceCIDR)
	if err != nil {
		return nil, err
	}
	return []manager.Factory{
		{Name: "scheduler", New: func(c controller.Context) (controller.Controller, error) {
			return scheduler.New(c, cc.Scheduler)
		}},
		{Name: "deployment", New: func(c controller.Context) (controller.Controller, error) {
			return deployment.New(c, deployment.Config{})
		}},
		{Name: "replicaset", New: func(c controller.Context) (controller.Controller, error) {
			return replicaset.New(c, replicaset.Config{})
		}},
		{Name: "replicationcontroller", New: func(c controller.Context) (controller.Controller, error) {
			return replicaset.NewReplicationManager(c, replicaset.Config{})
		}},
		{Name: "nodelifecycle", New: func(c controller.Context) (controller.Controller, error) {
			return nodelifecycle.New(c, cc.NodeLifecycle)
		}},
		{Name: "endpointslice", New: func(c controller.Context) (controller.Controller, error) {
			return endpointslice.New(c, endpointslice.Config{})
		}},
		{Name: "endpoints", New: func(c controller.Context) (controller.Controller, error) {
			return endpoints.New(c, endpoints.Config{})
		}},
		{Name: "endpointslicemirroring", New: func(c controller.Context) (controller.Controller, error) {
			return endpointslicemirroring.New(c, endpointslicemirroring.Config{})
		}},
		{Name: "nodeipam", New: func(c controller.Context) (controller.Controller, error) {
			return nodeipam.New(c, nodeipam.Config{ClusterCIDR: s.clusterCIDR})
		}},
		{Name: "servicelb", New: func(c controller.Context) (controller.Controller, error) {
			return servicelb.New(c)
		}},
		{Name: "clusterdns", New: func(c controller.Context) (controller.Controller, error) {
			return clusterdns.New(c, clusterdns.Config{ServiceIP: dnsIP})
		}},
		{Name: "podgc", New: func(c controller.Context) (controller.Controller, error) {
			return podgc.New(c, cc.PodGC)
		}},
		{Name: "garbagecollector", New: func(c controller.Context) (controller.Controller, error) {
			return garbagecollector.New(c, garbagecollector.Config{Metadata: meta, Resources: all})
		}},
		{Name: "namespace", New: func(c controller.Context) (controller.Controller, error) {
			return namespace.New(c, namespace.Config{Metadata: meta, Resources: namespaced})
		}},
	}, nil
}
