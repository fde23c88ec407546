package printers

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
)

type kindCase struct {
	name string
	obj  runtime.Object
	want map[string]interface{}
}

func runKindCases(t *testing.T, gk schema.GroupKind, cases []kindCase) {
	t.Helper()
	p := newTestPrinter()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			expectCells(t, cellsOf(t, p, gk, tc.obj), tc.want)
		})
	}
}

func podSpec(containers ...string) corev1.PodTemplateSpec {
	var cs []corev1.Container
	for _, c := range containers {
		cs = append(cs, corev1.Container{Name: c, Image: c + ":1.0"})
	}
	return corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: cs}}
}

func appSelector() *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
}

func TestServiceCells(t *testing.T) {
	tcp := corev1.ProtocolTCP
	svc := func(typ corev1.ServiceType, mutate func(*corev1.Service)) *corev1.Service {
		s := &corev1.Service{ObjectMeta: objMeta("web"), Spec: corev1.ServiceSpec{
			Type: typ, ClusterIP: "10.96.0.10", ClusterIPs: []string{"10.96.0.10"},
			Ports:    []corev1.ServicePort{{Port: 8080, Protocol: tcp}},
			Selector: map[string]string{"app": "web", "tier": "fe"},
		}}
		mutate(s)
		return s
	}
	runKindCases(t, schema.GroupKind{Kind: "Service"}, []kindCase{
		{"cluster ip", svc(corev1.ServiceTypeClusterIP, func(*corev1.Service) {}), map[string]interface{}{
			"Type": "ClusterIP", "Cluster-IP": "10.96.0.10", "External-IP": "<none>", "Port(s)": "8080/TCP", "Age": "10m", "Selector": "app=web,tier=fe",
		}},
		{"headless without ports or selector", svc(corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.ClusterIP, s.Spec.ClusterIPs, s.Spec.Ports, s.Spec.Selector = "None", []string{"None"}, nil, nil
		}), map[string]interface{}{"Cluster-IP": "None", "Port(s)": "<none>", "Selector": "<none>"}},
		{"cluster ip with external ips", svc(corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.ExternalIPs = []string{"1.2.3.4", "5.6.7.8"}
		}), map[string]interface{}{"External-IP": "1.2.3.4,5.6.7.8"}},
		{"node port", svc(corev1.ServiceTypeNodePort, func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{{Port: 80, NodePort: 30000, Protocol: tcp}, {Port: 53, Protocol: corev1.ProtocolUDP}}
		}), map[string]interface{}{"Type": "NodePort", "External-IP": "<none>", "Port(s)": "80:30000/TCP,53/UDP"}},
		{"load balancer pending", svc(corev1.ServiceTypeLoadBalancer, func(*corev1.Service) {}), map[string]interface{}{"External-IP": "<pending>"}},
		{"load balancer with ingress", svc(corev1.ServiceTypeLoadBalancer, func(s *corev1.Service) {
			s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "203.0.113.9"}, {Hostname: "lb.example.com"}, {IP: "203.0.113.1"}}
			s.Spec.ExternalIPs = []string{"198.51.100.1"}
		}), map[string]interface{}{"External-IP": "203.0.113.1,203.0.113.9,lb.example.com,198.51.100.1"}},
		{"external name", svc(corev1.ServiceTypeExternalName, func(s *corev1.Service) {
			s.Spec.ExternalName, s.Spec.ClusterIP, s.Spec.ClusterIPs = "db.example.com", "", nil
		}), map[string]interface{}{"Cluster-IP": "<none>", "External-IP": "db.example.com"}},
	})
}

