package printers

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// registry maps every kind with a dedicated upstream printer to its columns
// and row builder. Kinds absent here (e.g. Role, ClusterRole, LimitRange,
// which upstream does not special-case either) get the default table.
func (p *Printer) registry() map[schema.GroupKind]kindHandler {
	core := func(kind string) schema.GroupKind { return schema.GroupKind{Kind: kind} }
	apps := func(kind string) schema.GroupKind { return schema.GroupKind{Group: appsv1.GroupName, Kind: kind} }
	batch := func(kind string) schema.GroupKind { return schema.GroupKind{Group: batchv1.GroupName, Kind: kind} }
	networking := func(kind string) schema.GroupKind {
		return schema.GroupKind{Group: networkingv1.GroupName, Kind: kind}
	}
	rbac := func(kind string) schema.GroupKind { return schema.GroupKind{Group: rbacv1.GroupName, Kind: kind} }

	return map[schema.GroupKind]kindHandler{
		core("Namespace"):             {namespaceColumns(), typed(p.namespaceRow)},
		core("Pod"):                   {podColumns(), typed(p.podRow)},
		core("PodTemplate"):           {podTemplateColumns(), typed(p.podTemplateRow)},
		core("Service"):               {serviceColumns(), typed(p.serviceRow)},
		core("Endpoints"):             {endpointsColumns(), typed(p.endpointsRow)},
		core("ConfigMap"):             {configMapColumns(), typed(p.configMapRow)},
		core("Secret"):                {secretColumns(), typed(p.secretRow)},
		core("ServiceAccount"):        {serviceAccountColumns(), typed(p.serviceAccountRow)},
		core("Node"):                  {nodeColumns(), typed(p.nodeRow)},
		core("Event"):                 {eventColumns(), typed(p.coreEventRow)},
		core("PersistentVolume"):      {persistentVolumeColumns(), typed(p.persistentVolumeRow)},
		core("PersistentVolumeClaim"): {persistentVolumeClaimColumns(), typed(p.persistentVolumeClaimRow)},
		core("ResourceQuota"):         {resourceQuotaColumns(), typed(p.resourceQuotaRow)},
		core("ReplicationController"): {replicationControllerColumns(), typed(p.replicationControllerRow)},
		core("ComponentStatus"):       {componentStatusColumns(), typed(p.componentStatusRow)},

		apps("Deployment"):         {deploymentColumns(), typed(p.deploymentRow)},
		apps("ReplicaSet"):         {replicaSetColumns(), typed(p.replicaSetRow)},
		apps("StatefulSet"):        {statefulSetColumns(), typed(p.statefulSetRow)},
		apps("DaemonSet"):          {daemonSetColumns(), typed(p.daemonSetRow)},
		apps("ControllerRevision"): {controllerRevisionColumns(), typed(p.controllerRevisionRow)},

		batch("Job"):     {jobColumns(), typed(p.jobRow)},
		batch("CronJob"): {cronJobColumns(), typed(p.cronJobRow)},

		{Group: "autoscaling", Kind: "HorizontalPodAutoscaler"}: {hpaColumns(), p.hpaCells},
		{Group: coordinationv1.GroupName, Kind: "Lease"}:        {leaseColumns(), typed(p.leaseRow)},
		{Group: discoveryv1.GroupName, Kind: "EndpointSlice"}:   {endpointSliceColumns(), typed(p.endpointSliceRow)},
		{Group: eventsv1.GroupName, Kind: "Event"}:              {eventColumns(), typed(p.eventsV1Row)},

		networking("Ingress"):       {ingressColumns(), typed(p.ingressRow)},
		networking("IngressClass"):  {ingressClassColumns(), typed(p.ingressClassRow)},
		networking("NetworkPolicy"): {networkPolicyColumns(), typed(p.networkPolicyRow)},

		{Group: policyv1.GroupName, Kind: "PodDisruptionBudget"}: {podDisruptionBudgetColumns(), typed(p.podDisruptionBudgetRow)},

		rbac("RoleBinding"):        {bindingColumns("roleBinding"), typed(p.roleBindingRow)},
		rbac("ClusterRoleBinding"): {bindingColumns("clusterRoleBinding"), typed(p.clusterRoleBindingRow)},

		{Group: storagev1.GroupName, Kind: "StorageClass"}:     {storageClassColumns(), typed(p.storageClassRow)},
		{Group: schedulingv1.GroupName, Kind: "PriorityClass"}: {priorityClassColumns(), typed(p.priorityClassRow)},
	}
}
