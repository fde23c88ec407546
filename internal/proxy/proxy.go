// Package proxy is the node's service proxy: it programs one nftables table
// so that connections to Service addresses reach the Service's endpoints, as
// upstream kube-proxy does in its nftables mode.
//
// The table ("skiff-proxy" by default, family ip) holds:
//
//   - nat chains on prerouting (traffic from pods and other hosts) and output
//     (traffic from this host) that look the destination up in the maps
//     @service-ips (cluster, external and load-balancer IPs) and
//     @service-nodeports, and jump to per-service-port chains;
//   - per service port a chain that picks an endpoint at random and DNATs
//     to it ("svc-ns/name/port", "local-..." for the node's own endpoints),
//     with a rule per endpoint or, when there are many, through a map of
//     the same name, and an "ext-..." chain for traffic to external
//     destinations; with ClientIP affinity, per endpoint an "ep-..." chain
//     that remembers clients in an "aff-..." set and DNATs;
//   - a masquerading chain on postrouting for marked packets and for
//     connections DNATed back to their source (a pod reaching itself
//     through a service), found in the set @hairpin-endpoints;
//   - filter chains that, after DNAT, reject what is still addressed to a
//     service without endpoints, to an undefined port of a cluster IP or to
//     an unassigned address of the service range, and drop external traffic
//     for externalTrafficPolicy Local without a local endpoint.
//
// Changes are incremental: a sync rewrites only the chains and map elements
// of the services whose Service or EndpointSlices changed. The whole table is
// rebuilt, in one atomic transaction, only at start, after a failed
// transaction, or when the periodic check finds it missing or altered.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	coreinformers "k8s.io/client-go/informers/core/v1"
	discoveryinformers "k8s.io/client-go/informers/discovery/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
	"sigs.k8s.io/knftables"
)

const (
	// DefaultTable is the nftables table the proxy owns.
	DefaultTable = "skiff-proxy"

	// defaultMinSyncPeriod batches informer events. An incremental sync is
	// one `nft -f`, from a few milliseconds on a small table to ~20ms with
	// 1,000 services (nft loads every chain of the table first). While
	// events keep coming, syncs run back to back and each takes all changes
	// since the previous one; the period only spaces syncs quicker than it,
	// capping nft at 100 runs a second on small tables while adding at most
	// 10ms to the delay from a change to its rules.
	defaultMinSyncPeriod = 10 * time.Millisecond
	defaultSyncPeriod    = 30 * time.Second

	// minRetryDelay is the first wait after a failed sync; it doubles with
	// every further failure, up to SyncPeriod.
	minRetryDelay = 100 * time.Millisecond

	// Labels that take a Service or EndpointSlice away from the default
	// proxy: another proxy implementation serves it, or it is headless.
	labelProxyName = "service.kubernetes.io/service-proxy-name"
	labelHeadless  = "service.kubernetes.io/headless"

	serviceIndex = "service"
)

// ErrConfig reports an unusable Config.
var ErrConfig = errors.New("proxy: invalid config")

// Config configures the proxy of one node.
type Config struct {
	// NodeName is this node's name; endpoints whose EndpointSlice nodeName
	// matches are local, for the Local traffic policies.
	NodeName string
	// NodeIPs are the addresses NodePorts answer on. Empty means every local
	// address except loopback. (External and load-balancer IPs of services
	// answer wherever they are routed to this node.)
	NodeIPs []net.IP
	// ClusterCIDR is the pod range. Traffic to a cluster IP from outside it
	// is masqueraded, and pods count as internal clients of external
	// addresses. Nil turns both off.
	ClusterCIDR *net.IPNet
	// ServiceCIDR is the service range: traffic to an address in it that no
	// Service holds is rejected. Nil rejects only undefined ports of
	// existing cluster IPs.
	ServiceCIDR *net.IPNet
	// Table is the nftables table (family ip) the proxy owns; default
	// DefaultTable.
	Table string
	// MinSyncPeriod is the least time between two syncs; events in between
	// are applied together. Default 10ms.
	MinSyncPeriod time.Duration
	// SyncPeriod is how often the proxy checks that its table is still there
	// and intact, rebuilding it if not (after `nft flush ruleset`, say).
	// Default 30s.
	SyncPeriod time.Duration
}

