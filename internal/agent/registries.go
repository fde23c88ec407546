package agent

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/skiff-sh/skiff/internal/containerd"
)

// Registries is a node's registry configuration, in the format of k3s's
// registries.yaml: mirrors per registry, and TLS and credentials per
// registry host.
//
//	mirrors:
//	  docker.io:
//	    endpoint: ["https://mirror.example.com:5000"]
//	  "*":                         # every registry
//	    endpoint: ["https://cache.example.com"]
//	configs:
//	  "mirror.example.com:5000":
//	    auth: {username: u, password: p}   # or auth: base64 "u:p", or identity_token
//	    tls: {ca_file: /etc/ssl/mirror-ca.pem, insecure_skip_verify: false}
type Registries struct {
	Mirrors map[string]RegistryMirror `json:"mirrors"`
	Configs map[string]RegistryConfig `json:"configs"`
}

// RegistryMirror lists the endpoints tried, in order, before the registry
// itself.
type RegistryMirror struct {
	Endpoints []string `json:"endpoint"`
}

// RegistryConfig is how to reach one registry host.
type RegistryConfig struct {
	Auth *RegistryAuth `json:"auth"`
	TLS  *RegistryTLS  `json:"tls"`
}

// RegistryAuth are credentials for a registry host: a user and password,
// their base64 "user:password" as in a Docker config's auth field, or an
// identity token (an OAuth2 refresh token, as `docker login` keeps for
// some registries).
type RegistryAuth struct {
	Username      string `json:"username"`
	Password      string `json:"password"`
	Auth          string `json:"auth"`
	IdentityToken string `json:"identity_token"`
}

func (a *RegistryAuth) containerd() containerd.RegistryAuth {
	return containerd.RegistryAuth{Username: a.Username, Password: a.Password, Auth: a.Auth, IdentityToken: a.IdentityToken}
}

// RegistryTLS verifies a registry host and authenticates to it.
type RegistryTLS struct {
	CAFile             string `json:"ca_file"`
	CertFile           string `json:"cert_file"`
	KeyFile            string `json:"key_file"`
	InsecureSkipVerify bool   `json:"insecure_skip_verify"`
}

// LoadRegistries reads a registries.yaml. Unknown fields are errors, so
// that a misspelt key is not silently ignored.
func LoadRegistries(path string) (*Registries, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("registries: %w", err)
	}
	var r Registries
	if err := yaml.UnmarshalStrict(data, &r); err != nil {
		return nil, fmt.Errorf("registries: %s: %w", path, err)
	}
	for name, c := range r.Configs {
		if c.Auth != nil {
			if err := c.Auth.containerd().Validate(); err != nil {
				return nil, fmt.Errorf("registries: %s: configs %q: auth: %w", path, name, err)
			}
		}
		if c.TLS != nil && (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
			return nil, fmt.Errorf("registries: %s: configs %q: tls needs both cert_file and key_file", path, name)
		}
	}
	return &r, nil
}

// hostsFiles are the containerd registry host files the configuration
// asks for, by registry ("_default" for "*"). first are the agent's own
// mirrors (its image store, the server's registry), tried before any the
// configuration names; every registry gets them.
func (r *Registries) hostsFiles(first []containerd.Endpoint) (map[string]containerd.Hosts, error) {
	out := map[string]containerd.Hosts{"_default": {Mirrors: first}}
	if r == nil {
		return out, nil
	}
	for _, name := range slices.Sorted(maps.Keys(r.Mirrors)) {
		key := name
		if name == "*" {
			key = "_default"
		}
		h := containerd.Hosts{Mirrors: slices.Clone(first)}
		for _, ep := range r.Mirrors[name].Endpoints {
			e, err := r.endpoint(ep, hostOf(ep))
			if err != nil {
				return nil, fmt.Errorf("registries: mirror of %s: %w", name, err)
			}
			h.Mirrors = append(h.Mirrors, e)
		}
		if name != "*" {
			// The registry itself, with its own TLS and credentials.
			server, err := r.endpoint(registryServer(name), name)
			if err != nil {
				return nil, fmt.Errorf("registries: %s: %w", name, err)
			}
			h.Server = server
		}
		out[key] = h
	}
	// A host with settings and no mirrors of its own: its file keeps the
	// agent's mirrors in front and adds its TLS and credentials.
	for _, name := range slices.Sorted(maps.Keys(r.Configs)) {
		if _, ok := out[name]; ok {
			continue
		}
		if _, ok := r.Mirrors[name]; ok {
			continue
		}
		server, err := r.endpoint(registryServer(name), name)
		if err != nil {
			return nil, fmt.Errorf("registries: %s: %w", name, err)
		}
		out[name] = containerd.Hosts{Server: server, Mirrors: slices.Clone(first)}
	}
	return out, nil
}

// registryServer is where a registry's API answers: Docker Hub's is not
// at its name.
func registryServer(name string) string {
	if name == "docker.io" {
		return "https://registry-1.docker.io"
	}
	return name
}

// hostOf is the host[:port] of a URL or host.
func hostOf(raw string) string {
	if _, rest, ok := strings.Cut(raw, "://"); ok {
		raw = rest
	}
	host, _, _ := strings.Cut(raw, "/")
	return host
}

// endpoint is a URL or host with the settings Configs holds for key.
func (r *Registries) endpoint(raw, key string) (containerd.Endpoint, error) {
	if raw == "" {
		return containerd.Endpoint{}, errors.New("empty endpoint")
	}
	e := containerd.Endpoint{URL: raw}
	c, ok := r.Configs[key]
	if !ok {
		return e, nil
	}
	if c.TLS != nil {
		e.CAFile, e.ClientCertFile, e.ClientKeyFile, e.SkipVerify = c.TLS.CAFile, c.TLS.CertFile, c.TLS.KeyFile, c.TLS.InsecureSkipVerify
	}
	return e, nil
}

// credentials are the configured credentials by the host containerd
// contacts. Docker Hub's are also its API host's, where its pulls go.
func (r *Registries) credentials() map[string]containerd.RegistryAuth {
	if r == nil {
		return nil
	}
	out := map[string]containerd.RegistryAuth{}
	for name, c := range r.Configs {
		if c.Auth == nil {
			continue
		}
		a := c.Auth.containerd()
		out[name] = a
		if server := hostOf(registryServer(name)); server != name {
			out[server] = a
		}
	}
	return out
}
