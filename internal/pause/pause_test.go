package pause

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestBinaryIsStaticELF(t *testing.T) {
	program, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(program, []byte("\x7fELF")) {
		t.Fatalf("embedded program is not an ELF file (starts with %q)", program[:min(4, len(program))])
	}
	// A dynamic executable carries the name of its interpreter.
	if bytes.Contains(program, []byte("/lib64/ld-linux")) {
		t.Error("embedded program is dynamically linked")
	}
}

func TestEmbeddedMatchesSource(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go tool is not on PATH: cannot rebuild cmd/skiff-pause to compare")
	}
	out := filepath.Join(t.TempDir(), "pause.gz")
	gen := exec.Command("go", "run", "./gen", "-o", out)
	if output, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("go run ./gen: %v\n%s", err, output)
	}
	fresh, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fresh, pauseGz) {
		t.Fatalf("pause.gz (%d bytes) differs from a fresh build of cmd/skiff-pause (%d bytes): "+
			"run `go generate ./internal/pause` (a new Go toolchain also changes the bytes)", len(pauseGz), len(fresh))
	}
}

func TestProgramExitsZeroOnSignal(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skipf("the embedded program is linux/amd64; this is %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	program, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "skiff-pause")
	if err := os.WriteFile(path, program, 0o755); err != nil {
		t.Fatal(err)
	}

	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd, exited := startProgram(t, path, nil)

			waitStarted(t, cmd.Process.Pid, exited)

			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatalf("signal: %v", err)
			}
			select {
			case err := <-exited:
				var exitErr *exec.ExitError
				if errors.As(err, &exitErr) {
					t.Fatalf("exit after %v: %v", sig, exitErr)
				}
				if err != nil {
					t.Fatalf("wait: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("still running 10s after %v", sig)
			}
		})
	}
}

func TestProgramReapsOrphansAsPID1(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skipf("the embedded program is linux/amd64; this is %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a PID namespace")
	}
	for _, tool := range []string{"nsenter", "sh", "sleep"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s on PATH to place an orphan in the pause PID namespace", tool)
		}
	}
	program, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "skiff-pause")
	if err := os.WriteFile(path, program, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd, exited := startProgram(t, path, &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID})
	pausePID := cmd.Process.Pid
	waitStarted(t, pausePID, exited)

	// The shell exits at once (the sleep lets go of its output, which
	// CombinedOutput waits on); its background sleep is orphaned inside the
	// namespace and so becomes a child of pause. Once it is killed, pause must
	// reap it; killing pause at cleanup takes the whole namespace with it.
	enter := exec.Command("nsenter", "-t", strconv.Itoa(pausePID), "-p", "--", "sh", "-c", "sleep 60 >/dev/null 2>&1 &")
	if output, err := enter.CombinedOutput(); err != nil {
		t.Fatalf("nsenter: %v\n%s", err, output)
	}
	var orphan proc
	deadline := time.Now().Add(10 * time.Second)
	for {
		if children := childrenOf(t, pausePID); len(children) == 1 {
			orphan = children[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the orphaned sleep never became a child of pause %d", pausePID)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := syscall.Kill(orphan.pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill orphan: %v", err)
	}
	for len(childrenOf(t, pausePID)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("orphan %d of pause %d was not reaped: children now %v", orphan.pid, pausePID, childrenOf(t, pausePID))
		}
		time.Sleep(10 * time.Millisecond)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-exited; err != nil {
		t.Fatalf("pause after SIGTERM: %v", err)
	}
}

// startProgram starts the pause program and kills it at the end of the test
// if the test did not stop it.
func startProgram(t *testing.T, path string, attr *syscall.SysProcAttr) (*exec.Cmd, <-chan error) {
	t.Helper()
	cmd := exec.Command(path)
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	})
	return cmd, exited
}

// waitStarted waits until the program's main has had time to subscribe to
// signals. The Go runtime catches SIGTERM from its first instant, before main
// calls signal.Notify, and a SIGTERM in between kills the program, so after
// seeing the runtime's handler the test still gives main a moment.
func waitStarted(t *testing.T, pid int, exited <-chan error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !catches(t, pid, syscall.SIGTERM) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d never installed a SIGTERM handler", pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case err := <-exited:
		t.Fatalf("exited before any signal: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
}

func catches(t *testing.T, pid int, sig syscall.Signal) bool {
	t.Helper()
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatalf("read status: %v", err)
	}
	for line := range strings.Lines(string(status)) {
		hex, ok := strings.CutPrefix(line, "SigCgt:")
		if !ok {
			continue
		}
		mask, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
		if err != nil {
			t.Fatalf("parse SigCgt %q: %v", hex, err)
		}
		return mask&(1<<(uint(sig)-1)) != 0
	}
	return false
}

type proc struct {
	pid   int
	state byte
}

func (p proc) String() string { return fmt.Sprintf("%d(%c)", p.pid, p.state) }

func childrenOf(t *testing.T, parent int) []proc {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // exited meanwhile
		}
		// Fields after the parenthesised command name: state, ppid, ...
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(string(stat[i+1:]))
		if len(fields) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(fields[1]); ppid == parent {
			out = append(out, proc{pid: pid, state: fields[0][0]})
		}
	}
	return out
}