func TestNodeCells(t *testing.T) {
	node := func(mutate func(*corev1.Node)) *corev1.Node {
		n := &corev1.Node{
			ObjectMeta: objMeta("node-1"),
			Status: corev1.NodeStatus{
				Conditions: []corev1.NodeCondition{{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse}, {Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
				Addresses:  []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: "node-1"}, {Type: corev1.NodeInternalIP, Address: "192.168.1.10"}},
				NodeInfo:   corev1.NodeSystemInfo{KubeletVersion: "v1.31.0", OSImage: "Ubuntu 24.04", KernelVersion: "6.8.0", ContainerRuntimeVersion: "containerd://1.7.0"},
			},
		}
		n.Namespace = ""
		mutate(n)
		return n
	}
	runKindCases(t, schema.GroupKind{Kind: "Node"}, []kindCase{
		{"ready worker", node(func(*corev1.Node) {}), map[string]interface{}{
			"Name": "node-1", "Status": "Ready", "Roles": "<none>", "Age": "10m", "Version": "v1.31.0",
			"Internal-IP": "192.168.1.10", "External-IP": "<none>", "OS-Image": "Ubuntu 24.04", "Kernel-Version": "6.8.0", "Container-Runtime": "containerd://1.7.0",
		}},
		{"control plane roles", node(func(n *corev1.Node) {
			n.Labels = map[string]string{"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/etcd": "true", "kubernetes.io/role": "master", "node-role.kubernetes.io/": ""}
		}), map[string]interface{}{"Roles": "control-plane,etcd,master"}},
		{"cordoned and not ready", node(func(n *corev1.Node) {
			n.Spec.Unschedulable = true
			n.Status.Conditions[1].Status = corev1.ConditionUnknown
		}), map[string]interface{}{"Status": "NotReady,SchedulingDisabled"}},
		{"no conditions or node info", node(func(n *corev1.Node) {
			n.Status = corev1.NodeStatus{}
		}), map[string]interface{}{"Status": "Unknown", "Version": "", "Internal-IP": "<none>", "OS-Image": "<unknown>", "Kernel-Version": "<unknown>", "Container-Runtime": "<unknown>"}},
	})
}

