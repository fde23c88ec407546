package containerd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary stand in for containerd: linked under one of
// these names it plays that part instead of running tests.
func TestMain(m *testing.M) {
	switch filepath.Base(os.Args[0]) {
	case "fake-containerd-cri":
		os.Exit(fakeCRI())
	case "fake-containerd-crash":
		fmt.Fprintln(os.Stderr, `time="2026-01-01T00:00:00Z" level=info msg="starting"`)
		fmt.Fprintln(os.Stderr, `time="2026-01-01T00:00:00Z" level=fatal msg="boom"`)
		os.Exit(1)
	case "fake-containerd-mute":
		// Never answers, but stops when asked.
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM)
		<-sigs
		os.Exit(0)
	case "fake-containerd-stubborn":
		// Never answers and ignores SIGTERM; the supervisor must kill it.
		signal.Ignore(syscall.SIGTERM)
		time.Sleep(time.Hour)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// fakeCRI serves a CRI Version on the socket named in the config until SIGTERM.
func fakeCRI() int {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	if len(os.Args) != 3 || os.Args[1] != "--config" {
		fmt.Fprintln(os.Stderr, "usage: --config FILE")
		return 2
	}
	config, err := os.ReadFile(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	_, grpcSection, _ := strings.Cut(string(config), "[grpc]")
	_, rest, _ := strings.Cut(grpcSection, "address = ")
	quoted, _, _ := strings.Cut(rest, "\n")
	socket, err := strconv.Unquote(quoted)
	if err != nil {
		fmt.Fprintf(os.Stderr, "no grpc address in config: %v\n", err)
		return 1
	}
	stop, err := serveFakeRuntime(socket, "fake-containerd")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	<-sigs
	stop()
	return 0
}

// fakeBinary returns a path that runs the test binary as the named fake.
func fakeBinary(t *testing.T, name string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), name)
	if err := os.Symlink(self, link); err != nil {
		t.Fatal(err)
	}
	return link
}

// testLogger writes to the test's log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// startRun runs s in the background; the returned function cancels it and
// returns Run's error, failing the test if Run does not return in time.
func startRun(t *testing.T, s *Supervisor) (stop func() error, done <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx) }()
	stopped := false
	stop = func() error {
		t.Helper()
		stopped = true
		cancel()
		select {
		case err := <-errc:
			return err
		case <-time.After(30 * time.Second):
			t.Fatal("Run did not return 30s after cancel")
			return nil
		}
	}
	t.Cleanup(func() {
		if !stopped {
			cancel()
			<-errc
		}
	})
	return stop, errc
}

func waitReady(t *testing.T, s *Supervisor, done <-chan error, timeout time.Duration) {
	t.Helper()
	select {
	case <-s.Ready():
	case err := <-done:
		t.Fatalf("Run returned before ready: %v", err)
	case <-time.After(timeout):
		t.Fatalf("not ready within %s", timeout)
	}
}

// processesWithArg lists the processes whose command line contains arg.
func processesWithArg(t *testing.T, arg string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue // exited meanwhile
		}
		for _, a := range bytes.Split(cmdline, []byte{0}) {
			if string(a) == arg {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

func TestRunUntilCancelled(t *testing.T) {
	dir := t.TempDir()
	s, err := New(testLogger(t), Config{DataDir: dir, SandboxImage: "p:1", Binary: fakeBinary(t, "fake-containerd-cri"), CNIBinDir: "/c"})
	if err != nil {
		t.Fatal(err)
	}
	stop, done := startRun(t, s)
	waitReady(t, s, done, 10*time.Second)

	configPath := filepath.Join(dir, "config.toml")
	if pids := processesWithArg(t, configPath); len(pids) != 1 {
		t.Fatalf("processes running with %s: %v, want one", configPath, pids)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := Dial(ctx, s.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	for _, dir := range []string{s.cfg.CNIConfDir, s.cfg.RegistryConfigDir} {
		if info, err := os.Stat(dir); err != nil || !info.IsDir() {
			t.Errorf("directory %s not created: %v", dir, err)
		}
	}

	if err := stop(); err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
	if pids := processesWithArg(t, configPath); len(pids) != 0 {
		t.Fatalf("processes still running with %s: %v", configPath, pids)
	}
	if err := s.Run(context.Background()); !errors.Is(err, ErrAlreadyRun) {
		t.Fatalf("second Run: %v, want ErrAlreadyRun", err)
	}
}

func TestRunReportsExit(t *testing.T) {
	dir := t.TempDir()
	binary := fakeBinary(t, "fake-containerd-crash")
	for run := range 2 {
		s, err := New(testLogger(t), Config{DataDir: dir, SandboxImage: "p:1", Binary: binary, CNIBinDir: "/c"})
		if err != nil {
			t.Fatal(err)
		}
		err = s.Run(context.Background())
		if !errors.Is(err, ErrExited) || !strings.Contains(err.Error(), `msg="boom"`) {
			t.Fatalf("run %d: Run = %v, want ErrExited with the last output", run, err)
		}
		select {
		case <-s.Ready():
			t.Fatal("Ready closed for a containerd that never answered")
		default:
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "containerd.log.1")); err != nil {
		t.Fatalf("previous run's log not kept: %v", err)
	}
}

func TestRunStopsWhenCancelledDuringStart(t *testing.T) {
	dir := t.TempDir()
	s, err := New(testLogger(t), Config{DataDir: dir, SandboxImage: "p:1", Binary: fakeBinary(t, "fake-containerd-mute"), CNIBinDir: "/c"})
	if err != nil {
		t.Fatal(err)
	}
	stop, _ := startRun(t, s)
	configPath := filepath.Join(dir, "config.toml")
	deadline := time.Now().Add(10 * time.Second)
	for len(processesWithArg(t, configPath)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("fake containerd never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run cancelled during start: %v, want nil", err)
	}
	if pids := processesWithArg(t, configPath); len(pids) != 0 {
		t.Fatalf("processes still running with %s: %v", configPath, pids)
	}
}

func TestRunKillsWhatNeverAnswers(t *testing.T) {
	dir := t.TempDir()
	s, err := New(testLogger(t), Config{
		DataDir: dir, SandboxImage: "p:1", Binary: fakeBinary(t, "fake-containerd-stubborn"), CNIBinDir: "/c",
		StartTimeout: 300 * time.Millisecond, StopTimeout: 300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no CRI answer") || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("Run = %v, want a start timeout and a kill", err)
	}
	if pids := processesWithArg(t, filepath.Join(dir, "config.toml")); len(pids) != 0 {
		t.Fatalf("processes still running: %v", pids)
	}
}

func TestRunRefusesSocketInUse(t *testing.T) {
	dir := t.TempDir()
	s, err := New(testLogger(t), Config{DataDir: dir, SandboxImage: "p:1", Binary: fakeBinary(t, "fake-containerd-cri"), CNIBinDir: "/c"})
	if err != nil {
		t.Fatal(err)
	}
	stopOther, err := serveFakeRuntime(s.socket, "other")
	if err != nil {
		t.Fatal(err)
	}
	defer stopOther()
	if err := s.Run(context.Background()); !errors.Is(err, ErrSocketInUse) {
		t.Fatalf("Run = %v, want ErrSocketInUse", err)
	}
}
