package apiserver

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strings"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"sigs.k8s.io/yaml"

	"github.com/skiff-sh/skiff/internal/registry"
)

// manager is the field manager a write is recorded under: the fieldManager
// parameter, else the client's name from its User-Agent, as upstream.
func manager(r *http.Request) (string, error) {
	m := r.URL.Query().Get("fieldManager")
	if len(m) > 128 {
		return "", apierrors.NewBadRequest("fieldManager must be at most 128 characters")
	}
	if m == "" {
		m, _, _ = strings.Cut(r.UserAgent(), "/")
	}
	return m, nil
}

// writeRequest is what every create and update carries besides the object.
type writeRequest struct {
	dryRun  bool
	manager string
}

// readWrite reads the options and the object of a create or update.
func (s *Server) readWrite(w http.ResponseWriter, r *http.Request, res *registry.Resource) (runtime.Object, writeRequest, error) {
	var wr writeRequest
	var err error
	if wr.dryRun, err = dryRun(r); err != nil {
		return nil, wr, err
	}
	if wr.manager, err = manager(r); err != nil {
		return nil, wr, err
	}
	body, err := readBody(w, r)
	if err != nil {
		return nil, wr, err
	}
	obj := res.New()
	if err := s.decodeInto(w, r, body, r.Header.Get("Content-Type"), res.GVK(), obj); err != nil {
		return nil, wr, err
	}
	return obj, wr, nil
}

func (s *Server) create(w http.ResponseWriter, r *http.Request, st *registry.Store, info requestInfo) error {
	res := st.Resource()
	obj, wr, err := s.readWrite(w, r, res)
	if err != nil {
		return err
	}
	if err := admitNode(r.Context(), res, obj); err != nil {
		return err
	}
	obj = s.fields.create(res, obj, wr.manager)
	created, err := st.Create(r.Context(), info.Namespace, obj, registry.WriteOptions{DryRun: wr.dryRun})
	if err != nil {
		return err
	}
	return s.writeObject(w, r, st, http.StatusCreated, created)
}

func (s *Server) update(w http.ResponseWriter, r *http.Request, st *registry.Store, info requestInfo) error {
	res := st.Resource()
	obj, wr, err := s.readWrite(w, r, res)
	if err != nil {
		return err
	}
	sub := info.Subresource
	fn := func(cur runtime.Object) (runtime.Object, error) {
		if cur == nil {
			cur = res.New()
		}
		next := obj.DeepCopyObject()
		if sub == "finalize" {
			next = finalizeNamespace(cur, next)
		}
		return s.fields.update(res, sub, cur, next, wr.manager), nil
	}
	if sub == "finalize" {
		sub = ""
	}
	out, created, err := st.Update(r.Context(), info.Namespace, info.Name, sub, fn, registry.WriteOptions{DryRun: wr.dryRun})
	if err != nil {
		return err
	}
	code := http.StatusOK
	if created {
		code = http.StatusCreated
	}
	return s.writeObject(w, r, st, code, out)
}

func (s *Server) patch(w http.ResponseWriter, r *http.Request, st *registry.Store, info requestInfo) error {
	res := st.Resource()
	pt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return unsupportedMediaType(r.Header.Get("Content-Type"))
	}
	dry, err := dryRun(r)
	if err != nil {
		return err
	}
	mgr, err := manager(r)
	if err != nil {
		return err
	}
	if _, err := fieldValidation(r); err != nil {
		return err
	}
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	var applied *unstructured.Unstructured
	force := r.URL.Query().Get("force") == "true"
	switch types.PatchType(pt) {
	case types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType:
	case types.ApplyYAMLPatchType, types.ApplyCBORPatchType:
		if r.URL.Query().Get("fieldManager") == "" {
			return apierrors.NewBadRequest("PATCH requests with apply patch type must specify fieldManager")
		}
		if applied, err = decodeApplied(body, res); err != nil {
			return err
		}
	default:
		return unsupportedMediaType(pt)
	}
	sub := info.Subresource
	fn := func(cur runtime.Object) (runtime.Object, error) {
		if cur == nil {
			// Only PUT creates, even where PUT may: a patch of nothing is
			// not found, and an apply creates below.
			return nil, apierrors.NewNotFound(res.GroupResource(), info.Name)
		}
		var next runtime.Object
		var err error
		if applied != nil {
			next, err = s.fields.apply(res, sub, cur, applied, mgr, force)
		} else {
			next, err = s.applyPatch(w, r, st, types.PatchType(pt), cur, body)
			if err == nil {
				next = s.fields.update(res, sub, cur, next, mgr)
			}
		}
		if err != nil {
			return nil, err
		}
		// A patch that does not name a resourceVersion is retried on write
		// races like an unconditional update.
		na, _ := meta.Accessor(next)
		ca, _ := meta.Accessor(cur)
		if na.GetResourceVersion() == ca.GetResourceVersion() {
			na.SetResourceVersion("")
		}
		return next, nil
	}
	out, _, err := st.Update(r.Context(), info.Namespace, info.Name, sub, fn, registry.WriteOptions{DryRun: dry})
	if apierrors.IsNotFound(err) && applied != nil && sub == "" {
		return s.applyCreate(w, r, st, info, applied, mgr, force, dry)
	}
	if err != nil {
		return err
	}
	return s.writeObject(w, r, st, http.StatusOK, out)
}

