// Package containerd runs the node's own containerd as a child of the agent,
// configured for CRI, and writes the registry host files that containerd reads.
//
// Everything that containerd owns lives under Config.DataDir:
//
//	config.toml          rewritten at every start
//	root/, state/        containerd's root and state directories
//	containerd.sock      the CRI and containerd API (see below)
//	containerd.log       its output; the previous run's is containerd.log.1
//	cni/net.d/           CNI configuration (default CNIConfDir)
//	certs.d/             registry hosts.toml files (default RegistryConfigDir)
//
// A unix socket path must fit in 108 bytes, and containerd listens on a second
// socket with ".ttrpc" appended. When DataDir/containerd.sock is too long for
// that, the socket goes to /run/skiff/<first 16 hex digits of sha256(DataDir)>/
// instead, which is stable across restarts and distinct per data dir; Endpoint
// reports wherever it is. The runc shims of containerd 1.6 put their own
// sockets in /run/containerd/s whatever the configuration, named by a hash of
// this socket's path, so several agents on one machine do not collide there.
package containerd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/skiff-sh/skiff/internal/fsutil"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

var (
	// ErrExited means containerd ended while it should have been running.
	ErrExited = errors.New("containerd: exited unexpectedly")
	// ErrSocketInUse means another process already serves the socket, most
	// likely a containerd left running on the same data dir.
	ErrSocketInUse = errors.New("containerd: socket already in use")
	// ErrAlreadyRun means Run was called a second time on one Supervisor.
	ErrAlreadyRun = errors.New("containerd: supervisor already ran")
)

// Config says where containerd keeps its data and how it reaches images and
// pod networks.
type Config struct {
	// DataDir holds everything containerd owns (see the package doc). Required.
	DataDir string
	// Binary is the containerd executable; default "containerd" from PATH.
	Binary string
	// SandboxImage is the image of every pod's infra container, already
	// imported into containerd's k8s.io namespace. Required: the upstream
	// default lives on a registry the node may not reach.
	SandboxImage string
	// CNIBinDir holds the CNI plugins; default the first of /opt/cni/bin,
	// /usr/lib/cni and /usr/libexec/cni that has bridge, host-local and loopback.
	CNIBinDir string
	// CNIConfDir is where containerd looks for the pod network; default
	// DataDir/cni/net.d.
	CNIConfDir string
	// RegistryConfigDir holds one directory of hosts.toml per registry (see
	// WriteHosts); default DataDir/certs.d.
	RegistryConfigDir string
	// RegistryAuth are credentials by registry host ("host[:port]", mirrors
	// included), for pulls that bring none of their own.
	RegistryAuth map[string]RegistryAuth
	// StartTimeout bounds the wait for containerd's first CRI answer; default 1m.
	StartTimeout time.Duration
	// StopTimeout is how long containerd gets to exit after SIGTERM before it
	// is killed; default 10s.
	StopTimeout time.Duration
}

// Supervisor runs one containerd process for the lifetime of Run.
type Supervisor struct {
	log    *slog.Logger
	cfg    Config
	socket string
	ready  chan struct{}
	ran    atomic.Bool
}

