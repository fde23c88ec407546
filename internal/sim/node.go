package sim

import (
	"context"
	"fmt"
	"maps"

	"golang.org/x/sync/errgroup"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// hostIP is node i's fake InternalIP in 127.0.0.0/8; it is never contacted.
func hostIP(i int) string {
	return fmt.Sprintf("127.0.%d.%d", 1+i/254, 1+i%254)
}

// podCIDRBase returns the first three octets of node i's pod /24. The first
// 256 nodes use 10.42.0.0/16; larger clusters continue into 10.43 and on.
func podCIDRBase(i int) string {
	return fmt.Sprintf("10.%d.%d", 42+i/256, i%256)
}

// registerAll creates or adopts every node and its Lease, Concurrency at a
// time.
func (s *Sim) registerAll(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(s.cfg.Concurrency)
	for _, name := range s.names {
		sn := s.nodes[name]
		g.Go(func() error { return s.register(ctx, sn) })
	}
	return g.Wait()
}

// register makes the Node object match the simulated one, then reports its
// status (the API drops status on create) and takes its Lease.
func (s *Sim) register(ctx context.Context, sn *simNode) error {
	nodes := s.client.CoreV1().Nodes()
	want := s.nodeObject(sn)
	node, err := nodes.Create(ctx, want, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		node, err = s.adopt(ctx, want)
	}
	if err != nil {
		return fmt.Errorf("sim: register node %q: %w", sn.name, err)
	}
	node = node.DeepCopy()
	node.Status = s.nodeStatus(sn, node.Status)
	if _, err := nodes.UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("sim: report status of node %q: %w", sn.name, err)
	}
	sn.mu.Lock()
	sn.uid = node.UID
	sn.mu.Unlock()
	return s.renewLease(ctx, sn.name)
}

// adopt takes over a node left by an earlier run: it keeps what others set
// (taints, extra labels) and puts back the labels a kubelet owns.
func (s *Sim) adopt(ctx context.Context, want *corev1.Node) (*corev1.Node, error) {
	nodes := s.client.CoreV1().Nodes()
	node, err := nodes.Get(ctx, want.Name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	merged := node.DeepCopy()
	if merged.Labels == nil {
		merged.Labels = map[string]string{}
	}
	maps.Copy(merged.Labels, want.Labels)
	if maps.Equal(merged.Labels, node.Labels) {
		return node, nil
	}
	return nodes.Update(ctx, merged, metav1.UpdateOptions{})
}

func (s *Sim) nodeObject(sn *simNode) *corev1.Node {
	labels := maps.Clone(s.cfg.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[corev1.LabelHostname] = sn.name
	labels[corev1.LabelOSStable] = "linux"
	labels[corev1.LabelArchStable] = "amd64"
	labels[corev1.LabelInstanceTypeStable] = instanceType
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: sn.name, Labels: labels},
		Spec: corev1.NodeSpec{
			PodCIDR:  podCIDRBase(sn.index) + ".0/24",
			PodCIDRs: []string{podCIDRBase(sn.index) + ".0/24"},
		},
		Status: s.nodeStatus(sn, corev1.NodeStatus{}),
	}
}

// nodeStatus is what a healthy kubelet reports, keeping the transition
// times of conditions whose status did not change.
func (s *Sim) nodeStatus(sn *simNode, old corev1.NodeStatus) corev1.NodeStatus {
	now := metav1.NewTime(s.clock.Now())
	res := corev1.ResourceList{
		corev1.ResourceCPU:              s.cap.cpu,
		corev1.ResourceMemory:           s.cap.memory,
		corev1.ResourcePods:             s.cap.pods,
		corev1.ResourceEphemeralStorage: s.cap.storage,
	}
	st := old.DeepCopy()
	st.Capacity = res
	st.Allocatable = res.DeepCopy()
	st.Phase = ""
	st.Addresses = []corev1.NodeAddress{
		{Type: corev1.NodeInternalIP, Address: sn.hostIP},
		{Type: corev1.NodeHostName, Address: sn.name},
	}
	st.DaemonEndpoints = corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: 10250}}
	st.NodeInfo = corev1.NodeSystemInfo{
		MachineID:               sn.name,
		SystemUUID:              sn.name,
		BootID:                  sn.name,
		KernelVersion:           "sim",
		OSImage:                 "Skiff simulated node",
		ContainerRuntimeVersion: runtimeVersion,
		KubeletVersion:          kubeletVersion,
		OperatingSystem:         "linux",
		Architecture:            "amd64",
	}
	st.Conditions = healthyConditions(old.Conditions, now)
	return *st
}

