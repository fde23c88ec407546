// Package apiserver serves the Kubernetes API over HTTP: routing, discovery,
// OpenAPI, content negotiation, Table output and watch streaming, on top of
// the registry.
package apiserver

import (
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/version"

	"github.com/skiff-sh/skiff/internal/openapi"
	"github.com/skiff-sh/skiff/internal/printers"
	"github.com/skiff-sh/skiff/internal/registry"
)

// coreV1 is the group version whose query parameter conversions (ListOptions,
// DeleteOptions...) the client-go scheme registers.
var coreV1 = schema.GroupVersion{Version: "v1"}

// maxBodyBytes is upstream's limit on a request body.
const maxBodyBytes = 3 << 20

// Config configures a Server.
type Config struct {
	Version version.Info
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// KubeletTransport reaches the nodes' kubelets for pods' logs, exec,
	// attach and port-forward: TLS with the API server's client
	// certificate. Nil answers those requests with 503.
	KubeletTransport http.RoundTripper
}

// Server is the API's HTTP handler.
type Server struct {
	log      *slog.Logger
	cfg      Config
	reg      *registry.Registry
	scheme   *runtime.Scheme
	codecs   serializer.CodecFactory
	params   runtime.ParameterCodec
	printer  *printers.Printer
	openapi  *openapi.Spec
	fields   *fieldManagers
	groups   []apiGroup
	byGV     map[schema.GroupVersion]map[string]*registry.Store
	ready    atomic.Bool
	mux      *http.ServeMux
	discover discoveryDocs
}

// apiGroup is a served group with its versions, preferred first.
type apiGroup struct {
	Name     string
	Versions []string
}

// New builds the API handler over reg.
func New(log *slog.Logger, reg *registry.Registry, scheme *runtime.Scheme, cfg Config) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{
		log:     log,
		cfg:     cfg,
		reg:     reg,
		scheme:  scheme,
		codecs:  serializer.NewCodecFactory(scheme, serializer.EnableStrict),
		params:  runtime.NewParameterCodec(scheme),
		printer: printers.New(cfg.Now),
		byGV:    map[schema.GroupVersion]map[string]*registry.Store{},
	}
	for _, st := range reg.Stores() {
		gv := st.Resource().GVR.GroupVersion()
		if s.byGV[gv] == nil {
			s.byGV[gv] = map[string]*registry.Store{}
			s.addGroupVersion(gv)
		}
		s.byGV[gv][st.Resource().GVR.Resource] = st
	}
	spec, err := openapi.Build(openAPIResources(reg, scheme))
	if err != nil {
		return nil, err
	}
	s.openapi = spec
	if s.fields, err = newFieldManagers(spec, scheme, resourcesOf(reg)); err != nil {
		return nil, err
	}
	s.discover = s.buildDiscovery()
	s.routes()
	return s, nil
}

func (s *Server) addGroupVersion(gv schema.GroupVersion) {
	for i := range s.groups {
		if s.groups[i].Name == gv.Group {
			s.groups[i].Versions = append(s.groups[i].Versions, gv.Version)
			return
		}
	}
	s.groups = append(s.groups, apiGroup{Name: gv.Group, Versions: []string{gv.Version}})
}

// SetReady marks the server ready (/readyz) once its storage is.
func (s *Server) SetReady(ready bool) { s.ready.Store(ready) }

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Server) routes() {
	m := http.NewServeMux()
	for _, p := range []string{"/healthz", "/livez"} {
		m.HandleFunc(p, s.alive)
		m.HandleFunc(p+"/", s.alive)
	}
	m.HandleFunc("/readyz", s.readyz)
	m.HandleFunc("/readyz/", s.readyz)
	m.HandleFunc("/version", s.version)
	m.HandleFunc("/version/", s.version)
	m.HandleFunc("/openapi/v2", s.openapi.ServeV2)
	m.HandleFunc("/openapi/v3", s.openapi.ServeV3)
	m.HandleFunc("/openapi/v3/", s.openapi.ServeV3)
	m.HandleFunc("/api", s.apiVersions)
	m.HandleFunc("/api/", s.core)
	m.HandleFunc("/apis", s.apiGroups)
	m.HandleFunc("/apis/", s.named)
	m.HandleFunc("/", s.notFound)
	s.mux = m
}

func (s *Server) alive(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok"))
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if !s.ready.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("[-]storage not ready\nreadyz check failed"))
		return
	}
	_, _ = w.Write([]byte("ok"))
}

func (s *Server) version(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.cfg.Version)
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, notFoundPath(r))
}

// core serves /api/v1/...
func (s *Server) core(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/api/v1")
	if !ok || (rest != "" && !strings.HasPrefix(rest, "/")) {
		s.notFound(w, r)
		return
	}
	s.serveGroupVersion(w, r, schema.GroupVersion{Version: "v1"}, rest)
}

// named serves /apis/GROUP[/VERSION/...].
func (s *Server) named(w http.ResponseWriter, r *http.Request) {
	parts := splitPath(strings.TrimPrefix(r.URL.Path, "/apis"))
	switch len(parts) {
	case 0:
		s.apiGroups(w, r)
		return
	case 1:
		s.apiGroup(w, r, parts[0])
		return
	}
	gv := schema.GroupVersion{Group: parts[0], Version: parts[1]}
	s.serveGroupVersion(w, r, gv, "/"+strings.Join(parts[2:], "/"))
}

func (s *Server) serveGroupVersion(w http.ResponseWriter, r *http.Request, gv schema.GroupVersion, rest string) {
	stores, ok := s.byGV[gv]
	if !ok {
		s.notFound(w, r)
		return
	}
	if strings.Trim(rest, "/") == "" {
		s.resourceList(w, r, gv)
		return
	}
	info, ok := parseResourcePath(gv, rest, r)
	if !ok {
		s.notFound(w, r)
		return
	}
	st, ok := stores[info.Resource]
	if !ok {
		s.notFound(w, r)
		return
	}
	s.serveResource(w, r, st, info)
}
