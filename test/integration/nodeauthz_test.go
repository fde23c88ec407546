package integration

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// TestNodeRestriction gives a node's credentials (system:node:n1 in
// system:nodes) what upstream's node authorizer and NodeRestriction give:
// its own Node, Lease and pods' status and deletion, and events; every
// other write is forbidden with a Status saying why. It reads Secrets and
// ConfigMaps only as its pods use them; other reads stay open.
func TestNodeRestriction(t *testing.T) {
	tokens := filepath.Join(t.TempDir(), "tokens.csv")
	if err := os.WriteFile(tokens, []byte(`node-n1,system:node:n1,n1,"system:nodes"`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, t.TempDir(), withTokenFile(tokens))
	ctx := testContext(t)
	admin := ts.client
	cfg := &rest.Config{Host: ts.config.Host, BearerToken: "node-n1", TLSClientConfig: rest.TLSClientConfig{CAData: ts.config.CAData}}
	node := kubernetes.NewForConfigOrDie(cfg)

	if _, err := admin.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n2"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct{ name, node string }{{"mine", "n1"}, {"theirs", "n2"}} {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: p.name, Namespace: "default"},
			Spec: corev1.PodSpec{NodeName: p.node, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
		if _, err := admin.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"used", "unused"} {
		if _, err := admin.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.CoreV1().ConfigMaps("default").Create(ctx, configMap(name, nil), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	reader := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "reader", Namespace: "default"}, Spec: corev1.PodSpec{
		NodeName: "n1",
		Containers: []corev1.Container{{Name: "c", Image: "busybox", Env: []corev1.EnvVar{{Name: "S", ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "used"}, Key: "k"}}}}}},
		Volumes: []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "used"}}}}},
	}}
	if _, err := admin.CoreV1().Pods("default").Create(ctx, reader, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	statusPatch := []byte(`{"status":{"message":"from the node"}}`)
	lease := func(name string) *coordinationv1.Lease {
		return &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: corev1.NamespaceNodeLease}}
	}

	tests := []struct {
		name    string
		do      func() error
		allowed bool
	}{
		{"create its own Node", func() error {
			_, err := node.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}, metav1.CreateOptions{})
			return err
		}, true},
		{"create another Node", func() error {
			_, err := node.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n3"}}, metav1.CreateOptions{})
			return err
		}, false},
		{"patch its own Node's status", func() error {
			_, err := node.CoreV1().Nodes().Patch(ctx, "n1", types.MergePatchType, []byte(`{"status":{"phase":"Running"}}`), metav1.PatchOptions{}, "status")
			return err
		}, true},
		{"patch another Node", func() error {
			_, err := node.CoreV1().Nodes().Patch(ctx, "n2", types.MergePatchType, []byte(`{"metadata":{"labels":{"x":"y"}}}`), metav1.PatchOptions{})
			return err
		}, false},
		{"delete another Node", func() error { return node.CoreV1().Nodes().Delete(ctx, "n2", metav1.DeleteOptions{}) }, false},
		{"create its own Lease", func() error {
			_, err := node.CoordinationV1().Leases(corev1.NamespaceNodeLease).Create(ctx, lease("n1"), metav1.CreateOptions{})
			return err
		}, true},
		{"create another's Lease", func() error {
			_, err := node.CoordinationV1().Leases(corev1.NamespaceNodeLease).Create(ctx, lease("n2"), metav1.CreateOptions{})
			return err
		}, false},
		{"patch the status of its pod", func() error {
			_, err := node.CoreV1().Pods("default").Patch(ctx, "mine", types.StrategicMergePatchType, statusPatch, metav1.PatchOptions{}, "status")
			return err
		}, true},
		{"patch the status of another node's pod", func() error {
			_, err := node.CoreV1().Pods("default").Patch(ctx, "theirs", types.StrategicMergePatchType, statusPatch, metav1.PatchOptions{}, "status")
			return err
		}, false},
		{"change a pod's spec", func() error {
			_, err := node.CoreV1().Pods("default").Patch(ctx, "mine", types.MergePatchType, []byte(`{"metadata":{"labels":{"x":"y"}}}`), metav1.PatchOptions{})
			return err
		}, false},
		{"delete another node's pod", func() error { return node.CoreV1().Pods("default").Delete(ctx, "theirs", metav1.DeleteOptions{}) }, false},
		{"delete its pod", func() error { return node.CoreV1().Pods("default").Delete(ctx, "mine", metav1.DeleteOptions{}) }, true},
		{"create a ConfigMap", func() error {
			_, err := node.CoreV1().ConfigMaps("default").Create(ctx, configMap("from-node", nil), metav1.CreateOptions{})
			return err
		}, false},
		{"create an event", func() error {
			ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "ev", Namespace: "default"},
				InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "mine"}, Reason: "Tested", Message: "m", Type: "Normal"}
			_, err := node.CoreV1().Events("default").Create(ctx, ev, metav1.CreateOptions{})
			return err
		}, true},
		{"get a Secret its pod uses", func() error {
			_, err := node.CoreV1().Secrets("default").Get(ctx, "used", metav1.GetOptions{})
			return err
		}, true},
		{"get a Secret no pod of its uses", func() error {
			_, err := node.CoreV1().Secrets("default").Get(ctx, "unused", metav1.GetOptions{})
			return err
		}, false},
		{"list Secrets", func() error {
			_, err := node.CoreV1().Secrets("default").List(ctx, metav1.ListOptions{})
			return err
		}, false},
		{"get a ConfigMap its pod mounts", func() error {
			_, err := node.CoreV1().ConfigMaps("default").Get(ctx, "used", metav1.GetOptions{})
			return err
		}, true},
		{"get a ConfigMap no pod of its uses", func() error {
			_, err := node.CoreV1().ConfigMaps("default").Get(ctx, "unused", metav1.GetOptions{})
			return err
		}, false},
		{"list pods", func() error {
			_, err := node.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
			return err
		}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			if tc.allowed {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			wantStatus(t, err, http.StatusForbidden)
		})
	}
}