// applyCreate creates an object with server-side apply, as upstream does
// when the applied object does not exist.
func (s *Server) applyCreate(w http.ResponseWriter, r *http.Request, st *registry.Store, info requestInfo, applied *unstructured.Unstructured, mgr string, force, dry bool) error {
	res := st.Resource()
	empty := res.New()
	a, _ := meta.Accessor(empty)
	a.SetName(info.Name)
	a.SetNamespace(info.Namespace)
	obj, err := s.fields.apply(res, "", empty, applied, mgr, force)
	if err != nil {
		return err
	}
	created, err := st.Create(r.Context(), info.Namespace, obj, registry.WriteOptions{DryRun: dry})
	if err != nil {
		return err
	}
	return s.writeObject(w, r, st, http.StatusCreated, created)
}

func decodeApplied(body []byte, res *registry.Resource) (*unstructured.Unstructured, error) {
	var m map[string]any
	if err := yaml.Unmarshal(body, &m); err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("error decoding YAML: %v", err))
	}
	if m == nil {
		return nil, apierrors.NewBadRequest("the apply patch is empty")
	}
	u := &unstructured.Unstructured{Object: m}
	gvk := res.GVK()
	if u.GetAPIVersion() != gvk.GroupVersion().String() || u.GetKind() != gvk.Kind {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the apply patch must have apiVersion %s and kind %s", gvk.GroupVersion(), gvk.Kind))
	}
	return u, nil
}

// applyPatch applies a JSON, merge or strategic merge patch to cur and
// decodes the result as the resource's type.
func (s *Server) applyPatch(w http.ResponseWriter, r *http.Request, st *registry.Store, pt types.PatchType, cur runtime.Object, patch []byte) (runtime.Object, error) {
	res := st.Resource()
	patched, err := patchJSON(pt, cur, patch)
	if err != nil {
		return nil, err
	}
	next := res.New()
	if err := s.decodeInto(w, r, patched, "application/json", res.GVK(), next); err != nil {
		return nil, err
	}
	return next, nil
}

// patchJSON applies a JSON, merge or strategic merge patch to cur's JSON. A
// strategic merge patch takes its list semantics from cur's Go type.
func patchJSON(pt types.PatchType, cur runtime.Object, patch []byte) ([]byte, error) {
	orig, err := json.Marshal(cur)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	switch pt {
	case types.JSONPatchType:
		p, err := jsonpatch.DecodePatch(patch)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		out, err := applyJSONPatch(p, orig)
		if err != nil {
			return nil, apierrors.NewGenericServerResponse(http.StatusUnprocessableEntity, "", schema.GroupResource{}, "", err.Error(), 0, false)
		}
		return out, nil
	case types.MergePatchType:
		out, err := jsonpatch.MergePatch(orig, patch)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		return out, nil
	case types.StrategicMergePatchType:
		meta, err := strategicpatch.NewPatchMetaFromStruct(cur)
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		var patchMap, origMap map[string]any
		if err := json.Unmarshal(patch, &patchMap); err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("error decoding patch: %v", err))
		}
		if err := json.Unmarshal(orig, &origMap); err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		out, err := strategicpatch.StrategicMergeMapPatchUsingLookupPatchMeta(origMap, patchMap, meta)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		b, err := json.Marshal(out)
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		return b, nil
	}
	return nil, unsupportedMediaType(string(pt))
}

