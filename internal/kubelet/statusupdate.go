package kubelet

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// statusWriteAttempts bounds the re-reads after write conflicts; the next
// sync tries again anyway.
const statusWriteAttempts = 3

// updateStatus writes the pod's status through pods/status when it differs
// from what the API has; a conflict re-reads the pod and tries again.
func (k *Kubelet) updateStatus(ctx context.Context, st *podState, pod *corev1.Pod, rt *runtimePod, terminal bool) error {
	old := pod.Status
	lagging := st.written != nil && st.written.basedOn != "" && pod.ResourceVersion == st.written.basedOn
	if lagging {
		// The informer has not delivered the last write yet.
		old = st.written.status
	}
	s := k.generateStatus(st, pod, rt, old, terminal)
	if apiequality.Semantic.DeepEqual(s, pod.Status) || (lagging && apiequality.Semantic.DeepEqual(s, st.written.status)) {
		return nil
	}
	cur := pod
	for attempt := 1; ; attempt++ {
		upd := cur.DeepCopy()
		upd.Status = s
		_, err := k.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{})
		switch {
		case err == nil:
			st.written = &writtenStatus{status: s, basedOn: pod.ResourceVersion}
			return nil
		case apierrors.IsNotFound(err):
			return nil
		case !apierrors.IsConflict(err) || attempt >= statusWriteAttempts:
			return fmt.Errorf("update status of pod %s: %w", podDesc(pod), err)
		}
		cur, err = k.client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("re-read pod %s: %w", podDesc(pod), err)
		}
		if cur.UID != pod.UID {
			return nil
		}
		s = k.generateStatus(st, cur, rt, cur.Status, terminal)
		if apiequality.Semantic.DeepEqual(s, cur.Status) {
			return nil
		}
	}
}
