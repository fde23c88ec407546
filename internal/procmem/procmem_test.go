package procmem

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestParseSmaps(t *testing.T) {
	smaps := `00400000-0254b000 r-xp 00000000 fe:01 1234    /usr/bin/skiff
Size:              34092 kB
Rss:               29420 kB
Anonymous:             0 kB
04d87000-04ee6000 rw-p 04986000 fe:01 1234    /usr/bin/skiff
Rss:                1404 kB
Anonymous:           300 kB
7fa5695fc000-7fa5698ac000 rw-p 00000000 00:00 0
Rss:                1600 kB
Anonymous:          1600 kB
`
	maps, err := parseSmaps([]byte(smaps))
	if err != nil {
		t.Fatal(err)
	}
	want := []mapping{
		{start: 0x400000, end: 0x254b000, perms: "r-xp", dev: "fe:01", inode: 1234, rss: 29420 << 10},
		{start: 0x4d87000, end: 0x4ee6000, perms: "rw-p", dev: "fe:01", inode: 1234, rss: 1404 << 10, anonymous: 300 << 10},
		{start: 0x7fa5695fc000, end: 0x7fa5698ac000, perms: "rw-p", dev: "00:00", rss: 1600 << 10, anonymous: 1600 << 10},
	}
	if len(maps) != len(want) {
		t.Fatalf("got %d mappings, want %d: %+v", len(maps), len(want), maps)
	}
	for i := range want {
		if maps[i] != want[i] {
			t.Errorf("mapping %d = %+v, want %+v", i, maps[i], want[i])
		}
	}
	if _, err := parseSmaps([]byte("zz-00 r-xp 0 fe:01 1\n")); err == nil {
		t.Error("a malformed header parsed")
	}
}

// TestReleaseStartupPages drops this test binary's code pages and goes on
// running it: the pages still in use fault back in.
func TestReleaseStartupPages(t *testing.T) {
	before := rssFile(t)
	released, err := ReleaseStartupPages()
	if err != nil {
		t.Fatal(err)
	}
	after := rssFile(t)
	if released <= 0 || after >= before {
		t.Fatalf("released %d bytes; file-backed RSS %d kB before, %d kB after", released, before, after)
	}
	// Code that had not run since start runs after the release.
	if got := strings.Repeat(strconv.Itoa(42), 2); got != "4242" {
		t.Fatalf("got %q", got)
	}
}

func rssFile(t *testing.T) int64 {
	t.Helper()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "RssFile:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}
