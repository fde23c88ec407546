// Command skiff is a lightweight Kubernetes-compatible container orchestrator
// in one binary.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"k8s.io/klog/v2"

	"github.com/skiff-sh/skiff/internal/procmem"
	"github.com/skiff-sh/skiff/internal/server"
	"github.com/skiff-sh/skiff/internal/version"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "skiff:", err)
		os.Exit(1)
	}
}

const usage = `skiff: a lightweight Kubernetes-compatible orchestrator

Usage:
  skiff server --data-dir DIR [flags]   run the control plane and this machine as a node
  skiff agent --kubeconfig F [flags]     run this machine as a node of a cluster
  skiff image import|ls|rm               manage the images nodes start without a registry
  skiff sim --kubeconfig F --nodes N     attach simulated nodes (for scale tests)
  skiff version                          print the version

Run "skiff COMMAND -h" for a command's flags.
`

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("a command is required")
	}
	switch args[0] {
	case "server":
		return runServer(args[1:], stdout, stderr)
	case "agent":
		return runAgent(args[1:], stdout, stderr)
	case "image":
		return runImage(args[1:], stdout, stderr)
	case "sim":
		return runSim(args[1:], stdout, stderr)
	case "version", "--version":
		v := version.Get()
		fmt.Fprintf(stdout, "skiff %s (Kubernetes API %s, %s)\n", v.GitVersion, v.GitVersion, v.GoVersion)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

func runServer(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("skiff server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg server.Config
	var etcd string
	var disableAgent bool
	var logLevel string
	fs.StringVar(&cfg.DataDir, "data-dir", "", "directory for the cluster's state (required)")
	fs.StringVar(&cfg.BindAddress, "bind-address", "127.0.0.1", "address the API listens on")
	fs.IntVar(&cfg.HTTPSPort, "https-port", 6443, "port the API listens on")
	fs.StringVar(&etcd, "etcd-endpoints", "", "comma-separated URLs of an external etcd cluster (default: embedded etcd)")
	fs.IntVar(&cfg.EtcdClientPort, "etcd-client-port", 2379, "loopback client port of the embedded etcd")
	fs.IntVar(&cfg.EtcdPeerPort, "etcd-peer-port", 2380, "loopback peer port of the embedded etcd")
	fs.StringVar(&cfg.ServiceCIDR, "service-cidr", "10.43.0.0/16", "range of Service cluster IPs")
	fs.StringVar(&cfg.ClusterCIDR, "cluster-cidr", "10.42.0.0/16", "range of pod IPs")
	fs.StringVar(&cfg.NodePortRange, "service-node-port-range", "30000-32767", "range of Service node ports")
	fs.StringVar(&cfg.TokenAuthFile, "token-auth-file", "", "CSV file of bearer tokens: token,user,uid,\"group1,group2\"")
	fs.BoolVar(&disableAgent, "disable-agent", false, "run the control plane only: this machine is not a node")
	var node nodeFlags
	node.register(fs)
	fs.BoolVar(&cfg.DisableControllerManager, "disable-controller-manager", false, "serve the API only: no scheduler, no controllers")
	fs.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if etcd != "" {
		cfg.EtcdEndpoints = strings.Split(etcd, ",")
	}
	log, err := newLogger(stderr, logLevel)
	if err != nil {
		return err
	}
	cfg.Version = version.Get()
	if !disableAgent {
		if cfg.Agent, err = node.config(); err != nil {
			return err
		}
	}
	srv, err := server.New(log, cfg)
	if err != nil {
		return err
	}
	return runUntilSignal(log, srv.Run, srv.Ready(), srv.Settled(), stdout,
		fmt.Sprintf("Skiff is ready. To use it:\n  export KUBECONFIG=%s\n  kubectl get namespaces\n", srv.KubeconfigPath()))
}

// runUntilSignal runs a component until SIGINT or SIGTERM, printing message
// once it is ready. Once its start-up is over (settled), the process gives
// up the pages of its code that only start-up used (see
// procmem.ReleaseStartupPages).
func runUntilSignal(log *slog.Logger, run func(context.Context) error, ready, settled <-chan struct{}, stdout io.Writer, message string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		if !closedBefore(ctx, ready) {
			return
		}
		fmt.Fprint(stdout, message)
		if !closedBefore(ctx, settled) {
			return
		}
		released, err := procmem.ReleaseStartupPages()
		if err != nil {
			log.Warn("could not release start-up pages", "err", err)
			return
		}
		log.Debug("released start-up pages", "MiB", released>>20)
	}()
	return run(ctx)
}

// closedBefore waits for ch to close and tells whether it did before ctx
// ended.
func closedBefore(ctx context.Context, ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	case <-ctx.Done():
		return false
	}
}

// newLogger returns the command's logger, and routes client-go's klog output
// to it.
func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
	klog.SetSlogLogger(log)
	return log, nil
}
