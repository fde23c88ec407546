package printers

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// now is the fixed clock every test renders ages against.
var now = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func newTestPrinter() *Printer { return New(func() time.Time { return now }) }

func ago(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }

func objMeta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: "default", CreationTimestamp: ago(10 * time.Minute)}
}

func ptr[T any](v T) *T { return &v }

// sampleObjects holds one realistic object per served kind.
func sampleObjects() map[schema.GroupKind]runtime.Object {
	gk := func(group, kind string) schema.GroupKind { return schema.GroupKind{Group: group, Kind: kind} }
	return map[schema.GroupKind]runtime.Object{
		gk("", "Namespace"):                                   &corev1.Namespace{ObjectMeta: objMeta("ns"), Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}},
		gk("", "Pod"):                                         runningPod(),
		gk("", "Service"):                                     &corev1.Service{ObjectMeta: objMeta("svc"), Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP}},
		gk("", "Endpoints"):                                   &corev1.Endpoints{ObjectMeta: objMeta("ep")},
		gk("", "ConfigMap"):                                   &corev1.ConfigMap{ObjectMeta: objMeta("cm")},
		gk("", "Secret"):                                      &corev1.Secret{ObjectMeta: objMeta("s")},
		gk("", "Node"):                                        &corev1.Node{ObjectMeta: objMeta("n")},
		gk("", "Event"):                                       &corev1.Event{ObjectMeta: objMeta("e")},
		gk("", "ServiceAccount"):                              &corev1.ServiceAccount{ObjectMeta: objMeta("sa")},
		gk("", "PersistentVolume"):                            &corev1.PersistentVolume{ObjectMeta: objMeta("pv")},
		gk("", "PersistentVolumeClaim"):                       &corev1.PersistentVolumeClaim{ObjectMeta: objMeta("pvc")},
		gk("", "ResourceQuota"):                               &corev1.ResourceQuota{ObjectMeta: objMeta("rq")},
		gk("", "LimitRange"):                                  &corev1.LimitRange{ObjectMeta: objMeta("lr")},
		gk("", "ReplicationController"):                       &corev1.ReplicationController{ObjectMeta: objMeta("rc")},
		gk("", "PodTemplate"):                                 &corev1.PodTemplate{ObjectMeta: objMeta("pt")},
		gk("", "ComponentStatus"):                             &corev1.ComponentStatus{ObjectMeta: objMeta("cs")},
		gk("apps", "Deployment"):                              &appsv1.Deployment{ObjectMeta: objMeta("d")},
		gk("apps", "ReplicaSet"):                              &appsv1.ReplicaSet{ObjectMeta: objMeta("rs")},
		gk("apps", "StatefulSet"):                             &appsv1.StatefulSet{ObjectMeta: objMeta("ss")},
		gk("apps", "DaemonSet"):                               &appsv1.DaemonSet{ObjectMeta: objMeta("ds")},
		gk("apps", "ControllerRevision"):                      &appsv1.ControllerRevision{ObjectMeta: objMeta("cr")},
		gk("batch", "Job"):                                    &batchv1.Job{ObjectMeta: objMeta("j")},
		gk("batch", "CronJob"):                                &batchv1.CronJob{ObjectMeta: objMeta("cj")},
		gk("autoscaling", "HorizontalPodAutoscaler"):          &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: objMeta("hpa")},
		gk("coordination.k8s.io", "Lease"):                    &coordinationv1.Lease{ObjectMeta: objMeta("l")},
		gk("discovery.k8s.io", "EndpointSlice"):               &discoveryv1.EndpointSlice{ObjectMeta: objMeta("es")},
		gk("events.k8s.io", "Event"):                          &eventsv1.Event{ObjectMeta: objMeta("ev")},
		gk("networking.k8s.io", "Ingress"):                    &networkingv1.Ingress{ObjectMeta: objMeta("ing")},
		gk("networking.k8s.io", "IngressClass"):               &networkingv1.IngressClass{ObjectMeta: objMeta("ic")},
		gk("networking.k8s.io", "NetworkPolicy"):              &networkingv1.NetworkPolicy{ObjectMeta: objMeta("np")},
		gk("policy", "PodDisruptionBudget"):                   &policyv1.PodDisruptionBudget{ObjectMeta: objMeta("pdb")},
		gk("rbac.authorization.k8s.io", "Role"):               &rbacv1.Role{ObjectMeta: objMeta("r")},
		gk("rbac.authorization.k8s.io", "RoleBinding"):        &rbacv1.RoleBinding{ObjectMeta: objMeta("rb")},
		gk("rbac.authorization.k8s.io", "ClusterRole"):        &rbacv1.ClusterRole{ObjectMeta: objMeta("cr")},
		gk("rbac.authorization.k8s.io", "ClusterRoleBinding"): &rbacv1.ClusterRoleBinding{ObjectMeta: objMeta("crb")},
		gk("storage.k8s.io", "StorageClass"):                  &storagev1.StorageClass{ObjectMeta: objMeta("sc")},
		gk("scheduling.k8s.io", "PriorityClass"):              &schedulingv1.PriorityClass{ObjectMeta: objMeta("pc")},
	}
}

