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
		if err := ipRoute("replace", "unreachable", c.String()); err != nil {
			return fmt.Errorf("agent: unreachable route for %s: %w", c, err)
		}
	}
	return nil
}

// routeServices sends the service range onto the pod bridge. The proxy's
// rules rewrite service addresses before routing for traffic that arrives
// from pods or other hosts, but the node's own connections are routed
// first and rewritten after (in the output hook): an unreachable route
// would fail them before any rule saw them. On the bridge an address no
// rule rewrites finds no one, so it still never leaves the machine; the
// proxy also rejects it at once.
func routeServices(serviceCIDR *net.IPNet) error {
	if serviceCIDR == nil {
		return nil
	}
	if err := ipRoute("replace", serviceCIDR.String(), "dev", bridgeName); err != nil {
		return fmt.Errorf("agent: route for the service range: %w", err)
	}
	return nil
}

// ensureBridge creates the pod bridge with its gateway address before any
// pod exists, since the node's DNS server listens on that address; the
// CNI bridge plugin then finds it ready.
func ensureBridge(podCIDR *net.IPNet, gateway net.IP) error {
	if _, err := net.InterfaceByName(bridgeName); err != nil {
		if out, err := exec.Command("ip", "link", "add", bridgeName, "type", "bridge").CombinedOutput(); err != nil {
			return fmt.Errorf("agent: create bridge %s: %v: %s", bridgeName, err, strings.TrimSpace(string(out)))
		}
	}
	ones, _ := podCIDR.Mask.Size()
	for _, args := range [][]string{
		{"addr", "replace", fmt.Sprintf("%s/%d", gateway, ones), "dev", bridgeName},
		{"link", "set", bridgeName, "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("agent: bridge %s: ip %s: %v: %s", bridgeName, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// enableForwarding turns on what a node that routes pod traffic needs:
// IPv4 forwarding, and bridged traffic passing the IP hooks, so that a
// reply from a pod to a pod on the same bridge is un-NATed by the proxy's
// connection tracking.
func enableForwarding() error {
	for _, p := range []string{"/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/bridge/bridge-nf-call-iptables"} {
		if err := os.WriteFile(p, []byte("1"), 0o644); err != nil {
			return fmt.Errorf("agent: enable %s: %w", p, err)
		}
	}
	return nil
}