// nftables is the part of knftables.Interface the proxy uses.
type nftables interface {
	NewTransaction() *knftables.Transaction
	Run(ctx context.Context, tx *knftables.Transaction) error
	ListRules(ctx context.Context, chain string) ([]*knftables.Rule, error)
}

// flowCleaner removes conntrack entries that keep UDP flows going to
// endpoints that are gone.
type flowCleaner interface {
	DeleteUDP(ctx context.Context, flows []staleFlow) error
}

// Proxy keeps the node's nftables table in line with Services and
// EndpointSlices.
type Proxy struct {
	log   *slog.Logger
	cfg   Config
	nft   nftables
	ct    flowCleaner
	clock clock.WithTicker

	services  cache.SharedIndexInformer
	slices    cache.SharedIndexInformer
	svcLister corelisters.ServiceLister

	// dirty holds the keys of services whose Service or EndpointSlices
	// changed since the last sync; wake tells the sync loop about them.
	mu    sync.Mutex
	dirty map[string]bool
	wake  chan struct{}

	// rs is only used by the sync loop.
	rs *ruleset

	ready     chan struct{}
	readyOnce sync.Once
}

// New checks cfg, applies its defaults and sets up the informers; it starts
// nothing. nft must manage family ip and table cfg.Table; nil makes New open
// the host's nftables (which needs the nft binary and CAP_NET_ADMIN).
func New(log *slog.Logger, client kubernetes.Interface, nft knftables.Interface, cfg Config) (*Proxy, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if client == nil {
		return nil, errors.New("proxy: a client is required")
	}
	if cfg.Table == "" {
		cfg.Table = DefaultTable
	}
	if cfg.MinSyncPeriod <= 0 {
		cfg.MinSyncPeriod = defaultMinSyncPeriod
	}
	if cfg.SyncPeriod <= 0 {
		cfg.SyncPeriod = defaultSyncPeriod
	}
	for _, ip := range cfg.NodeIPs {
		if ip.To4() == nil {
			return nil, fmt.Errorf("%w: node IP %s is not IPv4", ErrConfig, ip)
		}
	}
	for _, n := range []*net.IPNet{cfg.ClusterCIDR, cfg.ServiceCIDR} {
		if n != nil && n.IP.To4() == nil {
			return nil, fmt.Errorf("%w: %s is not an IPv4 range", ErrConfig, n)
		}
	}
	if nft == nil {
		var err error
		if nft, err = knftables.New(knftables.IPv4Family, cfg.Table); err != nil {
			return nil, fmt.Errorf("proxy: nftables: %w", err)
		}
	}

	p := &Proxy{
		log:   log,
		cfg:   cfg,
		nft:   nft,
		ct:    newConntrack(),
		clock: clock.RealClock{},
		dirty: map[string]bool{},
		wake:  make(chan struct{}, 1),
		rs:    newRuleset(newRuleConfig(ipv4, cfg)),
		ready: make(chan struct{}),
	}
	p.services = coreinformers.NewFilteredServiceInformer(client, metav1.NamespaceAll, 0, cache.Indexers{},
		func(o *metav1.ListOptions) { o.LabelSelector = "!" + labelProxyName })
	p.slices = discoveryinformers.NewFilteredEndpointSliceInformer(client, metav1.NamespaceAll, 0,
		cache.Indexers{serviceIndex: sliceServiceKey},
		func(o *metav1.ListOptions) { o.LabelSelector = "!" + labelProxyName + ",!" + labelHeadless })
	p.svcLister = corelisters.NewServiceLister(p.services.GetIndexer())

	if _, err := p.services.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    p.objectChanged,
		UpdateFunc: func(_, cur any) { p.objectChanged(cur) },
		DeleteFunc: p.objectChanged,
	}); err != nil {
		return nil, fmt.Errorf("proxy: watch services: %w", err)
	}
	if _, err := p.slices.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: p.sliceChanged,
		UpdateFunc: func(old, cur any) {
			// A slice relabelled to another service changes both.
			p.sliceChanged(old)
			p.sliceChanged(cur)
		},
		DeleteFunc: p.sliceChanged,
	}); err != nil {
		return nil, fmt.Errorf("proxy: watch endpointslices: %w", err)
	}
	return p, nil
}

// Ready is closed once the first full sync has programmed the table.
func (p *Proxy) Ready() <-chan struct{} { return p.ready }

