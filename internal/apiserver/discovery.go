package apiserver

import (
	"encoding/json"
	"net/http"
	"strings"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/registry"
)

// discoveryDocs are the discovery answers, built once at start: the served
// resources never change while the server runs.
type discoveryDocs struct {
	resources map[schema.GroupVersion][]byte
	// aggregated maps "api" and "apis" to the aggregated document, per
	// discovery version (v2, v2beta1).
	aggregated map[string]map[string][]byte
}

var statusVerbs = []string{"get", "patch", "update"}

// subresources lists what discovery shows under a resource.
func subresources(res *registry.Resource) []registry.Subresource {
	var out []registry.Subresource
	if res.Status {
		out = append(out, registry.Subresource{Name: "status", Kind: res.GVK(), Verbs: statusVerbs})
	}
	if res.Scale {
		out = append(out, registry.Subresource{Name: "scale", Kind: schema.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "Scale"}, Verbs: statusVerbs})
	}
	if res.GVR.Resource == "namespaces" && res.GVR.Group == "" {
		out = append(out, registry.Subresource{Name: "finalize", Kind: res.GVK(), Verbs: []string{"update"}})
	}
	return append(out, res.ExtraSubresources...)
}

func (s *Server) buildDiscovery() discoveryDocs {
	d := discoveryDocs{resources: map[schema.GroupVersion][]byte{}, aggregated: map[string]map[string][]byte{}}
	core := apidiscoveryv2.APIGroupDiscoveryList{}
	named := apidiscoveryv2.APIGroupDiscoveryList{}
	for _, g := range s.groups {
		group := apidiscoveryv2.APIGroupDiscovery{ObjectMeta: metav1.ObjectMeta{Name: g.Name}}
		for _, v := range g.Versions {
			gv := schema.GroupVersion{Group: g.Name, Version: v}
			list := metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: gv.String()}
			version := apidiscoveryv2.APIVersionDiscovery{Version: v, Freshness: apidiscoveryv2.DiscoveryFreshnessCurrent}
			for _, st := range s.reg.Stores() {
				res := st.Resource()
				if res.GVR.GroupVersion() != gv {
					continue
				}
				list.APIResources = append(list.APIResources, legacyResources(res)...)
				version.Resources = append(version.Resources, aggregatedResource(res))
			}
			d.resources[gv], _ = json.Marshal(list)
			group.Versions = append(group.Versions, version)
		}
		if g.Name == "" {
			core.Items = append(core.Items, group)
		} else {
			named.Items = append(named.Items, group)
		}
	}
	for _, dv := range []string{"v2", "v2beta1"} {
		d.aggregated[dv] = map[string][]byte{}
		for path, list := range map[string]apidiscoveryv2.APIGroupDiscoveryList{"api": core, "apis": named} {
			list.TypeMeta = metav1.TypeMeta{Kind: "APIGroupDiscoveryList", APIVersion: "apidiscovery.k8s.io/" + dv}
			d.aggregated[dv][path], _ = json.Marshal(list)
		}
	}
	return d
}

func legacyResources(res *registry.Resource) []metav1.APIResource {
	out := []metav1.APIResource{{
		Name:         res.GVR.Resource,
		SingularName: res.Singular,
		Namespaced:   res.Namespaced,
		Kind:         res.Kind,
		Verbs:        res.Verbs(),
		ShortNames:   res.ShortNames,
		Categories:   res.Categories,
	}}
	for _, sub := range subresources(res) {
		r := metav1.APIResource{
			Name:       res.GVR.Resource + "/" + sub.Name,
			Namespaced: res.Namespaced,
			Kind:       sub.Kind.Kind,
			Verbs:      sub.Verbs,
		}
		if sub.Kind.GroupVersion() != res.GVR.GroupVersion() {
			r.Group, r.Version = sub.Kind.Group, sub.Kind.Version
		}
		out = append(out, r)
	}
	return out
}