func TestWorkloadCells(t *testing.T) {
	t.Run("deployment", func(t *testing.T) {
		runKindCases(t, schema.GroupKind{Group: "apps", Kind: "Deployment"}, []kindCase{
			{"partially available", &appsv1.Deployment{
				ObjectMeta: objMeta("web"),
				Spec:       appsv1.DeploymentSpec{Replicas: ptr(int32(3)), Selector: appSelector(), Template: podSpec("nginx", "sidecar")},
				Status:     appsv1.DeploymentStatus{ReadyReplicas: 2, UpdatedReplicas: 3, AvailableReplicas: 2},
			}, map[string]interface{}{
				"Ready": "2/3", "Up-to-date": int64(3), "Available": int64(2), "Age": "10m",
				"Containers": "nginx,sidecar", "Images": "nginx:1.0,sidecar:1.0", "Selector": "app=web",
			}},
			{"defaulted replicas and no selector", &appsv1.Deployment{ObjectMeta: objMeta("web")}, map[string]interface{}{"Ready": "0/1", "Selector": ""}},
		})
	})
	t.Run("replicaset", func(t *testing.T) {
		runKindCases(t, schema.GroupKind{Group: "apps", Kind: "ReplicaSet"}, []kindCase{
			{"scaled", &appsv1.ReplicaSet{
				ObjectMeta: objMeta("web-7d9"),
				Spec:       appsv1.ReplicaSetSpec{Replicas: ptr(int32(2)), Selector: appSelector(), Template: podSpec("nginx")},
				Status:     appsv1.ReplicaSetStatus{Replicas: 2, ReadyReplicas: 1},
			}, map[string]interface{}{"Desired": int64(2), "Current": int64(2), "Ready": int64(1), "Selector": "app=web"}},
			{"nil selector", &appsv1.ReplicaSet{ObjectMeta: objMeta("rs")}, map[string]interface{}{"Desired": int64(1), "Selector": "<none>"}},
		})
	})
	t.Run("statefulset", func(t *testing.T) {
		runKindCases(t, schema.GroupKind{Group: "apps", Kind: "StatefulSet"}, []kindCase{
			{"ready", &appsv1.StatefulSet{
				ObjectMeta: objMeta("db"),
				Spec:       appsv1.StatefulSetSpec{Replicas: ptr(int32(3)), Template: podSpec("postgres")},
				Status:     appsv1.StatefulSetStatus{ReadyReplicas: 3},
			}, map[string]interface{}{"Ready": "3/3", "Containers": "postgres", "Images": "postgres:1.0"}},
		})
	})
	t.Run("daemonset", func(t *testing.T) {
		tmpl := podSpec("agent")
		tmpl.Spec.NodeSelector = map[string]string{"kubernetes.io/os": "linux"}
		runKindCases(t, schema.GroupKind{Group: "apps", Kind: "DaemonSet"}, []kindCase{
			{"rolled out", &appsv1.DaemonSet{
				ObjectMeta: objMeta("agent"),
				Spec:       appsv1.DaemonSetSpec{Selector: appSelector(), Template: tmpl},
				Status:     appsv1.DaemonSetStatus{DesiredNumberScheduled: 3, CurrentNumberScheduled: 3, NumberReady: 2, UpdatedNumberScheduled: 3, NumberAvailable: 2},
			}, map[string]interface{}{
				"Desired": int64(3), "Current": int64(3), "Ready": int64(2), "Up-to-date": int64(3), "Available": int64(2),
				"Node Selector": "kubernetes.io/os=linux", "Selector": "app=web",
			}},
			{"no node selector", &appsv1.DaemonSet{ObjectMeta: objMeta("agent")}, map[string]interface{}{"Node Selector": "<none>"}},
		})
	})
	t.Run("controllerrevision", func(t *testing.T) {
		owned := &appsv1.ControllerRevision{ObjectMeta: objMeta("web-6b7"), Revision: 2}
		owned.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "web", Controller: ptr(true)}}
		coreOwned := &appsv1.ControllerRevision{ObjectMeta: objMeta("x"), Revision: 1}
		coreOwned.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: "p", Controller: ptr(true)}}
		runKindCases(t, schema.GroupKind{Group: "apps", Kind: "ControllerRevision"}, []kindCase{
			{"statefulset owner", owned, map[string]interface{}{"Controller": "statefulset.apps/web", "Revision": int64(2)}},
			{"core owner", coreOwned, map[string]interface{}{"Controller": "pod/p"}},
			{"orphan", &appsv1.ControllerRevision{ObjectMeta: objMeta("y")}, map[string]interface{}{"Controller": "<none>"}},
		})
	})
	t.Run("replicationcontroller", func(t *testing.T) {
		tmpl := podSpec("nginx")
		runKindCases(t, schema.GroupKind{Kind: "ReplicationController"}, []kindCase{
			{"scaled", &corev1.ReplicationController{
				ObjectMeta: objMeta("rc"),
				Spec:       corev1.ReplicationControllerSpec{Replicas: ptr(int32(2)), Selector: map[string]string{"app": "web"}, Template: &tmpl},
				Status:     corev1.ReplicationControllerStatus{Replicas: 2, ReadyReplicas: 2},
			}, map[string]interface{}{"Desired": int64(2), "Current": int64(2), "Ready": int64(2), "Containers": "nginx", "Selector": "app=web"}},
		})
	})
	t.Run("podtemplate", func(t *testing.T) {
		tmpl := podSpec("a", "b")
		tmpl.Labels = map[string]string{"app": "web"}
		runKindCases(t, schema.GroupKind{Kind: "PodTemplate"}, []kindCase{
			{"two containers", &corev1.PodTemplate{ObjectMeta: objMeta("pt"), Template: tmpl}, map[string]interface{}{"Containers": "a,b", "Images": "a:1.0,b:1.0", "Pod Labels": "app=web"}},
		})
	})
}

