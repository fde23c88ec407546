package namespace

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// conditionTypes are the namespace conditions this controller owns, in the
// order upstream writes them.
var conditionTypes = []corev1.NamespaceConditionType{
	corev1.NamespaceDeletionDiscoveryFailure,
	corev1.NamespaceDeletionGVParsingFailure,
	corev1.NamespaceDeletionContentFailure,
	corev1.NamespaceContentRemaining,
	corev1.NamespaceFinalizersRemaining,
}

// healthy is the reason and message of a condition with nothing to report.
var healthy = map[corev1.NamespaceConditionType][2]string{
	corev1.NamespaceDeletionDiscoveryFailure: {"ResourcesDiscovered", "All resources successfully discovered"},
	corev1.NamespaceDeletionGVParsingFailure: {"ParsedGroupVersions", "All legacy kube types successfully parsed"},
	corev1.NamespaceDeletionContentFailure:   {"ContentDeleted", "All content successfully deleted, may be waiting on finalization"},
	corev1.NamespaceContentRemaining:         {"ContentRemoved", "All content successfully removed"},
	corev1.NamespaceFinalizersRemaining:      {"ContentHasNoFinalizers", "All content-preserving finalizers finished"},
}

// reportConditions writes the conditions describing results to the
// namespace status, only when they changed, and returns the namespace as
// last written (ns itself when the write failed).
func (c *Controller) reportConditions(ctx context.Context, ns *corev1.Namespace, results []resourceResult) (*corev1.Namespace, error) {
	status := ns.Status.DeepCopy()
	now := metav1.NewTime(c.clock.Now())
	if !mergeConditions(status, problemConditions(results), now) {
		return ns, nil
	}
	next := ns.DeepCopy()
	next.Status = *status
	out, err := c.client.CoreV1().Namespaces().UpdateStatus(ctx, next, metav1.UpdateOptions{})
	if err != nil {
		return ns, fmt.Errorf("namespace %q: update conditions: %w", ns.Name, err)
	}
	return out, nil
}

// problemConditions are the true conditions results call for, keyed by type.
func problemConditions(results []resourceResult) map[corev1.NamespaceConditionType]corev1.NamespaceCondition {
	var failures, resources, finalizers []string
	finalizerCounts := map[string]int{}
	for _, r := range results {
		if r.err != nil {
			failures = append(failures, r.err.Error())
		}
		if r.remaining > 0 {
			resources = append(resources, fmt.Sprintf("%s.%s has %d resource instances", r.gvr.Resource, r.gvr.Group, r.remaining))
		}
		for f, n := range r.finalizers {
			finalizerCounts[f] += n
		}
	}
	for f, n := range finalizerCounts {
		finalizers = append(finalizers, fmt.Sprintf("%s in %d resource instances", f, n))
	}
	// Sorted so that an unchanged state never rewrites the status.
	slices.Sort(failures)
	slices.Sort(resources)
	slices.Sort(finalizers)
	out := map[corev1.NamespaceConditionType]corev1.NamespaceCondition{}
	if len(failures) > 0 {
		out[corev1.NamespaceDeletionContentFailure] = corev1.NamespaceCondition{
			Reason:  "ContentDeletionFailed",
			Message: fmt.Sprintf("Failed to delete all resource types, %d remaining: %s", len(failures), strings.Join(failures, ", ")),
		}
	}
	if len(resources) > 0 {
		out[corev1.NamespaceContentRemaining] = corev1.NamespaceCondition{
			Reason:  "SomeResourcesRemain",
			Message: "Some resources are remaining: " + strings.Join(resources, ", "),
		}
	}
	if len(finalizers) > 0 {
		out[corev1.NamespaceFinalizersRemaining] = corev1.NamespaceCondition{
			Reason:  "SomeFinalizersRemain",
			Message: "Some content in the namespace has finalizers remaining: " + strings.Join(finalizers, ", "),
		}
	}
	return out
}

// mergeConditions sets every owned condition: true with its problem, or
// false with the healthy message. The transition time moves only when the
// status flips.
func mergeConditions(status *corev1.NamespaceStatus, problems map[corev1.NamespaceConditionType]corev1.NamespaceCondition, now metav1.Time) bool {
	changed := false
	for _, t := range conditionTypes {
		want, bad := problems[t]
		if bad {
			want.Status = corev1.ConditionTrue
		} else {
			want = corev1.NamespaceCondition{Status: corev1.ConditionFalse, Reason: healthy[t][0], Message: healthy[t][1]}
		}
		want.Type = t
		i := slices.IndexFunc(status.Conditions, func(c corev1.NamespaceCondition) bool { return c.Type == t })
		if i < 0 {
			want.LastTransitionTime = now
			status.Conditions = append(status.Conditions, want)
			changed = true
			continue
		}
		cur := &status.Conditions[i]
		if cur.Status == want.Status && cur.Reason == want.Reason && cur.Message == want.Message {
			continue
		}
		if cur.Status != want.Status {
			cur.LastTransitionTime = now
		}
		cur.Status, cur.Reason, cur.Message = want.Status, want.Reason, want.Message
		changed = true
	}
	return changed
}
