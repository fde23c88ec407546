package openapi

import (
	"fmt"
	"reflect"
	"strings"

	"k8s.io/kube-openapi/pkg/validation/spec"
)

// Extension keys understood by kubectl, client-go and structured-merge-diff.
const (
	extGVK            = "x-kubernetes-group-version-kind"
	extPatchStrategy  = "x-kubernetes-patch-strategy"
	extPatchMergeKey  = "x-kubernetes-patch-merge-key"
	extListType       = "x-kubernetes-list-type"
	extListMapKeys    = "x-kubernetes-list-map-keys"
	extIntOrString    = "x-kubernetes-int-or-string"
	extPreserveFields = "x-kubernetes-preserve-unknown-fields"
	extAction         = "x-kubernetes-action"
)

// v3RefPrefix is the prefix of every reference inside Definitions; the v2
// document rewrites it to "#/definitions/".
const v3RefPrefix = "#/components/schemas/"

// Types with hand-written JSON encodings describe themselves through these
// methods (see k8s.io/kube-openapi/pkg/common); the reflected struct layout
// would be wrong for them.
type openAPITyped interface {
	OpenAPISchemaType() []string
	OpenAPISchemaFormat() string
}

type openAPIV3OneOf interface {
	OpenAPIV3OneOfTypes() []string
}

type swaggerDoc interface {
	SwaggerDoc() map[string]string
}

var (
	openAPITypedIface = reflect.TypeFor[openAPITyped]()
	swaggerDocIface   = reflect.TypeFor[swaggerDoc]()
	byteSliceType     = reflect.TypeFor[[]byte]()
)

// listMapKeys lists the associative lists whose identity needs more than the
// patch merge key; upstream declares these with +listMapKey markers, which do
// not survive into the compiled Go types.
var listMapKeys = map[string][]string{
	"io.k8s.api.core.v1.Container.ports":                {"containerPort", "protocol"},
	"io.k8s.api.core.v1.EphemeralContainer.ports":       {"containerPort", "protocol"},
	"io.k8s.api.core.v1.EphemeralContainerCommon.ports": {"containerPort", "protocol"},
	"io.k8s.api.core.v1.ServiceSpec.ports":              {"port", "protocol"},
}

// fieldDefaults carries upstream +default markers that structured-merge-diff
// relies on: a list-map key may be omitted only when it has a default.
var fieldDefaults = map[string]any{
	"io.k8s.api.core.v1.ContainerPort.protocol": "TCP",
	"io.k8s.api.core.v1.ServicePort.protocol":   "TCP",
}

// schemaBuilder turns Go types into OpenAPI v3 flavoured schemas (references
// wrapped in allOf when they carry a description), one definition per named
// struct or self-describing type.
type schemaBuilder struct {
	defs map[string]*spec.Schema
	// v2Types records the plain OpenAPI v2 type of self-described
	// definitions, which v3 expresses with oneOf.
	v2Types map[string][]string
}

func newSchemaBuilder() *schemaBuilder {
	return &schemaBuilder{defs: map[string]*spec.Schema{}, v2Types: map[string][]string{}}
}

// definitionName maps a Go type to its upstream definition name, e.g.
// k8s.io/api/apps/v1.Deployment -> io.k8s.api.apps.v1.Deployment.
func definitionName(t reflect.Type) string {
	pkg := t.PkgPath()
	host, rest, _ := strings.Cut(pkg, "/")
	labels := strings.Split(host, ".")
	for i, j := 0, len(labels)-1; i < j; i, j = i+1, j-1 {
		labels[i], labels[j] = labels[j], labels[i]
	}
	name := strings.Join(labels, ".")
	if rest != "" {
		name += "." + strings.ReplaceAll(rest, "/", ".")
	}
	return name + "." + t.Name()
}

