// Package nodestatus registers this machine as a Node and keeps it alive, as
// upstream's kubelet does: it creates the Node (or reconciles the labels of
// the one already there), renews the node's Lease in kube-node-lease, which
// the node lifecycle controller reads as the heartbeat, and posts the node's
// status: capacity, addresses, system info and the kubelet's conditions.
//
// The Lease and the status run in separate loops so that a slow runtime or a
// slow status write never delays a renewal.
package nodestatus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/version"
)

// ErrConfig reports a Config New cannot run with.
var ErrConfig = errors.New("nodestatus: invalid config")

const (
	defaultMaxPods               = 110
	defaultLeaseDuration         = 40 * time.Second
	defaultRenewInterval         = 10 * time.Second
	defaultStatusUpdateFrequency = 10 * time.Second
	fastStatusPeriod             = 200 * time.Millisecond
	fastStatusFor                = 2 * time.Minute
	defaultStatusReportFrequency = 5 * time.Minute
	defaultDataDir               = "/"
)

// Config describes the node; zero values take the defaults noted.
type Config struct {
	// NodeName is the Node's name and the Lease's (required).
	NodeName string
	// Addresses are the node's addresses as the caller found them
	// (InternalIP, Hostname); the Hostname one also gives the
	// kubernetes.io/hostname label (default the node name).
	Addresses []corev1.NodeAddress
	// Labels are set on the Node beside the standard hostname, os and arch
	// labels, at registration and again when the agent restarts; labels
	// others set are never removed.
	Labels map[string]string
	// Taints are set on the Node when it is created; an existing Node's
	// taints belong to whoever set them.
	Taints []corev1.Taint
	// DataDir is where the node keeps its pods' data: its filesystem gives
	// the ephemeral-storage capacity and the disk pressure (default /).
	DataDir string
	// MaxPods is the pods capacity (default 110).
	MaxPods int
	// Reserved is subtracted from the capacity to give the allocatable
	// resources (default none).
	Reserved corev1.ResourceList
	// KubeletVersion is reported as nodeInfo.kubeletVersion (default Skiff's
	// version).
	KubeletVersion string
	// KubeletPort is the kubelet's API port, reported in daemonEndpoints
	// (default 0: not served).
	KubeletPort int32
	// LeaseDuration is how long the Lease holds without renewal (default 40s).
	LeaseDuration time.Duration
	// RenewInterval is how often the Lease is renewed (default 10s).
	RenewInterval time.Duration
	// StatusUpdateFrequency is how often the status is computed (default
	// 10s); it is written when it changed, or StatusReportFrequency after
	// the last write (default 5m).
	StatusUpdateFrequency time.Duration
	StatusReportFrequency time.Duration
}

func (c Config) withDefaults() Config {
	if c.DataDir == "" {
		c.DataDir = defaultDataDir
	}
	if c.MaxPods <= 0 {
		c.MaxPods = defaultMaxPods
	}
	if c.KubeletVersion == "" {
		c.KubeletVersion = version.Get().GitVersion
	}
	if c.LeaseDuration <= 0 {
		c.LeaseDuration = defaultLeaseDuration
	}
	if c.RenewInterval <= 0 {
		c.RenewInterval = defaultRenewInterval
	}
	if c.StatusUpdateFrequency <= 0 {
		c.StatusUpdateFrequency = defaultStatusUpdateFrequency
	}
	if c.StatusReportFrequency <= 0 {
		c.StatusReportFrequency = defaultStatusReportFrequency
	}
	return c
}

func (c Config) validate() error {
	if c.NodeName == "" {
		return fmt.Errorf("%w: a node name is required", ErrConfig)
	}
	if errs := validation.IsDNS1123Subdomain(c.NodeName); len(errs) > 0 {
		return fmt.Errorf("%w: node name %q: %v", ErrConfig, c.NodeName, errs)
	}
	for k, v := range c.labels() {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return fmt.Errorf("%w: label key %q: %v", ErrConfig, k, errs)
		}
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			return fmt.Errorf("%w: label %q value %q: %v", ErrConfig, k, v, errs)
		}
	}
	return nil
}

// RuntimeStatus is what the container runtime reports about itself.
type RuntimeStatus struct {
	// Version is the runtime's name and version, "containerd://1.6.20".
	Version string
	// RuntimeReady and NetworkReady are CRI's RuntimeReady and NetworkReady
	// conditions; the reasons and messages say why one is false.
	RuntimeReady   bool
	RuntimeReason  string
	RuntimeMessage string
	NetworkReady   bool
	NetworkReason  string
	NetworkMessage string
}

