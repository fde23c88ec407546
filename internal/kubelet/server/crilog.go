package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"
)

// A CRI log file holds one record per line:
//
//	<RFC3339Nano time> <stdout|stderr> <tags> <content>
//
// where the first of the ':'-separated tags is F for a record that ends a
// line of output or P for a piece of a longer line the runtime split.

const (
	streamStdout = "stdout"
	streamStderr = "stderr"

	// timestampLayout is how timestamps=true prefixes lines: RFC 3339 with
	// all nine fraction digits, so that prefixes line up, as upstream's.
	timestampLayout = "2006-01-02T15:04:05.000000000Z07:00"

	// maxJoined bounds how much of a line split into partial records is
	// held back waiting for its end; beyond it the pieces go out as they
	// are.
	maxJoined = 1 << 20
	// recordHead is how much of a record tailStart reads to find its tag.
	recordHead = 128
	// tailChunk is how much tailStart reads backwards at a time.
	tailChunk = 32 << 10
)

var (
	errMalformed = errors.New("server: malformed log record")
	// errLimitReached stops a log once the request's limits are met.
	errLimitReached = errors.New("server: log limit reached")
)

// record is one parsed line of a CRI log file.
type record struct {
	time    time.Time
	stream  string
	partial bool
	content []byte // without the newline
}

func parseRecord(line []byte) (record, error) {
	line = bytes.TrimSuffix(line, []byte{'\n'})
	ts, rest, ok := bytes.Cut(line, []byte{' '})
	if !ok {
		return record{}, fmt.Errorf("%w: no timestamp", errMalformed)
	}
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	if err != nil {
		return record{}, fmt.Errorf("%w: timestamp: %w", errMalformed, err)
	}
	stream, rest, ok := bytes.Cut(rest, []byte{' '})
	if !ok {
		return record{}, fmt.Errorf("%w: no stream", errMalformed)
	}
	if s := string(stream); s != streamStdout && s != streamStderr {
		return record{}, fmt.Errorf("%w: unknown stream %q", errMalformed, s)
	}
	// An empty line may have lost the space before its empty content.
	tags, content, _ := bytes.Cut(rest, []byte{' '})
	tag, _, _ := bytes.Cut(tags, []byte{':'})
	if len(tag) == 0 {
		return record{}, fmt.Errorf("%w: no tag", errMalformed)
	}
	return record{time: t, stream: string(stream), partial: string(tag) == "P", content: content}, nil
}

// endsLine reports whether a raw line, of which head is the beginning, is a
// record that completes a line of output.
func endsLine(head []byte) bool {
	r, err := parseRecord(head)
	return err == nil && !r.partial
}

// logOptions are the query parameters of a log request.
type logOptions struct {
	follow     bool
	previous   bool
	timestamps bool
	// tail is how many lines from the end to start at; -1 for all.
	tail int64
	// limit is how many bytes to send at most; -1 for no limit.
	limit int64
	// since drops lines older than it.
	since time.Time
}

// logWriter turns records into what a client reads: partial records joined
// per stream into lines, optional timestamps, and the request's limits.
type logWriter struct {
	w          io.Writer
	since      time.Time
	timestamps bool
	// remain is the bytes left to send; negative when unlimited.
	remain int64
	// lines is the lines left to send; negative when unlimited.
	// Lines older than since count too: the limit is on what the file
	// held when the request came.
	lines int64
	// open holds, per stream, a line whose end has not been read yet.
	open      map[string]*openLine
	malformed int
	buf       []byte
}

type openLine struct {
	time time.Time
	data []byte
	// started is set once part of the line went out without its end.
	started bool
}

// newLogWriter writes to w; lines (negative for no limit) bounds how many
// lines it writes, which only a log read to its current end wants.
func newLogWriter(w io.Writer, opts logOptions, lines int64) *logWriter {
	return &logWriter{
		w:          w,
		since:      opts.since,
		timestamps: opts.timestamps,
		remain:     opts.limit,
		lines:      lines,
		open:       map[string]*openLine{},
	}
}

// writeRaw writes one raw line of a log file. It returns errLimitReached
// once nothing more may be written.
func (lw *logWriter) writeRaw(raw []byte) error {
	r, err := parseRecord(raw)
	if err != nil {
		lw.malformed++
		return nil
	}
	return lw.add(r)
}

