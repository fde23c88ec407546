package registry

import (
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/conversion"
)

// Builtin returns the built-in resources, in the order discovery lists them.
func Builtin() []*Resource {
	core := func(resource, kind string) *Resource {
		return &Resource{GVR: schema.GroupVersionResource{Version: "v1", Resource: resource}, Kind: kind, Namespaced: true}
	}
	in := func(gv schema.GroupVersion, resource, kind string) *Resource {
		return &Resource{GVR: gv.WithResource(resource), Kind: kind, Namespaced: true}
	}
	apps := appsv1.SchemeGroupVersion
	batch := batchv1.SchemeGroupVersion
	net := networkingv1.SchemeGroupVersion
	rbac := rbacv1.SchemeGroupVersion
	storage := storagev1.SchemeGroupVersion
	all := []string{"all"}
	podLog := Subresource{Name: "log", Kind: schema.GroupVersionKind{Version: "v1", Kind: "Pod"}, Verbs: []string{"get"}}

	rs := []*Resource{
		with(core("configmaps", "ConfigMap"), short("cm")),
		with(core("endpoints", "Endpoints"), short("ep"), func(r *Resource) { r.Singular = "endpoints"; r.CreateOnUpdate = true }),
		with(core("events", "Event"), short("ev"), func(r *Resource) { r.Fields = eventFields; r.CreateOnUpdate = true }),
		with(core("limitranges", "LimitRange"), short("limits")),
		with(core("namespaces", "Namespace"), short("ns"), cluster, status, func(r *Resource) { r.Fields = namespaceFields }),
		with(core("nodes", "Node"), short("no"), cluster, status, func(r *Resource) {
			r.Fields = nodeFields
			r.KeepStatusOnCreate = true
		}),
		with(core("persistentvolumeclaims", "PersistentVolumeClaim"), short("pvc"), status),
		with(core("persistentvolumes", "PersistentVolume"), short("pv"), cluster, status),
		with(core("pods", "Pod"), short("po"), cats(all), status, func(r *Resource) {
			r.Fields = podFields
			r.ExtraSubresources = []Subresource{
				{Name: "binding", Kind: schema.GroupVersionKind{Version: "v1", Kind: "Binding"}, Verbs: []string{"create"}},
				{Name: "eviction", Kind: schema.GroupVersionKind{Group: "policy", Version: "v1", Kind: "Eviction"}, Verbs: []string{"create"}},
				podLog,
				{Name: "exec", Kind: schema.GroupVersionKind{Version: "v1", Kind: "PodExecOptions"}, Verbs: []string{"create", "get"}},
				{Name: "attach", Kind: schema.GroupVersionKind{Version: "v1", Kind: "PodAttachOptions"}, Verbs: []string{"create", "get"}},
				{Name: "portforward", Kind: schema.GroupVersionKind{Version: "v1", Kind: "PodPortForwardOptions"}, Verbs: []string{"create", "get"}},
			}
		}),
		with(core("podtemplates", "PodTemplate")),
		with(core("replicationcontrollers", "ReplicationController"), short("rc"), cats(all), status, scale, generation,
			func(r *Resource) { r.Fields = replicasFields }),
		with(core("resourcequotas", "ResourceQuota"), short("quota"), status),
		with(core("secrets", "Secret"), func(r *Resource) { r.Fields = secretFields }),
		with(core("serviceaccounts", "ServiceAccount"), short("sa")),
		with(core("services", "Service"), short("svc"), cats(all), status, func(r *Resource) { r.Fields = serviceFields }),

		with(in(apps, "controllerrevisions", "ControllerRevision")),
		with(in(apps, "daemonsets", "DaemonSet"), short("ds"), cats(all), appsStatus, generation),
		with(in(apps, "deployments", "Deployment"), short("deploy"), cats(all), appsStatus, scale, generation),
		with(in(apps, "replicasets", "ReplicaSet"), short("rs"), cats(all), appsStatus, scale, generation,
			func(r *Resource) { r.Fields = replicasFields }),
		with(in(apps, "statefulsets", "StatefulSet"), short("sts"), cats(all), appsStatus, scale, generation),

		with(in(autoscalingv2.SchemeGroupVersion, "horizontalpodautoscalers", "HorizontalPodAutoscaler"), short("hpa"), cats(all), status, generation),
		with(in(autoscalingv1.SchemeGroupVersion, "horizontalpodautoscalers", "HorizontalPodAutoscaler"), short("hpa"), cats(all), status, generation,
			viewOf(autoscalingv2.SchemeGroupVersion.WithResource("horizontalpodautoscalers"), hpaV1)),

		with(in(batch, "cronjobs", "CronJob"), short("cj"), cats(all), status, generation),
		with(in(batch, "jobs", "Job"), cats(all), status, generation, func(r *Resource) { r.Fields = jobFields }),

		with(in(coordinationv1.SchemeGroupVersion, "leases", "Lease"), func(r *Resource) { r.CreateOnUpdate = true }),
		with(in(discoveryv1.SchemeGroupVersion, "endpointslices", "EndpointSlice")),
		with(in(eventsv1.SchemeGroupVersion, "events", "Event"), short("ev"),
			viewOf(corev1.SchemeGroupVersion.WithResource("events"), eventsV1)),

		with(in(net, "ingressclasses", "IngressClass"), cluster),
		with(in(net, "ingresses", "Ingress"), short("ing"), status, generation),
		with(in(net, "networkpolicies", "NetworkPolicy"), short("netpol"), generation),

		with(in(policyv1.SchemeGroupVersion, "poddisruptionbudgets", "PodDisruptionBudget"), short("pdb"), status, generation),

		with(in(rbac, "clusterrolebindings", "ClusterRoleBinding"), cluster),
		with(in(rbac, "clusterroles", "ClusterRole"), cluster),
		with(in(rbac, "rolebindings", "RoleBinding")),
		with(in(rbac, "roles", "Role")),

		with(in(schedulingv1.SchemeGroupVersion, "priorityclasses", "PriorityClass"), short("pc"), cluster),
		with(in(storage, "storageclasses", "StorageClass"), short("sc"), cluster),
	}
	return rs
}