// healthyConditions are the kubelet's four standard conditions in their
// healthy state, heartbeated now.
func healthyConditions(old []corev1.NodeCondition, now metav1.Time) []corev1.NodeCondition {
	want := []corev1.NodeCondition{
		{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory", Message: "kubelet has sufficient memory available"},
		{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasNoDiskPressure", Message: "kubelet has no disk pressure"},
		{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientPID", Message: "kubelet has sufficient PID available"},
		{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "kubelet is posting ready status"},
	}
	for i := range want {
		want[i].LastHeartbeatTime = now
		want[i].LastTransitionTime = now
		for _, c := range old {
			if c.Type == want[i].Type && c.Status == want[i].Status && !c.LastTransitionTime.IsZero() {
				want[i].LastTransitionTime = c.LastTransitionTime
			}
		}
	}
	// Conditions others own (NetworkUnavailable, custom ones) stay.
	for _, c := range old {
		if !isKubeletCondition(c.Type) {
			want = append(want, c)
		}
	}
	return want
}

func isKubeletCondition(t corev1.NodeConditionType) bool {
	switch t {
	case corev1.NodeReady, corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure:
		return true
	}
	return false
}

func readyStatus(node *corev1.Node) corev1.ConditionStatus {
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status
		}
	}
	return ""
}

// onNode reacts to someone else (the node lifecycle controller) marking a
// live node not ready: a kubelet that is alive corrects that at its next
// status update, so report at once.
func (s *Sim) onNode(obj any) {
	node, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	if _, live := s.live(node.Name); live && readyStatus(node) != corev1.ConditionTrue {
		s.queue.Add(item{kind: reportStatus, key: node.Name})
	}
}

// reportStatus writes the node's status with fresh heartbeats. A node
// deleted from the API stays gone, as with a kubelet, which registers only
// at start, until Recover asks for it back.
func (s *Sim) reportStatus(ctx context.Context, name string) error {
	sn, ok := s.live(name)
	if !ok {
		return nil
	}
	reregister := sn.reregister.Swap(false)
	node, err := s.nodeLister.Get(name)
	if apierrors.IsNotFound(err) {
		if !reregister {
			return nil
		}
		if err := s.register(ctx, sn); err != nil {
			sn.reregister.Store(true)
			return err
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("sim: get node %q: %w", name, err)
	}
	node = node.DeepCopy()
	node.Status = s.nodeStatus(sn, node.Status)
	if _, err := s.client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("sim: report status of node %q: %w", name, err)
	}
	return nil
}

// renewLease renews the node's Lease from the copy this sim last wrote, so
// a steady heartbeat costs one write; it falls back to a read on conflict.
func (s *Sim) renewLease(ctx context.Context, name string) error {
	sn, ok := s.live(name)
	if !ok {
		return nil
	}
	sn.mu.Lock()
	defer sn.mu.Unlock()
	leases := s.client.CoordinationV1().Leases(leaseNamespace)
	if sn.lease != nil {
		l, err := leases.Update(ctx, s.renewed(sn, sn.lease), metav1.UpdateOptions{})
		if err == nil {
			sn.lease = l
			return nil
		}
		if !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
			return fmt.Errorf("sim: renew lease %q: %w", name, err)
		}
	}
	current, err := leases.Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		current, err = leases.Create(ctx, s.renewed(sn, &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: leaseNamespace},
		}), metav1.CreateOptions{})
	case err == nil:
		current, err = leases.Update(ctx, s.renewed(sn, current), metav1.UpdateOptions{})
	}
	if err != nil {
		sn.lease = nil
		return fmt.Errorf("sim: renew lease %q: %w", name, err)
	}
	sn.lease = current
	return nil
}

// renewed must be called with sn.mu held.
func (s *Sim) renewed(sn *simNode, l *coordinationv1.Lease) *coordinationv1.Lease {
	l = l.DeepCopy()
	holder := sn.name
	duration := int32(leaseDurationSeconds)
	now := metav1.NewMicroTime(s.clock.Now())
	l.Spec.HolderIdentity = &holder
	l.Spec.LeaseDurationSeconds = &duration
	l.Spec.RenewTime = &now
	if len(l.OwnerReferences) == 0 && sn.uid != "" {
		// Like the kubelet's, the Lease goes when its Node is deleted.
		l.OwnerReferences = []metav1.OwnerReference{{
			APIVersion: "v1", Kind: "Node", Name: sn.name, UID: sn.uid,
		}}
	}
	return l
}