// addType registers the definition of a named struct (and everything it
// references) and returns its name.
func (b *schemaBuilder) addType(t reflect.Type) (string, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Name() == "" || (t.Kind() != reflect.Struct && !implements(t, openAPITypedIface)) {
		return "", fmt.Errorf("type %v is not a named struct", t)
	}
	name := definitionName(t)
	if _, done := b.defs[name]; done {
		return name, nil
	}
	s := &spec.Schema{}
	// Register before descending so recursive types (JSONSchemaProps-like)
	// terminate.
	b.defs[name] = s
	if err := b.fillDefinition(s, t, name); err != nil {
		return "", fmt.Errorf("definition %s: %w", name, err)
	}
	return name, nil
}

func implements(t, iface reflect.Type) bool {
	return t.Implements(iface) || reflect.PointerTo(t).Implements(iface)
}

// zeroValue returns a pointer to a zero t, whose method set includes both
// value and pointer receiver methods.
func zeroValue(t reflect.Type) reflect.Value {
	return reflect.New(t)
}

// typeDocs describes apimachinery types that have no SwaggerDoc method, so
// that kubectl explain has something to print for them.
var typeDocs = map[string]string{
	"io.k8s.apimachinery.pkg.api.resource.Quantity": "Quantity is a fixed-point representation of a number, written as a plain number or with a suffix: " +
		"binary SI (Ki, Mi, Gi, Ti, Pi, Ei), decimal SI (m, k, M, G, T, P, E) or a decimal exponent (e.g. 1e3). Examples: 500m, 1.5Gi, 128974848.",
	"io.k8s.apimachinery.pkg.util.intstr.IntOrString": "IntOrString holds either an int32 or a string; in JSON and YAML it is written as the inner value, " +
		"e.g. a port number or a port name, or a count or a percentage.",
	"io.k8s.apimachinery.pkg.apis.meta.v1.Time":      "Time is a timestamp serialised as an RFC 3339 string with second precision.",
	"io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime": "MicroTime is a timestamp serialised as an RFC 3339 string with microsecond precision.",
	"io.k8s.apimachinery.pkg.apis.meta.v1.Duration":  "Duration is a time span written in Go duration syntax, e.g. 1h30m.",
	"io.k8s.apimachinery.pkg.runtime.RawExtension":   "RawExtension holds an embedded object of any kind, passed through as-is.",
	"io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1":  "FieldsV1 stores a set of fields in a data structure like a trie, in JSON format.",
}

func docsOf(t reflect.Type) map[string]string {
	if !implements(t, swaggerDocIface) {
		if t.Name() != "" && typeDocs[definitionName(t)] != "" {
			return map[string]string{"": typeDocs[definitionName(t)]}
		}
		return nil
	}
	return zeroValue(t).Interface().(swaggerDoc).SwaggerDoc()
}

func (b *schemaBuilder) fillDefinition(s *spec.Schema, t reflect.Type, name string) error {
	docs := docsOf(t)
	s.Description = docs[""]
	if implements(t, openAPITypedIface) {
		fillSelfDescribed(s, t)
		b.v2Types[name] = zeroValue(t).Interface().(openAPITyped).OpenAPISchemaType()
		return nil
	}
	s.Type = spec.StringOrArray{"object"}
	return b.addFields(s, t, docs, name)
}

// fillSelfDescribed renders a type with a custom JSON encoding the way
// upstream's generator does for OpenAPI v3: oneOf when the type lists
// alternatives, otherwise its declared type and format.
func fillSelfDescribed(s *spec.Schema, t reflect.Type) {
	v := zeroValue(t).Interface()
	typed := v.(openAPITyped)
	s.Format = typed.OpenAPISchemaFormat()
	if oneOf, ok := v.(openAPIV3OneOf); ok && len(oneOf.OpenAPIV3OneOfTypes()) > 0 {
		for _, alt := range oneOf.OpenAPIV3OneOfTypes() {
			s.OneOf = append(s.OneOf, spec.Schema{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{alt}}})
		}
		if s.Format == "int-or-string" {
			s.AddExtension(extIntOrString, true)
		}
		return
	}
	if types := typed.OpenAPISchemaType(); len(types) > 0 {
		s.Type = spec.StringOrArray(types)
		return
	}
	s.AddExtension(extPreserveFields, true)
}