func TestEveryKindHasConsistentColumnsAndCells(t *testing.T) {
	p := newTestPrinter()
	for gk, obj := range sampleObjects() {
		t.Run(gk.String(), func(t *testing.T) {
			cols := p.Columns(gk)
			nameCols := 0
			for _, c := range cols {
				if c.Format == "name" {
					nameCols++
				}
			}
			if nameCols != 1 {
				t.Errorf("want exactly one name-format column, got %d", nameCols)
			}
			// Events are upstream's one exception: Name is the last, wide column.
			if gk.Kind != "Event" && (cols[0].Name != "Name" || cols[0].Format != "name") {
				t.Errorf("first column = %+v, want Name/name", cols[0])
			}
			cells, err := p.Cells(obj)
			if err != nil {
				t.Fatalf("Cells: %v", err)
			}
			if len(cells) != len(cols) {
				t.Fatalf("got %d cells for %d columns: %v", len(cells), len(cols), cells)
			}
			for i, c := range cells {
				switch c.(type) {
				case string, int64, bool:
				default:
					t.Errorf("cell %d (%s) has type %T, want string/int64/bool", i, cols[i].Name, c)
				}
			}
			if _, err := json.Marshal(cells); err != nil {
				t.Errorf("cells not JSON-marshalable: %v", err)
			}
		})
	}
}