func aggregatedResource(res *registry.Resource) apidiscoveryv2.APIResourceDiscovery {
	scope := apidiscoveryv2.ScopeCluster
	if res.Namespaced {
		scope = apidiscoveryv2.ScopeNamespace
	}
	gvk := res.GVK()
	out := apidiscoveryv2.APIResourceDiscovery{
		Resource:         res.GVR.Resource,
		ResponseKind:     &metav1.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind},
		Scope:            scope,
		SingularResource: res.Singular,
		Verbs:            res.Verbs(),
		ShortNames:       res.ShortNames,
		Categories:       res.Categories,
	}
	for _, sub := range subresources(res) {
		out.Subresources = append(out.Subresources, apidiscoveryv2.APISubresourceDiscovery{
			Subresource:  sub.Name,
			ResponseKind: &metav1.GroupVersionKind{Group: sub.Kind.Group, Version: sub.Kind.Version, Kind: sub.Kind.Kind},
			Verbs:        sub.Verbs,
		})
	}
	return out
}

// aggregatedVersion returns the aggregated discovery version the client
// accepts, or "" for legacy discovery.
func aggregatedVersion(r *http.Request) string {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		if !strings.Contains(part, "as=APIGroupDiscoveryList") || !strings.Contains(part, "g=apidiscovery.k8s.io") {
			continue
		}
		for _, v := range []string{"v2", "v2beta1"} {
			if strings.Contains(part, "v="+v+";") || strings.HasSuffix(strings.TrimSpace(part), "v="+v) {
				return v
			}
		}
	}
	return ""
}

func (s *Server) serveAggregated(w http.ResponseWriter, r *http.Request, path string) bool {
	v := aggregatedVersion(r)
	if v == "" {
		return false
	}
	w.Header().Set("Content-Type", "application/json;g=apidiscovery.k8s.io;v="+v+";as=APIGroupDiscoveryList")
	w.Header().Set("Vary", "Accept")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(s.discover.aggregated[v][path])
	return true
}

func (s *Server) apiVersions(w http.ResponseWriter, r *http.Request) {
	if s.serveAggregated(w, r, "api") {
		return
	}
	writeJSON(w, http.StatusOK, &metav1.APIVersions{
		TypeMeta: metav1.TypeMeta{Kind: "APIVersions"},
		Versions: []string{"v1"},
		ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{{
			ClientCIDR: "0.0.0.0/0", ServerAddress: r.Host,
		}},
	})
}

func (s *Server) groupDoc(g apiGroup) metav1.APIGroup {
	out := metav1.APIGroup{TypeMeta: metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"}, Name: g.Name}
	for _, v := range g.Versions {
		out.Versions = append(out.Versions, metav1.GroupVersionForDiscovery{GroupVersion: g.Name + "/" + v, Version: v})
	}
	out.PreferredVersion = out.Versions[0]
	return out
}

func (s *Server) apiGroups(w http.ResponseWriter, r *http.Request) {
	if s.serveAggregated(w, r, "apis") {
		return
	}
	list := metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}, Groups: []metav1.APIGroup{}}
	for _, g := range s.groups {
		if g.Name != "" {
			doc := s.groupDoc(g)
			doc.TypeMeta = metav1.TypeMeta{}
			list.Groups = append(list.Groups, doc)
		}
	}
	writeJSON(w, http.StatusOK, &list)
}

func (s *Server) apiGroup(w http.ResponseWriter, r *http.Request, name string) {
	for _, g := range s.groups {
		if g.Name == name && name != "" {
			doc := s.groupDoc(g)
			writeJSON(w, http.StatusOK, &doc)
			return
		}
	}
	s.notFound(w, r)
}

func (s *Server) resourceList(w http.ResponseWriter, r *http.Request, gv schema.GroupVersion) {
	writeRaw(w, http.StatusOK, s.discover.resources[gv])
}
