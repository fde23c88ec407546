package agent

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os/exec"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	coreinformers "k8s.io/client-go/informers/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/podnet"
)

// routeProto tags the routes the agent installs, so that a restarted agent
// finds the ones it left and removes those no node needs any more. It is a
// number of its own, not "static", which belongs to the administrator.
const routeProto = "201"

// routeTable is how the route syncer changes the kernel's routes; tests
// record the calls.
type routeTable interface {
	// List returns the tagged routes as destination → gateway.
	List() (map[string]string, error)
	Replace(dst, gw string) error
	Delete(dst string) error
}

// hostGateway routes every other node's pod range via that node's address
// (host-gateway mode): pods reach each other across nodes by pod IP, with
// no encapsulation and no NAT. The nodes must share a link.
type hostGateway struct {
	log   *slog.Logger
	self  string
	nodes corelisters.NodeLister
	table routeTable

	// mu serialises syncs: each handler call recomputes the whole set,
	// which is cheap at the scale of a cluster's node list.
	mu   sync.Mutex
	have map[string]string
}

func newHostGateway(log *slog.Logger, self string, inf coreinformers.NodeInformer, table routeTable) (*hostGateway, error) {
	h := &hostGateway{log: log, self: self, nodes: inf.Lister(), table: table}
	sync := func(any) { h.sync() }
	_, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    sync,
		UpdateFunc: func(_, cur any) { sync(cur) },
		DeleteFunc: sync,
	})
	if err != nil {
		return nil, fmt.Errorf("agent: routes: %w", err)
	}
	return h, nil
}

// wanted is destination → gateway for every other node with a pod range
// and an InternalIP.
func wantedRoutes(self string, nodes []*corev1.Node) map[string]string {
	out := map[string]string{}
	for _, n := range nodes {
		if n.Name == self {
			continue
		}
		gw := ""
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP {
				gw = a.Address
				break
			}
		}
		if gw == "" {
			continue
		}
		for _, c := range podnet.NodeCIDRs(n) {
			_, ipnet, err := net.ParseCIDR(c)
			if err != nil || (ipnet.IP.To4() == nil) != (net.ParseIP(gw).To4() == nil) {
				continue
			}
			out[ipnet.String()] = gw
		}
	}
	return out
}

// sync makes the tagged routes what the node list asks for. The first call
// reads what a previous run left.
func (h *hostGateway) sync() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.have == nil {
		have, err := h.table.List()
		if err != nil {
			h.log.Warn("routes: list", "err", err)
			return
		}
		h.have = have
	}
	nodes, err := h.nodes.List(labels.Everything())
	if err != nil {
		return
	}
	want := wantedRoutes(h.self, nodes)
	for _, dst := range slices.Sorted(maps.Keys(want)) {
		if h.have[dst] == want[dst] {
			continue
		}
		if err := h.table.Replace(dst, want[dst]); err != nil {
			// A gateway not on a shared link cannot carry the route;
			// the next change of the node retries.
			h.log.Warn("routes: pod range of another node", "dst", dst, "via", want[dst], "err", err)
			continue
		}
		h.have[dst] = want[dst]
	}
	for dst := range h.have {
		if _, ok := want[dst]; ok {
			continue
		}
		if err := h.table.Delete(dst); err != nil {
			h.log.Warn("routes: remove", "dst", dst, "err", err)
			continue
		}
		delete(h.have, dst)
	}
}

// ipRoutes changes the kernel's main table with ip(8).
type ipRoutes struct{}

func (ipRoutes) List() (map[string]string, error) {
	out, err := exec.Command("ip", "-4", "route", "show", "proto", routeProto).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("ip route show: %v: %s", err, strings.TrimSpace(string(out)))
	}
	routes := map[string]string{}
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) >= 3 && f[1] == "via" {
			routes[f[0]] = f[2]
		}
	}
	return routes, nil
}

func (ipRoutes) Replace(dst, gw string) error {
	return ipRoute("replace", dst, "via", gw, "proto", routeProto)
}

func (ipRoutes) Delete(dst string) error {
	return ipRoute("del", dst, "proto", routeProto)
}

func ipRoute(args ...string) error {
	out, err := exec.Command("ip", append([]string{"route"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip route %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// run syncs once at start, after the informer synced, so that routes left
// by a previous run for nodes that are gone are removed.
func (h *hostGateway) run(ctx context.Context, synced cache.InformerSynced) {
	if cache.WaitForCacheSync(ctx.Done(), synced) {
		h.sync()
	}
}
