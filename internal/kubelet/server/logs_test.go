package server

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

const (
	running = runtimeapi.ContainerState_CONTAINER_RUNNING
	exited  = runtimeapi.ContainerState_CONTAINER_EXITED
	created = runtimeapi.ContainerState_CONTAINER_CREATED
)

// logPod lays out the logs of pod default/web (UID u1) the way the kubelet
// and containerd do and registers its sandbox with rt.
type logPod struct {
	t   *testing.T
	rt  *fakeRuntime
	dir string
}

func newLogPod(t *testing.T, rt *fakeRuntime, logsDir string) *logPod {
	rt.addSandbox("default", "web", "u1", true)
	return &logPod{t: t, rt: rt, dir: filepath.Join(logsDir, "default_web_u1")}
}

// container adds an instance of a container whose log holds content; the
// runtime reports its log path absolute unless relative is set.
func (p *logPod) container(name string, attempt uint32, state runtimeapi.ContainerState, content string, relative bool) (id, path string) {
	p.t.Helper()
	rel := filepath.Join(name, fmt.Sprintf("%d.log", attempt))
	path = filepath.Join(p.dir, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		p.t.Fatal(err)
	}
	reported := path
	if relative {
		reported = rel
	}
	return p.rt.addContainer("default", "web", "u1", name, attempt, state, reported), path
}

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Body.String()
}

func TestContainerLogs(t *testing.T) {
	logs := t.TempDir()
	rt := newFakeRuntime()
	pod := newLogPod(t, rt, logs)
	pod.container("app", 0, exited, rec(0, "stdout", "F", "first run"), false)
	pod.container("app", 1, exited, rec(10, "stdout", "F", "second run"), true)
	pod.container("app", 2, running, rec(20, "stdout", "F", "third run")+rec(21, "stderr", "F", "oops"), false)
	pod.container("side", 0, running, rec(0, "stdout", "F", "side"), false)
	pod.container("init", 0, exited, rec(0, "stdout", "F", "init done"), false)
	pod.container("waiting", 0, created, "", false)
	pod.container("restarting", 0, exited, rec(0, "stdout", "F", "crashed"), false)
	pod.container("restarting", 1, created, "", false)
	// A same-named pod that is gone: its sandbox is not ready.
	rt.addSandbox("default", "web", "u0", false)
	rt.addContainer("default", "web", "u0", "app", 0, exited, "/nonexistent")
	h := newTestServer(t, rt, Config{PodLogsDir: logs}).Handler()

	for _, tc := range []struct {
		name string
		path string
		code int
		body string
	}{
		{"current instance", "/containerLogs/default/web/app", 200, "third run\noops\n"},
		{"previous instance, its path relative", "/containerLogs/default/web/app?previous=true", 200, "second run\n"},
		{"timestamps and tail", "/containerLogs/default/web/app?timestamps=true&tailLines=1", 200, "2026-03-01T12:00:21.000000000Z oops\n"},
		{"other container", "/containerLogs/default/web/side", 200, "side\n"},
		{"exited container", "/containerLogs/default/web/init", 200, "init done\n"},
		{"created after a run shows that run", "/containerLogs/default/web/restarting", 200, "crashed\n"},
		{"no previous instance", "/containerLogs/default/web/side?previous=true", 400, `previous terminated container "side" in pod "web" not found`},
		{"not started yet", "/containerLogs/default/web/waiting", 400, `container "waiting" in pod "web" is waiting to start`},
		{"unknown container", "/containerLogs/default/web/nope", 404, `container "nope" not found in pod "web"`},
		{"unknown pod", "/containerLogs/default/db/app", 404, `pod "db" does not exist`},
		{"other namespace", "/containerLogs/other/web/app", 404, `pod "web" does not exist`},
		{"bad parameter", "/containerLogs/default/web/app?tailLines=-3", 400, "tailLines"},
		{"POST", "/containerLogs/default/web/app", 405, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := http.MethodGet
			if tc.name == "POST" {
				method = http.MethodPost
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(method, tc.path, nil))
			if rec.Code != tc.code {
				t.Fatalf("status %d (%q), want %d", rec.Code, rec.Body.String(), tc.code)
			}
			got := rec.Body.String()
			if tc.code == http.StatusOK && got != tc.body {
				t.Errorf("body %q, want %q", got, tc.body)
			}
			if !strings.Contains(got, tc.body) {
				t.Errorf("body %q, want it to say %q", got, tc.body)
			}
		})
	}
}