// addFields adds the JSON-visible fields of struct t to s, flattening
// inlined and embedded structs the way encoding/json does.
func (b *schemaBuilder) addFields(s *spec.Schema, t reflect.Type, docs map[string]string, owner string) error {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := parseJSONTag(f)
		if tag.skip {
			continue
		}
		if tag.inline {
			inner := f.Type
			for inner.Kind() == reflect.Pointer {
				inner = inner.Elem()
			}
			if err := b.addFields(s, inner, docsOf(inner), definitionName(inner)); err != nil {
				return err
			}
			continue
		}
		prop, err := b.fieldSchema(f, tag, docs[tag.name], owner)
		if err != nil {
			return fmt.Errorf("field %s: %w", f.Name, err)
		}
		if s.Properties == nil {
			s.Properties = map[string]spec.Schema{}
		}
		s.Properties[tag.name] = *prop
		if isRequired(owner+"."+tag.name, tag.required) {
			s.Required = append(s.Required, tag.name)
		}
	}
	return nil
}

// isRequired applies upstream's rule: an explicit +optional or +required
// marker wins, otherwise a field without omitempty is required.
func isRequired(key string, noOmitEmpty bool) bool {
	switch {
	case optionalFields[key]:
		return false
	case requiredFields[key]:
		return true
	default:
		return noOmitEmpty
	}
}

type jsonTag struct {
	name     string
	skip     bool
	inline   bool
	required bool
}

func parseJSONTag(f reflect.StructField) jsonTag {
	if !f.IsExported() && !f.Anonymous {
		return jsonTag{skip: true}
	}
	raw, hasTag := f.Tag.Lookup("json")
	name, opts, _ := strings.Cut(raw, ",")
	if name == "-" && opts == "" {
		return jsonTag{skip: true}
	}
	if f.Anonymous && name == "" {
		return jsonTag{inline: true}
	}
	if !f.IsExported() {
		return jsonTag{skip: true}
	}
	if strings.Contains(","+opts+",", ",inline,") {
		return jsonTag{inline: true}
	}
	if name == "" {
		name = f.Name
	}
	optional := strings.Contains(","+opts+",", ",omitempty,") || strings.Contains(","+opts+",", ",omitzero,")
	return jsonTag{name: name, required: hasTag && !optional}
}

// fieldSchema describes one struct field, including the patch metadata
// kubectl needs for strategic merge patches.
func (b *schemaBuilder) fieldSchema(f reflect.StructField, tag jsonTag, doc, owner string) (*spec.Schema, error) {
	s, err := b.typeSchema(f.Type)
	if err != nil {
		return nil, err
	}
	key := owner + "." + tag.name
	if def, ok := fieldDefaults[key]; ok {
		s.Default = def
	} else if f.Type.Kind() == reflect.Struct && !implements(f.Type, openAPITypedIface) {
		// Upstream defaults non-pointer structs to {} so that apply
		// treats an omitted struct as present-but-empty.
		s.Default = map[string]any{}
	} else if tag.required && !optionalFields[key] && f.Type.Kind() != reflect.Pointer {
		s.Default = primitiveZero(f.Type)
	}
	if s.Ref.String() != "" && (doc != "" || s.Default != nil) {
		// A $ref must stand alone in OpenAPI v3; siblings go beside an allOf.
		s = &spec.Schema{SchemaProps: spec.SchemaProps{AllOf: []spec.Schema{{SchemaProps: spec.SchemaProps{Ref: s.Ref}}}, Default: s.Default}}
	}
	s.Description = doc
	addPatchExtensions(s, f, key)
	return s, nil
}

