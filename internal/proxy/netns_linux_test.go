package proxy

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"sigs.k8s.io/knftables"
)

// Tests and benchmarks that need root and the nft and ip binaries work only
// inside network namespaces they create: nothing touches the host's
// nftables or sends a packet outside those namespaces.

// rootReason says why real network namespaces cannot be used, or "".
func rootReason() string {
	if os.Geteuid() != 0 {
		return "needs root for network namespaces and nftables"
	}
	if sysSetns == 0 {
		return "setns number unknown on " + runtime.GOARCH
	}
	for _, bin := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(bin); err != nil {
			return "needs the " + bin + " binary"
		}
	}
	return ""
}

// sysSetns is setns(2), which package syscall does not name.
var sysSetns = map[string]uintptr{"amd64": 308, "arm64": 268, "riscv64": 268, "386": 346, "ppc64le": 350, "s390x": 339}[runtime.GOARCH]

func requireRoot(t testing.TB) {
	t.Helper()
	if r := rootReason(); r != "" {
		t.Skip(r)
	}
}

// newNetns creates a network namespace removed when the test ends, and
// returns its name and path.
func newNetns(t testing.TB, suffix string) (name, path string) {
	t.Helper()
	name = fmt.Sprintf("skiff-proxytest-%d-%s", os.Getpid(), suffix)
	ip(t, "netns", "add", name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	ip(t, "-n", name, "link", "set", "lo", "up")
	return name, filepath.Join("/run/netns", name)
}

func ip(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// inNetns runs fn on an OS thread switched into the network namespace at
// path. Sockets fn opens and processes it starts live in that namespace.
// The thread is never handed back to the runtime: it ends with fn.
func inNetns(path string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		errc <- func() error {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			if _, _, e := syscall.RawSyscall(sysSetns, f.Fd(), syscall.CLONE_NEWNET, 0); e != 0 {
				return fmt.Errorf("setns %s: %w", path, e)
			}
			if err := sameFile(path, "/proc/thread-self/ns/net"); err != nil {
				return fmt.Errorf("not in %s after setns: %w", path, err)
			}
			return fn()
		}()
	}()
	return <-errc
}

func sameFile(a, b string) error {
	var sa, sb syscall.Stat_t
	if err := syscall.Stat(a, &sa); err != nil {
		return err
	}
	if err := syscall.Stat(b, &sb); err != nil {
		return err
	}
	if sa.Dev != sb.Dev || sa.Ino != sb.Ino {
		return fmt.Errorf("%s and %s differ", a, b)
	}
	return nil
}

// nsNFT is knftables' real implementation run inside one namespace.
type nsNFT struct {
	path string
	nft  knftables.Interface
}

func newNsNFT(t testing.TB, path string) *nsNFT {
	t.Helper()
	n := &nsNFT{path: path}
	err := inNetns(path, func() (err error) {
		n.nft, err = knftables.New(knftables.IPv4Family, DefaultTable)
		return err
	})
	if err != nil {
		t.Fatalf("nftables in %s: %v", path, err)
	}
	return n
}

func (n *nsNFT) NewTransaction() *knftables.Transaction { return n.nft.NewTransaction() }

func (n *nsNFT) Run(ctx context.Context, tx *knftables.Transaction) error {
	return inNetns(n.path, func() error { return n.nft.Run(ctx, tx) })
}

func (n *nsNFT) Check(ctx context.Context, tx *knftables.Transaction) error {
	return inNetns(n.path, func() error { return n.nft.Check(ctx, tx) })
}

func (n *nsNFT) ListAll(ctx context.Context) (all map[string][]string, err error) {
	err = inNetns(n.path, func() (err error) { all, err = n.nft.ListAll(ctx); return err })
	return all, err
}

func (n *nsNFT) List(ctx context.Context, objectType string) (names []string, err error) {
	err = inNetns(n.path, func() (err error) { names, err = n.nft.List(ctx, objectType); return err })
	return names, err
}

func (n *nsNFT) ListRules(ctx context.Context, chain string) (rules []*knftables.Rule, err error) {
	err = inNetns(n.path, func() (err error) { rules, err = n.nft.ListRules(ctx, chain); return err })
	return rules, err
}

func (n *nsNFT) ListElements(ctx context.Context, objectType, name string) (elems []*knftables.Element, err error) {
	err = inNetns(n.path, func() (err error) { elems, err = n.nft.ListElements(ctx, objectType, name); return err })
	return elems, err
}

func (n *nsNFT) ListCounters(ctx context.Context) (counters []*knftables.Counter, err error) {
	err = inNetns(n.path, func() (err error) { counters, err = n.nft.ListCounters(ctx); return err })
	return counters, err
}

// nft runs the nft binary in the namespace and returns its output.
func (n *nsNFT) cli(t testing.TB, args ...string) string {
	t.Helper()
	var out []byte
	err := inNetns(n.path, func() (err error) {
		out, err = exec.Command("nft", args...).CombinedOutput()
		return err
	})
	if err != nil {
		t.Fatalf("nft %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// nsConntrack cleans conntrack entries of one namespace.
type nsConntrack struct{ path string }

func (c nsConntrack) DeleteUDP(ctx context.Context, flows []staleFlow) error {
	return inNetns(c.path, func() error { return newConntrack().DeleteUDP(ctx, flows) })
}
