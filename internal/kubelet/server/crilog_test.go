package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// base is the time of the first record in these tests; rec(i, ...) is i
// seconds after it.
var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func rec(sec int, stream, tag, content string) string {
	return fmt.Sprintf("%s %s %s %s\n", base.Add(time.Duration(sec)*time.Second).Format(time.RFC3339Nano), stream, tag, content)
}

func TestParseRecord(t *testing.T) {
	for _, tc := range []struct {
		name string
		line string
		want record
		err  bool
	}{
		{
			name: "full",
			line: "2026-03-01T12:00:00.123456789Z stdout F hello world\n",
			want: record{time: base.Add(123456789), stream: "stdout", content: []byte("hello world")},
		},
		{
			name: "partial",
			line: "2026-03-01T12:00:00Z stderr P part",
			want: record{time: base, stream: "stderr", partial: true, content: []byte("part")},
		},
		{
			name: "more tags",
			line: "2026-03-01T12:00:00Z stdout F:x content with  spaces \n",
			want: record{time: base, stream: "stdout", content: []byte("content with  spaces ")},
		},
		{
			name: "empty line",
			line: "2026-03-01T12:00:00Z stdout F \n",
			want: record{time: base, stream: "stdout", content: []byte{}},
		},
		{
			name: "empty line without its space",
			line: "2026-03-01T12:00:00Z stdout F\n",
			want: record{time: base, stream: "stdout"},
		},
		{
			name: "other zone",
			line: "2026-03-01T14:00:00.5+02:00 stdout F x\n",
			want: record{time: base.Add(500 * time.Millisecond), stream: "stdout", content: []byte("x")},
		},
		{name: "not a log record", line: "plain text\n", err: true},
		{name: "bad timestamp", line: "yesterday stdout F x\n", err: true},
		{name: "bad stream", line: "2026-03-01T12:00:00Z stdin F x\n", err: true},
		{name: "no tag", line: "2026-03-01T12:00:00Z stdout\n", err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseRecord([]byte(tc.line))
			if tc.err {
				if !errors.Is(err, errMalformed) {
					t.Fatalf("err = %v, want errMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !got.time.Equal(tc.want.time) || got.stream != tc.want.stream || got.partial != tc.want.partial || !bytes.Equal(got.content, tc.want.content) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// readLog writes content to a log file and reads it back as a request
// without follow would.
func readLog(t *testing.T, content string, opts logOptions) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "0.log")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	s := newTestServer(t, newFakeRuntime(), Config{})
	f, err := openLog(path, opts.tail)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := s.copyLog(context.Background(), &out, func() {}, f, logTarget{path: path}, opts); err != nil && !errors.Is(err, errLimitReached) {
		t.Fatal(err)
	}
	return out.String()
}

func TestReadLog(t *testing.T) {
	all := logOptions{tail: -1, limit: -1}
	with := func(f func(*logOptions)) logOptions {
		o := all
		f(&o)
		return o
	}
	three := rec(0, "stdout", "F", "one") + rec(1, "stderr", "F", "two") + rec(2, "stdout", "F", "three")
	split := rec(0, "stdout", "F", "one") +
		rec(1, "stdout", "P", "tw") + rec(1, "stdout", "P", "o-") + rec(2, "stdout", "F", "two") +
		rec(3, "stdout", "F", "three")
	for _, tc := range []struct {
		name    string
		content string
		opts    logOptions
		want    string
	}{
		{name: "all", content: three, opts: all, want: "one\ntwo\nthree\n"},
		{name: "empty file", content: "", opts: all, want: ""},
		{name: "partial records joined", content: split, opts: all, want: "one\ntwo-two\nthree\n"},
		{
			name: "partial records joined per stream",
			content: rec(0, "stdout", "P", "out-") + rec(0, "stderr", "P", "err-") +
				rec(1, "stderr", "F", "end") + rec(1, "stdout", "F", "end"),
			opts: all,
			want: "err-end\nout-end\n",
		},
		{
			name:    "unfinished line at the end",
			content: rec(0, "stdout", "F", "one") + rec(1, "stdout", "P", "still wri"),
			opts:    all,
			want:    "one\nstill wri",
		},
		{
			name:    "record cut short at the end",
			content: three + strings.TrimSuffix(rec(3, "stdout", "F", "four"), "\n"),
			opts:    all,
			want:    "one\ntwo\nthree\nfour\n",
		},
		{name: "malformed lines skipped", content: "garbage\n" + three, opts: all, want: "one\ntwo\nthree\n"},
		{
			name:    "timestamps",
			content: rec(0, "stdout", "F", "one") + rec(1, "stdout", "P", "a") + rec(2, "stdout", "F", "b"),
			opts:    with(func(o *logOptions) { o.timestamps = true }),
			want:    "2026-03-01T12:00:00.000000000Z one\n2026-03-01T12:00:01.000000000Z ab\n",
		},
		{name: "tail 2", content: three, opts: with(func(o *logOptions) { o.tail = 2 }), want: "two\nthree\n"},
		{name: "tail 0", content: three, opts: with(func(o *logOptions) { o.tail = 0 }), want: ""},
		{name: "tail beyond the start", content: three, opts: with(func(o *logOptions) { o.tail = 10 }), want: "one\ntwo\nthree\n"},
		{name: "tail counts joined lines", content: split, opts: with(func(o *logOptions) { o.tail = 2 }), want: "two-two\nthree\n"},
		{
			name:    "tail counts a line still being written",
			content: split + rec(4, "stdout", "P", "fo"),
			opts:    with(func(o *logOptions) { o.tail = 2 }),
			want:    "three\nfo",
		},
		{
			name:    "tail of lines longer than a read",
			content: rec(0, "stdout", "F", strings.Repeat("a", tailChunk)) + rec(1, "stdout", "F", strings.Repeat("b", tailChunk+7)) + rec(2, "stdout", "F", "c"),
			opts:    with(func(o *logOptions) { o.tail = 2 }),
			want:    strings.Repeat("b", tailChunk+7) + "\nc\n",
		},
		{name: "limitBytes cuts mid-line", content: three, opts: with(func(o *logOptions) { o.limit = 6 }), want: "one\ntw"},
		{name: "limitBytes at a line end", content: three, opts: with(func(o *logOptions) { o.limit = 4 }), want: "one\n"},
		{
			name:    "limitBytes counts timestamps",
			content: three,
			opts:    with(func(o *logOptions) { o.limit = 10; o.timestamps = true }),
			want:    "2026-03-01",
		},
		{name: "sinceTime", content: three, opts: with(func(o *logOptions) { o.since = base.Add(time.Second) }), want: "two\nthree\n"},
		{
			name:    "sinceTime judges a joined line by its first part",
			content: split,
			opts:    with(func(o *logOptions) { o.since = base.Add(2 * time.Second) }),
			want:    "three\n",
		},
		{
			name:    "tail then sinceTime",
			content: three,
			opts:    with(func(o *logOptions) { o.tail = 2; o.since = base.Add(2 * time.Second) }),
			want:    "three\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := readLog(t, tc.content, tc.opts); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLongPartialLineGoesOutInPieces(t *testing.T) {
	piece := strings.Repeat("x", 16<<10)
	var content strings.Builder
	n := maxJoined/len(piece) + 1
	for range n {
		content.WriteString(rec(0, "stdout", "P", piece))
	}
	content.WriteString(rec(1, "stdout", "F", "end"))
	got := readLog(t, content.String(), logOptions{tail: -1, limit: -1, timestamps: true})
	want := "2026-03-01T12:00:00.000000000Z " + strings.Repeat(piece, n) + "end\n"
	if got != want {
		t.Errorf("got %d bytes, want %d: one timestamp and the whole line", len(got), len(want))
	}
}

func TestParseLogOptions(t *testing.T) {
	now := base.Add(time.Hour)
	for _, tc := range []struct {
		query string
		want  logOptions
		err   string
	}{
		{query: "", want: logOptions{tail: -1, limit: -1}},
		{
			query: "follow=true&previous=1&timestamps=true&tailLines=5&limitBytes=100",
			want:  logOptions{follow: true, previous: true, timestamps: true, tail: 5, limit: 100},
		},
		{query: "tail=7", want: logOptions{tail: 7, limit: -1}},
		{query: "tail=all&tailLines=3", want: logOptions{tail: -1, limit: -1}},
		{query: "sinceSeconds=60", want: logOptions{tail: -1, limit: -1, since: now.Add(-time.Minute)}},
		{query: "sinceTime=2026-03-01T12:00:00Z", want: logOptions{tail: -1, limit: -1, since: base}},
		{query: "follow=maybe", err: "follow"},
		{query: "tailLines=-1", err: "tailLines: must be greater than or equal to 0"},
		{query: "tailLines=x", err: "tailLines"},
		{query: "limitBytes=0", err: "limitBytes: must be greater than 0"},
		{query: "sinceSeconds=0", err: "sinceSeconds: must be greater than 0"},
		{query: "sinceSeconds=1&sinceTime=2026-03-01T12:00:00Z", err: "at most one of sinceTime or sinceSeconds"},
		{query: "sinceTime=yesterday", err: "sinceTime"},
	} {
		t.Run(tc.query, func(t *testing.T) {
			q, err := url.ParseQuery(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			got, err := parseLogOptions(q, now)
			if tc.err != "" {
				if !errors.Is(err, errBadRequest) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want a bad request about %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !got.since.Equal(tc.want.since) {
				t.Errorf("since %v, want %v", got.since, tc.want.since)
			}
			got.since, tc.want.since = time.Time{}, time.Time{}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
