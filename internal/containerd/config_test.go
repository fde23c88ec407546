package containerd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const wantDefaultConfig = `# Written by skiff each time it starts this containerd; edits are lost.
version = 2
root = "/var/lib/skiff/ctrd/root"
state = "/var/lib/skiff/ctrd/state"
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
  address = "/var/lib/skiff/ctrd/containerd.sock"
  tcp_address = ""

[debug]
  address = ""
  level = "info"

[metrics]
  address = ""

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "skiff.local/pause:1"
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
      bin_dir = "/usr/lib/cni"
      conf_dir = "/var/lib/skiff/ctrd/cni/net.d"
      max_conf_num = 1

    [plugins."io.containerd.grpc.v1.cri".registry]
      config_path = "/var/lib/skiff/ctrd/certs.d"
`

func TestRenderConfig(t *testing.T) {
	long := "/var/lib/" + strings.Repeat("x", 90)
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		cfg   Config
		whole string   // the entire file, when set
		lines []string // lines the file must contain, trimmed
	}{{
		name:  "defaults",
		cfg:   Config{DataDir: "/var/lib/skiff/ctrd", SandboxImage: "skiff.local/pause:1", CNIBinDir: "/usr/lib/cni"},
		whole: wantDefaultConfig,
	}, {
		name: "explicit directories",
		cfg: Config{DataDir: "/d", SandboxImage: "p:1", CNIBinDir: "/opt/cni/bin",
			CNIConfDir: "/etc/cni/net.d", RegistryConfigDir: "/etc/containerd/certs.d"},
		lines: []string{
			`bin_dir = "/opt/cni/bin"`,
			`conf_dir = "/etc/cni/net.d"`,
			`config_path = "/etc/containerd/certs.d"`,
			`address = "/d/containerd.sock"`,
		},
	}, {
		name: "relative paths resolved against the working directory",
		cfg:  Config{DataDir: "data", SandboxImage: "p:1", CNIBinDir: "cni"},
		lines: []string{
			`root = "` + filepath.Join(cwd, "data", "root") + `"`,
			`bin_dir = "` + filepath.Join(cwd, "cni") + `"`,
		},
	}, {
		name: "socket moves out of a long data dir",
		cfg:  Config{DataDir: long, SandboxImage: "p:1", CNIBinDir: "/usr/lib/cni"},
		lines: []string{
			`root = "` + long + `/root"`,
			`address = "` + socketPath(long) + `"`,
			`conf_dir = "` + long + `/cni/net.d"`,
		},
	}, {
		name: "registry credentials",
		cfg: Config{DataDir: "/d", SandboxImage: "p:1", CNIBinDir: "/usr/lib/cni", RegistryAuth: map[string]RegistryAuth{
			"reg.example.com:5000": {Username: "u", Password: `p"w`},
			"ghcr.io":              {IdentityToken: "refresh-me"},
			"quay.io":              {Auth: "dTpw"},
		}},
		lines: []string{
			`[plugins."io.containerd.grpc.v1.cri".registry.configs."ghcr.io".auth]`,
			`identitytoken = "refresh-me"`,
			`[plugins."io.containerd.grpc.v1.cri".registry.configs."quay.io".auth]`,
			`auth = "dTpw"`,
			`[plugins."io.containerd.grpc.v1.cri".registry.configs."reg.example.com:5000".auth]`,
			`username = "u"`,
			`password = "p\"w"`,
		},
	}, {
		name: "quotes and backslashes are escaped",
		cfg:  Config{DataDir: `/d/a"b\c`, SandboxImage: "reg.local/pause:\t1", CNIBinDir: "/usr/lib/cni"},
		lines: []string{
			`root = "/d/a\"b\\c/root"`,
			`sandbox_image = "reg.local/pause:\t1"`,
		},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Binary = os.Args[0]
			s, err := New(nil, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			got, err := renderConfig(s.configParams())
			if err != nil {
				t.Fatal(err)
			}
			if tc.whole != "" {
				if diff := cmp.Diff(tc.whole, string(got)); diff != "" {
					t.Errorf("config.toml (-want +got):\n%s", diff)
				}
			}
			have := map[string]bool{}
			for line := range strings.Lines(string(got)) {
				have[strings.TrimSpace(line)] = true
			}
			for _, want := range tc.lines {
				if !have[want] {
					t.Errorf("config.toml lacks line %s; got:\n%s", want, got)
				}
			}
		})
	}
}