func TestJobCells(t *testing.T) {
	start := ago(7 * time.Minute)
	finish := ago(5 * time.Minute)
	job := func(mutate func(*batchv1.Job)) *batchv1.Job {
		j := &batchv1.Job{ObjectMeta: objMeta("pi"), Spec: batchv1.JobSpec{Template: podSpec("pi"), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"job-name": "pi"}}}}
		mutate(j)
		return j
	}
	cond := func(t batchv1.JobConditionType) batchv1.JobCondition {
		return batchv1.JobCondition{Type: t, Status: corev1.ConditionTrue}
	}
	runKindCases(t, schema.GroupKind{Group: "batch", Kind: "Job"}, []kindCase{
		{"running", job(func(j *batchv1.Job) {
			j.Spec.Completions = ptr(int32(3))
			j.Status = batchv1.JobStatus{Succeeded: 1, StartTime: &start}
		}), map[string]interface{}{"Status": "Running", "Completions": "1/3", "Duration": "7m", "Age": "10m", "Containers": "pi", "Selector": "job-name=pi"}},
		{"complete", job(func(j *batchv1.Job) {
			j.Spec.Completions = ptr(int32(1))
			j.Status = batchv1.JobStatus{Succeeded: 1, StartTime: &start, CompletionTime: &finish, Conditions: []batchv1.JobCondition{cond(batchv1.JobComplete)}}
		}), map[string]interface{}{"Status": "Complete", "Completions": "1/1", "Duration": "2m"}},
		{"work queue", job(func(j *batchv1.Job) {
			j.Spec.Parallelism = ptr(int32(4))
		}), map[string]interface{}{"Completions": "0/1 of 4", "Duration": ""}},
		{"failed", job(func(j *batchv1.Job) {
			j.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobFailureTarget), cond(batchv1.JobFailed)}
		}), map[string]interface{}{"Status": "Failed", "Completions": "0/1"}},
		{"suspended", job(func(j *batchv1.Job) {
			j.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobSuspended)}
		}), map[string]interface{}{"Status": "Suspended"}},
		{"terminating", job(func(j *batchv1.Job) {
			j.DeletionTimestamp = &finish
			j.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobSuspended)}
		}), map[string]interface{}{"Status": "Terminating"}},
		{"failure target", job(func(j *batchv1.Job) {
			j.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobFailureTarget)}
		}), map[string]interface{}{"Status": "FailureTarget"}},
	})
}

func TestCronJobCells(t *testing.T) {
	last := ago(90 * time.Second)
	cj := &batchv1.CronJob{
		ObjectMeta: objMeta("hello"),
		Spec: batchv1.CronJobSpec{
			Schedule: "*/1 * * * *", TimeZone: ptr("Etc/UTC"), Suspend: ptr(false),
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: podSpec("hello")}},
		},
		Status: batchv1.CronJobStatus{Active: []corev1.ObjectReference{{Name: "hello-1"}}, LastScheduleTime: &last},
	}
	runKindCases(t, schema.GroupKind{Group: "batch", Kind: "CronJob"}, []kindCase{
		{"scheduled", cj, map[string]interface{}{
			"Schedule": "*/1 * * * *", "Timezone": "Etc/UTC", "Suspend": "False", "Active": int64(1), "Last Schedule": "90s",
			"Containers": "hello", "Selector": "<none>",
		}},
		{"never scheduled", &batchv1.CronJob{ObjectMeta: objMeta("c"), Spec: batchv1.CronJobSpec{Schedule: "@daily"}}, map[string]interface{}{
			"Timezone": "<none>", "Suspend": "<unset>", "Active": int64(0), "Last Schedule": "<none>",
		}},
	})
}

func TestEventCells(t *testing.T) {
	first := ago(3 * time.Hour)
	lastSeen := ago(2 * time.Minute)
	runKindCases(t, schema.GroupKind{Kind: "Event"}, []kindCase{
		{"legacy event", &corev1.Event{
			ObjectMeta:     objMeta("web.17a"),
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web", FieldPath: "spec.containers{app}"},
			Reason:         "BackOff", Message: "Back-off restarting failed container\n", Type: corev1.EventTypeWarning,
			Source:         corev1.EventSource{Component: "kubelet", Host: "node-1"},
			FirstTimestamp: first, LastTimestamp: lastSeen, Count: 12,
		}, map[string]interface{}{
			"Last Seen": "2m", "Type": "Warning", "Reason": "BackOff", "Object": "pod/web", "Subobject": "spec.containers{app}",
			"Source": "kubelet, node-1", "Message": "Back-off restarting failed container", "First Seen": "3h", "Count": int64(12), "Name": "web.17a",
		}},
		{"new style event with series", &corev1.Event{
			ObjectMeta:          objMeta("e2"),
			InvolvedObject:      corev1.ObjectReference{Kind: "Node"},
			EventTime:           metav1.NewMicroTime(now.Add(-time.Hour)),
			Series:              &corev1.EventSeries{Count: 4, LastObservedTime: metav1.NewMicroTime(now.Add(-30 * time.Second))},
			ReportingController: "skiff-scheduler",
		}, map[string]interface{}{"Last Seen": "30s", "First Seen": "60m", "Count": int64(4), "Object": "node", "Source": "skiff-scheduler"}},
		{"singleton without timestamps", &corev1.Event{ObjectMeta: objMeta("e3")}, map[string]interface{}{"Last Seen": "<unknown>", "First Seen": "<unknown>", "Count": int64(1)}},
	})
	runKindCases(t, schema.GroupKind{Group: "events.k8s.io", Kind: "Event"}, []kindCase{
		{"events.k8s.io event", &eventsv1.Event{
			ObjectMeta: objMeta("web.17b"),
			EventTime:  metav1.NewMicroTime(now.Add(-5 * time.Minute)),
			Regarding:  corev1.ObjectReference{Kind: "Deployment", Name: "web"},
			Reason:     "ScalingReplicaSet", Note: "Scaled up replica set web-7d9 to 3", Type: corev1.EventTypeNormal,
			ReportingController: "deployment-controller", ReportingInstance: "skiff-0",
		}, map[string]interface{}{
			"Last Seen": "5m", "First Seen": "5m", "Object": "deployment/web", "Reason": "ScalingReplicaSet", "Count": int64(1),
			"Message": "Scaled up replica set web-7d9 to 3", "Source": "deployment-controller, skiff-0", "Name": "web.17b",
		}},
	})
}