// New checks cfg and applies its defaults; it starts nothing.
func New(log *slog.Logger, cfg Config) (*Supervisor, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.DataDir == "" {
		return nil, errors.New("containerd: DataDir is required")
	}
	if cfg.SandboxImage == "" {
		return nil, errors.New("containerd: SandboxImage is required")
	}
	for host, a := range cfg.RegistryAuth {
		if host == "" {
			return nil, errors.New("containerd: registry credentials for an empty host")
		}
		if err := a.Validate(); err != nil {
			return nil, fmt.Errorf("containerd: registry credentials for %s: %w", host, err)
		}
	}
	if cfg.Binary == "" {
		cfg.Binary = "containerd"
	}
	binary, err := exec.LookPath(cfg.Binary)
	if err != nil {
		return nil, fmt.Errorf("containerd: find binary: %w", err)
	}
	cfg.Binary = binary
	if cfg.CNIBinDir == "" {
		dir, ok := detectCNIBinDir([]string{"/opt/cni/bin", "/usr/lib/cni", "/usr/libexec/cni"})
		if !ok {
			// Not fatal: host-network pods still run, and plugins installed
			// later in containerd's usual place are picked up.
			dir = "/opt/cni/bin"
			log.Warn("no CNI plugins found; pod networks will fail until they are installed", "dir", dir)
		}
		cfg.CNIBinDir = dir
	}
	if cfg.CNIConfDir == "" {
		cfg.CNIConfDir = filepath.Join(cfg.DataDir, "cni", "net.d")
	}
	if cfg.RegistryConfigDir == "" {
		cfg.RegistryConfigDir = filepath.Join(cfg.DataDir, "certs.d")
	}
	// containerd would resolve relative paths against the agent's working
	// directory at start, which is not necessarily where they were meant.
	for _, p := range []*string{&cfg.DataDir, &cfg.CNIBinDir, &cfg.CNIConfDir, &cfg.RegistryConfigDir} {
		if *p, err = filepath.Abs(*p); err != nil {
			return nil, fmt.Errorf("containerd: %w", err)
		}
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = time.Minute
	}
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = 10 * time.Second
	}
	return &Supervisor{
		log:    log,
		cfg:    cfg,
		socket: socketPath(cfg.DataDir),
		ready:  make(chan struct{}),
	}, nil
}

// Endpoint is the CRI endpoint of this containerd, as a unix:// URL.
func (s *Supervisor) Endpoint() string { return "unix://" + s.socket }

// Ready is closed once containerd answers CRI calls.
func (s *Supervisor) Ready() <-chan struct{} { return s.ready }

// Run writes containerd's configuration, starts it and waits until it answers
// CRI, then blocks until ctx ends and stops it: SIGTERM, then SIGKILL after
// StopTimeout. It returns an error wrapping ErrExited if containerd ends on its
// own; restarting is the caller's decision. Containers survive a containerd
// stop: their shims are separate processes that the next containerd adopts.
func (s *Supervisor) Run(ctx context.Context) error {
	if !s.ran.CompareAndSwap(false, true) {
		return ErrAlreadyRun
	}
	configPath, err := s.prepare()
	if err != nil {
		return err
	}
	logPath := filepath.Join(s.cfg.DataDir, "containerd.log")
	if err := os.Rename(logPath, logPath+".1"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("containerd: keep previous log: %w", err)
	}
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("containerd: open log: %w", err)
	}
	defer logFile.Close()

	cmd := exec.Command(s.cfg.Binary, "--config", configPath)
	// A file, not a pipe: no copying goroutine, and nothing for cmd.Wait to
	// wait on should a grandchild keep the descriptors.
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Its own process group, so that a Ctrl-C at the agent's terminal
		// reaches only the agent, which then stops containerd in order.
		Setpgid: true,
		// An agent that dies without stopping containerd must not leave it
		// holding the socket for the next agent. Containers live on in their
		// shims either way.
		Pdeathsig: syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("containerd: start %s: %w", s.cfg.Binary, err)
	}
	s.log.Info("containerd started", "pid", cmd.Process.Pid, "endpoint", s.Endpoint(), "log", logPath)

	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	exitedErr := func() error {
		return fmt.Errorf("%w (%v); last output: %s", ErrExited, waitErr, lastLines(logPath, 3))
	}

	if err := s.waitReady(ctx, exited); err != nil {
		select {
		case <-exited:
			return exitedErr()
		default:
		}
		stopErr := s.stop(cmd.Process, exited)
		if ctx.Err() != nil {
			return stopErr
		}
		return errors.Join(err, stopErr)
	}
	close(s.ready)

	select {
	case <-exited:
		return exitedErr()
	case <-ctx.Done():
		return s.stop(cmd.Process, exited)
	}
}

