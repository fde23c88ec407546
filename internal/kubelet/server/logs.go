package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// serveLogs answers GET /containerLogs/{namespace}/{pod}/{container}.
func (s *Server) serveLogs(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	pod := podRef{namespace: r.PathValue("namespace"), name: r.PathValue("pod")}
	container := r.PathValue("container")
	opts, err := parseLogOptions(r.URL.Query(), time.Now())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	target, err := s.logTarget(ctx, pod, container, opts.previous)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	f, err := openLog(target.path, opts.tail)
	if errors.Is(err, fs.ErrNotExist) {
		s.writeError(w, r, notFound("log file of container %q in pod %q not found", container, pod.name))
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}

	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	flush := func() { _ = rc.Flush() }
	err = s.copyLog(ctx, w, flush, f, target, opts)
	flush()
	if err != nil && !errors.Is(err, errLimitReached) && ctx.Err() == nil {
		s.log.Warn("sending container log failed", "pod", pod.namespace+"/"+pod.name, "container", container, "err", err)
	}
}

// openLog opens a log file at the start of its last tail lines.
func openLog(path string, tail int64) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open log: %w", err)
	}
	start, err := tailStart(f, fi.Size(), tail)
	if err == nil {
		_, err = f.Seek(start, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("find the last %d lines of %s: %w", tail, path, err)
	}
	return f, nil
}

func parseLogOptions(q url.Values, now time.Time) (logOptions, error) {
	opts := logOptions{tail: -1, limit: -1}
	var err error
	if opts.follow, err = boolParam(q, "follow"); err != nil {
		return opts, err
	}
	if opts.previous, err = boolParam(q, "previous"); err != nil {
		return opts, err
	}
	if opts.timestamps, err = boolParam(q, "timestamps"); err != nil {
		return opts, err
	}
	// "tail" is the old name of tailLines, where "all" meant no limit.
	tail := q.Get("tailLines")
	if t := q.Get("tail"); t != "" {
		tail = t
		if t == "all" {
			tail = ""
		}
	}
	if tail != "" {
		if opts.tail, err = intParam("tailLines", tail); err != nil {
			return opts, err
		}
		if opts.tail < 0 {
			return opts, badRequest("tailLines: must be greater than or equal to 0")
		}
	}
	if v := q.Get("limitBytes"); v != "" {
		if opts.limit, err = intParam("limitBytes", v); err != nil {
			return opts, err
		}
		if opts.limit < 1 {
			return opts, badRequest("limitBytes: must be greater than 0")
		}
	}
	sinceSeconds, sinceTime := q.Get("sinceSeconds"), q.Get("sinceTime")
	switch {
	case sinceSeconds != "" && sinceTime != "":
		return opts, badRequest("at most one of sinceTime or sinceSeconds may be specified")
	case sinceSeconds != "":
		n, err := intParam("sinceSeconds", sinceSeconds)
		if err != nil {
			return opts, err
		}
		if n < 1 {
			return opts, badRequest("sinceSeconds: must be greater than 0")
		}
		opts.since = now.Add(-time.Duration(n) * time.Second)
	case sinceTime != "":
		t, err := time.Parse(time.RFC3339, sinceTime)
		if err != nil {
			return opts, badRequest("sinceTime: invalid time %q: must be RFC 3339", sinceTime)
		}
		opts.since = t
	}
	return opts, nil
}

// boolParam reads a flag; an absent or empty one is false.
func boolParam(q url.Values, name string) (bool, error) {
	v := q.Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, badRequest("%s: invalid value %q: must be true or false", name, v)
	}
	return b, nil
}

func intParam(name, v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, badRequest("%s: invalid value %q: must be an integer", name, v)
	}
	return n, nil
}

// logTarget is the container instance whose log a request reads.
type logTarget struct {
	containerID string
	path        string
}

// logTarget finds the container instance a log request means: the newest,
// or with previous the newest exited one of an earlier attempt.
func (s *Server) logTarget(ctx context.Context, pod podRef, container string, previous bool) (logTarget, error) {
	sb, err := s.findSandbox(ctx, pod)
	if err != nil {
		return logTarget{}, err
	}
	uid := sandboxUID(sb)
	cs, err := s.instances(ctx, uid, container)
	if err != nil {
		return logTarget{}, err
	}
	if len(cs) == 0 {
		return logTarget{}, notFound("container %q not found in pod %q", container, pod.name)
	}
	current := cs[0]
	var pick *runtimeapi.Container
	switch {
	case previous:
		pick = s.reportedPrevious(uid, container, cs)
		if pick == nil {
			pick = lastExited(cs[1:], current.GetMetadata().GetAttempt())
		}
		if pick == nil {
			return logTarget{}, badRequest("previous terminated container %q in pod %q not found", container, pod.name)
		}
	case current.GetState() == runtimeapi.ContainerState_CONTAINER_RUNNING,
		current.GetState() == runtimeapi.ContainerState_CONTAINER_EXITED:
		pick = current
	default:
		// Not started yet: as upstream, the last run that ended speaks
		// for the container meanwhile.
		pick = lastExited(cs[1:], current.GetMetadata().GetAttempt())
		if pick == nil {
			return logTarget{}, badRequest("container %q in pod %q is waiting to start: ContainerCreating", container, pod.name)
		}
	}
	resp, err := s.rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: pick.GetId()})
	if err != nil {
		return logTarget{}, fmt.Errorf("status of container %s: %w", pick.GetId(), err)
	}
	path := resp.GetStatus().GetLogPath()
	if !filepath.IsAbs(path) {
		// The runtime reports the path the kubelet asked for, which some
		// report relative to the pod's log directory.
		dir := filepath.Join(s.cfg.PodLogsDir, fmt.Sprintf("%s_%s_%s", pod.namespace, pod.name, uid))
		if path == "" {
			path = filepath.Join(container, fmt.Sprintf("%d.log", pick.GetMetadata().GetAttempt()))
		}
		path = filepath.Join(dir, path)
	}
	return logTarget{containerID: pick.GetId(), path: path}, nil
}

