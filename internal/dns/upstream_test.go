package dns

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestUpstreams(t *testing.T) {
	// Parsing only: none of these addresses is contacted.
	const conf = `# generated
search example.internal
nameserver 192.0.2.53
nameserver 10.0.0.5
nameserver 127.0.0.1
nameserver 2001:db8::53
options ndots:2
`
	path := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	all := []string{"192.0.2.53:53", "10.0.0.5:53", "127.0.0.1:53", "[2001:db8::53]:53"}
	tests := []struct {
		name string
		cfg  Config
		want []string
	}{
		{"skips the listen address", Config{Addr: "10.0.0.5:53", ResolvConf: path},
			[]string{"192.0.2.53:53", "127.0.0.1:53", "[2001:db8::53]:53"}},
		{"wildcard listen skips loopback", Config{Addr: "0.0.0.0:53", ResolvConf: path},
			[]string{"192.0.2.53:53", "10.0.0.5:53", "[2001:db8::53]:53"}},
		{"empty host skips loopback", Config{Addr: ":53", ResolvConf: path},
			[]string{"192.0.2.53:53", "10.0.0.5:53", "[2001:db8::53]:53"}},
		{"another port is not this server", Config{Addr: "10.0.0.5:5353", ResolvConf: path}, all},
		{"missing file", Config{Addr: "10.0.0.5:53", ResolvConf: filepath.Join(t.TempDir(), "none")}, nil},
		{"explicit upstreams", Config{Addr: "10.0.0.5:53", ResolvConf: path,
			Upstreams: []string{"192.0.2.1", "192.0.2.2:5353", "[2001:db8::1]:53", "2001:db8::2"}},
			[]string{"192.0.2.1:53", "192.0.2.2:5353", "[2001:db8::1]:53", "[2001:db8::2]:53"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.cfg.upstreams(slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("upstreams (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := (Config{Addr: "10.0.0.5:53", Upstreams: []string{"dns.example.com"}}).upstreams(slog.New(slog.DiscardHandler)); err == nil {
		t.Error("host name accepted as upstream")
	}
}
