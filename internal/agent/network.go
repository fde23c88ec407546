package agent

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/skiff-sh/skiff/internal/fsutil"
)

// bridgeName is the Linux bridge the node's pods attach to.
const bridgeName = "skiff0"

// writeCNIConfig writes the pod network for containerd: a bridge whose
// gateway is the first address of podCIDR, addresses from host-local in that
// range (its state under ipamDir, so that it goes with the data dir),
// hairpin so that a pod reaches itself through a Service, portmap for
// hostPort and loopback. The bridge plugin's own masquerade is off: it runs
// iptables for every pod, which took 100 ms off each pod's start;
// masqueradeEgress does the same for the whole node with one rule.
func writeCNIConfig(dir string, podCIDR *net.IPNet, ipamDir string) error {
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       "skiff",
		"plugins": []map[string]any{
			{
				"type":        "bridge",
				"bridge":      bridgeName,
				"isGateway":   true,
				"ipMasq":      false,
				"hairpinMode": true,
				"ipam": map[string]any{
					"type":    "host-local",
					"dataDir": ipamDir,
					"ranges":  [][]map[string]string{{{"subnet": podCIDR.String()}}},
					"routes":  []map[string]string{{"dst": defaultRoute(podCIDR)}},
				},
			},
			{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	}
	data, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return fmt.Errorf("agent: CNI config: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("agent: CNI config: %w", err)
	}
	// containerd loads the first file in name order; a fixed name replaces
	// the previous agent run's.
	if err := fsutil.WriteFile(filepath.Join(dir, "10-skiff.conflist"), data, 0o644); err != nil {
		return fmt.Errorf("agent: CNI config: %w", err)
	}
	return nil
}

func defaultRoute(n *net.IPNet) string {
	if n.IP.To4() != nil {
		return "0.0.0.0/0"
	}
	return "::/0"
}

// natTable is the agent's nftables table for masquerading pod traffic that
// leaves the cluster.
const natTable = "skiff-nat"

// masqueradeEgress makes traffic from the node's pods to addresses outside
// the cluster leave with the node's address, replacing the table as a
// whole so that a restart never stacks rules.
func masqueradeEgress(podCIDR, clusterCIDR *net.IPNet) error {
	if clusterCIDR == nil {
		clusterCIDR = podCIDR
	}
	family := "ip"
	if podCIDR.IP.To4() == nil {
		family = "ip6"
	}
	script := fmt.Sprintf(`table %[1]s %[2]s
delete table %[1]s %[2]s
table %[1]s %[2]s {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		%[1]s saddr %[3]s %[1]s daddr != %[4]s masquerade
	}
}
`, family, natTable, podCIDR, clusterCIDR)
	cmd := exec.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("agent: egress masquerade: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// routeUnreachable installs an unreachable route for each range. More
// specific routes (this node's bridge, other nodes' pod ranges) still win;
// what nothing claims is refused at once instead of following the default
// route off the machine.
func routeUnreachable(cidrs ...*net.IPNet) error {
	for _, c := range cidrs {
		if c == nil {
			continue
		}
		out, err := exec.Command("ip", "route", "replace", "unreachable", c.String()).CombinedOutput()
		if err != nil {
			return fmt.Errorf("agent: unreachable route for %s: %v: %s", c, err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}
