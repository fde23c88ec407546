package containerd

import (
	"bytes"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/template"

	"github.com/skiff-sh/skiff/internal/fsutil"
)

// Hosts is one registry's hosts.toml: where containerd pulls its images from.
type Hosts struct {
	// Server is the registry itself, tried after every mirror, and the only
	// host used for push. An empty URL keeps containerd's default (the
	// registry's own name over https; registry-1.docker.io for docker.io)
	// while the TLS settings still apply.
	Server Endpoint
	// Mirrors are tried in order before the server, for pull and resolve only.
	Mirrors []Endpoint
}

// Endpoint is one registry host. Relative file names are relative to the
// directory of the hosts.toml, as containerd reads them.
type Endpoint struct {
	// URL is "https://host[:port][/path]", or "http://..." for a registry
	// without TLS. Without a scheme, loopback hosts (localhost, 127.0.0.0/8,
	// ::1) get http, which is how a local test registry is usually served, and
	// all other hosts get https.
	URL string
	// CAFile verifies the host's certificate, in addition to the system roots.
	CAFile string
	// ClientCertFile and ClientKeyFile authenticate to the host; both or neither.
	ClientCertFile string
	ClientKeyFile  string
	// SkipVerify accepts any certificate from the host.
	SkipVerify bool
}

// WriteHosts writes dir/<host>/hosts.toml in the format of containerd 1.6 and
// later, where dir is the CRI registry config_path (Config.RegistryConfigDir).
// host is a registry name with optional port ("docker.io", "127.0.0.1:5000")
// or "_default" for registries that have no file of their own. containerd
// reads the file at every pull, so no restart is needed.
func WriteHosts(dir string, host string, h Hosts) error {
	if host == "" || host == "." || host == ".." || strings.ContainsAny(host, "/\\\x00") {
		return fmt.Errorf("containerd: invalid registry host %q", host)
	}
	var err error
	if h.Server, err = normalizeEndpoint(h.Server, true); err != nil {
		return fmt.Errorf("containerd: hosts for %s: server: %w", host, err)
	}
	mirrors := make([]Endpoint, len(h.Mirrors))
	for i, m := range h.Mirrors {
		if mirrors[i], err = normalizeEndpoint(m, false); err != nil {
			return fmt.Errorf("containerd: hosts for %s: mirror %d: %w", host, i, err)
		}
	}
	h.Mirrors = mirrors
	data, err := renderHosts(h)
	if err != nil {
		return fmt.Errorf("containerd: hosts for %s: %w", host, err)
	}
	hostDir := filepath.Join(dir, host)
	if err := os.MkdirAll(hostDir, 0o755); err != nil {
		return fmt.Errorf("containerd: hosts for %s: %w", host, err)
	}
	if err := fsutil.WriteFile(filepath.Join(hostDir, "hosts.toml"), data, 0o644); err != nil {
		return fmt.Errorf("containerd: hosts for %s: %w", host, err)
	}
	return nil
}

// normalizeEndpoint checks e and gives its URL a scheme. Only the server may
// leave the URL empty.
func normalizeEndpoint(e Endpoint, server bool) (Endpoint, error) {
	if (e.ClientCertFile == "") != (e.ClientKeyFile == "") {
		return e, fmt.Errorf("client certificate and key go together (cert %q, key %q)", e.ClientCertFile, e.ClientKeyFile)
	}
	if e.URL == "" {
		if server {
			return e, nil
		}
		return e, fmt.Errorf("URL is required")
	}
	raw := e.URL
	if !strings.Contains(raw, "://") {
		u, err := url.Parse("https://" + raw)
		if err != nil {
			return e, fmt.Errorf("URL %q: %w", e.URL, err)
		}
		scheme := "https"
		if isLoopback(u.Hostname()) {
			scheme = "http"
		}
		raw = scheme + "://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return e, fmt.Errorf("URL %q: %w", e.URL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return e, fmt.Errorf("URL %q: scheme must be http or https", e.URL)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return e, fmt.Errorf("URL %q: want scheme://host[:port][/path] only", e.URL)
	}
	e.URL = u.String()
	return e, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// hostsTemplate puts the server's keys first: in TOML, keys after a [table]
// header belong to that table.
const hostsTemplate = `# Written by skiff; containerd reads it again at every pull.
{{- with .Server}}
{{- if .URL}}
server = {{q .URL}}
{{- end}}
{{- template "tls" .}}
{{- end}}
{{- if not .Mirrors}}

# containerd 1.6 discards a hosts.toml that has no host table.
[host]
{{- end}}
{{- range .Mirrors}}

[host.{{q .URL}}]
capabilities = ["pull", "resolve"]
{{- template "tls" .}}
{{- end}}
{{- define "tls"}}
{{- if .CAFile}}
ca = {{q .CAFile}}
{{- end}}
{{- if .ClientCertFile}}
client = [[{{q .ClientCertFile}}, {{q .ClientKeyFile}}]]
{{- end}}
{{- if .SkipVerify}}
skip_verify = true
{{- end}}
{{- end}}
`

func renderHosts(h Hosts) ([]byte, error) {
	tmpl, err := template.New("hosts.toml").Funcs(template.FuncMap{"q": tomlString}).Parse(hostsTemplate)
	if err != nil {
		return nil, fmt.Errorf("parse hosts template: %w", err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, h); err != nil {
		return nil, fmt.Errorf("render hosts.toml: %w", err)
	}
	return buf.Bytes(), nil
}