func (lw *logWriter) add(r record) error {
	ol := lw.open[r.stream]
	if r.partial {
		if ol == nil {
			ol = &openLine{time: r.time}
			lw.open[r.stream] = ol
		}
		ol.data = append(ol.data, r.content...)
		if len(ol.data) < maxJoined {
			return nil
		}
		err := lw.emit(ol.time, ol.data, !ol.started, false)
		ol.data, ol.started = ol.data[:0], true
		return err
	}
	if ol == nil {
		return lw.emitLine(r.time, r.content, true)
	}
	delete(lw.open, r.stream)
	return lw.emitLine(ol.time, append(ol.data, r.content...), !ol.started)
}

// emitLine writes a complete line and counts it against the line limit.
func (lw *logWriter) emitLine(t time.Time, content []byte, prefix bool) error {
	if err := lw.emit(t, content, prefix, true); err != nil {
		return err
	}
	if lw.lines > 0 {
		lw.lines--
	}
	if lw.lines == 0 {
		return errLimitReached
	}
	return nil
}

func (lw *logWriter) emit(t time.Time, content []byte, prefix, newline bool) error {
	if lw.lines == 0 {
		return errLimitReached
	}
	if t.Before(lw.since) {
		return nil
	}
	b := lw.buf[:0]
	if lw.timestamps && prefix {
		b = t.AppendFormat(b, timestampLayout)
		b = append(b, ' ')
	}
	b = append(b, content...)
	if newline {
		b = append(b, '\n')
	}
	lw.buf = b
	if lw.remain >= 0 && int64(len(b)) > lw.remain {
		b = b[:lw.remain]
	}
	n, err := lw.w.Write(b)
	if err != nil {
		return err
	}
	if lw.remain >= 0 {
		lw.remain -= int64(n)
		if lw.remain == 0 {
			return errLimitReached
		}
	}
	return nil
}

// finish writes what is left of lines whose end never came, as it is.
func (lw *logWriter) finish() error {
	for _, stream := range []string{streamStdout, streamStderr} {
		ol := lw.open[stream]
		if ol == nil {
			continue
		}
		delete(lw.open, stream)
		if err := lw.emit(ol.time, ol.data, !ol.started, false); err != nil {
			return err
		}
	}
	return nil
}

// tailStart returns the offset in a log file of size bytes at which its
// last n lines of output begin: after the record completing the line before
// them. A line still being written at the end counts as one. n < 0 means
// the whole file.
func tailStart(r io.ReaderAt, size, n int64) (int64, error) {
	if n < 0 {
		return 0, nil
	}
	if n == 0 {
		return size, nil
	}
	sc := backScanner{r: r, off: size}
	end := size
	var found int64
	for {
		start, head, err := sc.prev()
		if err != nil {
			return 0, err
		}
		if head == nil {
			return 0, nil
		}
		if end < size && endsLine(head) {
			found++
			if found == n {
				return end, nil
			}
		}
		end = start
	}
}

// backScanner yields a file's raw lines from the last to the first.
type backScanner struct {
	r io.ReaderAt
	// buf holds the file's bytes from off up to the end of the line prev
	// returns next.
	buf []byte
	off int64
}

// prev returns the offset and beginning of the line before the last one
// returned, or a nil head at the start of the file.
func (b *backScanner) prev() (int64, []byte, error) {
	for {
		if len(b.buf) == 0 && b.off == 0 {
			return 0, nil, nil
		}
		// The line's own newline, if any, is its last byte.
		if len(b.buf) > 0 {
			if i := bytes.LastIndexByte(b.buf[:len(b.buf)-1], '\n'); i >= 0 {
				start := b.off + int64(i) + 1
				line := b.buf[i+1:]
				b.buf = b.buf[:i+1]
				return start, line[:min(len(line), recordHead)], nil
			}
		}
		if b.off == 0 {
			line := b.buf
			b.buf = nil
			return 0, line[:min(len(line), recordHead)], nil
		}
		from := max(b.off-tailChunk, 0)
		chunk := make([]byte, b.off-from, int64(len(b.buf))+b.off-from)
		if _, err := b.r.ReadAt(chunk, from); err != nil && !errors.Is(err, io.EOF) {
			return 0, nil, fmt.Errorf("read log backwards: %w", err)
		}
		b.buf = append(chunk, b.buf...)
		b.off = from
	}
}