func addPatchExtensions(s *spec.Schema, f reflect.StructField, key string) {
	strategy := f.Tag.Get("patchStrategy")
	mergeKey := f.Tag.Get("patchMergeKey")
	if strategy != "" {
		s.AddExtension(extPatchStrategy, strategy)
	}
	if mergeKey != "" {
		s.AddExtension(extPatchMergeKey, mergeKey)
	}
	if f.Type.Kind() != reflect.Slice || f.Type == byteSliceType {
		return
	}
	keys, overridden := listMapKeys[key]
	switch {
	case overridden:
		s.AddExtension(extListType, "map")
		s.AddExtension(extListMapKeys, toAnySlice(keys))
	case strings.Contains(strategy, "merge") && mergeKey != "":
		s.AddExtension(extListType, "map")
		s.AddExtension(extListMapKeys, []any{mergeKey})
	case strings.Contains(strategy, "merge"):
		s.AddExtension(extListType, "set")
	}
}

// primitiveZero is the JSON zero value upstream records as the default of
// required scalar fields, or nil for non-scalars.
func primitiveZero(t reflect.Type) any {
	switch t.Kind() {
	case reflect.String:
		return ""
	case reflect.Bool:
		return false
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return 0
	default:
		return nil
	}
}

func toAnySlice(in []string) []any {
	out := make([]any, len(in))
	for i, v := range in {
		out[i] = v
	}
	return out
}

// typeSchema describes a Go type used as a field, list item or map value.
func (b *schemaBuilder) typeSchema(t reflect.Type) (*spec.Schema, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Name() != "" && (t.Kind() == reflect.Struct || implements(t, openAPITypedIface)) {
		name, err := b.addType(t)
		if err != nil {
			return nil, err
		}
		return refSchema(name), nil
	}
	switch t.Kind() {
	case reflect.String:
		return primitive("string", ""), nil
	case reflect.Bool:
		return primitive("boolean", ""), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Uint8, reflect.Uint16:
		return primitive("integer", "int32"), nil
	case reflect.Int64, reflect.Uint, reflect.Uint32, reflect.Uint64:
		return primitive("integer", "int64"), nil
	case reflect.Float32:
		return primitive("number", "float"), nil
	case reflect.Float64:
		return primitive("number", "double"), nil
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return primitive("string", "byte"), nil
		}
		items, err := b.typeSchema(t.Elem())
		if err != nil {
			return nil, err
		}
		return &spec.Schema{SchemaProps: spec.SchemaProps{
			Type:  spec.StringOrArray{"array"},
			Items: &spec.SchemaOrArray{Schema: items},
		}}, nil
	case reflect.Map:
		values, err := b.typeSchema(t.Elem())
		if err != nil {
			return nil, err
		}
		return &spec.Schema{SchemaProps: spec.SchemaProps{
			Type:                 spec.StringOrArray{"object"},
			AdditionalProperties: &spec.SchemaOrBool{Allows: true, Schema: values},
		}}, nil
	case reflect.Interface, reflect.Struct:
		s := &spec.Schema{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{"object"}}}
		s.AddExtension(extPreserveFields, true)
		return s, nil
	default:
		return nil, fmt.Errorf("unsupported kind %v", t.Kind())
	}
}

func primitive(typ, format string) *spec.Schema {
	return &spec.Schema{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{typ}, Format: format}}
}

func refSchema(name string) *spec.Schema {
	return &spec.Schema{SchemaProps: spec.SchemaProps{Ref: spec.MustCreateRef(v3RefPrefix + name)}}
}

// refName returns the definition a schema points at, directly or through a
// single-element allOf, or "".
func refName(s *spec.Schema) string {
	ref := s.Ref.String()
	if ref == "" && len(s.AllOf) == 1 {
		ref = s.AllOf[0].Ref.String()
	}
	if i := strings.LastIndex(ref, "/"); i >= 0 {
		return ref[i+1:]
	}
	return ""
}