func TestEndpointsCells(t *testing.T) {
	addrs := func(ips ...string) []corev1.EndpointAddress {
		var out []corev1.EndpointAddress
		for _, ip := range ips {
			out = append(out, corev1.EndpointAddress{IP: ip})
		}
		return out
	}
	runKindCases(t, schema.GroupKind{Kind: "Endpoints"}, []kindCase{
		{"no subsets", &corev1.Endpoints{ObjectMeta: objMeta("ep")}, map[string]interface{}{"Endpoints": "<none>"}},
		{"two addresses", &corev1.Endpoints{ObjectMeta: objMeta("ep"), Subsets: []corev1.EndpointSubset{{
			Addresses: addrs("10.0.0.1", "10.0.0.2"), Ports: []corev1.EndpointPort{{Port: 8080}},
		}}}, map[string]interface{}{"Endpoints": "10.0.0.1:8080,10.0.0.2:8080"}},
		{"ipv6 and more", &corev1.Endpoints{ObjectMeta: objMeta("ep"), Subsets: []corev1.EndpointSubset{{
			Addresses: addrs("fd00::1", "fd00::2"), Ports: []corev1.EndpointPort{{Port: 80}, {Port: 443}},
		}}}, map[string]interface{}{"Endpoints": "[fd00::1]:80,[fd00::2]:80,[fd00::1]:443 + 1 more..."}},
		{"headless without ports", &corev1.Endpoints{ObjectMeta: objMeta("ep"), Subsets: []corev1.EndpointSubset{{
			Addresses: addrs("10.0.0.1"),
		}}}, map[string]interface{}{"Endpoints": "10.0.0.1"}},
	})
	runKindCases(t, schema.GroupKind{Group: "discovery.k8s.io", Kind: "EndpointSlice"}, []kindCase{
		{"empty", &discoveryv1.EndpointSlice{ObjectMeta: objMeta("es"), AddressType: discoveryv1.AddressTypeIPv4}, map[string]interface{}{
			"AddressType": "IPv4", "Ports": "<unset>", "Endpoints": "<unset>",
		}},
		{"ports and many endpoints", &discoveryv1.EndpointSlice{
			ObjectMeta: objMeta("es"), AddressType: discoveryv1.AddressTypeIPv4,
			Ports: []discoveryv1.EndpointPort{{Port: ptr(int32(80))}, {Name: ptr("metrics")}, {}},
			Endpoints: []discoveryv1.Endpoint{
				{Addresses: []string{"10.0.0.1"}}, {Addresses: []string{"10.0.0.2"}}, {Addresses: []string{"10.0.0.3"}}, {Addresses: []string{"10.0.0.4"}}, {Addresses: []string{"10.0.0.5"}},
			},
		}, map[string]interface{}{"Ports": "80,metrics,*", "Endpoints": "10.0.0.1,10.0.0.2,10.0.0.3 + 2 more..."}},
	})
}

