package integration

import (
	"net/http"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestRestart(t *testing.T) {
	runRestartSuite(t, startServer(t, t.TempDir()))
}

// runRestartSuite checks that a restart on the same state keeps objects,
// revisions and allocations.
func runRestartSuite(t *testing.T, ts *testServer) {
	ctx := testContext(t)
	d, err := ts.jsonClient.AppsV1().Deployments(ns).Create(ctx, deployment("survivor", 2), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create deployment: %v", err)
	}
	svc, err := ts.jsonClient.CoreV1().Services(ns).Create(ctx, service("survivor", corev1.ServiceTypeNodePort, "", 30000), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create service: %v", err)
	}

	ts = ts.restart(t)
	c := ts.jsonClient

	t.Run("objects kept with resourceVersions", func(t *testing.T) {
		gotD, err := c.AppsV1().Deployments(ns).Get(ctx, "survivor", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("get deployment: %v", err)
		}
		if gotD.ResourceVersion != d.ResourceVersion || gotD.UID != d.UID || *gotD.Spec.Replicas != 2 {
			t.Errorf("deployment after restart rv=%s uid=%s, want rv=%s uid=%s", gotD.ResourceVersion, gotD.UID, d.ResourceVersion, d.UID)
		}
		gotS, err := c.CoreV1().Services(ns).Get(ctx, "survivor", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("get service: %v", err)
		}
		if gotS.ResourceVersion != svc.ResourceVersion || gotS.Spec.ClusterIP != svc.Spec.ClusterIP || gotS.Spec.Ports[0].NodePort != 30000 {
			t.Errorf("service after restart = rv %s ip %s; want rv %s ip %s", gotS.ResourceVersion, gotS.Spec.ClusterIP, svc.ResourceVersion, svc.Spec.ClusterIP)
		}
	})
	t.Run("new write gets a higher resourceVersion", func(t *testing.T) {
		cm, err := c.CoreV1().ConfigMaps(ns).Create(ctx, configMap("after-restart", nil), metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		before, _ := strconv.ParseInt(svc.ResourceVersion, 10, 64)
		after, _ := strconv.ParseInt(cm.ResourceVersion, 10, 64)
		if after <= before {
			t.Errorf("resourceVersion %d after restart is not above %d", after, before)
		}
	})
	conflicts := []struct {
		name string
		svc  *corev1.Service
	}{
		{"clusterIP still allocated", service("clash-ip", corev1.ServiceTypeClusterIP, svc.Spec.ClusterIP, 0)},
		{"nodePort still allocated", service("clash-np", corev1.ServiceTypeNodePort, "", 30000)},
	}
	for _, tc := range conflicts {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.CoreV1().Services(ns).Create(ctx, tc.svc, metav1.CreateOptions{})
			wantStatus(t, err, http.StatusUnprocessableEntity)
		})
	}
}
