package nodelifecycle

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// nodeHealth is when the controller last heard from a node, and what it
// heard, so a change in either heartbeat counts as a probe.
type nodeHealth struct {
	probe          time.Time
	readyHeartbeat metav1.Time
	leaseRenew     metav1.MicroTime
}

// The conditions a kubelet owns; all turn Unknown when it goes silent.
var kubeletConditions = []corev1.NodeConditionType{
	corev1.NodeReady, corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure,
}

// monitorNodeHealth marks every node that went silent for its grace period
// Unknown.
func (c *Controller) monitorNodeHealth(ctx context.Context) {
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		c.log.Error("list nodes", "err", err)
		return
	}
	c.forgetGone(nodes)
	for _, node := range nodes {
		if err := c.checkNode(ctx, node); err != nil {
			c.log.Warn("update node health", "node", node.Name, "err", err)
		}
	}
}

func (c *Controller) forgetGone(nodes []*corev1.Node) {
	present := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		present[n.Name] = true
	}
	c.healthMu.Lock()
	defer c.healthMu.Unlock()
	for name := range c.health {
		if !present[name] {
			delete(c.health, name)
		}
	}
}

// observe updates the node's health record and returns when it was last
// heard from and how long it may stay silent.
func (c *Controller) observe(node *corev1.Node, now time.Time) (time.Time, time.Duration) {
	c.healthMu.Lock()
	defer c.healthMu.Unlock()
	ready := condition(node, corev1.NodeReady)
	h, ok := c.health[node.Name]
	if !ok {
		h = &nodeHealth{probe: now}
		if ready == nil && !node.CreationTimestamp.IsZero() && node.CreationTimestamp.Time.Before(now) {
			// A node that never reported gets its startup grace from
			// creation, not from when this controller started.
			h.probe = node.CreationTimestamp.Time
		}
		c.health[node.Name] = h
	}
	if ready != nil && !ready.LastHeartbeatTime.Equal(&h.readyHeartbeat) {
		if ok {
			h.probe = now
		}
		h.readyHeartbeat = ready.LastHeartbeatTime
	}
	if lease, err := c.leases.Leases(leaseNamespace).Get(node.Name); err == nil && lease.Spec.RenewTime != nil {
		if lease.Spec.RenewTime.After(h.leaseRenew.Time) {
			if ok {
				h.probe = now
			}
			h.leaseRenew = *lease.Spec.RenewTime
		}
	}
	if ready == nil {
		return h.probe, c.cfg.NodeStartupGracePeriod
	}
	return h.probe, c.cfg.NodeMonitorGracePeriod
}

// checkNode marks the node's kubelet conditions Unknown once it has been
// silent longer than its grace period.
func (c *Controller) checkNode(ctx context.Context, node *corev1.Node) error {
	now := c.clock.Now()
	probe, grace := c.observe(node, now)
	if !now.After(probe.Add(grace)) {
		return nil
	}
	updated := node.DeepCopy()
	if !markUnknown(&updated.Status, metav1.NewTime(now)) {
		return nil
	}
	c.log.Info("node stopped posting status", "node", node.Name, "silentFor", now.Sub(probe))
	_, err := c.client.CoreV1().Nodes().UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("nodelifecycle: mark node %q unknown: %w", node.Name, err)
	}
	if ready := condition(node, corev1.NodeReady); ready == nil || ready.Status == corev1.ConditionTrue {
		c.nodeRecorder.Eventf(node, corev1.EventTypeNormal, "NodeNotReady", "Node %s status is now: NodeNotReady", node.Name)
	}
	return nil
}

// markUnknown sets the kubelet's conditions Unknown, adding any it never
// posted, and reports whether anything changed.
func markUnknown(st *corev1.NodeStatus, now metav1.Time) bool {
	changed := false
	for _, t := range kubeletConditions {
		i := conditionIndex(st.Conditions, t)
		if i < 0 {
			st.Conditions = append(st.Conditions, corev1.NodeCondition{
				Type: t, Status: corev1.ConditionUnknown,
				Reason: "NodeStatusNeverUpdated", Message: "Kubelet never posted node status.",
				LastHeartbeatTime: now, LastTransitionTime: now,
			})
			changed = true
			continue
		}
		cond := &st.Conditions[i]
		if cond.Status == corev1.ConditionUnknown {
			continue
		}
		cond.Status = corev1.ConditionUnknown
		cond.Reason = "NodeStatusUnknown"
		cond.Message = "Kubelet stopped posting node status."
		cond.LastTransitionTime = now
		changed = true
	}
	return changed
}

func conditionIndex(conds []corev1.NodeCondition, t corev1.NodeConditionType) int {
	for i := range conds {
		if conds[i].Type == t {
			return i
		}
	}
	return -1
}

func condition(node *corev1.Node, t corev1.NodeConditionType) *corev1.NodeCondition {
	if i := conditionIndex(node.Status.Conditions, t); i >= 0 {
		return &node.Status.Conditions[i]
	}
	return nil
}