func (s *Server) deleteOptions(w http.ResponseWriter, r *http.Request) (*metav1.DeleteOptions, bool, error) {
	opts := &metav1.DeleteOptions{}
	body, err := readBody(w, r)
	if err != nil {
		return nil, false, err
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		if err := s.decodeOptions(body, r.Header.Get("Content-Type"), opts); err != nil {
			return nil, false, err
		}
	} else if err := s.params.DecodeParameters(r.URL.Query(), coreV1, opts); err != nil {
		return nil, false, apierrors.NewBadRequest(err.Error())
	}
	if opts.GracePeriodSeconds != nil && *opts.GracePeriodSeconds < 0 {
		opts.GracePeriodSeconds = new(int64)
		*opts.GracePeriodSeconds = 1
	}
	if opts.PropagationPolicy != nil {
		switch *opts.PropagationPolicy {
		case metav1.DeletePropagationBackground, metav1.DeletePropagationForeground, metav1.DeletePropagationOrphan:
		default:
			return nil, false, apierrors.NewBadRequest(fmt.Sprintf("unsupported propagationPolicy %q", *opts.PropagationPolicy))
		}
	}
	dry, err := dryRun(r)
	if err != nil {
		return nil, false, err
	}
	for _, v := range opts.DryRun {
		if v != metav1.DryRunAll {
			return nil, false, apierrors.NewBadRequest(fmt.Sprintf("unsupported dryRun value %q", v))
		}
		dry = true
	}
	return opts, dry, nil
}

func (s *Server) delete(w http.ResponseWriter, r *http.Request, st *registry.Store, info requestInfo) error {
	opts, dry, err := s.deleteOptions(w, r)
	if err != nil {
		return err
	}
	res, err := st.Delete(r.Context(), info.Namespace, info.Name, opts, dry)
	if err != nil {
		return err
	}
	code := http.StatusOK
	if !res.Deleted {
		code = http.StatusAccepted
	}
	return s.writeObject(w, r, st, code, res.Object)
}

func (s *Server) deleteCollection(w http.ResponseWriter, r *http.Request, st *registry.Store, info requestInfo) error {
	opts, dry, err := s.deleteOptions(w, r)
	if err != nil {
		return err
	}
	lopts, err := s.listOptions(r)
	if err != nil {
		return err
	}
	lopts.Limit, lopts.Continue = 0, ""
	list, err := st.List(r.Context(), info.Namespace, lopts)
	if err != nil {
		return err
	}
	for _, o := range list.Items {
		a, _ := meta.Accessor(o.Obj)
		if _, err := st.Delete(r.Context(), a.GetNamespace(), a.GetName(), opts, dry); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return writeList(w, st.Resource().GVK(), list.Items, metav1.ListMeta{})
}

// decodeOptions decodes DeleteOptions sent as JSON, YAML or protobuf. JSON
// bodies often omit kind and apiVersion, which the generic decoders require.
func (s *Server) decodeOptions(body []byte, contentType string, opts *metav1.DeleteOptions) error {
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil || mediaType == "application/json" {
		if err := json.Unmarshal(body, opts); err != nil {
			return apierrors.NewBadRequest(fmt.Sprintf("decode DeleteOptions: %v", err))
		}
		return nil
	}
	info, ok := runtime.SerializerInfoForMediaType(s.codecs.SupportedMediaTypes(), mediaType)
	if !ok {
		return unsupportedMediaType(mediaType)
	}
	gvk := metav1.SchemeGroupVersion.WithKind("DeleteOptions")
	if _, _, err := info.Serializer.Decode(body, &gvk, opts); err != nil {
		return apierrors.NewBadRequest(fmt.Sprintf("decode DeleteOptions: %v", err))
	}
	return nil
}

// finalizeNamespace takes only spec.finalizers from a /finalize write.
func finalizeNamespace(cur, next runtime.Object) runtime.Object {
	out := cur.DeepCopyObject().(*corev1.Namespace)
	n := next.(*corev1.Namespace)
	out.Spec.Finalizers = n.Spec.Finalizers
	out.ResourceVersion = n.ResourceVersion
	return out
}

// applyJSONPatch applies p, turning a panic of the patch library (it has
// panicked on some malformed operations, such as a replace of the root
// without a value) into an error: a bad patch must never take down a request
// handler.
func applyJSONPatch(p jsonpatch.Patch, doc []byte) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("invalid JSON patch: %v", r)
		}
	}()
	return p.Apply(doc)
}
