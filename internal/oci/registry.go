package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Error codes of the OCI distribution spec, plus distribution's UNKNOWN
// for failures of the registry itself.
const (
	codeBlobUnknown     = "BLOB_UNKNOWN"
	codeDigestInvalid   = "DIGEST_INVALID"
	codeManifestUnknown = "MANIFEST_UNKNOWN"
	codeNameInvalid     = "NAME_INVALID"
	codeNameUnknown     = "NAME_UNKNOWN"
	codeUnsupported     = "UNSUPPORTED"
	codeUnknown         = "UNKNOWN"
)

// registryStore is what the registry reads from the store.
type registryStore interface {
	Resolve(name string) (ocispec.Descriptor, error)
	Descriptor(d digest.Digest) (ocispec.Descriptor, error)
	ReadBlob(d digest.Digest) (io.ReadSeekCloser, int64, error)
	List() ([]ImageInfo, error)
}

// Registry serves a store over the pull side of the OCI distribution API.
// Nodes' containerd uses it as a mirror for every registry, so a
// repository is looked up under the registry containerd names in the ns
// query parameter, and without one it is normalized as ParseReference
// does: /v2/httpd and /v2/library/httpd both mean docker.io/library/httpd.
type Registry struct {
	log   *slog.Logger
	store registryStore
}

// NewRegistry returns a registry serving s; a nil log discards.
func NewRegistry(log *slog.Logger, s *Store) *Registry {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Registry{log: log, store: s}
}

func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, codeUnsupported, "this registry only serves pulls")
		return
	}
	rest, ok := strings.CutPrefix(req.URL.Path, "/v2/")
	if req.URL.Path == "/v2" || ok && rest == "" {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, "{}")
		return
	}
	parts := strings.Split(rest, "/")
	n := len(parts)
	if !ok || n < 3 {
		writeError(w, http.StatusNotFound, codeUnsupported, "unknown endpoint")
		return
	}
	ns := req.URL.Query().Get("ns")
	switch {
	case parts[n-2] == "manifests":
		r.serveManifest(w, req, strings.Join(parts[:n-2], "/"), ns, parts[n-1])
	case parts[n-2] == "blobs":
		r.serveBlob(w, req, strings.Join(parts[:n-2], "/"), ns, parts[n-1])
	case parts[n-2] == "tags" && parts[n-1] == "list":
		r.serveTags(w, req, strings.Join(parts[:n-2], "/"), ns)
	default:
		writeError(w, http.StatusNotFound, codeUnsupported, "unknown endpoint")
	}
}

// repository maps a request's repository to the stored one.
func repository(name, ns string) (Reference, error) {
	domain, path := ns, name
	if ns == "" {
		domain, path = splitDomain(name)
	}
	d, p, err := normalizeName(domain, path)
	if err != nil {
		return Reference{}, invalidf("repository %q: %v", name, err)
	}
	return Reference{Domain: d, Path: p}, nil
}

func (r *Registry) serveManifest(w http.ResponseWriter, req *http.Request, name, ns, tagOrDigest string) {
	repo, err := repository(name, ns)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeNameInvalid, err.Error())
		return
	}
	var desc ocispec.Descriptor
	if strings.Contains(tagOrDigest, ":") {
		d, err := parseDigest(tagOrDigest)
		if err != nil {
			writeError(w, http.StatusBadRequest, codeDigestInvalid, err.Error())
			return
		}
		// Content is addressed by digest alone: any stored manifest will
		// do, whichever repository it was stored under.
		desc, err = r.store.Descriptor(d)
		if err == nil && !isManifest(desc.MediaType) && !isIndex(desc.MediaType) {
			err = fmt.Errorf("%s is a %s, not a manifest: %w", d, desc.MediaType, ErrNotFound)
		}
		if err != nil {
			r.storeError(w, req, err, codeManifestUnknown)
			return
		}
	} else {
		repo.Tag = tagOrDigest
		if !tagRE.MatchString(repo.Tag) {
			writeError(w, http.StatusNotFound, codeManifestUnknown, "invalid tag "+strconv.Quote(repo.Tag))
			return
		}
		if desc, err = r.store.Resolve(repo.String()); err != nil {
			r.storeError(w, req, err, codeManifestUnknown)
			return
		}
	}
	r.serveContent(w, req, desc, desc.MediaType, codeManifestUnknown)
}

func (r *Registry) serveBlob(w http.ResponseWriter, req *http.Request, name, ns, dgst string) {
	if _, err := repository(name, ns); err != nil {
		writeError(w, http.StatusBadRequest, codeNameInvalid, err.Error())
		return
	}
	d, err := parseDigest(dgst)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeDigestInvalid, err.Error())
		return
	}
	desc, err := r.store.Descriptor(d)
	if err != nil {
		r.storeError(w, req, err, codeBlobUnknown)
		return
	}
	r.serveContent(w, req, desc, "application/octet-stream", codeBlobUnknown)
}

// serveContent answers GET, HEAD and range requests for a stored blob.
func (r *Registry) serveContent(w http.ResponseWriter, req *http.Request, desc ocispec.Descriptor, contentType, unknownCode string) {
	f, _, err := r.store.ReadBlob(desc.Digest)
	if err != nil {
		r.storeError(w, req, err, unknownCode)
		return
	}
	defer f.Close()
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Docker-Content-Digest", desc.Digest.String())
	h.Set("ETag", `"`+desc.Digest.String()+`"`)
	// A zero time leaves out Last-Modified: the digest is the validator.
	http.ServeContent(w, req, "", time.Time{}, f)
}

func (r *Registry) serveTags(w http.ResponseWriter, req *http.Request, name, ns string) {
	repo, err := repository(name, ns)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeNameInvalid, err.Error())
		return
	}
	images, err := r.store.List()
	if err != nil {
		r.storeError(w, req, err, codeNameUnknown)
		return
	}
	known := false
	tags := []string{}
	for _, img := range images {
		ref, err := ParseReference(img.Name)
		if err != nil || ref.Domain != repo.Domain || ref.Path != repo.Path {
			continue
		}
		known = true
		if ref.Tag != "" && ref.Digest == "" {
			tags = append(tags, ref.Tag)
		}
	}
	if !known {
		writeError(w, http.StatusNotFound, codeNameUnknown, "repository "+repo.Name()+" is not known")
		return
	}
	sort.Strings(tags)
	q := req.URL.Query()
	if last := q.Get("last"); last != "" {
		i := sort.SearchStrings(tags, last)
		if i < len(tags) && tags[i] == last {
			i++
		}
		tags = tags[i:]
	}
	if limit, err := strconv.Atoi(q.Get("n")); err == nil && limit >= 0 && limit < len(tags) {
		tags = tags[:limit]
		if limit > 0 {
			next := url.Values{"n": {strconv.Itoa(limit)}, "last": {tags[limit-1]}}
			if ns != "" {
				next.Set("ns", ns)
			}
			w.Header().Set("Link", `</v2/`+name+`/tags/list?`+next.Encode()+`>; rel="next"`)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{name, tags}); err != nil {
		r.log.Debug("write tag list", "err", err)
	}
}

// storeError is the one place store errors become HTTP answers.
func (r *Registry) storeError(w http.ResponseWriter, req *http.Request, err error, unknownCode string) {
	if errors.Is(err, ErrNotFound) {
		writeError(w, http.StatusNotFound, unknownCode, err.Error())
		return
	}
	r.log.Error("registry request failed", "method", req.Method, "path", req.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, codeUnknown, "internal error")
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	type specError struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	body, _ := json.Marshal(struct {
		Errors []specError `json:"errors"`
	}{[]specError{{code, message}}})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