// reportedPrevious is the instance the pod's status names as the
// container's last termination, as upstream's kubelet picks it; nil when
// no status is known.
func (s *Server) reportedPrevious(uid, container string, cs []*runtimeapi.Container) *runtimeapi.Container {
	if s.cfg.Statuses == nil {
		return nil
	}
	st, ok := s.cfg.Statuses.ContainerStatus(uid, container)
	if !ok || st.LastTerminationState.Terminated == nil {
		return nil
	}
	_, id, _ := strings.Cut(st.LastTerminationState.Terminated.ContainerID, "://")
	for _, c := range cs {
		if c.GetId() == id {
			return c
		}
	}
	return nil
}

// lastExited returns the first exited container in cs (newest first) of an
// attempt before attempt.
func lastExited(cs []*runtimeapi.Container, attempt uint32) *runtimeapi.Container {
	for _, c := range cs {
		if c.GetState() == runtimeapi.ContainerState_CONTAINER_EXITED && c.GetMetadata().GetAttempt() < attempt {
			return c
		}
	}
	return nil
}

// copyLog sends the log in f, from its current offset, to w, and closes f.
// Without follow it stops at the end of the file; with follow it waits for
// more until the container stops running and the file is drained, the
// client goes away, or a limit is met. If the file is rotated meanwhile
// (renamed and created again, the runtime reopening it), copyLog moves on
// to the new one.
func (s *Server) copyLog(ctx context.Context, w io.Writer, flush func(), f *os.File, target logTarget, opts logOptions) error {
	defer func() { f.Close() }()
	lines := int64(-1)
	if !opts.follow {
		lines = opts.tail
	}
	lw := newLogWriter(w, opts, lines)
	defer func() {
		if lw.malformed > 0 {
			s.log.Debug("skipped malformed log records", "path", target.path, "count", lw.malformed)
		}
	}()
	r := bufio.NewReaderSize(f, 64<<10)
	var (
		carry     []byte // a record still being written
		following = opts.follow
		lastCheck time.Time
		rotated   bool
		tick      *time.Ticker
	)
	for {
		line, err := r.ReadBytes('\n')
		if err == nil {
			if len(carry) > 0 {
				line, carry = append(carry, line...), nil
			}
			if err := lw.writeRaw(line); err != nil {
				return err
			}
			continue
		}
		if !errors.Is(err, io.EOF) {
			return fmt.Errorf("read %s: %w", target.path, err)
		}
		carry = append(carry, line...)
		if rotated {
			// The old file is drained; what it ends with unfinished
			// will not be finished.
			if len(carry) > 0 {
				if err := lw.writeRaw(carry); err != nil {
					return err
				}
				carry = nil
			}
			next, err := os.Open(target.path)
			if err != nil {
				return fmt.Errorf("reopen rotated log: %w", err)
			}
			f.Close()
			f, rotated = next, false
			r.Reset(next)
			continue
		}
		if !following {
			if len(carry) > 0 {
				if err := lw.writeRaw(carry); err != nil {
					return err
				}
			}
			return lw.finish()
		}
		flush()
		if time.Since(lastCheck) >= s.statusInterval {
			lastCheck = time.Now()
			running, err := s.isRunning(ctx, target.containerID)
			if err != nil {
				return err
			}
			if !running {
				// Read what the container wrote before it stopped, then end.
				following = false
				continue
			}
		}
		if rotated = isRotated(f, target.path); rotated {
			continue
		}
		if tick == nil {
			tick = time.NewTicker(s.pollInterval)
			defer tick.Stop()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// isRotated reports whether path now names another file than f.
func isRotated(f *os.File, path string) bool {
	cur, err := f.Stat()
	if err != nil {
		return false
	}
	// Missing between the rename and the runtime's reopening: not yet.
	fi, err := os.Stat(path)
	return err == nil && !os.SameFile(cur, fi)
}

func (s *Server) isRunning(ctx context.Context, id string) (bool, error) {
	resp, err := s.rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id})
	if status.Code(err) == codes.NotFound {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("status of container %s: %w", id, err)
	}
	return resp.GetStatus().GetState() == runtimeapi.ContainerState_CONTAINER_RUNNING, nil
}
