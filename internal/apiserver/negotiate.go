package apiserver

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"reflect"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiff-sh/skiff/internal/envelope"
	"github.com/skiff-sh/skiff/internal/registry"
	"github.com/skiff-sh/skiff/internal/storage/watchcache"
)

type outputKind int

const (
	asObject outputKind = iota
	asTable
	asPartial
)

// output is what a read should return, chosen from the Accept header.
type output struct {
	as outputKind
	// includeObject is the Table rows' object: None, Metadata or Object.
	includeObject metav1.IncludeObjectPolicy
	// protobuf answers objects, lists and watches in protobuf.
	protobuf bool
}

// negotiate picks the first representation in Accept that the server can
// produce: a Table, partial object metadata, or the object itself as JSON.
func negotiate(r *http.Request) (output, error) {
	out := output{includeObject: metav1.IncludeMetadata}
	if p := r.URL.Query().Get("includeObject"); p != "" {
		switch metav1.IncludeObjectPolicy(p) {
		case metav1.IncludeNone, metav1.IncludeMetadata, metav1.IncludeObject:
			out.includeObject = metav1.IncludeObjectPolicy(p)
		default:
			return out, apierrors.NewBadRequest("includeObject must be one of None, Metadata, Object")
		}
	}
	accept := r.Header.Get("Accept")
	if accept == "" {
		return out, nil
	}
	acceptable := false
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "application/json", "application/yaml", "application/vnd.kubernetes.protobuf", "*/*", "application/*":
		default:
			continue
		}
		if mt == protobufType && params["as"] == "" {
			out.protobuf = true
			return out, nil
		}
		switch params["as"] {
		case "Table":
			if params["g"] == "meta.k8s.io" && (params["v"] == "v1" || params["v"] == "v1beta1") {
				out.as = asTable
				return out, nil
			}
		case "PartialObjectMetadata", "PartialObjectMetadataList":
			if params["g"] == "meta.k8s.io" && (params["v"] == "v1" || params["v"] == "v1beta1") {
				out.as = asPartial
				out.protobuf = mt == protobufType
				return out, nil
			}
		case "":
			return out, nil
		}
		acceptable = true
	}
	if !acceptable {
		return out, notAcceptable("only application/json is served")
	}
	return out, nil
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func partialOf(obj runtime.Object) (*metav1.PartialObjectMetadata, error) {
	m := reflect.ValueOf(obj).Elem().FieldByName("ObjectMeta")
	om, ok := m.Interface().(metav1.ObjectMeta)
	if !m.IsValid() || !ok {
		return nil, fmt.Errorf("%T has no object metadata", obj)
	}
	return &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{Kind: "PartialObjectMetadata", APIVersion: "meta.k8s.io/v1"},
		ObjectMeta: om,
	}, nil
}

// partialGVK is the kind metadata-only clients (such as the garbage
// collector) receive.
var partialGVK = metav1.SchemeGroupVersion.WithKind("PartialObjectMetadata")

func writePartial(w http.ResponseWriter, obj runtime.Object, out output) error {
	p, err := partialOf(obj)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	if out.protobuf {
		b, err := envelope.Marshal(partialGVK, p)
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		writeProtobuf(w, http.StatusOK, b)
		return nil
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

func writePartialList(w http.ResponseWriter, items []*watchcache.Object, lm metav1.ListMeta, out output) error {
	list := metav1.PartialObjectMetadataList{
		TypeMeta: metav1.TypeMeta{Kind: "PartialObjectMetadataList", APIVersion: "meta.k8s.io/v1"},
		ListMeta: lm,
		Items:    make([]metav1.PartialObjectMetadata, 0, len(items)),
	}
	for _, o := range items {
		p, err := partialOf(o.Obj)
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		p.TypeMeta = metav1.TypeMeta{}
		list.Items = append(list.Items, *p)
	}
	if out.protobuf {
		b, err := envelope.Marshal(metav1.SchemeGroupVersion.WithKind("PartialObjectMetadataList"), &list)
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		writeProtobuf(w, http.StatusOK, b)
		return nil
	}
	writeJSON(w, http.StatusOK, &list)
	return nil
}

// table renders objects as a Table; the columns go only into the first
// Table of a watch.
func (s *Server) table(st *registry.Store, items []*watchcache.Object, lm metav1.ListMeta, out output, columns bool) (*metav1.Table, error) {
	gk := st.Resource().GVK().GroupKind()
	t := &metav1.Table{TypeMeta: metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/v1"}, ListMeta: lm, Rows: []metav1.TableRow{}}
	if columns {
		t.ColumnDefinitions = s.printer.Columns(gk)
	}
	for _, o := range items {
		cells, err := s.printer.Cells(o.Obj)
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		row := metav1.TableRow{Cells: cells}
		switch out.includeObject {
		case metav1.IncludeObject:
			raw, err := o.JSON()
			if err != nil {
				return nil, apierrors.NewInternalError(err)
			}
			row.Object.Raw = raw
		case metav1.IncludeMetadata:
			p, err := partialOf(o.Obj)
			if err != nil {
				return nil, apierrors.NewInternalError(err)
			}
			if row.Object.Raw, err = json.Marshal(p); err != nil {
				return nil, apierrors.NewInternalError(err)
			}
		}
		t.Rows = append(t.Rows, row)
	}
	return t, nil
}

func (s *Server) writeTable(w http.ResponseWriter, st *registry.Store, items []*watchcache.Object, lm metav1.ListMeta, out output) error {
	t, err := s.table(st, items, lm, out, true)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}