func viewOf(base schema.GroupVersionResource, conv Converter) func(*Resource) {
	return func(r *Resource) { r.ViewOf, r.Conversion = base, conv }
}

// hpaV1 serves autoscaling/v2 HPAs as autoscaling/v1.
var hpaV1 = Converter{
	ToStorage: func(obj runtime.Object) (runtime.Object, error) {
		return conversion.HPAFromV1(obj.(*autoscalingv1.HorizontalPodAutoscaler))
	},
	FromStorage: func(obj runtime.Object) (runtime.Object, error) {
		return conversion.HPAToV1(obj.(*autoscalingv2.HorizontalPodAutoscaler))
	},
}

// eventsV1 serves core/v1 Events as events.k8s.io/v1.
var eventsV1 = Converter{
	ToStorage: func(obj runtime.Object) (runtime.Object, error) {
		return conversion.EventFromEventsV1(obj.(*eventsv1.Event)), nil
	},
	FromStorage: func(obj runtime.Object) (runtime.Object, error) {
		return conversion.EventToEventsV1(obj.(*corev1.Event)), nil
	},
}

func with(r *Resource, opts ...func(*Resource)) *Resource {
	for _, o := range opts {
		o(r)
	}
	return r
}

func short(names ...string) func(*Resource) {
	return func(r *Resource) { r.ShortNames = names }
}

func cats(c []string) func(*Resource) { return func(r *Resource) { r.Categories = c } }

func cluster(r *Resource)    { r.Namespaced = false }
func status(r *Resource)     { r.Status = true }
func appsStatus(r *Resource) { r.Status, r.StatusWritesAnnotations = true, true }
func scale(r *Resource)      { r.Scale = true }
func generation(r *Resource) { r.Generation = true }

func podFields(obj runtime.Object) fields.Set {
	p := obj.(*corev1.Pod)
	return fields.Set{
		"spec.nodeName":            p.Spec.NodeName,
		"spec.restartPolicy":       string(p.Spec.RestartPolicy),
		"spec.schedulerName":       p.Spec.SchedulerName,
		"spec.serviceAccountName":  p.Spec.ServiceAccountName,
		"spec.hostNetwork":         strconv.FormatBool(p.Spec.HostNetwork),
		"status.phase":             string(p.Status.Phase),
		"status.podIP":             p.Status.PodIP,
		"status.nominatedNodeName": p.Status.NominatedNodeName,
	}
}

func eventFields(obj runtime.Object) fields.Set {
	e := obj.(*corev1.Event)
	return fields.Set{
		"involvedObject.kind":            e.InvolvedObject.Kind,
		"involvedObject.namespace":       e.InvolvedObject.Namespace,
		"involvedObject.name":            e.InvolvedObject.Name,
		"involvedObject.uid":             string(e.InvolvedObject.UID),
		"involvedObject.apiVersion":      e.InvolvedObject.APIVersion,
		"involvedObject.resourceVersion": e.InvolvedObject.ResourceVersion,
		"involvedObject.fieldPath":       e.InvolvedObject.FieldPath,
		"reason":                         e.Reason,
		"reportingComponent":             e.ReportingController,
		"source":                         e.Source.Component,
		"type":                           e.Type,
	}
}

func namespaceFields(obj runtime.Object) fields.Set {
	return fields.Set{"status.phase": string(obj.(*corev1.Namespace).Status.Phase)}
}

func nodeFields(obj runtime.Object) fields.Set {
	return fields.Set{"spec.unschedulable": strconv.FormatBool(obj.(*corev1.Node).Spec.Unschedulable)}
}

func secretFields(obj runtime.Object) fields.Set {
	return fields.Set{"type": string(obj.(*corev1.Secret).Type)}
}

func serviceFields(obj runtime.Object) fields.Set {
	s := obj.(*corev1.Service)
	return fields.Set{"spec.clusterIP": s.Spec.ClusterIP, "spec.type": string(s.Spec.Type)}
}

func replicasFields(obj runtime.Object) fields.Set {
	var n int32
	switch o := obj.(type) {
	case *appsv1.ReplicaSet:
		n = o.Status.Replicas
	case *corev1.ReplicationController:
		n = o.Status.Replicas
	}
	return fields.Set{"status.replicas": strconv.Itoa(int(n))}
}

func jobFields(obj runtime.Object) fields.Set {
	return fields.Set{"status.successful": strconv.Itoa(int(obj.(*batchv1.Job).Status.Succeeded))}
}
