package garbagecollector

import (
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// errUnknownKind marks an owner reference whose kind is not among the
// watched resources: such an owner can be neither verified nor ruled out, so
// its dependents are left alone.
var errUnknownKind = errors.New("garbagecollector: unknown kind")

// builtinKind describes a resource Skiff serves: the metadata API returns
// PartialObjectMetadata without the real kind, so the mapping is fixed here.
type builtinKind struct {
	kind       string
	namespaced bool
}

// builtinKinds maps every resource Skiff serves to its kind and scope.
var builtinKinds = map[schema.GroupResource]builtinKind{
	{Group: "", Resource: "pods"}:                                                        {"Pod", true},
	{Group: "", Resource: "services"}:                                                    {"Service", true},
	{Group: "", Resource: "endpoints"}:                                                   {"Endpoints", true},
	{Group: "", Resource: "configmaps"}:                                                  {"ConfigMap", true},
	{Group: "", Resource: "secrets"}:                                                     {"Secret", true},
	{Group: "", Resource: "serviceaccounts"}:                                             {"ServiceAccount", true},
	{Group: "", Resource: "persistentvolumeclaims"}:                                      {"PersistentVolumeClaim", true},
	{Group: "", Resource: "events"}:                                                      {"Event", true},
	{Group: "", Resource: "replicationcontrollers"}:                                      {"ReplicationController", true},
	{Group: "", Resource: "podtemplates"}:                                                {"PodTemplate", true},
	{Group: "", Resource: "limitranges"}:                                                 {"LimitRange", true},
	{Group: "", Resource: "resourcequotas"}:                                              {"ResourceQuota", true},
	{Group: "", Resource: "nodes"}:                                                       {"Node", false},
	{Group: "", Resource: "namespaces"}:                                                  {"Namespace", false},
	{Group: "", Resource: "persistentvolumes"}:                                           {"PersistentVolume", false},
	{Group: "apps", Resource: "replicasets"}:                                             {"ReplicaSet", true},
	{Group: "apps", Resource: "deployments"}:                                             {"Deployment", true},
	{Group: "apps", Resource: "statefulsets"}:                                            {"StatefulSet", true},
	{Group: "apps", Resource: "daemonsets"}:                                              {"DaemonSet", true},
	{Group: "apps", Resource: "controllerrevisions"}:                                     {"ControllerRevision", true},
	{Group: "batch", Resource: "jobs"}:                                                   {"Job", true},
	{Group: "batch", Resource: "cronjobs"}:                                               {"CronJob", true},
	{Group: "discovery.k8s.io", Resource: "endpointslices"}:                              {"EndpointSlice", true},
	{Group: "events.k8s.io", Resource: "events"}:                                         {"Event", true},
	{Group: "coordination.k8s.io", Resource: "leases"}:                                   {"Lease", true},
	{Group: "autoscaling", Resource: "horizontalpodautoscalers"}:                         {"HorizontalPodAutoscaler", true},
	{Group: "policy", Resource: "poddisruptionbudgets"}:                                  {"PodDisruptionBudget", true},
	{Group: "rbac.authorization.k8s.io", Resource: "roles"}:                              {"Role", true},
	{Group: "rbac.authorization.k8s.io", Resource: "rolebindings"}:                       {"RoleBinding", true},
	{Group: "rbac.authorization.k8s.io", Resource: "clusterroles"}:                       {"ClusterRole", false},
	{Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings"}:                {"ClusterRoleBinding", false},
	{Group: "networking.k8s.io", Resource: "ingresses"}:                                  {"Ingress", true},
	{Group: "networking.k8s.io", Resource: "ingressclasses"}:                             {"IngressClass", false},
	{Group: "networking.k8s.io", Resource: "networkpolicies"}:                            {"NetworkPolicy", true},
	{Group: "scheduling.k8s.io", Resource: "priorityclasses"}:                            {"PriorityClass", false},
	{Group: "storage.k8s.io", Resource: "storageclasses"}:                                {"StorageClass", false},
	{Group: "storage.k8s.io", Resource: "csidrivers"}:                                    {"CSIDriver", false},
	{Group: "storage.k8s.io", Resource: "csinodes"}:                                      {"CSINode", false},
	{Group: "storage.k8s.io", Resource: "volumeattachments"}:                             {"VolumeAttachment", false},
	{Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"}:               {"CustomResourceDefinition", false},
	{Group: "certificates.k8s.io", Resource: "certificatesigningrequests"}:               {"CertificateSigningRequest", false},
	{Group: "admissionregistration.k8s.io", Resource: "validatingwebhookconfigurations"}: {"ValidatingWebhookConfiguration", false},
	{Group: "admissionregistration.k8s.io", Resource: "mutatingwebhookconfigurations"}:   {"MutatingWebhookConfiguration", false},
}

// resourceInfo is what the collector knows about one watched resource.
type resourceInfo struct {
	gvr        schema.GroupVersionResource
	kind       string
	namespaced bool
}

// apiVersion is the group/version string owner references carry.
func (r resourceInfo) apiVersion() string {
	return r.gvr.GroupVersion().String()
}

// resolver maps between watched resources and the kinds owner references
// name. It is built once and read concurrently.
type resolver struct {
	byResource map[schema.GroupVersionResource]resourceInfo
	byKind     map[schema.GroupKind]resourceInfo
}

func newResolver(resources []schema.GroupVersionResource) (*resolver, error) {
	r := &resolver{
		byResource: make(map[schema.GroupVersionResource]resourceInfo, len(resources)),
		byKind:     make(map[schema.GroupKind]resourceInfo, len(resources)),
	}
	for _, gvr := range resources {
		b, ok := builtinKinds[gvr.GroupResource()]
		if !ok {
			return nil, fmt.Errorf("garbagecollector: resource %s: no known kind", gvr)
		}
		info := resourceInfo{gvr: gvr, kind: b.kind, namespaced: b.namespaced}
		r.byResource[gvr] = info
		gk := schema.GroupKind{Group: gvr.Group, Kind: b.kind}
		if _, dup := r.byKind[gk]; !dup {
			r.byKind[gk] = info
		}
	}
	return r, nil
}

// forKind resolves an owner reference's apiVersion and kind. The version is
// not matched: an object is the same object in every version of its group,
// and the UID check that follows any lookup guards identity.
func (r *resolver) forKind(apiVersion, kind string) (resourceInfo, error) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return resourceInfo{}, fmt.Errorf("%w: apiVersion %q: %v", errUnknownKind, apiVersion, err)
	}
	info, ok := r.byKind[schema.GroupKind{Group: gv.Group, Kind: kind}]
	if !ok {
		return resourceInfo{}, fmt.Errorf("%w: %s, Kind=%s", errUnknownKind, apiVersion, kind)
	}
	return info, nil
}
