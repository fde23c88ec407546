package apiserver

import (
	"bytes"
	"net/http"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/envelope"
	"github.com/skiff-sh/skiff/internal/registry"
	"github.com/skiff-sh/skiff/internal/storage/watchcache"
)

// serveResource dispatches a request for one resource by method and
// subresource.
func (s *Server) serveResource(w http.ResponseWriter, r *http.Request, st *registry.Store, info requestInfo) {
	res := st.Resource()
	if res.Namespaced && info.Namespace == "" && info.Name != "" {
		s.notFound(w, r)
		return
	}
	if !res.Namespaced && info.Namespace != "" {
		s.notFound(w, r)
		return
	}
	err := s.authorizeNode(r, st, info)
	switch sub := info.Subresource; {
	case err != nil:
	case sub == "":
		err = s.serveMain(w, r, st, info)
	case sub == "status" && res.Status, sub == "finalize" && res.GVR.Resource == "namespaces" && res.GVR.Group == "":
		err = s.serveStatus(w, r, st, info)
	case sub == "scale" && res.Scale:
		err = s.serveScale(w, r, st, info)
	case sub == "binding" && res.Kind == "Pod" && r.Method == http.MethodPost:
		err = s.bind(w, r, st, info)
	case sub == "eviction" && res.Kind == "Pod" && r.Method == http.MethodPost:
		err = s.evict(w, r, st, info)
	case (sub == "log" || sub == "exec" || sub == "attach" || sub == "portforward") && res.Kind == "Pod" && res.GVR.Group == "":
		err = s.servePodNode(w, r, st, info)
	default:
		err = notFoundPath(r)
	}
	if err != nil {
		s.writeError(w, r, err)
	}
}

func (s *Server) serveMain(w http.ResponseWriter, r *http.Request, st *registry.Store, info requestInfo) error {
	gr := st.Resource().GroupResource()
	if info.Name == "" {
		switch r.Method {
		case http.MethodGet:
			if info.Watch {
				return s.watch(w, r, st, info)
			}
			return s.list(w, r, st, info)
		case http.MethodPost:
			return s.create(w, r, st, info)
		case http.MethodDelete:
			return s.deleteCollection(w, r, st, info)
		}
		return apierrors.NewMethodNotSupported(gr, r.Method)
	}
	switch r.Method {
	case http.MethodGet:
		if info.Watch {
			return s.watchOne(w, r, st, info)
		}
		return s.get(w, r, st, info)
	case http.MethodPut:
		return s.update(w, r, st, info)
	case http.MethodPatch:
		return s.patch(w, r, st, info)
	case http.MethodDelete:
		return s.delete(w, r, st, info)
	}
	return apierrors.NewMethodNotSupported(gr, r.Method)
}

func (s *Server) serveStatus(w http.ResponseWriter, r *http.Request, st *registry.Store, info requestInfo) error {
	switch r.Method {
	case http.MethodGet:
		return s.get(w, r, st, info)
	case http.MethodPut:
		return s.update(w, r, st, info)
	case http.MethodPatch:
		if info.Subresource == "finalize" {
			break
		}
		return s.patch(w, r, st, info)
	}
	return apierrors.NewMethodNotSupported(st.Resource().GroupResource(), r.Method)
}

func (s *Server) get(w http.ResponseWriter, r *http.Request, st *registry.Store, info requestInfo) error {
	var opts metav1.GetOptions
	if err := s.params.DecodeParameters(r.URL.Query(), coreV1, &opts); err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	o, err := st.Get(r.Context(), info.Namespace, info.Name, opts.ResourceVersion)
	if err != nil {
		return err
	}
	out, err := negotiate(r)
	if err != nil {
		return err
	}
	switch out.as {
	case asTable:
		return s.writeTable(w, st, []*watchcache.Object{o}, metav1.ListMeta{ResourceVersion: strconv.FormatInt(o.Rev, 10)}, out)
	case asPartial:
		return writePartial(w, o.Obj, out)
	}
	if out.protobuf { // objects only: Tables and partial metadata returned above
		msg, err := o.Protobuf()
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		b, err := envelope.Wrap(st.Resource().GVK(), msg)
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		writeProtobuf(w, http.StatusOK, b)
		return nil
	}
	raw, err := o.JSON()
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	writeRaw(w, http.StatusOK, raw)
	return nil
}

func (s *Server) listOptions(r *http.Request) (*metav1.ListOptions, error) {
	var opts metav1.ListOptions
	if err := s.params.DecodeParameters(r.URL.Query(), coreV1, &opts); err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	if opts.Limit < 0 {
		return nil, apierrors.NewBadRequest("limit must not be negative")
	}
	return &opts, nil
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, st *registry.Store, info requestInfo) error {
	opts, err := s.listOptions(r)
	if err != nil {
		return err
	}
	out, err := negotiate(r)
	if err != nil {
		return err
	}
	res, err := st.List(r.Context(), info.Namespace, opts)
	if err != nil {
		return err
	}
	lm := metav1.ListMeta{ResourceVersion: strconv.FormatInt(res.Rev, 10), Continue: res.Continue}
	switch out.as {
	case asTable:
		return s.writeTable(w, st, res.Items, lm, out)
	case asPartial:
		return writePartialList(w, res.Items, lm, out)
	}
	if out.protobuf {
		b, err := protobufList(st.Resource().GVK(), res.Items, lm)
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		writeProtobuf(w, http.StatusOK, b)
		return nil
	}
	return writeList(w, st.Resource().GVK(), res.Items, lm)
}

// writeList writes the items' cached wire forms into a list without
// encoding them again.
func writeList(w http.ResponseWriter, gvk schema.GroupVersionKind, items []*watchcache.Object, lm metav1.ListMeta) error {
	var b bytes.Buffer
	b.Grow(64 + len(items)*1024)
	b.WriteString(`{"kind":`)
	b.WriteString(strconv.Quote(gvk.Kind + "List"))
	b.WriteString(`,"apiVersion":`)
	b.WriteString(strconv.Quote(gvk.GroupVersion().String()))
	b.WriteString(`,"metadata":`)
	meta, _ := jsonMarshal(lm)
	b.Write(meta)
	b.WriteString(`,"items":[`)
	for i, o := range items {
		raw, err := o.JSON()
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(raw)
	}
	b.WriteString("]}")
	writeRaw(w, http.StatusOK, b.Bytes())
	return nil
}

// writeObject writes a freshly written object, in protobuf if the client
// prefers it.
func (s *Server) writeObject(w http.ResponseWriter, r *http.Request, st *registry.Store, code int, obj runtime.Object) error {
	if out, err := negotiate(r); err == nil && out.protobuf {
		b, err := envelope.Marshal(st.Resource().GVK(), obj)
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		writeProtobuf(w, code, b)
		return nil
	}
	b, err := st.Encode(obj)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	writeRaw(w, code, b)
	return nil
}
