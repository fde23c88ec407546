package nodestatus

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	goruntime "runtime"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Registration retries back off as upstream's kubelet does.
const (
	registerBackoffInitial = 100 * time.Millisecond
	registerBackoffMax     = 7 * time.Second
)

// The beta os and arch labels upstream's kubelet still sets, for selectors
// written before the stable ones.
const (
	labelOSBeta   = "beta.kubernetes.io/os"
	labelArchBeta = "beta.kubernetes.io/arch"
)

// register creates the Node, or reconciles the labels of the one already
// there, retrying until it succeeds; it reports false when ctx ended first.
func (a *Agent) register(ctx context.Context) bool {
	delay := registerBackoffInitial
	for {
		err := a.tryRegister(ctx)
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		a.log.Warn("register node", "node", a.cfg.NodeName, "err", err, "retryIn", delay)
		select {
		case <-ctx.Done():
			return false
		case <-a.clock.After(delay):
		}
		delay = min(2*delay, registerBackoffMax)
	}
}

func (a *Agent) tryRegister(ctx context.Context) error {
	nodes := a.client.CoreV1().Nodes()
	o := a.observe(ctx)
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: a.cfg.NodeName, Labels: a.cfg.labels()},
		Spec:       corev1.NodeSpec{Taints: slices.Clone(a.cfg.Taints)},
	}
	a.setStatus(&node.Status, o)
	_, err := nodes.Create(ctx, node, metav1.CreateOptions{})
	if err == nil {
		// The status went with the Node: the next one is due when it changes.
		a.lastReport = o.now
		a.log.Info("node registered", "node", a.cfg.NodeName)
		return nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create node %q: %w", a.cfg.NodeName, err)
	}

	// The Node outlived an earlier run of this agent. Its spec, taints
	// included, belongs to the controllers and admins that changed it since;
	// only the labels this agent sets are brought up to date, and the status
	// loop rewrites the status next.
	existing, err := nodes.Get(ctx, a.cfg.NodeName, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get existing node %q: %w", a.cfg.NodeName, err)
	}
	patch, err := labelPatch(existing.Labels, node.Labels)
	if err != nil {
		return fmt.Errorf("node %q: %w", a.cfg.NodeName, err)
	}
	if patch != nil {
		// A merge patch of the labels alone: it cannot touch anything else
		// and needs no resourceVersion.
		if _, err := nodes.Patch(ctx, a.cfg.NodeName, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			return fmt.Errorf("update labels of node %q: %w", a.cfg.NodeName, err)
		}
	}
	a.log.Info("node already registered", "node", a.cfg.NodeName, "labelsUpdated", patch != nil)
	return nil
}

// labels are the Node's labels: the standard ones, overridden by the
// configured ones as upstream's --node-labels override them.
func (c Config) labels() map[string]string {
	l := map[string]string{
		corev1.LabelHostname:   c.hostname(),
		corev1.LabelOSStable:   goruntime.GOOS,
		corev1.LabelArchStable: goruntime.GOARCH,
		labelOSBeta:            goruntime.GOOS,
		labelArchBeta:          goruntime.GOARCH,
	}
	maps.Copy(l, c.Labels)
	return l
}

// hostname is the node's Hostname address, lower-cased as upstream's
// kubelet does, or its name when it has none.
func (c Config) hostname() string {
	for _, addr := range c.Addresses {
		if addr.Type == corev1.NodeHostName && addr.Address != "" {
			return strings.ToLower(addr.Address)
		}
	}
	return c.NodeName
}

// labelPatch is a JSON merge patch setting the wanted labels that differ
// from have, or nil when none does. Labels others added stay.
func labelPatch(have, want map[string]string) ([]byte, error) {
	diff := map[string]string{}
	for k, v := range want {
		if cur, ok := have[k]; !ok || cur != v {
			diff[k] = v
		}
	}
	if len(diff) == 0 {
		return nil, nil
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"labels": diff}})
	if err != nil {
		return nil, fmt.Errorf("encode label patch: %w", err)
	}
	return patch, nil
}