// prepare creates the directories and writes config.toml, returning its path.
func (s *Supervisor) prepare() (string, error) {
	dirs := []struct {
		path string
		perm os.FileMode
	}{
		// Traversable, as containerd makes its own root: container processes
		// with other users may need to reach paths beneath.
		{s.cfg.DataDir, 0o711},
		{s.cfg.CNIConfDir, 0o755},
		{s.cfg.RegistryConfigDir, 0o755},
		{filepath.Dir(s.socket), 0o700},
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d.path, d.perm); err != nil {
			return "", fmt.Errorf("containerd: create %s: %w", d.path, err)
		}
	}
	// containerd removes a socket file it finds at start, even one another
	// containerd is serving; refuse instead of stealing it.
	if conn, err := net.DialTimeout("unix", s.socket, time.Second); err == nil {
		conn.Close()
		return "", fmt.Errorf("%w: %s", ErrSocketInUse, s.socket)
	}
	config, err := renderConfig(s.configParams())
	if err != nil {
		return "", err
	}
	configPath := filepath.Join(s.cfg.DataDir, "config.toml")
	if err := fsutil.WriteFile(configPath, config, 0o600); err != nil {
		return "", fmt.Errorf("containerd: write config: %w", err)
	}
	return configPath, nil
}

func (s *Supervisor) configParams() configParams {
	return configParams{
		Root:              filepath.Join(s.cfg.DataDir, "root"),
		State:             filepath.Join(s.cfg.DataDir, "state"),
		Socket:            s.socket,
		SandboxImage:      s.cfg.SandboxImage,
		CNIBinDir:         s.cfg.CNIBinDir,
		CNIConfDir:        s.cfg.CNIConfDir,
		RegistryConfigDir: s.cfg.RegistryConfigDir,
		RegistryAuth:      s.cfg.RegistryAuth,
	}
}

// waitReady polls CRI Version until containerd answers. Version fails until
// the CRI plugin has finished initialising, so an answer means pods can run.
func (s *Supervisor) waitReady(ctx context.Context, exited <-chan struct{}) error {
	conn, err := newConn(s.socket)
	if err != nil {
		return err
	}
	defer conn.Close()
	client := runtimeapi.NewRuntimeServiceClient(conn)

	deadline := time.NewTimer(s.cfg.StartTimeout)
	defer deadline.Stop()
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()
	for {
		attempt, cancel := context.WithTimeout(ctx, time.Second)
		v, err := client.Version(attempt, &runtimeapi.VersionRequest{})
		cancel()
		if err == nil {
			s.log.Info("containerd ready", "runtime", v.RuntimeName, "version", v.RuntimeVersion, "criVersion", v.RuntimeApiVersion)
			return nil
		}
		select {
		case <-exited:
			return ErrExited
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("containerd: no CRI answer within %s: %w", s.cfg.StartTimeout, err)
		case <-poll.C:
		}
	}
}

// stop asks containerd to exit and kills it if it has not after StopTimeout.
func (s *Supervisor) stop(proc *os.Process, exited <-chan struct{}) error {
	if err := proc.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("containerd: signal pid %d: %w", proc.Pid, err)
	}
	timer := time.NewTimer(s.cfg.StopTimeout)
	defer timer.Stop()
	select {
	case <-exited:
		s.log.Info("containerd stopped", "pid", proc.Pid)
		return nil
	case <-timer.C:
	}
	s.log.Warn("containerd still running after SIGTERM; killing it", "pid", proc.Pid, "timeout", s.cfg.StopTimeout)
	if err := proc.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("containerd: kill pid %d: %w", proc.Pid, err)
	}
	<-exited
	return fmt.Errorf("containerd: killed after not stopping within %s", s.cfg.StopTimeout)
}

// lastLines returns up to n of the last lines of a log, on one line, so that
// an error says why containerd died without a trip to the file.
func lastLines(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	defer f.Close()
	const window = 4 << 10
	if info, err := f.Stat(); err == nil && info.Size() > window {
		if _, err := f.Seek(-window, io.SeekEnd); err != nil {
			return fmt.Sprintf("(cannot read %s: %v)", path, err)
		}
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	lines := strings.Split(string(bytes.TrimSpace(data)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return fmt.Sprintf("%s (full log: %s)", strings.Join(lines, " | "), path)
}