func TestStorageCells(t *testing.T) {
	filesystem := corev1.PersistentVolumeFilesystem
	capacity := corev1.ResourceList{corev1.ResourceStorage: *quantity("10Gi")}
	pv := &corev1.PersistentVolume{
		ObjectMeta: objMeta("pv-1"),
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      capacity,
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany, corev1.ReadWriteOnce, corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			ClaimRef:                      &corev1.ObjectReference{Namespace: "default", Name: "data"},
			StorageClassName:              "standard",
			VolumeMode:                    &filesystem,
		},
		Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeBound},
	}
	runKindCases(t, schema.GroupKind{Kind: "PersistentVolume"}, []kindCase{
		{"bound", pv, map[string]interface{}{
			"Capacity": "10Gi", "Access Modes": "RWO,RWX", "Reclaim Policy": "Retain", "Status": "Bound", "Claim": "default/data",
			"StorageClass": "standard", "VolumeAttributesClass": "<unset>", "Reason": "", "VolumeMode": "Filesystem",
		}},
		{"available with beta class annotation", &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: "pv-2", CreationTimestamp: ago(time.Hour), Annotations: map[string]string{betaStorageClassAnnotation: "slow"}},
			Spec:       corev1.PersistentVolumeSpec{StorageClassName: "fast"},
			Status:     corev1.PersistentVolumeStatus{Phase: corev1.VolumeAvailable},
		}, map[string]interface{}{"Capacity": "0", "Claim": "", "StorageClass": "slow", "Status": "Available", "VolumeMode": "<unset>", "Age": "60m"}},
	})
	runKindCases(t, schema.GroupKind{Kind: "PersistentVolumeClaim"}, []kindCase{
		{"bound", &corev1.PersistentVolumeClaim{
			ObjectMeta: objMeta("data"),
			Spec:       corev1.PersistentVolumeClaimSpec{VolumeName: "pv-1", StorageClassName: ptr("standard"), VolumeMode: &filesystem, VolumeAttributesClassName: ptr("gold")},
			Status:     corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound, Capacity: capacity, AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}},
		}, map[string]interface{}{
			"Status": "Bound", "Volume": "pv-1", "Capacity": "10Gi", "Access Modes": "RWO", "StorageClass": "standard", "VolumeAttributesClass": "gold", "VolumeMode": "Filesystem",
		}},
		{"pending and terminating", &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: "data", CreationTimestamp: ago(time.Minute), DeletionTimestamp: ptr(ago(0))},
			Status:     corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending, Capacity: capacity},
		}, map[string]interface{}{"Status": "Terminating", "Volume": "", "Capacity": "", "Access Modes": "", "StorageClass": ""}},
	})
	runKindCases(t, schema.GroupKind{Group: "storage.k8s.io", Kind: "StorageClass"}, []kindCase{
		{"default class", &storagev1.StorageClass{
			ObjectMeta:           metav1.ObjectMeta{Name: "standard", CreationTimestamp: ago(time.Minute), Annotations: map[string]string{defaultStorageClassAnnotation: "true"}},
			Provisioner:          "rancher.io/local-path",
			VolumeBindingMode:    ptr(storagev1.VolumeBindingWaitForFirstConsumer),
			AllowVolumeExpansion: ptr(true),
		}, map[string]interface{}{
			"Name": "standard (default)", "Provisioner": "rancher.io/local-path", "ReclaimPolicy": "Delete",
			"VolumeBindingMode": "WaitForFirstConsumer", "AllowVolumeExpansion": true,
		}},
		{"defaults", &storagev1.StorageClass{ObjectMeta: objMeta("slow"), Provisioner: "p", ReclaimPolicy: ptr(corev1.PersistentVolumeReclaimRetain)}, map[string]interface{}{
			"Name": "slow", "ReclaimPolicy": "Retain", "VolumeBindingMode": "Immediate", "AllowVolumeExpansion": false,
		}},
	})
}

