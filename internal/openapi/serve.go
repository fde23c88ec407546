package openapi

import (
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	openapi_v3 "github.com/google/gnostic-models/openapiv3"
	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

const (
	mimeJSON = "application/json"
	// kubectl asks with "@v1.0" but only parses the dotted form back.
	mimeV2Proto = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
	mimeV3Proto = "application/com.github.proto-openapi.spec.v3.v1.0+protobuf"
)

// servedDoc is a serialised document with its validators.
type servedDoc struct {
	json     []byte
	jsonETag string

	protoOnce sync.Once
	proto     []byte
	protoETag string
	protoErr  error
}

type v3Doc struct {
	servedDoc
	hash string
}

func newServedDoc(body []byte) servedDoc {
	return servedDoc{json: body, jsonETag: etag(body)}
}

func hashOf(body []byte) string {
	return fmt.Sprintf("%X", sha512.Sum512(body))
}

func etag(body []byte) string {
	return `"` + hashOf(body) + `"`
}

// protobuf converts the JSON form with parse on first use; gnostic parsing
// is far slower than building the document.
func (d *servedDoc) protobuf(parse func([]byte) (proto.Message, error)) ([]byte, string, error) {
	d.protoOnce.Do(func() {
		msg, err := parse(d.json)
		if err != nil {
			d.protoErr = fmt.Errorf("parse openapi document: %w", err)
			return
		}
		d.proto, d.protoErr = proto.Marshal(msg)
		if d.protoErr != nil {
			d.protoErr = fmt.Errorf("marshal openapi protobuf: %w", d.protoErr)
			return
		}
		d.protoETag = etag(d.proto)
	})
	return d.proto, d.protoETag, d.protoErr
}

func parseV2(b []byte) (proto.Message, error) { return openapi_v2.ParseDocument(b) }
func parseV3(b []byte) (proto.Message, error) { return openapi_v3.ParseDocument(b) }

func (s *Spec) v2Doc() (*servedDoc, error) {
	s.v2Once.Do(func() {
		body, err := json.Marshal(s.v2Document())
		if err != nil {
			s.v2Err = fmt.Errorf("marshal openapi v2: %w", err)
			return
		}
		s.v2 = newServedDoc(body)
	})
	return &s.v2, s.v2Err
}

// V2JSON returns the serialised OpenAPI v2 document.
func (s *Spec) V2JSON() ([]byte, error) {
	d, err := s.v2Doc()
	if err != nil {
		return nil, err
	}
	return d.json, nil
}

// ServeV2 serves GET /openapi/v2 as JSON or, when asked, gnostic protobuf.
func (s *Spec) ServeV2(w http.ResponseWriter, r *http.Request) {
	d, err := s.v2Doc()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	serveDoc(w, r, d, parseV2, "com.github.proto-openapi.spec.v2", mimeV2Proto)
}

// serveDoc writes d, in protobuf when the client prefers protoToken's
// media type (protoToken "" disables protobuf).
func serveDoc(w http.ResponseWriter, r *http.Request, d *servedDoc, parse func([]byte) (proto.Message, error), protoToken, protoMime string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, tag, mime := d.json, d.jsonETag, mimeJSON
	if protoToken != "" && wantsProto(r.Header.Values("Accept"), protoToken) {
		var err error
		body, tag, err = d.protobuf(parse)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		mime = protoMime
	}
	h := w.Header()
	h.Set("ETag", tag)
	h.Set("Vary", "Accept")
	if matchesETag(r.Header.Get("If-None-Match"), tag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", mime)
	h.Set("Content-Length", fmt.Sprint(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body)
}

// wantsProto reports whether the Accept header prefers the protobuf form:
// listed before any JSON alternative.
func wantsProto(accept []string, token string) bool {
	for _, header := range accept {
		for part := range strings.SplitSeq(header, ",") {
			mt, _, _ := strings.Cut(strings.TrimSpace(part), ";")
			switch {
			case strings.Contains(mt, token):
				return true
			case mt == mimeJSON || mt == "*/*" || mt == "application/*":
				return false
			}
		}
	}
	return false
}

func matchesETag(ifNoneMatch, tag string) bool {
	if ifNoneMatch == "" {
		return false
	}
	for part := range strings.SplitSeq(ifNoneMatch, ",") {
		p := strings.TrimPrefix(strings.TrimSpace(part), "W/")
		if p == tag || p == "*" {
			return true
		}
	}
	return false
}

// ---- v3 ----

// v3Key is the index key of a group version: "api/v1" or "apis/apps/v1".
func v3Key(gv schema.GroupVersion) string {
	return strings.TrimPrefix(pathPrefix(gv), "/")
}

func (s *Spec) v3Init() error {
	s.v3Once.Do(func() {
		gvs := map[schema.GroupVersion]bool{}
		for _, p := range s.paths {
			gvs[p.gv] = true
		}
		s.v3Docs = map[string]*v3Doc{}
		index := map[string]any{}
		for gv := range gvs {
			body, err := json.Marshal(s.v3Document(gv))
			if err != nil {
				s.v3Err = fmt.Errorf("marshal openapi v3 %s: %w", gv, err)
				return
			}
			key := v3Key(gv)
			doc := &v3Doc{servedDoc: newServedDoc(body), hash: hashOf(body)}
			s.v3Docs[key] = doc
			index[key] = map[string]any{"serverRelativeURL": "/openapi/v3/" + key + "?hash=" + doc.hash}
		}
		body, err := json.Marshal(map[string]any{"paths": index})
		if err != nil {
			s.v3Err = fmt.Errorf("marshal openapi v3 index: %w", err)
			return
		}
		s.v3Index = newServedDoc(body)
	})
	return s.v3Err
}

// ServeV3 serves GET /openapi/v3 (the index) and /openapi/v3/<group
// version> (one document, JSON or gnostic protobuf).
func (s *Spec) ServeV3(w http.ResponseWriter, r *http.Request) {
	if err := s.v3Init(); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	key := strings.Trim(strings.TrimPrefix(r.URL.Path, "/openapi/v3"), "/")
	if key == "" {
		serveDoc(w, r, &s.v3Index, nil, "", "")
		return
	}
	doc, ok := s.v3Docs[key]
	if !ok {
		writeNotFound(w, r.URL.Path)
		return
	}
	switch hash := r.URL.Query().Get("hash"); hash {
	case "":
		w.Header().Set("Cache-Control", "no-cache, private")
	case doc.hash:
		// The hash pins the content, so clients may cache it for good.
		w.Header().Set("Cache-Control", "public, immutable")
		w.Header().Set("Expires", time.Now().AddDate(1, 0, 0).UTC().Format(http.TimeFormat))
	default:
		// A stale hash: send the client to the current document.
		http.Redirect(w, r, "/openapi/v3/"+key+"?hash="+doc.hash, http.StatusMovedPermanently)
		return
	}
	serveDoc(w, r, &doc.servedDoc, parseV3, "com.github.proto-openapi.spec.v3", mimeV3Proto)
}

func writeNotFound(w http.ResponseWriter, path string) {
	w.Header().Set("Content-Type", mimeJSON)
	w.WriteHeader(http.StatusNotFound)
	body, _ := json.Marshal(map[string]any{
		"kind": "Status", "apiVersion": "v1", "metadata": map[string]any{},
		"status": "Failure", "message": fmt.Sprintf("the server could not find the requested resource (path %s)", path),
		"reason": "NotFound", "code": http.StatusNotFound,
	})
	_, _ = w.Write(body)
}
