package containerd

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/template"
	"unicode/utf8"
)

// maxSocketPath is the longest gRPC socket path containerd can listen on:
// sun_path holds 107 bytes plus a NUL, and containerd puts a second socket
// beside the first with ".ttrpc" appended.
const maxSocketPath = 107 - len(".ttrpc")

// shortSocketRoot holds the sockets of containerds whose data dir is too long
// to hold their socket.
const shortSocketRoot = "/run/skiff"

// socketPath is DataDir/containerd.sock when that fits in a unix socket
// address, else /run/skiff/<hash of DataDir>/containerd.sock: stable across
// restarts and distinct for every data dir.
func socketPath(dataDir string) string {
	p := filepath.Join(dataDir, "containerd.sock")
	if len(p) <= maxSocketPath {
		return p
	}
	sum := sha256.Sum256([]byte(dataDir))
	return filepath.Join(shortSocketRoot, hex.EncodeToString(sum[:8]), "containerd.sock")
}

// detectCNIBinDir returns the first candidate that has the plugins a skiff pod
// network needs (containerd itself runs loopback for every sandbox).
func detectCNIBinDir(candidates []string) (string, bool) {
	for _, dir := range candidates {
		if hasExecutables(dir, "bridge", "host-local", "loopback") {
			return dir, true
		}
	}
	return "", false
}

func hasExecutables(dir string, names ...string) bool {
	for _, name := range names {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil || !info.Mode().IsRegular() || info.Mode().Perm()&0o111 == 0 {
			return false
		}
	}
	return true
}

// configParams are the resolved values that go into config.toml.
type configParams struct {
	Root, State, Socket string
	SandboxImage        string
	CNIBinDir           string
	CNIConfDir          string
	RegistryConfigDir   string
	RegistryAuth        map[string]RegistryAuth
}

// RegistryAuth are the credentials for one registry host: a user and
// password, their base64 "user:password" (Auth), or an identity token.
// containerd 1.6's hosts files hold no credentials, so these go into its
// CRI configuration, where its resolver answers the host's challenge with
// them: Basic auth, or a bearer token from the host's token service.
type RegistryAuth struct {
	Username string
	Password string
	Auth     string
	// IdentityToken is an OAuth2 refresh token the token service trades
	// for an access token, as `docker login` stores for some registries.
	IdentityToken string
}

// Validate tells whether a holds a whole credential.
func (a RegistryAuth) Validate() error {
	switch {
	case a.IdentityToken != "" || a.Auth != "":
		return nil
	case a.Username == "" || a.Password == "":
		return errors.New("want username and password, auth, or an identity token")
	}
	return nil
}

const configTemplate = `# Written by skiff each time it starts this containerd; edits are lost.
version = 2
root = {{q .Root}}
state = {{q .State}}
# Fail at start rather than run without the one plugin the agent talks to.
required_plugins = ["io.containerd.grpc.v1.cri"]
# Snapshotters that need their own filesystem or devices, and the opt plugin,
# which would write outside the data dir.
disabled_plugins = [
  "io.containerd.internal.v1.opt",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
]

[grpc]
  address = {{q .Socket}}
  tcp_address = ""

[debug]
  address = ""
  level = "info"

[metrics]
  address = ""

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = {{q .SandboxImage}}
    # Some kernels refuse a negative oom_score_adj; unrestricted, every
    # sandbox then fails with runc's "can't get final child's PID from pipe".
    restrict_oom_score_adj = true
    disable_tcp_service = true
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    enable_unprivileged_ports = true
    enable_unprivileged_icmp = true

    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"

        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false

    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = {{q .CNIBinDir}}
      conf_dir = {{q .CNIConfDir}}
      max_conf_num = 1

    [plugins."io.containerd.grpc.v1.cri".registry]
      config_path = {{q .RegistryConfigDir}}
{{- range $host, $a := .RegistryAuth}}

      [plugins."io.containerd.grpc.v1.cri".registry.configs.{{q $host}}.auth]
{{- if $a.Username}}
        username = {{q $a.Username}}
        password = {{q $a.Password}}
{{- end}}
{{- if $a.Auth}}
        auth = {{q $a.Auth}}
{{- end}}
{{- if $a.IdentityToken}}
        identitytoken = {{q $a.IdentityToken}}
{{- end}}
{{- end}}
`

func renderConfig(p configParams) ([]byte, error) {
	tmpl, err := template.New("config.toml").Funcs(template.FuncMap{"q": tomlString}).Parse(configTemplate)
	if err != nil {
		return nil, fmt.Errorf("containerd: parse config template: %w", err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, p); err != nil {
		return nil, fmt.Errorf("containerd: render config: %w", err)
	}
	return buf.Bytes(), nil
}

// tomlString quotes s as a TOML basic string. strconv.Quote is not enough:
// TOML has no \x, \a or \v escapes.
func tomlString(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("containerd: %q is not valid UTF-8", s)
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String(), nil
}
