package integration

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/internal/sim"
)

func replicaSet(name string, replicas int32) *appsv1.ReplicaSet {
	labels := map[string]string{"set": name}
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
			},
		},
	}
}

// runningReplicaSet creates a ReplicaSet and waits for its pods.
func runningReplicaSet(t *testing.T, c kubernetes.Interface, ns, name string, replicas int32) {
	t.Helper()
	if _, err := c.AppsV1().ReplicaSets(ns).Create(testContext(t), replicaSet(name, replicas), metav1.CreateOptions{}); err != nil {
		t.Fatalf("create rs: %v", err)
	}
	eventually(t, 20*time.Second, name+" pods created", func() (bool, error) {
		return len(podsOf(t, c, ns, "set="+name)) == int(replicas), nil
	})
}

// TestGarbageCollection deletes ReplicaSets in each propagation mode.
func TestGarbageCollection(t *testing.T) {
	ts := startServer(t, t.TempDir(), withControllers())
	startSim(t, ts, sim.Config{Nodes: 2, HeartbeatInterval: time.Second})
	c := ts.client
	ctx := testContext(t)
	del := func(name string, policy metav1.DeletionPropagation) {
		t.Helper()
		if err := c.AppsV1().ReplicaSets("default").Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &policy}); err != nil {
			t.Fatalf("delete %s: %v", name, err)
		}
	}
	rsGone := func(name string) func() (bool, error) {
		return func() (bool, error) {
			_, err := c.AppsV1().ReplicaSets("default").Get(ctx, name, metav1.GetOptions{})
			return apierrors.IsNotFound(err), nil
		}
	}

	t.Run("background", func(t *testing.T) {
		runningReplicaSet(t, c, "default", "bg", 3)
		del("bg", metav1.DeletePropagationBackground)
		eventually(t, 20*time.Second, "pods of bg deleted", func() (bool, error) {
			return len(podsOf(t, c, "default", "set=bg")) == 0, nil
		})
	})

	t.Run("foreground", func(t *testing.T) {
		runningReplicaSet(t, c, "default", "fg", 3)
		del("fg", metav1.DeletePropagationForeground)
		rs, err := c.AppsV1().ReplicaSets("default").Get(ctx, "fg", metav1.GetOptions{})
		if err == nil && rs.DeletionTimestamp == nil {
			t.Errorf("foreground delete did not mark the owner")
		}
		eventually(t, 20*time.Second, "fg and its pods deleted", func() (bool, error) {
			gone, _ := rsGone("fg")()
			return gone && len(podsOf(t, c, "default", "set=fg")) == 0, nil
		})
	})

	t.Run("orphan", func(t *testing.T) {
		runningReplicaSet(t, c, "default", "or", 2)
		del("or", metav1.DeletePropagationOrphan)
		eventually(t, 20*time.Second, "or deleted", rsGone("or"))
		pods := podsOf(t, c, "default", "set=or")
		if len(pods) != 2 {
			t.Fatalf("orphaned pods: %d, want 2", len(pods))
		}
		for _, p := range pods {
			if len(p.OwnerReferences) != 0 {
				t.Errorf("pod %s still has owners %v", p.Name, p.OwnerReferences)
			}
		}
	})
}

// TestNamespaceDeletion deletes a namespace with a Deployment in it.
func TestNamespaceDeletion(t *testing.T) {
	ts := startServer(t, t.TempDir(), withControllers())
	startSim(t, ts, sim.Config{Nodes: 2, HeartbeatInterval: time.Second})
	k := newKubectl(t, kubectlLatest, ts.kubeconfig, "team-a")
	for _, args := range [][]string{
		{"create", "namespace", "team-a"},
		{"apply", "-f", "testdata/httpd_deployment.yaml"},
		{"apply", "-f", "testdata/httpd_service.yaml"},
		{"rollout", "status", "deployment/httpd-deployment", "--timeout=60s"},
		{"delete", "namespace", "team-a", "--timeout=60s"},
	} {
		if out, err := k.run(t, args...); err != nil {
			t.Fatalf("kubectl %v: %v\n%s", args, err, out)
		}
	}
	_, err := ts.client.CoreV1().Namespaces().Get(testContext(t), "team-a", metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("namespace after kubectl delete: %v", err)
	}
	if pods := podsOf(t, ts.client, "team-a", ""); len(pods) != 0 {
		t.Errorf("%d pods left in the deleted namespace", len(pods))
	}
}