// Run watches Services and EndpointSlices and keeps the table in line until
// ctx ends; then it deletes the table. Failed syncs are logged and retried,
// not returned: the node is better served by retrying than by stopping.
func (p *Proxy) Run(ctx context.Context) error {
	defer utilruntime.HandleCrash()
	var informers sync.WaitGroup
	informerCtx, stopInformers := context.WithCancel(ctx)
	defer func() {
		stopInformers()
		informers.Wait()
	}()
	informers.Go(func() { p.services.RunWithContext(informerCtx) })
	informers.Go(func() { p.slices.RunWithContext(informerCtx) })
	if !cache.WaitForCacheSync(ctx.Done(), p.services.HasSynced, p.slices.HasSynced) {
		if ctx.Err() != nil {
			return nil
		}
		return errors.New("proxy: caches did not sync")
	}

	p.loop(ctx)

	// The caller's context is done; the table still has to go.
	cleanupCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	tx := p.nft.NewTransaction()
	tx.Add(&knftables.Table{})
	tx.Delete(&knftables.Table{})
	if err := p.nft.Run(cleanupCtx, tx); err != nil {
		return fmt.Errorf("proxy: delete table %s: %w", p.cfg.Table, err)
	}
	return nil
}

// loop syncs whenever something changed, at most once per MinSyncPeriod,
// and checks the table every SyncPeriod.
func (p *Proxy) loop(ctx context.Context) {
	check := p.clock.NewTicker(p.cfg.SyncPeriod)
	defer check.Stop()
	retryDelay := minRetryDelay
	for {
		start := p.clock.Now()
		next, err := p.sync(ctx)
		wake := p.wake
		var timer clock.Timer
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			p.log.Error("sync failed, rebuilding the table", "retryIn", retryDelay, "err", err)
			// Until the retry, new events wait: a broken nft must not be
			// hammered at the rate of events.
			wake = nil
			timer = p.clock.NewTimer(retryDelay)
			retryDelay = min(2*retryDelay, p.cfg.SyncPeriod)
		case !next.IsZero():
			retryDelay = minRetryDelay
			timer = p.clock.NewTimer(next.Sub(p.clock.Now()))
		default:
			retryDelay = minRetryDelay
		}
		var timerC <-chan time.Time
		if timer != nil {
			timerC = timer.C()
		}
		select {
		case <-ctx.Done():
		case <-wake:
		case <-timerC:
		case <-check.C():
			p.verify(ctx)
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return
		}
		if d := start.Add(p.cfg.MinSyncPeriod).Sub(p.clock.Now()); d > 0 {
			t := p.clock.NewTimer(d)
			select {
			case <-ctx.Done():
			case <-t.C():
			}
			t.Stop()
		}
	}
}

// sync applies what changed: everything when the table needs a rebuild, else
// the dirty services and the deletion of chains that have been stale long
// enough. It returns when stale chains next need deleting (zero if none).
func (p *Proxy) sync(ctx context.Context) (time.Time, error) {
	p.mu.Lock()
	dirty := p.dirty
	p.dirty = map[string]bool{}
	p.mu.Unlock()
	now := p.clock.Now()

	if !p.rs.synced {
		desired, err := p.desiredAll()
		if err != nil {
			return time.Time{}, err
		}
		tx := p.nft.NewTransaction()
		p.rs.full(tx, desired)
		if err := p.nft.Run(ctx, tx); err != nil {
			p.rs.reset()
			return time.Time{}, fmt.Errorf("proxy: full sync: %w", err)
		}
		p.log.Info("table rebuilt", "table", p.cfg.Table, "services", len(desired))
		p.readyOnce.Do(func() { close(p.ready) })
		return time.Time{}, nil
	}

	tx := p.nft.NewTransaction()
	if p.rs.deleteStale(tx, now) {
		if err := p.nft.Run(ctx, tx); err != nil {
			p.rs.reset()
			return time.Time{}, fmt.Errorf("proxy: delete stale chains: %w", err)
		}
	}
	if len(dirty) > 0 {
		changed := make(map[string]*svcRules, len(dirty))
		for key := range dirty {
			r, err := p.desired(key)
			if err != nil {
				p.rs.reset()
				return time.Time{}, err
			}
			changed[key] = r
		}
		tx := p.nft.NewTransaction()
		flows := p.rs.update(tx, changed, now)
		if tx.NumOperations() > 0 {
			if err := p.nft.Run(ctx, tx); err != nil {
				p.rs.reset()
				return time.Time{}, fmt.Errorf("proxy: sync %d services: %w", len(changed), err)
			}
		}
		if len(flows) > 0 {
			if err := p.ct.DeleteUDP(ctx, flows); err != nil {
				// The rules are right; only flows already under way may
				// linger until their conntrack entries time out.
				p.log.Warn("cannot delete stale UDP conntrack entries", "flows", len(flows), "err", err)
			}
		}
	}
	next, _ := p.rs.nextStale()
	return next, nil
}

