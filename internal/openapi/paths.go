package openapi

import (
	"slices"
	"strings"
	"unicode"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// param is a query or path parameter.
type param struct {
	name, in, typ, description string
	required                   bool
}

// operation is one HTTP method on a path, rendered later as v2 or v3.
type operation struct {
	method      string // get put post patch delete
	id          string
	action      string // x-kubernetes-action
	description string
	gvk         schema.GroupVersionKind
	params      []param
	body        string // request body definition, "" for none
	response    string // response definition, "" for a plain string
	patch       bool   // request body is one of the patch formats
	watchable   bool   // response may be streamed as a watch
}

// pathItem is one REST path of one group version.
type pathItem struct {
	gv     schema.GroupVersion
	path   string
	params []param
	ops    []operation
}

const (
	deleteOptionsDef = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"
	statusDef        = "io.k8s.apimachinery.pkg.apis.meta.v1.Status"
	patchDef         = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch"
	watchEventDef    = "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent"
)

var (
	prettyParam    = param{name: "pretty", in: "query", typ: "string", description: "If 'true', then the output is pretty printed."}
	namespaceParam = param{name: "namespace", in: "path", typ: "string", required: true, description: "object name and auth scope, such as for teams and projects"}

	writeParams = []param{
		{name: "dryRun", in: "query", typ: "string", description: "When present, indicates that modifications should not be persisted. Valid values are: All."},
		{name: "fieldManager", in: "query", typ: "string", description: "fieldManager is a name associated with the actor or entity that is making these changes."},
		{name: "fieldValidation", in: "query", typ: "string", description: "fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields. Valid values are: Ignore, Warn, Strict."},
	}
	forceParam = param{name: "force", in: "query", typ: "boolean", description: "Force is going to \"force\" Apply requests. It must be unset for non-apply patch requests."}

	listParams = []param{
		{name: "allowWatchBookmarks", in: "query", typ: "boolean", description: "allowWatchBookmarks requests watch events with type \"BOOKMARK\"."},
		{name: "continue", in: "query", typ: "string", description: "The continue option should be set when retrieving more results from the server."},
		{name: "fieldSelector", in: "query", typ: "string", description: "A selector to restrict the list of returned objects by their fields. Defaults to everything."},
		{name: "labelSelector", in: "query", typ: "string", description: "A selector to restrict the list of returned objects by their labels. Defaults to everything."},
		{name: "limit", in: "query", typ: "integer", description: "limit is a maximum number of responses to return for a list call."},
		{name: "resourceVersion", in: "query", typ: "string", description: "resourceVersion sets a constraint on what resource versions a request may be served from."},
		{name: "resourceVersionMatch", in: "query", typ: "string", description: "resourceVersionMatch determines how resourceVersion is applied to list calls."},
		{name: "sendInitialEvents", in: "query", typ: "boolean", description: "sendInitialEvents=true may be set together with watch=true to begin the watch stream with synthetic events."},
		{name: "timeoutSeconds", in: "query", typ: "integer", description: "Timeout for the list/watch call."},
		{name: "watch", in: "query", typ: "boolean", description: "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications."},
	}
	deleteParams = []param{
		{name: "dryRun", in: "query", typ: "string", description: "When present, indicates that modifications should not be persisted. Valid values are: All."},
		{name: "gracePeriodSeconds", in: "query", typ: "integer", description: "The duration in seconds before the object should be deleted."},
		{name: "orphanDependents", in: "query", typ: "boolean", description: "Deprecated: please use the PropagationPolicy."},
		{name: "propagationPolicy", in: "query", typ: "string", description: "Whether and how garbage collection will be performed: Orphan, Background or Foreground."},
	}
	logParams = []param{
		{name: "container", in: "query", typ: "string", description: "The container for which to stream logs."},
		{name: "follow", in: "query", typ: "boolean", description: "Follow the log stream of the pod."},
		{name: "limitBytes", in: "query", typ: "integer", description: "If set, the number of bytes to read from the server before terminating the log output."},
		{name: "previous", in: "query", typ: "boolean", description: "Return previous terminated container logs."},
		{name: "sinceSeconds", in: "query", typ: "integer", description: "A relative time in seconds before the current time from which to show logs."},
		{name: "tailLines", in: "query", typ: "integer", description: "If set, the number of lines from the end of the logs to show."},
		{name: "timestamps", in: "query", typ: "boolean", description: "If true, add an RFC3339 timestamp at the beginning of every line of log output."},
	}
)

// pathPrefix is the URL prefix of a group version: /api/v1 or /apis/G/V.
func pathPrefix(gv schema.GroupVersion) string {
	if gv.Group == "" {
		return "/api/" + gv.Version
	}
	return "/apis/" + gv.Group + "/" + gv.Version
}

// groupVersionID renders a group version the way upstream operation IDs do:
// "" v1 -> CoreV1, rbac.authorization.k8s.io v1 -> RbacAuthorizationV1.
func groupVersionID(gv schema.GroupVersion) string {
	group := strings.TrimSuffix(gv.Group, ".k8s.io")
	if group == "" {
		group = "core"
	}
	var b strings.Builder
	for part := range strings.FieldsFuncSeq(group, func(r rune) bool { return r == '.' || r == '-' }) {
		b.WriteString(upperFirst(part))
	}
	b.WriteString(upperFirst(gv.Version))
	return b.String()
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

// resourcePaths lists the collection, item and subresource paths of r.
func resourcePaths(r Resource, objectDef, listDef string) []pathItem {
	gv := r.GroupVersionKind.GroupVersion()
	kind := r.GroupVersionKind.Kind
	gvID := groupVersionID(gv)
	scope := ""
	base := pathPrefix(gv)
	var scopeParams []param
	if r.Namespaced {
		scope = "Namespaced"
		base += "/namespaces/{namespace}"
		scopeParams = []param{namespaceParam}
	}
	has := func(v string) bool { return slices.Contains(r.Verbs, v) }
	nameParam := param{name: "name", in: "path", typ: "string", required: true, description: "name of the " + kind}

	var items []pathItem
	collection := pathItem{gv: gv, path: base + "/" + r.Resource, params: append(slices.Clone(scopeParams), prettyParam)}
	if has("list") && listDef != "" {
		collection.ops = append(collection.ops, operation{method: "get", id: "list" + gvID + scope + kind, action: "list",
			description: "list or watch objects of kind " + kind, gvk: r.GroupVersionKind, params: listParams, response: listDef, watchable: true})
	}
	if has("create") {
		collection.ops = append(collection.ops, operation{method: "post", id: "create" + gvID + scope + kind, action: "post",
			description: "create a " + kind, gvk: r.GroupVersionKind, params: writeParams, body: objectDef, response: objectDef})
	}
	if has("deletecollection") {
		collection.ops = append(collection.ops, operation{method: "delete", id: "delete" + gvID + "Collection" + scope + kind, action: "deletecollection",
			description: "delete collection of " + kind, gvk: r.GroupVersionKind, params: slices.Concat(deleteParams, listParams), body: deleteOptionsDef, response: statusDef})
	}
	if len(collection.ops) > 0 {
		items = append(items, collection)
	}
	if r.Namespaced && has("list") && listDef != "" {
		items = append(items, pathItem{gv: gv, path: pathPrefix(gv) + "/" + r.Resource, params: []param{prettyParam}, ops: []operation{{
			method: "get", id: "list" + gvID + kind + "ForAllNamespaces", action: "list",
			description: "list or watch objects of kind " + kind, gvk: r.GroupVersionKind, params: listParams, response: listDef, watchable: true}}})
	}

	itemPath := base + "/" + r.Resource + "/{name}"
	itemParams := append(append([]param{nameParam}, scopeParams...), prettyParam)
	item := pathItem{gv: gv, path: itemPath, params: itemParams}
	item.ops = objectOps(r.Verbs, gvID+scope+kind, kind, r.GroupVersionKind, objectDef)
	if has("delete") {
		item.ops = append(item.ops, operation{method: "delete", id: "delete" + gvID + scope + kind, action: "delete",
			description: "delete a " + kind, gvk: r.GroupVersionKind, params: deleteParams, body: deleteOptionsDef, response: statusDef})
	}
	if len(item.ops) > 0 {
		items = append(items, item)
	}
	for _, sub := range r.Subresources {
		sp := pathItem{gv: gv, path: itemPath + "/" + sub.Name, params: itemParams}
		sp.ops = subresourceOps(sub, gvID+scope+kind+upperFirst(sub.Name), kind)
		if len(sp.ops) > 0 {
			items = append(items, sp)
		}
	}
	return items
}

// objectOps are the read/replace/patch operations of an object (or of a
// subresource served as an object).
func objectOps(verbs []string, idSuffix, kind string, gvk schema.GroupVersionKind, def string) []operation {
	var ops []operation
	if slices.Contains(verbs, "get") {
		ops = append(ops, operation{method: "get", id: "read" + idSuffix, action: "get",
			description: "read the specified " + kind, gvk: gvk, response: def})
	}
	if slices.Contains(verbs, "update") {
		ops = append(ops, operation{method: "put", id: "replace" + idSuffix, action: "put",
			description: "replace the specified " + kind, gvk: gvk, params: writeParams, body: def, response: def})
	}
	if slices.Contains(verbs, "patch") {
		ops = append(ops, operation{method: "patch", id: "patch" + idSuffix, action: "patch",
			description: "partially update the specified " + kind, gvk: gvk, params: append(slices.Clone(writeParams), forceParam),
			body: patchDef, response: def, patch: true})
	}
	return ops
}

func subresourceOps(sub Subresource, idSuffix, kind string) []operation {
	if sub.Object == nil {
		return streamingOps(sub, idSuffix, kind)
	}
	def := typeNameOf(sub.Object)
	ops := objectOps(sub.Verbs, idSuffix, kind, sub.GroupVersionKind, def)
	if slices.Contains(sub.Verbs, "create") {
		ops = append(ops, operation{method: "post", id: "create" + idSuffix, action: "post",
			description: "create " + sub.Name + " of a " + kind, gvk: sub.GroupVersionKind, params: writeParams, body: def, response: def})
	}
	return ops
}

// streamingOps describe subresources without an object body: log is a
// plain read, exec/attach/portforward/proxy are connections.
func streamingOps(sub Subresource, idSuffix, kind string) []operation {
	action := "connect"
	var params []param
	if sub.Name == "log" {
		action = "get"
		params = logParams
	}
	gvk := sub.GroupVersionKind
	var ops []operation
	if slices.Contains(sub.Verbs, "get") {
		prefix := "read"
		if action == "connect" {
			prefix = "connectGet"
		}
		ops = append(ops, operation{method: "get", id: prefix + idSuffix, action: action,
			description: action + " " + sub.Name + " of " + kind, gvk: gvk, params: params})
	}
	if slices.Contains(sub.Verbs, "create") {
		ops = append(ops, operation{method: "post", id: "connectPost" + idSuffix, action: "connect",
			description: "connect POST requests to " + sub.Name + " of " + kind, gvk: gvk})
	}
	return ops
}
