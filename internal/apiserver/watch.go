package apiserver

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/skiff-sh/skiff/internal/envelope"
	"github.com/skiff-sh/skiff/internal/registry"
	"github.com/skiff-sh/skiff/internal/storage/watchcache"
)

// bookmarkInterval is how often an idle watch that allows bookmarks is told
// the current revision, so that its client can resume from it.
const bookmarkInterval = 30 * time.Second

// watchOne serves the legacy watch of one object by name
// (/watch/namespaces/NS/pods/NAME).
func (s *Server) watchOne(w http.ResponseWriter, r *http.Request, st *registry.Store, info requestInfo) error {
	q := r.URL.Query()
	q.Set("fieldSelector", fields.OneTermEqualSelector("metadata.name", info.Name).String())
	r.URL.RawQuery = q.Encode()
	info.Name = ""
	return s.watch(w, r, st, info)
}

func (s *Server) watch(w http.ResponseWriter, r *http.Request, st *registry.Store, info requestInfo) error {
	opts, err := s.listOptions(r)
	if err != nil {
		return err
	}
	out, err := negotiate(r)
	if err != nil {
		return err
	}
	timeout := time.Duration(30+rand.IntN(30)) * time.Minute
	if opts.TimeoutSeconds != nil {
		timeout = time.Duration(*opts.TimeoutSeconds) * time.Second
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()

	watcher, start, watchList, err := st.Watch(ctx, info.Namespace, opts)
	if err != nil {
		if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
			// Upstream reports an expired start in the stream, as an ERROR
			// event, which informers take as their cue to relist.
			return s.streamError(w, err)
		}
		return err
	}
	defer watcher.Stop()

	ws := &watchStream{s: s, w: w, st: st, out: out, firstTable: true}
	flusher, _ := w.(http.Flusher)
	ws.flush = func() {
		if flusher != nil {
			flusher.Flush()
		}
	}
	if out.protobuf {
		w.Header().Set("Content-Type", protobufStreamType)
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	w.Header().Set("Transfer-Encoding", "chunked")
	w.WriteHeader(http.StatusOK)
	ws.flush()

	for _, ev := range watcher.Initial() {
		if err := ws.send(ev.Type, ev.Object); err != nil {
			return nil
		}
	}
	if watchList {
		// The initial events end at the revision the watch started at.
		if err := ws.bookmark(start, true); err != nil {
			return nil
		}
	}
	ws.flush()
	lastSent := start
	ticker := time.NewTicker(bookmarkInterval)
	defer ticker.Stop()
	for {
		evs, rev, tick, err := watcher.Next(ctx, ticker.C)
		if err != nil {
			return nil // client gone, timeout, or watcher closed: end the stream
		}
		for _, ev := range evs {
			if err := ws.send(ev.Type, ev.Object); err != nil {
				return nil
			}
			lastSent = ev.Rev
		}
		if tick && opts.AllowWatchBookmarks && rev > lastSent {
			if err := ws.bookmark(rev, false); err != nil {
				return nil
			}
			lastSent = rev
		}
		ws.flush()
	}
}

type watchStream struct {
	s          *Server
	w          http.ResponseWriter
	st         *registry.Store
	out        output
	firstTable bool
	flush      func()
}

func (ws *watchStream) send(t watch.EventType, o *watchcache.Object) error {
	o, err := ws.st.Convert(o)
	if err != nil {
		return err
	}
	if ws.out.protobuf {
		return ws.sendProtobuf(t, o)
	}
	var b bytes.Buffer
	b.WriteString(`{"type":"`)
	b.WriteString(string(t))
	b.WriteString(`","object":`)
	switch ws.out.as {
	case asTable:
		tbl, err := ws.s.table(ws.st, []*watchcache.Object{o}, metav1.ListMeta{ResourceVersion: strconv.FormatInt(o.Rev, 10)}, ws.out, ws.firstTable)
		if err != nil {
			return err
		}
		ws.firstTable = false
		raw, err := json.Marshal(tbl)
		if err != nil {
			return err
		}
		b.Write(raw)
	case asPartial:
		p, err := partialOf(o.Obj)
		if err != nil {
			return err
		}
		raw, err := json.Marshal(p)
		if err != nil {
			return err
		}
		b.Write(raw)
	default:
		raw, err := o.JSON()
		if err != nil {
			return err
		}
		b.Write(raw)
	}
	b.WriteString("}\n")
	_, err = ws.w.Write(b.Bytes())
	return err
}

// bookmark tells the client every change up to rev has been sent. The end of
// a WatchList's initial events carries upstream's annotation.
func (ws *watchStream) bookmark(rev int64, initialEnd bool) error {
	gvk := ws.st.Resource().GVK()
	if ws.out.protobuf {
		obj, kind := ws.st.Resource().New(), gvk
		if ws.out.as == asPartial {
			obj, kind = &metav1.PartialObjectMetadata{}, partialGVK
		}
		a, err := meta.Accessor(obj)
		if err != nil {
			return err
		}
		a.SetResourceVersion(strconv.FormatInt(rev, 10))
		if initialEnd {
			a.SetAnnotations(map[string]string{metav1.InitialEventsAnnotationKey: "true"})
		}
		b, err := envelope.Marshal(kind, obj)
		if err != nil {
			return err
		}
		return ws.writeFrame(watch.Bookmark, b)
	}
	obj := map[string]any{
		"kind":       gvk.Kind,
		"apiVersion": gvk.GroupVersion().String(),
		"metadata":   map[string]any{"resourceVersion": strconv.FormatInt(rev, 10)},
	}
	if initialEnd {
		obj["metadata"].(map[string]any)["annotations"] = map[string]string{metav1.InitialEventsAnnotationKey: "true"}
	}
	raw, err := json.Marshal(map[string]any{"type": string(watch.Bookmark), "object": obj})
	if err != nil {
		return err
	}
	_, err = ws.w.Write(append(raw, '\n'))
	return err
}

// sendProtobuf writes one event frame carrying the object, or its partial
// metadata for metadata-only watches.
func (ws *watchStream) sendProtobuf(t watch.EventType, o *watchcache.Object) error {
	var obj []byte
	if ws.out.as == asPartial {
		p, err := partialOf(o.Obj)
		if err != nil {
			return err
		}
		if obj, err = envelope.Marshal(partialGVK, p); err != nil {
			return err
		}
	} else {
		msg, err := o.Protobuf()
		if err != nil {
			return err
		}
		if obj, err = envelope.Wrap(ws.st.Resource().GVK(), msg); err != nil {
			return err
		}
	}
	return ws.writeFrame(t, obj)
}

// writeFrame writes one length-prefixed protobuf watch event.
func (ws *watchStream) writeFrame(t watch.EventType, obj []byte) error {
	frame, err := protobufWatchFrame(string(t), obj)
	if err != nil {
		return err
	}
	_, err = ws.w.Write(frame)
	return err
}

// streamError answers a watch with a single ERROR event carrying the Status.
func (s *Server) streamError(w http.ResponseWriter, err error) error {
	status := err.(apierrors.APIStatus).Status()
	status.Kind, status.APIVersion = "Status", "v1"
	raw, merr := json.Marshal(map[string]any{"type": string(watch.Error), "object": status})
	if merr != nil {
		return apierrors.NewInternalError(merr)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append(raw, '\n'))
	return nil
}
