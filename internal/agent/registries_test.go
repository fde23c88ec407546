package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/skiff-sh/skiff/internal/containerd"
)

const registriesYAML = `
mirrors:
  docker.io:
    endpoint: ["https://mirror.example.com:5000", "http://127.0.0.1:5001"]
  "*":
    endpoint: ["https://cache.example.com"]
configs:
  mirror.example.com:5000:
    auth: {username: u, password: p}
    tls: {ca_file: /etc/ssl/mirror.pem}
  private.example.com:
    tls: {insecure_skip_verify: true}
    auth: {auth: dTpw}
  docker.io:
    auth: {identity_token: refresh-1}
`

func writeFile(t *testing.T, data string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "registries.yaml")
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// The files containerd gets: the agent's own mirrors first for every
// registry, then the configured ones with their hosts' TLS; a host with
// settings only gets a file of its own.
func TestRegistriesHostsFiles(t *testing.T) {
	r, err := LoadRegistries(writeFile(t, registriesYAML))
	if err != nil {
		t.Fatal(err)
	}
	local := containerd.Endpoint{URL: "http://127.0.0.1:40000"}
	got, err := r.hostsFiles([]containerd.Endpoint{local})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]containerd.Hosts{
		"_default": {Mirrors: []containerd.Endpoint{local, {URL: "https://cache.example.com"}}},
		"docker.io": {
			Server: containerd.Endpoint{URL: "https://registry-1.docker.io"},
			Mirrors: []containerd.Endpoint{local,
				{URL: "https://mirror.example.com:5000", CAFile: "/etc/ssl/mirror.pem"},
				{URL: "http://127.0.0.1:5001"}},
		},
		"mirror.example.com:5000": {
			Server:  containerd.Endpoint{URL: "mirror.example.com:5000", CAFile: "/etc/ssl/mirror.pem"},
			Mirrors: []containerd.Endpoint{local},
		},
		"private.example.com": {
			Server:  containerd.Endpoint{URL: "private.example.com", SkipVerify: true},
			Mirrors: []containerd.Endpoint{local},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("hosts files (-want +got):\n%s", diff)
	}

	// Credentials go to containerd's configuration, by host; Docker Hub's
	// also by the host its pulls go to.
	wantAuth := map[string]containerd.RegistryAuth{
		"mirror.example.com:5000": {Username: "u", Password: "p"},
		"private.example.com":     {Auth: "dTpw"},
		"docker.io":               {IdentityToken: "refresh-1"},
		"registry-1.docker.io":    {IdentityToken: "refresh-1"},
	}
	if diff := cmp.Diff(wantAuth, r.credentials()); diff != "" {
		t.Errorf("credentials (-want +got):\n%s", diff)
	}

	// Without a configuration every registry gets the agent's mirrors.
	var none *Registries
	if got, _ := none.hostsFiles([]containerd.Endpoint{local}); len(got) != 1 || len(got["_default"].Mirrors) != 1 {
		t.Errorf("no configuration: %v", got)
	}
}

func TestLoadRegistriesRejects(t *testing.T) {
	for name, data := range map[string]string{
		"unknown key":      "mirrors:\n  docker.io:\n    endpoints: [x]\n",
		"half credentials": "configs:\n  a.example:\n    auth: {username: u}\n",
		"empty auth":       "configs:\n  a.example:\n    auth: {}\n",
		"half a key pair":  "configs:\n  a.example:\n    tls: {cert_file: /c.pem}\n",
		"not yaml at all":  "mirrors: [",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := LoadRegistries(writeFile(t, data)); err == nil || !strings.Contains(err.Error(), "registries") {
				t.Errorf("LoadRegistries: %v", err)
			}
		})
	}
}
