package openapi

import (
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

const v2RefPrefix = "#/definitions/"

var (
	patchContentTypes = []string{
		"application/json-patch+json",
		"application/merge-patch+json",
		"application/strategic-merge-patch+json",
		"application/apply-patch+yaml",
	}
	objectContentTypes = []string{"application/json", "application/yaml", "application/vnd.kubernetes.protobuf"}
	watchContentTypes  = []string{"application/json;stream=watch", "application/vnd.kubernetes.protobuf;stream=watch"}
)

// docInfo is the "info" object upstream publishes.
var docInfo = map[string]any{"title": "Kubernetes", "version": "v1.33.0"}

func tagOf(gv schema.GroupVersion) string {
	id := groupVersionID(gv)
	group := strings.TrimSuffix(id, upperFirst(gv.Version))
	return strings.ToLower(group[:1]) + group[1:] + "_" + gv.Version
}

func gvkValue(gvk schema.GroupVersionKind) map[string]any {
	return map[string]any{"group": gvk.Group, "version": gvk.Version, "kind": gvk.Kind}
}

func vendorExtensions(op operation, out map[string]any) {
	out[extAction] = op.action
	if op.gvk.Kind != "" {
		out[extGVK] = gvkValue(op.gvk)
	}
}

func responseCodes(op operation) []string {
	switch op.method {
	case "post":
		if op.action == "connect" {
			return []string{"200"}
		}
		return []string{"200", "201", "202"}
	case "put":
		return []string{"200", "201"}
	case "patch":
		return []string{"200", "201"}
	case "delete":
		if op.action == "delete" {
			return []string{"200", "202"}
		}
		return []string{"200"}
	default:
		return []string{"200"}
	}
}

var codeText = map[string]string{"200": "OK", "201": "Created", "202": "Accepted"}

// ---- OpenAPI v2 ----

func (s *Spec) v2Document() map[string]any {
	paths := map[string]any{}
	for _, p := range s.paths {
		item := map[string]any{"parameters": v2Params(p.params)}
		for _, op := range p.ops {
			item[op.method] = v2Operation(op, tagOf(p.gv))
		}
		paths[p.path] = item
	}
	defs := make(map[string]*spec.Schema, len(s.defs))
	for name, d := range s.defs {
		defs[name] = toV2(d, s.v2Types[name])
	}
	return map[string]any{
		"swagger":     "2.0",
		"info":        docInfo,
		"paths":       paths,
		"definitions": defs,
	}
}

func v2Params(params []param) []any {
	out := make([]any, 0, len(params))
	for _, p := range params {
		m := map[string]any{"name": p.name, "in": p.in, "type": p.typ, "uniqueItems": true, "description": p.description}
		if p.required {
			m["required"] = true
		}
		out = append(out, m)
	}
	return out
}

func v2Operation(op operation, tag string) map[string]any {
	out := map[string]any{
		"operationId": op.id,
		"description": op.description,
		"tags":        []string{tag},
		"schemes":     []string{"https"},
		"consumes":    []string{"*/*"},
		"produces":    v2Produces(op),
	}
	params := v2Params(op.params)
	if op.body != "" {
		body := map[string]any{"name": "body", "in": "body", "schema": map[string]any{"$ref": v2RefPrefix + op.body}}
		if op.method != "delete" {
			body["required"] = true
		}
		params = append([]any{body}, params...)
	}
	if len(params) > 0 {
		out["parameters"] = params
	}
	if op.patch {
		out["consumes"] = patchContentTypes
	}
	responses := map[string]any{"401": map[string]any{"description": "Unauthorized"}}
	for _, code := range responseCodes(op) {
		responses[code] = map[string]any{"description": codeText[code], "schema": v2ResponseSchema(op)}
	}
	out["responses"] = responses
	vendorExtensions(op, out)
	return out
}

func v2Produces(op operation) []string {
	switch {
	case op.response == "":
		return []string{"text/plain", "application/json", "application/yaml", "application/vnd.kubernetes.protobuf"}
	case op.watchable:
		return slices.Concat(objectContentTypes, watchContentTypes)
	default:
		return objectContentTypes
	}
}

func v2ResponseSchema(op operation) map[string]any {
	if op.response == "" {
		return map[string]any{"type": "string"}
	}
	return map[string]any{"$ref": v2RefPrefix + op.response}
}

// toV2 rewrites a v3-form schema for Swagger 2.0: references move to
// #/definitions, allOf-wrapped references become plain $ref with siblings
// (what kubectl's v2 parser expects), and oneOf alternatives collapse to
// the declared v2 type.
func toV2(in *spec.Schema, v2Type []string) *spec.Schema {
	out := *in
	if ref := in.Ref.String(); ref != "" {
		out.Ref = spec.MustCreateRef(v2RefPrefix + strings.TrimPrefix(ref, v3RefPrefix))
	}
	if len(in.AllOf) == 1 && in.AllOf[0].Ref.String() != "" {
		out.AllOf = nil
		out.Default = nil
		out.Ref = spec.MustCreateRef(v2RefPrefix + refName(in))
	}
	if len(in.OneOf) > 0 {
		out.OneOf = nil
		out.Type = v2Type
	}
	if in.Extensions != nil {
		out.Extensions = maps.Clone(in.Extensions)
		delete(out.Extensions, extIntOrString)
	}
	if in.Properties != nil {
		out.Properties = make(map[string]spec.Schema, len(in.Properties))
		for k, p := range in.Properties {
			out.Properties[k] = *toV2(&p, nil)
		}
	}
	if in.Items != nil && in.Items.Schema != nil {
		out.Items = &spec.SchemaOrArray{Schema: toV2(in.Items.Schema, nil)}
	}
	if in.AdditionalProperties != nil && in.AdditionalProperties.Schema != nil {
		out.AdditionalProperties = &spec.SchemaOrBool{Allows: true, Schema: toV2(in.AdditionalProperties.Schema, nil)}
	}
	return &out
}

// ---- OpenAPI v3 ----

// v3Document renders the document of one group version, with the schemas
// its paths reach.
func (s *Spec) v3Document(gv schema.GroupVersion) map[string]any {
	paths := map[string]any{}
	var roots []string
	for _, p := range s.paths {
		if p.gv != gv {
			continue
		}
		item := map[string]any{"parameters": v3Params(p.params)}
		for _, op := range p.ops {
			item[op.method] = v3Operation(op, tagOf(p.gv))
			roots = append(roots, op.body, op.response)
		}
		paths[p.path] = item
	}
	// Like upstream, every group version document carries the meta kinds
	// tagged with its GVK, even where no path refers to them.
	roots = append(roots, deleteOptionsDef, statusDef, watchEventDef)
	schemas := map[string]*spec.Schema{}
	for _, name := range s.closure(roots) {
		schemas[name] = s.defs[name]
	}
	return map[string]any{
		"openapi":    "3.0.0",
		"info":       docInfo,
		"paths":      paths,
		"components": map[string]any{"schemas": schemas},
	}
}

// closure lists the definitions reachable from roots.
func (s *Spec) closure(roots []string) []string {
	seen := map[string]bool{}
	var visit func(name string)
	var walk func(sc *spec.Schema)
	visit = func(name string) {
		if name == "" || seen[name] || s.defs[name] == nil {
			return
		}
		seen[name] = true
		walk(s.defs[name])
	}
	walk = func(sc *spec.Schema) {
		visit(refName(sc))
		for _, p := range sc.Properties {
			walk(&p)
		}
		if sc.Items != nil && sc.Items.Schema != nil {
			walk(sc.Items.Schema)
		}
		if sc.AdditionalProperties != nil && sc.AdditionalProperties.Schema != nil {
			walk(sc.AdditionalProperties.Schema)
		}
	}
	for _, r := range roots {
		visit(r)
	}
	return slices.Sorted(maps.Keys(seen))
}

func v3Params(params []param) []any {
	out := make([]any, 0, len(params))
	for _, p := range params {
		m := map[string]any{"name": p.name, "in": p.in, "description": p.description,
			"schema": map[string]any{"type": p.typ, "uniqueItems": true}}
		if p.required {
			m["required"] = true
		}
		out = append(out, m)
	}
	return out
}

func v3Operation(op operation, tag string) map[string]any {
	out := map[string]any{
		"operationId": op.id,
		"description": op.description,
		"tags":        []string{tag},
	}
	if len(op.params) > 0 {
		out["parameters"] = v3Params(op.params)
	}
	if op.body != "" {
		types := []string{"*/*"}
		if op.patch {
			types = patchContentTypes
		}
		out["requestBody"] = map[string]any{"content": v3Content(types, op.body), "required": op.method != "delete"}
	}
	responses := map[string]any{"401": map[string]any{"description": "Unauthorized"}}
	for _, code := range responseCodes(op) {
		responses[code] = map[string]any{"description": codeText[code], "content": v3ResponseContent(op)}
	}
	out["responses"] = responses
	vendorExtensions(op, out)
	return out
}

func v3Content(types []string, def string) map[string]any {
	content := map[string]any{}
	for _, t := range types {
		content[t] = map[string]any{"schema": map[string]any{"$ref": v3RefPrefix + def}}
	}
	return content
}

func v3ResponseContent(op operation) map[string]any {
	if op.response == "" {
		return map[string]any{"*/*": map[string]any{"schema": map[string]any{"type": "string"}}}
	}
	types := objectContentTypes
	if op.watchable {
		types = slices.Concat(objectContentTypes, watchContentTypes)
	}
	return v3Content(types, op.response)
}