func TestConfigAndPolicyCells(t *testing.T) {
	runKindCases(t, schema.GroupKind{Kind: "ConfigMap"}, []kindCase{
		{"data and binary data", &corev1.ConfigMap{ObjectMeta: objMeta("cm"), Data: map[string]string{"a": "1", "b": "2"}, BinaryData: map[string][]byte{"c": {1}}},
			map[string]interface{}{"Data": int64(3), "Age": "10m"}},
	})
	runKindCases(t, schema.GroupKind{Kind: "Secret"}, []kindCase{
		{"opaque", &corev1.Secret{ObjectMeta: objMeta("s"), Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"u": nil, "p": nil}, StringData: map[string]string{"p": "x", "t": "y"}},
			map[string]interface{}{"Type": "Opaque", "Data": int64(3)}},
	})
	runKindCases(t, schema.GroupKind{Kind: "ServiceAccount"}, []kindCase{
		{"one secret", &corev1.ServiceAccount{ObjectMeta: objMeta("default"), Secrets: []corev1.ObjectReference{{Name: "tok"}}}, map[string]interface{}{"Secrets": int64(1)}},
	})
	runKindCases(t, schema.GroupKind{Kind: "Namespace"}, []kindCase{
		{"terminating", &corev1.Namespace{ObjectMeta: objMeta("old"), Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}}, map[string]interface{}{"Status": "Terminating"}},
	})
	runKindCases(t, schema.GroupKind{Kind: "ResourceQuota"}, []kindCase{
		{"requests and limits", &corev1.ResourceQuota{ObjectMeta: objMeta("rq"), Status: corev1.ResourceQuotaStatus{
			Hard: corev1.ResourceList{"pods": *quantity("10"), "requests.cpu": *quantity("2"), "limits.memory": *quantity("4Gi"), "limits.cpu": *quantity("4")},
			Used: corev1.ResourceList{"pods": *quantity("3"), "requests.cpu": *quantity("500m"), "limits.cpu": *quantity("1")},
		}}, map[string]interface{}{"Request": "pods: 3/10, requests.cpu: 500m/2", "Limit": "limits.cpu: 1/4, limits.memory: 0/4Gi"}},
	})
	runKindCases(t, schema.GroupKind{Kind: "ComponentStatus"}, []kindCase{
		{"healthy", &corev1.ComponentStatus{ObjectMeta: objMeta("etcd-0"), Conditions: []corev1.ComponentCondition{{Type: corev1.ComponentHealthy, Status: corev1.ConditionTrue, Message: "ok"}}},
			map[string]interface{}{"Status": "Healthy", "Message": "ok", "Error": ""}},
		{"no conditions", &corev1.ComponentStatus{ObjectMeta: objMeta("x")}, map[string]interface{}{"Status": "Unknown"}},
	})
	runKindCases(t, schema.GroupKind{Group: "policy", Kind: "PodDisruptionBudget"}, []kindCase{
		{"min available", &policyv1.PodDisruptionBudget{ObjectMeta: objMeta("pdb"), Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr(intstr.FromString("50%"))}, Status: policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: 1}},
			map[string]interface{}{"Min Available": "50%", "Max Unavailable": "N/A", "Allowed Disruptions": int64(1)}},
		{"max unavailable", &policyv1.PodDisruptionBudget{ObjectMeta: objMeta("pdb"), Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: ptr(intstr.FromInt32(1))}},
			map[string]interface{}{"Min Available": "N/A", "Max Unavailable": "1"}},
	})
	runKindCases(t, schema.GroupKind{Group: "scheduling.k8s.io", Kind: "PriorityClass"}, []kindCase{
		{"global default", &schedulingv1.PriorityClass{ObjectMeta: objMeta("high"), Value: 1000000, GlobalDefault: true, PreemptionPolicy: ptr(corev1.PreemptLowerPriority)},
			map[string]interface{}{"Value": int64(1000000), "Global-Default": true, "PreemptionPolicy": "PreemptLowerPriority"}},
	})
	runKindCases(t, schema.GroupKind{Group: "coordination.k8s.io", Kind: "Lease"}, []kindCase{
		{"held", &coordinationv1.Lease{ObjectMeta: objMeta("kube-scheduler"), Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr("node-1_abc")}}, map[string]interface{}{"Holder": "node-1_abc"}},
		{"free", &coordinationv1.Lease{ObjectMeta: objMeta("free")}, map[string]interface{}{"Holder": ""}},
	})
}