func TestContainerLogsFileMissing(t *testing.T) {
	logs := t.TempDir()
	rt := newFakeRuntime()
	newLogPod(t, rt, logs)
	rt.addContainer("default", "web", "u1", "app", 0, running, filepath.Join(logs, "gone.log"))
	code, body := get(t, newTestServer(t, rt, Config{PodLogsDir: logs}).Handler(), "/containerLogs/default/web/app")
	if code != http.StatusNotFound || !strings.Contains(body, "log file") {
		t.Errorf("got %d %q, want 404 for the missing log file", code, body)
	}
}

// follower reads a followed log line by line.
type follower struct {
	t     *testing.T
	lines chan string
	done  chan struct{}
}

func follow(t *testing.T, ctx context.Context, url string) *follower {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %s", resp.Status)
	}
	f := &follower{t: t, lines: make(chan string, 100), done: make(chan struct{})}
	go func() {
		defer close(f.done)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			f.lines <- sc.Text()
		}
	}()
	return f
}

func (f *follower) expect(want string) {
	f.t.Helper()
	select {
	case got := <-f.lines:
		if got != want {
			f.t.Fatalf("line %q, want %q", got, want)
		}
	case <-time.After(5 * time.Second):
		f.t.Fatalf("no line %q within 5s", want)
	}
}

func (f *follower) expectEnd() {
	f.t.Helper()
	select {
	case <-f.done:
	case <-time.After(5 * time.Second):
		f.t.Fatal("the followed log did not end within 5s")
	}
	if len(f.lines) > 0 {
		f.t.Fatalf("unexpected line %q", <-f.lines)
	}
}

func appendFile(t *testing.T, path, data string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(data); err != nil {
		t.Fatal(err)
	}
}