// RuntimeInfo asks the container runtime for its status; an error means the
// runtime cannot be reached.
type RuntimeInfo func(ctx context.Context) (RuntimeStatus, error)

// Agent registers the node and keeps its Lease and status.
type Agent struct {
	log     *slog.Logger
	client  kubernetes.Interface
	runtime RuntimeInfo
	clock   clock.WithTicker
	host    host
	cfg     Config

	registered, ready chan struct{}

	// lastReport is when the status was last written; only the status loop
	// touches it once registration is over.
	lastReport time.Time
	// lease is the Lease as last written, the base of the next renewal;
	// only the lease loop touches it.
	lease *coordinationv1.Lease
}

// New returns an agent for the node cfg describes; clock nil is the real
// clock.
func New(log *slog.Logger, client kubernetes.Interface, runtime RuntimeInfo, clk clock.WithTicker, cfg Config) (*Agent, error) {
	return newAgent(log, client, runtime, clk, procHost{}, cfg)
}

func newAgent(log *slog.Logger, client kubernetes.Interface, runtime RuntimeInfo, clk clock.WithTicker, h host, cfg Config) (*Agent, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if client == nil || runtime == nil {
		return nil, fmt.Errorf("%w: a client and a runtime are required", ErrConfig)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &Agent{
		log:        log,
		client:     client,
		runtime:    runtime,
		clock:      clk,
		host:       h,
		cfg:        cfg.withDefaults(),
		registered: make(chan struct{}),
		ready:      make(chan struct{}),
	}, nil
}

// Registered is closed once the Node exists with this agent's labels.
func (a *Agent) Registered() <-chan struct{} { return a.registered }

// Ready is closed once a posted status has said that the node is Ready.
func (a *Agent) Ready() <-chan struct{} { return a.ready }

// Run registers the node, retrying until it succeeds, then renews the Lease
// and posts the status until ctx ends. It is called once. Renewals wait for
// the registration because a Lease is created owned by its Node.
func (a *Agent) Run(ctx context.Context) error {
	if !a.register(ctx) {
		return nil
	}
	close(a.registered)
	var loops sync.WaitGroup
	loops.Go(func() { a.runLease(ctx) })
	a.runStatus(ctx)
	loops.Wait()
	return nil
}

// runLease renews the Lease every RenewInterval, starting now.
func (a *Agent) runLease(ctx context.Context) {
	t := a.clock.NewTicker(a.cfg.RenewInterval)
	defer t.Stop()
	for {
		a.renewOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}

// renewOnce bounds a renewal by the interval: a renewal stuck on a dead
// connection must not hold back the next one.
func (a *Agent) renewOnce(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, a.cfg.RenewInterval)
	defer cancel()
	if err := a.syncLease(rctx); err != nil && ctx.Err() == nil {
		a.log.Warn("renew node lease", "err", err)
	}
}

// runStatus computes the status every StatusUpdateFrequency, starting now.
// Until the node is first Ready, for at most fastStatusFor, it looks every
// fastStatusPeriod instead, as upstream's kubelet does at start, so that
// the node turns Ready as soon as its runtime and network are, not up to a
// period later.
func (a *Agent) runStatus(ctx context.Context) {
	t := a.clock.NewTicker(a.cfg.StatusUpdateFrequency)
	defer t.Stop()
	fastUntil := a.clock.Now().Add(fastStatusFor)
	reported := false
	for {
		if a.statusOnce(ctx) {
			fastUntil = time.Time{}
			if !reported {
				reported = true
				close(a.ready)
			}
		}
		var soon <-chan time.Time
		if a.clock.Now().Before(fastUntil) {
			soon = a.clock.After(fastStatusPeriod)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		case <-soon:
		}
	}
}

// statusOnce bounds a status update by the update period, for the same reason
// as renewOnce.
// It tells whether the node is Ready.
func (a *Agent) statusOnce(ctx context.Context) bool {
	sctx, cancel := context.WithTimeout(ctx, a.cfg.StatusUpdateFrequency)
	defer cancel()
	ready, err := a.syncStatus(sctx)
	if err != nil && ctx.Err() == nil {
		a.log.Warn("update node status", "err", err)
	}
	return ready
}