func TestColumnNames(t *testing.T) {
	p := newTestPrinter()
	tests := []struct {
		gk         schema.GroupKind
		want, wide []string
	}{
		{schema.GroupKind{Kind: "Pod"}, []string{"Name", "Ready", "Status", "Restarts", "Age"}, []string{"IP", "Node", "Nominated Node", "Readiness Gates"}},
		{schema.GroupKind{Kind: "Service"}, []string{"Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age"}, []string{"Selector"}},
		{schema.GroupKind{Kind: "Node"}, []string{"Name", "Status", "Roles", "Age", "Version"}, []string{"Internal-IP", "External-IP", "OS-Image", "Kernel-Version", "Container-Runtime"}},
		{schema.GroupKind{Kind: "Event"}, []string{"Last Seen", "Type", "Reason", "Object", "Message"}, []string{"Subobject", "Source", "First Seen", "Count", "Name"}},
		{schema.GroupKind{Kind: "PersistentVolume"}, []string{"Name", "Capacity", "Access Modes", "Reclaim Policy", "Status", "Claim", "StorageClass", "VolumeAttributesClass", "Reason", "Age"}, []string{"VolumeMode"}},
		{schema.GroupKind{Group: "apps", Kind: "Deployment"}, []string{"Name", "Ready", "Up-to-date", "Available", "Age"}, []string{"Containers", "Images", "Selector"}},
		{schema.GroupKind{Group: "apps", Kind: "StatefulSet"}, []string{"Name", "Ready", "Age"}, []string{"Containers", "Images"}},
		{schema.GroupKind{Group: "apps", Kind: "DaemonSet"}, []string{"Name", "Desired", "Current", "Ready", "Up-to-date", "Available", "Node Selector", "Age"}, []string{"Containers", "Images", "Selector"}},
		{schema.GroupKind{Group: "batch", Kind: "Job"}, []string{"Name", "Status", "Completions", "Duration", "Age"}, []string{"Containers", "Images", "Selector"}},
		{schema.GroupKind{Group: "batch", Kind: "CronJob"}, []string{"Name", "Schedule", "Timezone", "Suspend", "Active", "Last Schedule", "Age"}, []string{"Containers", "Images", "Selector"}},
		{schema.GroupKind{Group: "autoscaling", Kind: "HorizontalPodAutoscaler"}, []string{"Name", "Reference", "Targets", "MinPods", "MaxPods", "Replicas", "Age"}, nil},
		{schema.GroupKind{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"}, []string{"Name", "Role", "Age"}, []string{"Users", "Groups", "ServiceAccounts"}},
		{schema.GroupKind{Group: "rbac.authorization.k8s.io", Kind: "Role"}, []string{"Name", "Created At"}, nil},
		{schema.GroupKind{Group: "example.com", Kind: "Widget"}, []string{"Name", "Created At"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.gk.String(), func(t *testing.T) {
			var normal, wideCols []string
			for _, c := range p.Columns(tc.gk) {
				if c.Priority == 0 {
					normal = append(normal, c.Name)
				} else {
					wideCols = append(wideCols, c.Name)
				}
			}
			if !reflect.DeepEqual(normal, tc.want) {
				t.Errorf("columns = %q, want %q", normal, tc.want)
			}
			if !reflect.DeepEqual(wideCols, tc.wide) {
				t.Errorf("wide columns = %q, want %q", wideCols, tc.wide)
			}
		})
	}
}

func TestColumnsReturnsCopy(t *testing.T) {
	p := newTestPrinter()
	gk := schema.GroupKind{Kind: "Pod"}
	p.Columns(gk)[0].Name = "mutated"
	if got := p.Columns(gk)[0].Name; got != "Name" {
		t.Fatalf("Columns shares state with callers: first column now %q", got)
	}
}

// cellsOf renders obj and indexes its cells by column name.
func cellsOf(t *testing.T, p *Printer, gk schema.GroupKind, obj runtime.Object) map[string]interface{} {
	t.Helper()
	cells, err := p.Cells(obj)
	if err != nil {
		t.Fatalf("Cells: %v", err)
	}
	cols := p.Columns(gk)
	if len(cells) != len(cols) {
		t.Fatalf("got %d cells for %d columns", len(cells), len(cols))
	}
	out := make(map[string]interface{}, len(cells))
	for i, c := range cols {
		out[c.Name] = cells[i]
	}
	return out
}

// expectCells checks the named cells, ignoring the others.
func expectCells(t *testing.T, got map[string]interface{}, want map[string]interface{}) {
	t.Helper()
	for k, w := range want {
		if g, ok := got[k]; !ok || !reflect.DeepEqual(g, w) {
			t.Errorf("%s = %#v, want %#v", k, g, w)
		}
	}
}

func TestDefaultTableCells(t *testing.T) {
	p := newTestPrinter()
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("example.com/v1")
	u.SetKind("Widget")
	u.SetName("w")
	u.SetCreationTimestamp(metav1.NewTime(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)))
	tests := []struct {
		name string
		obj  runtime.Object
		want []interface{}
	}{
		{"role", &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "reader", CreationTimestamp: u.GetCreationTimestamp()}}, []interface{}{"reader", "2024-01-02T03:04:05Z"}},
		{"limitrange", &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: "limits", CreationTimestamp: u.GetCreationTimestamp()}}, []interface{}{"limits", "2024-01-02T03:04:05Z"}},
		{"unstructured", u, []interface{}{"w", "2024-01-02T03:04:05Z"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := p.Cells(tc.obj)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("cells = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestTableFromList(t *testing.T) {
	p := newTestPrinter()
	done := runningPod()
	done.Name = "done"
	done.Status.Phase = corev1.PodSucceeded
	list := &corev1.PodList{ListMeta: metav1.ListMeta{ResourceVersion: "42"}, Items: []corev1.Pod{*runningPod(), *done}}
	table, err := p.Table(schema.GroupKind{Kind: "Pod"}, list, "")
	if err != nil {
		t.Fatal(err)
	}
	if table.ResourceVersion != "42" || len(table.Rows) != 2 || len(table.ColumnDefinitions) != 9 {
		t.Fatalf("unexpected table: rv=%q rows=%d cols=%d", table.ResourceVersion, len(table.Rows), len(table.ColumnDefinitions))
	}
	if table.Rows[0].Cells[0] != "web" || table.Rows[1].Cells[0] != "done" {
		t.Errorf("row names = %v, %v", table.Rows[0].Cells[0], table.Rows[1].Cells[0])
	}
	if len(table.Rows[0].Conditions) != 0 || len(table.Rows[1].Conditions) != 1 || table.Rows[1].Conditions[0].Type != metav1.RowCompleted {
		t.Errorf("row conditions = %v / %v", table.Rows[0].Conditions, table.Rows[1].Conditions)
	}
	if _, err := json.Marshal(table); err != nil {
		t.Errorf("table not JSON-marshalable: %v", err)
	}
}

func TestCellsRejectsMismatchedType(t *testing.T) {
	p := New(nil)
	h := p.handlers[schema.GroupKind{Kind: "Pod"}]
	if _, err := h.cells(&corev1.Service{}); err == nil {
		t.Fatal("expected an error for a Service passed to the Pod printer")
	}
	if _, err := p.Cells(nil); err == nil {
		t.Fatal("expected an error for a nil object")
	}
	if _, err := p.hpaCells(&corev1.Pod{}); err == nil {
		t.Fatal("expected an error for a Pod passed to the HPA printer")
	}
}

func TestHPACells(t *testing.T) {
	p := newTestPrinter()
	gk := schema.GroupKind{Group: "autoscaling", Kind: "HorizontalPodAutoscaler"}
	ref := autoscalingv2.CrossVersionObjectReference{Kind: "Deployment", Name: "web"}
	util := func(v int32) *int32 { return &v }
	tests := []struct {
		name string
		obj  runtime.Object
		want map[string]interface{}
	}{
		{
			name: "v1 with current cpu",
			obj: &autoscalingv1.HorizontalPodAutoscaler{
				ObjectMeta: objMeta("web"),
				Spec: autoscalingv1.HorizontalPodAutoscalerSpec{
					ScaleTargetRef:                 autoscalingv1.CrossVersionObjectReference{Kind: "Deployment", Name: "web"},
					MinReplicas:                    util(1),
					MaxReplicas:                    10,
					TargetCPUUtilizationPercentage: util(50),
				},
				Status: autoscalingv1.HorizontalPodAutoscalerStatus{CurrentReplicas: 3, CurrentCPUUtilizationPercentage: util(23)},
			},
			want: map[string]interface{}{"Name": "web", "Reference": "Deployment/web", "Targets": "cpu: 23%/50%", "MinPods": "1", "MaxPods": int64(10), "Replicas": int64(3), "Age": "10m"},
		},
		{
			name: "v1 defaulted target without status",
			obj: &autoscalingv1.HorizontalPodAutoscaler{
				ObjectMeta: objMeta("web"),
				Spec:       autoscalingv1.HorizontalPodAutoscalerSpec{ScaleTargetRef: autoscalingv1.CrossVersionObjectReference{Kind: "Deployment", Name: "web"}, MaxReplicas: 5},
			},
			want: map[string]interface{}{"Targets": "cpu: <unknown>/80%", "MinPods": "<unset>"},
		},
		{
			name: "v2 no metrics",
			obj:  &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: objMeta("web"), Spec: autoscalingv2.HorizontalPodAutoscalerSpec{ScaleTargetRef: ref, MaxReplicas: 3}},
			want: map[string]interface{}{"Targets": "<none>"},
		},
		{
			name: "v2 memory value, pods metric and more",
			obj: &autoscalingv2.HorizontalPodAutoscaler{
				ObjectMeta: objMeta("web"),
				Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
					ScaleTargetRef: ref,
					MaxReplicas:    3,
					Metrics: []autoscalingv2.MetricSpec{
						{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceMemory, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: quantity("100Mi")}}},
						{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{Target: autoscalingv2.MetricTarget{AverageValue: quantity("1k")}}},
						{Type: autoscalingv2.ExternalMetricSourceType, External: &autoscalingv2.ExternalMetricSource{Target: autoscalingv2.MetricTarget{Value: quantity("5")}}},
					},
				},
				Status: autoscalingv2.HorizontalPodAutoscalerStatus{CurrentMetrics: []autoscalingv2.MetricStatus{
					{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricStatus{Name: corev1.ResourceMemory, Current: autoscalingv2.MetricValueStatus{AverageValue: quantity("50Mi")}}},
				}},
			},
			want: map[string]interface{}{"Targets": "memory: 50Mi/100Mi, <unknown>/1k + 1 more..."},
		},
		{
			name: "v2 object average value",
			obj: &autoscalingv2.HorizontalPodAutoscaler{
				ObjectMeta: objMeta("web"),
				Spec: autoscalingv2.HorizontalPodAutoscalerSpec{ScaleTargetRef: ref, MaxReplicas: 3, Metrics: []autoscalingv2.MetricSpec{
					{Type: autoscalingv2.ObjectMetricSourceType, Object: &autoscalingv2.ObjectMetricSource{Target: autoscalingv2.MetricTarget{AverageValue: quantity("10")}}},
				}},
			},
			want: map[string]interface{}{"Targets": "<unknown>/10 (avg)"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			expectCells(t, cellsOf(t, p, gk, tc.obj), tc.want)
		})
	}
}

