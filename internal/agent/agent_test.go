package agent

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"testing"
)

func TestTagSafe(t *testing.T) {
	for in, want := range map[string]string{
		"v1.37.0-skiff":  "v1.37.0-skiff",
		"v0.3.0+dirty":   "v0.3.0-dirty",
		"dev build/2026": "dev-build-2026",
	} {
		if got := tagSafe(in); got != want {
			t.Errorf("tagSafe(%q) = %q, want %q", in, got, want)
		}
	}
}

// The CNI network containerd reads: the bridge with its gateway, addresses
// from the node's range with their state under the data dir, no per-pod
// masquerade, and portmap for hostPort.
func TestWriteCNIConfig(t *testing.T) {
	dir := t.TempDir()
	_, pods, _ := net.ParseCIDR("10.42.3.0/24")
	if err := writeCNIConfig(dir, pods, "/data/cni/ipam"); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "10-skiff.conflist"))
	if err != nil {
		t.Fatal(err)
	}
	var conf struct {
		Name    string
		Plugins []map[string]any
	}
	if err := json.Unmarshal(data, &conf); err != nil {
		t.Fatal(err)
	}
	if len(conf.Plugins) != 2 || conf.Plugins[0]["type"] != "bridge" || conf.Plugins[1]["type"] != "portmap" {
		t.Fatalf("plugins: %v", conf.Plugins)
	}
	bridge := conf.Plugins[0]
	ipam := bridge["ipam"].(map[string]any)
	if bridge["bridge"] != bridgeName || bridge["isGateway"] != true || bridge["ipMasq"] != false || bridge["hairpinMode"] != true {
		t.Errorf("bridge: %v", bridge)
	}
	if ipam["type"] != "host-local" || ipam["dataDir"] != "/data/cni/ipam" {
		t.Errorf("ipam: %v", ipam)
	}
	ranges := ipam["ranges"].([]any)[0].([]any)[0].(map[string]any)
	if ranges["subnet"] != "10.42.3.0/24" {
		t.Errorf("ranges: %v", ranges)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("files left in the conf dir: %v", entries)
	}
}

func TestWithIdentityKeepsWhatIsSet(t *testing.T) {
	c, err := Config{NodeName: "n1", NodeIP: net.ParseIP("192.0.2.9")}.WithIdentity()
	if err != nil {
		t.Fatal(err)
	}
	if c.NodeName != "n1" || !c.NodeIP.Equal(net.ParseIP("192.0.2.9")) {
		t.Errorf("got %s %s", c.NodeName, c.NodeIP)
	}
}