func TestNetworkingAndRBACCells(t *testing.T) {
	runKindCases(t, schema.GroupKind{Group: "networking.k8s.io", Kind: "Ingress"}, []kindCase{
		{"tls with address", &networkingv1.Ingress{
			ObjectMeta: objMeta("web"),
			Spec: networkingv1.IngressSpec{
				IngressClassName: ptr("nginx"),
				Rules:            []networkingv1.IngressRule{{Host: "a.example.com"}, {Host: "b.example.com"}},
				TLS:              []networkingv1.IngressTLS{{Hosts: []string{"a.example.com"}}},
			},
			Status: networkingv1.IngressStatus{LoadBalancer: networkingv1.IngressLoadBalancerStatus{Ingress: []networkingv1.IngressLoadBalancerIngress{{IP: "192.0.2.1"}, {Hostname: "lb.example"}}}},
		}, map[string]interface{}{"Class": "nginx", "Hosts": "a.example.com,b.example.com", "Address": "192.0.2.1,lb.example", "Ports": "80, 443"}},
		{"catch-all", &networkingv1.Ingress{ObjectMeta: objMeta("all"), Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{}}}},
			map[string]interface{}{"Class": "<none>", "Hosts": "*", "Address": "", "Ports": "80"}},
		{"many hosts", &networkingv1.Ingress{ObjectMeta: objMeta("many"), Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{Host: "a"}, {Host: "b"}, {Host: "c"}, {Host: "d"}, {Host: "e"}}}},
			map[string]interface{}{"Hosts": "a,b,c + 2 more..."}},
	})
	runKindCases(t, schema.GroupKind{Group: "networking.k8s.io", Kind: "IngressClass"}, []kindCase{
		{"with parameters", &networkingv1.IngressClass{ObjectMeta: objMeta("nginx"), Spec: networkingv1.IngressClassSpec{
			Controller: "k8s.io/ingress-nginx",
			Parameters: &networkingv1.IngressClassParametersReference{APIGroup: ptr("k8s.example.com"), Kind: "IngressParameters", Name: "external-lb"},
		}}, map[string]interface{}{"Controller": "k8s.io/ingress-nginx", "Parameters": "IngressParameters.k8s.example.com/external-lb"}},
		{"without parameters", &networkingv1.IngressClass{ObjectMeta: objMeta("x")}, map[string]interface{}{"Parameters": "<none>"}},
	})
	runKindCases(t, schema.GroupKind{Group: "networking.k8s.io", Kind: "NetworkPolicy"}, []kindCase{
		{"all pods", &networkingv1.NetworkPolicy{ObjectMeta: objMeta("deny")}, map[string]interface{}{"Pod-Selector": "<none>"}},
		{"expression", &networkingv1.NetworkPolicy{ObjectMeta: objMeta("np"), Spec: networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{
			MatchLabels:      map[string]string{"app": "db"},
			MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"a", "b"}}},
		}}}, map[string]interface{}{"Pod-Selector": "app=db,tier in (a,b)"}},
	})
	subjects := []rbacv1.Subject{
		{Kind: rbacv1.UserKind, Name: "alice"}, {Kind: rbacv1.UserKind, Name: "bob"},
		{Kind: rbacv1.GroupKind, Name: "devs"},
		{Kind: rbacv1.ServiceAccountKind, Namespace: "kube-system", Name: "coredns"},
	}
	runKindCases(t, schema.GroupKind{Group: "rbac.authorization.k8s.io", Kind: "RoleBinding"}, []kindCase{
		{"subjects", &rbacv1.RoleBinding{ObjectMeta: objMeta("rb"), RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "view"}, Subjects: subjects},
			map[string]interface{}{"Role": "ClusterRole/view", "Users": "alice, bob", "Groups": "devs", "ServiceAccounts": "kube-system/coredns"}},
	})
	runKindCases(t, schema.GroupKind{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"}, []kindCase{
		{"no subjects", &rbacv1.ClusterRoleBinding{ObjectMeta: objMeta("crb"), RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "admin"}},
			map[string]interface{}{"Role": "ClusterRole/admin", "Users": "", "Groups": "", "ServiceAccounts": ""}},
	})
}