func TestTableRowObjectPolicies(t *testing.T) {
	p := newTestPrinter()
	gk := schema.GroupKind{Kind: "Pod"}
	tests := []struct {
		name    string
		include metav1.IncludeObjectPolicy
		check   func(t *testing.T, obj runtime.Object)
	}{
		{"none", metav1.IncludeNone, func(t *testing.T, obj runtime.Object) {
			if obj != nil {
				t.Errorf("object = %T, want nil", obj)
			}
		}},
		{"metadata", metav1.IncludeMetadata, func(t *testing.T, obj runtime.Object) {
			pm, ok := obj.(*metav1.PartialObjectMetadata)
			if !ok || pm.Kind != "PartialObjectMetadata" || pm.APIVersion != "meta.k8s.io/v1" || pm.Name != "web" || pm.Namespace != "default" {
				t.Errorf("object = %#v, want PartialObjectMetadata for default/web", obj)
			}
		}},
		{"default is metadata", "", func(t *testing.T, obj runtime.Object) {
			if _, ok := obj.(*metav1.PartialObjectMetadata); !ok {
				t.Errorf("object = %T, want *PartialObjectMetadata", obj)
			}
		}},
		{"object", metav1.IncludeObject, func(t *testing.T, obj runtime.Object) {
			pod, ok := obj.(*corev1.Pod)
			if !ok || pod.Kind != "Pod" || pod.APIVersion != "v1" {
				t.Errorf("object = %#v, want a Pod with its kind set", obj)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			table, err := p.Table(gk, runningPod(), tc.include)
			if err != nil {
				t.Fatal(err)
			}
			if table.Kind != "Table" || table.APIVersion != "meta.k8s.io/v1" || len(table.Rows) != 1 {
				t.Fatalf("unexpected table %s/%s with %d rows", table.APIVersion, table.Kind, len(table.Rows))
			}
			tc.check(t, table.Rows[0].Object.Object)
		})
	}
	if _, err := p.Table(gk, runningPod(), "Everything"); err == nil {
		t.Error("expected an error for an unknown includeObject policy")
	}
}
