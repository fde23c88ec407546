package apiserver

import (
	"net/http"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// requestInfo is what the URL of a resource request names.
type requestInfo struct {
	GroupVersion schema.GroupVersion
	Resource     string
	Namespace    string
	Name         string
	Subresource  string
	// Watch is set by the legacy /watch/ path prefix or ?watch=true.
	Watch bool
}

// parseResourcePath parses the path below /api/v1 or /apis/G/V. The second
// result is false when the path is not a resource path.
func parseResourcePath(gv schema.GroupVersion, rest string, r *http.Request) (requestInfo, bool) {
	info := requestInfo{GroupVersion: gv}
	parts := splitPath(rest)
	if len(parts) > 0 && parts[0] == "watch" {
		info.Watch = true
		parts = parts[1:]
	}
	if len(parts) == 0 {
		return info, false
	}
	// /namespaces/NS/RESOURCE/... names a namespaced resource; /namespaces,
	// /namespaces/NAME and /namespaces/NAME/{status,finalize} name namespaces.
	if parts[0] == "namespaces" && len(parts) >= 3 && !(len(parts) == 3 && (parts[2] == "status" || parts[2] == "finalize")) {
		info.Namespace = parts[1]
		parts = parts[2:]
	}
	info.Resource = parts[0]
	if len(parts) > 1 {
		info.Name = parts[1]
	}
	if len(parts) > 2 {
		info.Subresource = strings.Join(parts[2:], "/")
	}
	if len(parts) > 3 && !(info.Subresource != "" && strings.HasPrefix(info.Subresource, "proxy")) {
		return info, false
	}
	if r.URL.Query().Get("watch") == "true" || r.URL.Query().Get("watch") == "1" {
		info.Watch = true
	}
	return info, true
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}