// verify checks that the table is still there and intact, and marks it for
// a rebuild if not.
func (p *Proxy) verify(ctx context.Context) {
	if !p.rs.synced {
		return
	}
	if reason, err := p.altered(ctx); err != nil || reason != "" {
		p.log.Warn("table missing or altered, rebuilding", "table", p.cfg.Table, "reason", reason, "err", err)
		p.rs.reset()
	}
}

// altered checks the chains everything hangs off, the base chains and the
// dispatch chain, by their number of rules: that catches `nft flush
// ruleset`, a deleted table and a flushed one. Each check is one `nft list
// chain` of tens of milliseconds with thousands of services; listing the
// whole table instead would take about a second.
func (p *Proxy) altered(ctx context.Context) (string, error) {
	static := p.rs.c.staticChains()
	names := []string{chainServices}
	for _, bc := range baseChains {
		names = append(names, bc.name)
	}
	for _, name := range names {
		have, err := p.nft.ListRules(ctx, name)
		if knftables.IsNotFound(err) {
			return "chain " + name + " missing", nil
		}
		if err != nil {
			return "", fmt.Errorf("list chain %s: %w", name, err)
		}
		if len(have) != len(static[name]) {
			return fmt.Sprintf("chain %s has %d rules instead of %d", name, len(have), len(static[name])), nil
		}
	}
	return "", nil
}

// desiredAll builds the rules of every service in the informer cache.
func (p *Proxy) desiredAll() (map[string]*svcRules, error) {
	svcs, err := p.svcLister.List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("proxy: list services: %w", err)
	}
	out := make(map[string]*svcRules, len(svcs))
	for _, svc := range svcs {
		key := svc.Namespace + "/" + svc.Name
		r, err := p.rulesFor(key, svc)
		if err != nil {
			return nil, err
		}
		if r != nil {
			out[key] = r
		}
	}
	return out, nil
}

// desired builds the rules of one service; nil when it has none.
func (p *Proxy) desired(key string) (*svcRules, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil, fmt.Errorf("proxy: service key %q: %w", key, err)
	}
	svc, err := p.svcLister.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("proxy: service %s: %w", key, err)
	}
	return p.rulesFor(key, svc)
}

func (p *Proxy) rulesFor(key string, svc *corev1.Service) (*svcRules, error) {
	objs, err := p.slices.GetIndexer().ByIndex(serviceIndex, key)
	if err != nil {
		return nil, fmt.Errorf("proxy: endpointslices of %s: %w", key, err)
	}
	slices := make([]*discoveryv1.EndpointSlice, 0, len(objs))
	for _, o := range objs {
		if s, ok := o.(*discoveryv1.EndpointSlice); ok {
			slices = append(slices, s)
		}
	}
	return serviceRules(&p.rs.c, svc, slices), nil
}

func (p *Proxy) objectChanged(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		p.log.Error("cannot key service", "err", err)
		return
	}
	p.markDirty(key)
}

func (p *Proxy) sliceChanged(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return
	}
	if keys, _ := sliceServiceKey(s); len(keys) > 0 {
		p.markDirty(keys[0])
	}
}

func (p *Proxy) markDirty(key string) {
	p.mu.Lock()
	p.dirty[key] = true
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// sliceServiceKey indexes an EndpointSlice by the namespace/name of the
// Service it belongs to.
func sliceServiceKey(obj any) ([]string, error) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return nil, nil
	}
	name := s.Labels[discoveryv1.LabelServiceName]
	if name == "" {
		return nil, nil
	}
	return []string{s.Namespace + "/" + name}, nil
}