func TestTOMLString(t *testing.T) {
	cases := []struct {
		in, want string
		wantErr  bool
	}{
		{in: "plain", want: `"plain"`},
		{in: `a"b\c`, want: `"a\"b\\c"`},
		{in: "tab\tnl\ncr\rbs\bff\f", want: `"tab\tnl\ncr\rbs\bff\f"`},
		{in: "bell\a del\x7f", want: `"bell\u0007 del\u007F"`},
		{in: "ünïcode", want: `"ünïcode"`},
		{in: "bad\xff", wantErr: true},
	}
	for _, tc := range cases {
		got, err := tomlString(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("tomlString(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
			continue
		}
		if got != tc.want {
			t.Errorf("tomlString(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestSocketPath(t *testing.T) {
	fits := "/" + strings.Repeat("a", maxSocketPath-len("/containerd.sock")-1)
	tooLong := fits + "b"
	cases := []struct {
		name    string
		dataDir string
		want    string
	}{
		{"short", "/var/lib/skiff", "/var/lib/skiff/containerd.sock"},
		{"exactly fits", fits, fits + "/containerd.sock"},
		{"one byte too long", tooLong, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := socketPath(tc.dataDir)
			if len(got) > maxSocketPath {
				t.Fatalf("socket path %q is %d bytes, over %d", got, len(got), maxSocketPath)
			}
			if tc.want != "" && got != tc.want {
				t.Fatalf("socketPath(%q) = %q, want %q", tc.dataDir, got, tc.want)
			}
			if tc.want == "" {
				if !strings.HasPrefix(got, shortSocketRoot+"/") {
					t.Fatalf("socketPath of a long dir = %q, want it under %s", got, shortSocketRoot)
				}
				if got != socketPath(tc.dataDir) || got == socketPath(tc.dataDir+"c") {
					t.Fatalf("socket path for a long dir must be stable and distinct per dir")
				}
			}
		})
	}
}

func TestDetectCNIBinDir(t *testing.T) {
	root := t.TempDir()
	mk := func(dir string, names ...string) string {
		dir = filepath.Join(root, dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if err := os.WriteFile(filepath.Join(dir, n), nil, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	empty := mk("empty")
	partial := mk("partial", "bridge", "loopback")
	full := mk("full", "bridge", "host-local", "loopback", "portmap")
	full2 := mk("full2", "bridge", "host-local", "loopback")
	notExec := mk("noexec")
	for _, n := range []string{"bridge", "host-local", "loopback"} {
		if err := os.WriteFile(filepath.Join(notExec, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	cases := []struct {
		name       string
		candidates []string
		want       string
	}{
		{"first complete wins", []string{empty, partial, full, full2}, full},
		{"order matters", []string{full2, full}, full2},
		{"missing directory skipped", []string{filepath.Join(root, "nope"), full}, full},
		{"plugins must be executable", []string{notExec}, ""},
		{"none", []string{empty, partial}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := detectCNIBinDir(tc.candidates)
			if got != tc.want || ok != (tc.want != "") {
				t.Fatalf("detectCNIBinDir = %q, %v; want %q", got, ok, tc.want)
			}
		})
	}
}

func TestNewValidates(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
	}{
		{"no data dir", Config{SandboxImage: "p:1", Binary: os.Args[0]}},
		{"no sandbox image", Config{DataDir: "/d", Binary: os.Args[0]}},
		{"binary not found", Config{DataDir: "/d", SandboxImage: "p:1", Binary: "/nonexistent/containerd"}},
		{"user without password", Config{DataDir: "/d", SandboxImage: "p:1", Binary: os.Args[0],
			RegistryAuth: map[string]RegistryAuth{"r.example.com": {Username: "u"}}}},
		{"credentials for no host", Config{DataDir: "/d", SandboxImage: "p:1", Binary: os.Args[0],
			RegistryAuth: map[string]RegistryAuth{"": {Auth: "dTpw"}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(nil, tc.cfg); err == nil {
				t.Fatal("New succeeded, want an error")
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	s, err := New(nil, Config{DataDir: "/d", SandboxImage: "p:1", Binary: os.Args[0], CNIBinDir: "/c"})
	if err != nil {
		t.Fatal(err)
	}
	if s.cfg.StopTimeout <= 0 || s.cfg.StartTimeout <= 0 {
		t.Errorf("timeouts not defaulted: %+v", s.cfg)
	}
	if got, want := s.Endpoint(), "unix:///d/containerd.sock"; got != want {
		t.Errorf("Endpoint() = %q, want %q", got, want)
	}
	select {
	case <-s.Ready():
		t.Error("Ready() closed before Run")
	default:
	}
}
