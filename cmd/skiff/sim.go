package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/skiff-sh/skiff/internal/sim"
)

// runSim attaches simulated nodes to a cluster. SIGUSR1 fails the nodes named
// by --fail (their heartbeats stop) and SIGUSR2 brings them back, so that a
// test can take a node down at the moment it chooses.
func runSim(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("skiff sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg sim.Config
	var kubeconfig string
	var fail multiFlag
	fs.StringVar(&kubeconfig, "kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig of the cluster to join")
	fs.IntVar(&cfg.Nodes, "nodes", 1, "number of simulated nodes")
	fs.StringVar(&cfg.NamePrefix, "name-prefix", sim.DefaultNamePrefix, "node name prefix; nodes are PREFIX0, PREFIX1, ...")
	fs.StringVar(&cfg.CPU, "cpu", "32", "CPU capacity of each node")
	fs.StringVar(&cfg.Memory, "memory", "256Gi", "memory capacity of each node")
	fs.StringVar(&cfg.Pods, "pods", "110", "pod capacity of each node")
	fs.DurationVar(&cfg.HeartbeatInterval, "heartbeat-interval", sim.DefaultHeartbeatInterval, "how often each node renews its Lease")
	fs.DurationVar(&cfg.CompletionDelay, "completion-delay", sim.DefaultCompletionDelay, "how long a pod with restartPolicy other than Always runs before it succeeds")
	fs.Var(&fail, "fail", "node to fail on SIGUSR1 and recover on SIGUSR2 (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if kubeconfig == "" {
		return fmt.Errorf("--kubeconfig is required")
	}
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("load kubeconfig: %w", err)
	}
	rc.QPS, rc.Burst = 1000, 2000
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	klog.SetSlogLogger(log)
	s, err := sim.New(log, client, cfg)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(signals)
	go func() {
		for {
			select {
			case sig := <-signals:
				for _, n := range fail {
					if sig == syscall.SIGUSR1 {
						s.Fail(n)
					} else {
						s.Recover(n)
					}
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		select {
		case <-s.Ready():
			fmt.Fprintf(stdout, "%d simulated nodes registered\n", cfg.Nodes)
		case <-ctx.Done():
		}
	}()
	return s.Run(ctx)
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return fmt.Sprint([]string(*m)) }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
