package endpointutil

import (
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
	corelisters "k8s.io/client-go/listers/core/v1"

	"github.com/skiff-sh/skiff/internal/controller/podutil"
)

// podChange reports how a pod update matters to the endpoint controllers:
// endpoint is true when the pod's published endpoint may differ, membership
// when the set of Services selecting it may differ.
func podChange(old, cur *corev1.Pod) (endpoint, membership bool) {
	membership = !maps.Equal(old.Labels, cur.Labels)
	endpoint = (old.DeletionTimestamp == nil) != (cur.DeletionTimestamp == nil) ||
		podutil.IsPodReady(old) != podutil.IsPodReady(cur) ||
		isTerminal(old) != isTerminal(cur) ||
		old.Spec.NodeName != cur.Spec.NodeName ||
		old.Status.PodIP != cur.Status.PodIP ||
		!slices.Equal(old.Status.PodIPs, cur.Status.PodIPs)
	return endpoint, membership
}

func isTerminal(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// servicesForPod returns the namespace/name keys of the Services in
// namespace whose selector matches podLabels.
func servicesForPod(lister corelisters.ServiceLister, namespace string, podLabels map[string]string) (sets.Set[string], error) {
	svcs, err := lister.Services(namespace).List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("list services in %q: %w", namespace, err)
	}
	out := sets.New[string]()
	set := labels.Set(podLabels)
	for _, svc := range svcs {
		// A Service without a selector selects nothing, not everything.
		if len(svc.Spec.Selector) == 0 {
			continue
		}
		if labels.SelectorFromValidatedSet(svc.Spec.Selector).Matches(set) {
			out.Insert(svc.Namespace + "/" + svc.Name)
		}
	}
	return out, nil
}

// servicesForUpdate returns the keys of the Services a pod update concerns:
// none when nothing they publish changed, the Services selecting the pod
// when its endpoint changed, and when only its labels changed the Services
// it joined or left.
func servicesForUpdate(lister corelisters.ServiceLister, old, cur *corev1.Pod) (sets.Set[string], error) {
	if old.ResourceVersion == cur.ResourceVersion && old.ResourceVersion != "" {
		// A resync; the Service handlers resync the Services themselves.
		return nil, nil
	}
	endpoint, membership := podChange(old, cur)
	if !endpoint && !membership {
		return nil, nil
	}
	now, err := servicesForPod(lister, cur.Namespace, cur.Labels)
	if err != nil || !membership {
		return now, err
	}
	before, err := servicesForPod(lister, old.Namespace, old.Labels)
	if err != nil {
		return nil, err
	}
	if endpoint {
		return now.Union(before), nil
	}
	return now.SymmetricDifference(before), nil
}