// followServer serves rt with fast polling; handlers reports each
// finished request.
func followServer(t *testing.T, rt *fakeRuntime, logs string) (*httptest.Server, chan struct{}) {
	t.Helper()
	s := newTestServer(t, rt, Config{PodLogsDir: logs})
	s.pollInterval, s.statusInterval = 5*time.Millisecond, 20*time.Millisecond
	finished := make(chan struct{}, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { finished <- struct{}{} }()
		s.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, finished
}

func TestFollowUntilContainerExits(t *testing.T) {
	logs := t.TempDir()
	rt := newFakeRuntime()
	pod := newLogPod(t, rt, logs)
	id, path := pod.container("app", 0, running, rec(0, "stdout", "F", "old")+rec(1, "stdout", "F", "recent"), false)
	srv, _ := followServer(t, rt, logs)

	f := follow(t, context.Background(), srv.URL+"/containerLogs/default/web/app?follow=true&tailLines=1")
	f.expect("recent")
	appendFile(t, path, rec(2, "stdout", "F", "new"))
	f.expect("new")
	// A line arrives in pieces, the last in two writes.
	appendFile(t, path, rec(3, "stderr", "P", "split "))
	appendFile(t, path, rec(3, "stderr", "P", "in "))
	full := rec(4, "stderr", "F", "pieces")
	appendFile(t, path, full[:10])
	time.Sleep(30 * time.Millisecond)
	appendFile(t, path, full[10:])
	f.expect("split in pieces")
	// What the container writes before it stops still goes out.
	appendFile(t, path, rec(5, "stdout", "F", "last words"))
	rt.setState(id, exited)
	f.expect("last words")
	f.expectEnd()
}

func TestFollowExitedContainerEnds(t *testing.T) {
	logs := t.TempDir()
	rt := newFakeRuntime()
	pod := newLogPod(t, rt, logs)
	pod.container("app", 0, exited, rec(0, "stdout", "F", "done"), false)
	srv, _ := followServer(t, rt, logs)
	f := follow(t, context.Background(), srv.URL+"/containerLogs/default/web/app?follow=true")
	f.expect("done")
	f.expectEnd()
}

func TestFollowEndsWithLimit(t *testing.T) {
	logs := t.TempDir()
	rt := newFakeRuntime()
	pod := newLogPod(t, rt, logs)
	_, path := pod.container("app", 0, running, rec(0, "stdout", "F", "12345"), false)
	srv, _ := followServer(t, rt, logs)
	f := follow(t, context.Background(), srv.URL+"/containerLogs/default/web/app?follow=true&limitBytes=10")
	f.expect("12345")
	appendFile(t, path, rec(1, "stdout", "F", "6789abc"))
	f.expect("6789")
	f.expectEnd()
}

func TestFollowAcrossRotation(t *testing.T) {
	logs := t.TempDir()
	rt := newFakeRuntime()
	pod := newLogPod(t, rt, logs)
	id, path := pod.container("app", 0, running, rec(0, "stdout", "F", "before"), false)
	srv, _ := followServer(t, rt, logs)
	f := follow(t, context.Background(), srv.URL+"/containerLogs/default/web/app?follow=true")
	f.expect("before")
	if err := os.Rename(path, path+".20260301-120000"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path+".20260301-120000", rec(1, "stdout", "F", "late in the old file"))
	appendFile(t, path, rec(2, "stdout", "F", "after"))
	f.expect("late in the old file")
	f.expect("after")
	rt.setState(id, exited)
	f.expectEnd()
}

func TestFollowStopsWhenClientLeaves(t *testing.T) {
	logs := t.TempDir()
	rt := newFakeRuntime()
	pod := newLogPod(t, rt, logs)
	pod.container("app", 0, running, rec(0, "stdout", "F", "hello"), false)
	srv, finished := followServer(t, rt, logs)
	ctx, cancel := context.WithCancel(context.Background())
	f := follow(t, ctx, srv.URL+"/containerLogs/default/web/app?follow=true")
	f.expect("hello")
	cancel()
	select {
	case <-finished:
	case <-time.After(5 * time.Second):
		t.Fatal("the handler kept following after the client left")
	}
	<-f.done
}

type fakeStatuses map[string]corev1.ContainerStatus

func (f fakeStatuses) ContainerStatus(podUID, container string) (corev1.ContainerStatus, bool) {
	st, ok := f[podUID+"/"+container]
	return st, ok
}

// During a crash loop the pod's status names the run that just ended as
// the last termination, and --previous shows it, as upstream; without a
// status the runtime's order picks the run before.
func TestPreviousFollowsTheReportedStatus(t *testing.T) {
	logs := t.TempDir()
	rt := newFakeRuntime()
	pod := newLogPod(t, rt, logs)
	pod.container("app", 0, exited, rec(0, "stdout", "F", "first crash"), false)
	second, _ := pod.container("app", 1, exited, rec(10, "stdout", "F", "second crash"), false)
	statuses := fakeStatuses{"u1/app": {
		Name:  "app",
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 1, ContainerID: "containerd://" + second,
		}},
	}}
	for _, tc := range []struct {
		name     string
		statuses ContainerStatuses
		want     string
	}{
		{"with the pod's status", statuses, "second crash\n"},
		{"runtime order alone", nil, "first crash\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newTestServer(t, rt, Config{PodLogsDir: logs, Statuses: tc.statuses}).Handler()
			if code, body := get(t, h, "/containerLogs/default/web/app?previous=true"); code != 200 || body != tc.want {
				t.Errorf("previous: %d %q, want %q", code, body, tc.want)
			}
		})
	}
}
