package dns

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// upstreams returns the forwarders as host:port: Upstreams as given, or the
// nameservers of ResolvConf except those that are this server, since a node
// whose resolv.conf points at its own cluster DNS would loop every query.
func (c Config) upstreams(log *slog.Logger) ([]string, error) {
	if c.Upstreams != nil {
		out := make([]string, 0, len(c.Upstreams))
		for _, u := range c.Upstreams {
			hp, err := upstreamAddr(u)
			if err != nil {
				return nil, fmt.Errorf("dns: upstream %q: %w", u, err)
			}
			out = append(out, hp)
		}
		return out, nil
	}
	conf, err := dns.ClientConfigFromFile(c.ResolvConf)
	if errors.Is(err, fs.ErrNotExist) {
		log.Warn("no resolv.conf: names outside the cluster will be refused", "path", c.ResolvConf)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dns: read %s: %w", c.ResolvConf, err)
	}
	var out []string
	for _, server := range conf.Servers {
		hp, err := upstreamAddr(net.JoinHostPort(server, conf.Port))
		if err != nil {
			log.Warn("skipping unusable nameserver", "path", c.ResolvConf, "nameserver", server, "err", err)
			continue
		}
		if isSelf(hp, c.Addr) {
			log.Info("skipping nameserver that is this server", "path", c.ResolvConf, "nameserver", server)
			continue
		}
		out = append(out, hp)
	}
	return out, nil
}

// upstreamAddr checks that s is an IP address with an optional port and
// returns it as host:port, port 53 by default. A host name is refused: it
// would have to be resolved through the very resolver being configured.
func upstreamAddr(s string) (string, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		host, port = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"), "53"
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return "", fmt.Errorf("not an IP address: %w", err)
	}
	return net.JoinHostPort(addr.String(), port), nil
}

// isSelf tells whether the upstream host:port is the listen address; a
// wildcard listen address is reached through every loopback address.
func isSelf(upstream, listen string) bool {
	up, err := netip.ParseAddrPort(upstream)
	if err != nil {
		return false
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil || port != fmt.Sprint(up.Port()) {
		return false
	}
	if host == "" {
		return up.Addr().IsLoopback()
	}
	self, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	if self.IsUnspecified() {
		return up.Addr().IsLoopback()
	}
	return self.Unmap() == up.Addr().Unmap()
}
