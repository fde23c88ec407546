// Package procmem trims the process's resident memory.
package procmem

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ReleaseStartupPages unmaps the resident pages of the executable's
// read-only mappings (code, read-only data and the function tables) and
// returns how many bytes were resident in them.
//
// One binary serves every role, and every linked package's initialisation
// runs at start, so start-up touches code all over the text segment; with
// the kernel's fault-around each touch maps 64 KiB of neighbours. Those
// pages stay mapped, and counted in the process's RSS, for its whole life.
// Dropping them once start-up is over leaves the page cache alone: pages
// the running process still uses fault back in, cheaply, and the rest are
// left to the kernel to reclaim. A mapping with private (written) pages,
// such as relocated data in a position-independent build, is skipped,
// since dropping would discard its contents.
func ReleaseStartupPages() (int64, error) {
	var exe unix.Stat_t
	if err := unix.Stat("/proc/self/exe", &exe); err != nil {
		return 0, fmt.Errorf("procmem: stat executable: %w", err)
	}
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return 0, fmt.Errorf("procmem: %w", err)
	}
	maps, err := parseSmaps(smaps)
	if err != nil {
		return 0, err
	}
	dev := fmt.Sprintf("%02x:%02x", unix.Major(exe.Dev), unix.Minor(exe.Dev))
	var released int64
	for _, m := range maps {
		if m.dev != dev || m.inode != exe.Ino || strings.Contains(m.perms, "w") || m.anonymous != 0 || m.rss == 0 {
			continue
		}
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, m.start, m.end-m.start, unix.MADV_DONTNEED); errno != 0 {
			return released, fmt.Errorf("procmem: madvise %x-%x: %w", m.start, m.end, errno)
		}
		released += m.rss
	}
	return released, nil
}

// mapping is one entry of /proc/PID/smaps; sizes are in bytes.
type mapping struct {
	start, end     uintptr
	perms, dev     string
	inode          uint64
	rss, anonymous int64
}

// parseSmaps reads the header line and the Rss and Anonymous fields of
// every mapping in an smaps file.
func parseSmaps(data []byte) ([]mapping, error) {
	var maps []mapping
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if !strings.HasSuffix(fields[0], ":") {
			m, err := parseHeader(fields)
			if err != nil {
				return nil, err
			}
			maps = append(maps, m)
			continue
		}
		if len(maps) == 0 || len(fields) < 2 {
			continue
		}
		m := &maps[len(maps)-1]
		switch fields[0] {
		case "Rss:":
			m.rss = kib(fields[1])
		case "Anonymous:":
			m.anonymous = kib(fields[1])
		}
	}
	return maps, sc.Err()
}

func parseHeader(fields []string) (mapping, error) {
	if len(fields) < 5 {
		return mapping{}, fmt.Errorf("procmem: malformed smaps line %q", strings.Join(fields, " "))
	}
	lo, hi, ok := strings.Cut(fields[0], "-")
	start, err1 := strconv.ParseUint(lo, 16, 64)
	end, err2 := strconv.ParseUint(hi, 16, 64)
	inode, err3 := strconv.ParseUint(fields[4], 10, 64)
	if !ok || err1 != nil || err2 != nil || err3 != nil {
		return mapping{}, fmt.Errorf("procmem: malformed smaps line %q", strings.Join(fields, " "))
	}
	return mapping{start: uintptr(start), end: uintptr(end), perms: fields[1], dev: fields[3], inode: inode}, nil
}

func kib(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n << 10
}
