// Package manager runs the scheduler and the controllers inside `skiff
// server`: one shared informer factory, one event broadcaster, and one
// leader election so that only one of several servers acts at a time.
package manager

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/controller"
)

// Factory builds one controller. Factories run in order, before the
// informers start, so that every controller registers its informers first.
type Factory struct {
	Name string
	New  func(cc controller.Context) (controller.Controller, error)
}

// Config configures the manager.
type Config struct {
	// Identity names this server in the leader lease; defaults to the
	// hostname plus the process id.
	Identity string
	// LeaseNamespace and LeaseName locate the leader lease.
	LeaseNamespace, LeaseName                 string
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// Clock is the controllers' time source; nil means the real clock.
	Clock clock.WithTicker
}

func (c *Config) applyDefaults() {
	if c.Identity == "" {
		host, _ := os.Hostname()
		c.Identity = fmt.Sprintf("%s_%d", host, os.Getpid())
	}
	if c.LeaseNamespace == "" {
		c.LeaseNamespace = "kube-system"
	}
	if c.LeaseName == "" {
		c.LeaseName = "skiff-controller-manager"
	}
	if c.LeaseDuration == 0 {
		c.LeaseDuration = 15 * time.Second
	}
	if c.RenewDeadline == 0 {
		c.RenewDeadline = 10 * time.Second
	}
	if c.RetryPeriod == 0 {
		c.RetryPeriod = 2 * time.Second
	}
	if c.Clock == nil {
		c.Clock = clock.RealClock{}
	}
}

// Manager runs controllers while it holds the leader lease.
type Manager struct {
	log       *slog.Logger
	client    kubernetes.Interface
	cfg       Config
	factories []Factory
}

// New returns a manager of the controllers the factories build.
func New(log *slog.Logger, client kubernetes.Interface, cfg Config, factories ...Factory) *Manager {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg.applyDefaults()
	return &Manager{log: log, client: client, cfg: cfg, factories: factories}
}

// Run campaigns for the lease and runs the controllers while leading. Losing
// the lease stops the controllers and returns an error, so that the server
// restarts cleanly instead of running two leaders.
func (m *Manager) Run(parent context.Context) error {
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: m.cfg.LeaseNamespace, Name: m.cfg.LeaseName},
		Client:     m.client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: m.cfg.Identity},
	}
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	runErr := make(chan error, 1)
	elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   m.cfg.LeaseDuration,
		RenewDeadline:   m.cfg.RenewDeadline,
		RetryPeriod:     m.cfg.RetryPeriod,
		ReleaseOnCancel: true,
		Name:            m.cfg.LeaseName,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) {
				m.log.Info("leading: starting controllers", "identity", m.cfg.Identity)
				runErr <- m.runControllers(ctx)
				cancel()
			},
			OnStoppedLeading: func() { m.log.Info("stopped leading", "identity", m.cfg.Identity) },
		},
	})
	if err != nil {
		return fmt.Errorf("leader election: %w", err)
	}
	elector.Run(ctx)
	if parent.Err() != nil {
		return nil // shutting down
	}
	select {
	case err := <-runErr:
		if err != nil {
			return err
		}
	default:
	}
	return errors.New("lost the leader lease")
}

func (m *Manager) runControllers(ctx context.Context) error {
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	defer broadcaster.Shutdown()
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: m.client.CoreV1().Events("")})
	cc := controller.Context{
		Log:       m.log,
		Client:    m.client,
		Informers: informers.NewSharedInformerFactory(m.client, 0),
		Recorder: func(component string) record.EventRecorder {
			return broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: component})
		},
		Clock: m.cfg.Clock,
	}
	controllers := make([]controller.Controller, 0, len(m.factories))
	for _, f := range m.factories {
		c, err := f.New(cc)
		if err != nil {
			return fmt.Errorf("%s: %w", f.Name, err)
		}
		controllers = append(controllers, c)
	}
	cc.Informers.Start(ctx.Done())
	defer cc.Informers.Shutdown()
	g, gctx := errgroup.WithContext(ctx)
	for i, c := range controllers {
		name := m.factories[i].Name
		g.Go(func() error {
			if err := c.Run(gctx); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	// Keep the lease while the server runs, even with nothing to run.
	<-ctx.Done()
	return nil
}
