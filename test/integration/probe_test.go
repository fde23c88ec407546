package integration

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestProbe(t *testing.T) {
	ts := startServer(t, t.TempDir())
	ctx := testContext(t)
	d, err := ts.jsonClient.AppsV1().Deployments(ns).Create(ctx, deployment("x", 1), metav1.CreateOptions{})
	t.Logf("create rv=%s err=%v", d.ResourceVersion, err)
	d.Status.Replicas = 7
	d2, err := ts.jsonClient.AppsV1().Deployments(ns).UpdateStatus(ctx, d, metav1.UpdateOptions{})
	t.Logf("status rv=%s err=%v", d2.ResourceVersion, err)
	d3, _ := ts.jsonClient.AppsV1().Deployments(ns).Get(ctx, "x", metav1.GetOptions{})
	t.Logf("get rv=%s status=%d", d3.ResourceVersion, d3.Status.Replicas)
	d3.Labels = map[string]string{"a": "b"}
	d4, err := ts.jsonClient.AppsV1().Deployments(ns).Update(ctx, d3, metav1.UpdateOptions{})
	t.Logf("update err=%v", err)
	_ = d4
}
