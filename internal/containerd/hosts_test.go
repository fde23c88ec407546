package containerd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestWriteHosts(t *testing.T) {
	cases := []struct {
		name  string
		host  string
		hosts Hosts
		want  string
	}{{
		name:  "server only",
		host:  "registry.example",
		hosts: Hosts{Server: Endpoint{URL: "https://registry.example"}},
		want: `# Written by skiff; containerd reads it again at every pull.
server = "https://registry.example"

# containerd 1.6 discards a hosts.toml that has no host table.
[host]
`,
	}, {
		name: "ordered mirrors before the server",
		host: "docker.io",
		hosts: Hosts{
			Server: Endpoint{URL: "https://registry-1.docker.io"},
			Mirrors: []Endpoint{
				{URL: "127.0.0.1:5000"},
				{URL: "mirror.example/v2/dockerhub"},
				{URL: "http://cache.lan:8080"},
			},
		},
		want: `# Written by skiff; containerd reads it again at every pull.
server = "https://registry-1.docker.io"

[host."http://127.0.0.1:5000"]
capabilities = ["pull", "resolve"]

[host."https://mirror.example/v2/dockerhub"]
capabilities = ["pull", "resolve"]

[host."http://cache.lan:8080"]
capabilities = ["pull", "resolve"]
`,
	}, {
		name: "default for all registries with TLS settings",
		host: "_default",
		hosts: Hosts{
			Server: Endpoint{CAFile: "/etc/skiff/ca.pem"},
			Mirrors: []Endpoint{{
				URL:            "https://[::1]:5443",
				CAFile:         "ca.pem",
				ClientCertFile: "/etc/skiff/client.pem",
				ClientKeyFile:  "/etc/skiff/client-key.pem",
				SkipVerify:     true,
			}},
		},
		want: `# Written by skiff; containerd reads it again at every pull.
ca = "/etc/skiff/ca.pem"

[host."https://[::1]:5443"]
capabilities = ["pull", "resolve"]
ca = "ca.pem"
client = [["/etc/skiff/client.pem", "/etc/skiff/client-key.pem"]]
skip_verify = true
`,
	}, {
		name:  "loopback names default to http",
		host:  "localhost:5000",
		hosts: Hosts{Server: Endpoint{URL: "localhost:5000"}, Mirrors: []Endpoint{{URL: "127.0.0.2:1"}, {URL: "[::1]:2"}}},
		want: `# Written by skiff; containerd reads it again at every pull.
server = "http://localhost:5000"

[host."http://127.0.0.2:1"]
capabilities = ["pull", "resolve"]

[host."http://[::1]:2"]
capabilities = ["pull", "resolve"]
`,
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := WriteHosts(dir, tc.host, tc.hosts); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join(dir, tc.host, "hosts.toml"))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, string(got)); diff != "" {
				t.Errorf("hosts.toml (-want +got):\n%s", diff)
			}
			entries, err := os.ReadDir(filepath.Join(dir, tc.host))
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 {
				t.Errorf("host dir holds %d entries, want only hosts.toml", len(entries))
			}
		})
	}
}

func TestWriteHostsReplaces(t *testing.T) {
	dir := t.TempDir()
	for _, url := range []string{"https://one.example", "https://two.example"} {
		if err := WriteHosts(dir, "r.example", Hosts{Server: Endpoint{URL: url}}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(filepath.Join(dir, "r.example", "hosts.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "server = \"https://two.example\"\n"; !strings.Contains(string(got), want) {
		t.Fatalf("second write not in effect: %s", got)
	}
}

func TestWriteHostsRejects(t *testing.T) {
	cases := []struct {
		name  string
		host  string
		hosts Hosts
	}{
		{"empty host", "", Hosts{}},
		{"host with a slash", "a/b", Hosts{}},
		{"dot dot", "..", Hosts{}},
		{"mirror without URL", "r", Hosts{Mirrors: []Endpoint{{}}}},
		{"bad scheme", "r", Hosts{Mirrors: []Endpoint{{URL: "ftp://m"}}}},
		{"query in URL", "r", Hosts{Server: Endpoint{URL: "https://r?x=1"}}},
		{"credentials in URL", "r", Hosts{Server: Endpoint{URL: "https://u:p@r"}}},
		{"cert without key", "r", Hosts{Mirrors: []Endpoint{{URL: "https://m", ClientCertFile: "c.pem"}}}},
		{"invalid UTF-8", "r", Hosts{Server: Endpoint{CAFile: "\xff"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := WriteHosts(dir, tc.host, tc.hosts); err == nil {
				t.Fatal("WriteHosts succeeded, want an error")
			}
		})
	}
}
