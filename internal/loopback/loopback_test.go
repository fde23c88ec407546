package loopback

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Path", r.URL.RequestURI())
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "%s %s", r.Method, b)
	})
	c := &http.Client{Transport: New(h)}
	resp, err := c.Post("https://loopback/apis/x?y=1", "text/plain", strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("X-Path") != "/apis/x?y=1" || string(got) != "POST hello" {
		t.Fatalf("got %d %v %q", resp.StatusCode, resp.Header, got)
	}
}

func TestNoWriteIsOK(t *testing.T) {
	c := &http.Client{Transport: New(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))}
	resp, err := c.Get("https://loopback/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

// A watch streams events while the handler runs, and closing the body ends
// the handler through its request context.
func TestStreamAndCancel(t *testing.T) {
	ended := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(ended)
		for i := 0; ; i++ {
			if _, err := fmt.Fprintf(w, "event %d\n", i); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(time.Millisecond):
			}
		}
	})
	c := &http.Client{Transport: New(h)}
	resp, err := c.Get("https://loopback/watch")
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	for i := range 3 {
		if !sc.Scan() || sc.Text() != fmt.Sprintf("event %d", i) {
			t.Fatalf("line %d: %q %v", i, sc.Text(), sc.Err())
		}
	}
	resp.Body.Close()
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("handler still running after the body was closed")
	}
}

func TestCanceledBeforeHeaders(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://loopback/", nil)
	if _, err := New(h).RoundTrip(req); err == nil {
		t.Fatal("want an error for a canceled request")
	}
}

func TestHandlerPanicCutsTheBody(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "partial")
		panic("boom")
	})
	resp, err := (&http.Client{Transport: New(h)}).Get("https://loopback/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := io.ReadAll(resp.Body); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("want the panic as a read error, got %v", err)
	}
}
