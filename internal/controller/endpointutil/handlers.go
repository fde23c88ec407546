package endpointutil

import (
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/controller"
)

// Queue is the part of a controller's work queue the handlers below feed.
type Queue interface {
	AddAfter(key string, d time.Duration)
}

// PodHandlers returns the pod event handlers of a controller keyed by
// Service: a pod's addition or deletion, or an update that matters to the
// Services selecting it before or after, queues those Services after delay.
func PodHandlers(log *slog.Logger, services corelisters.ServiceLister, queue Queue, delay time.Duration) cache.ResourceEventHandlerFuncs {
	enqueue := func(keys sets.Set[string], err error) {
		if err != nil {
			log.Error("cannot find services for pod", "err", err)
			return
		}
		for key := range keys {
			queue.AddAfter(key, delay)
		}
	}
	// Additions and deletions alike change the Services selecting the pod.
	added := func(obj any) {
		if pod, ok := controller.Deleted[*corev1.Pod](obj); ok {
			enqueue(servicesForPod(services, pod.Namespace, pod.Labels))
		}
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc: added,
		UpdateFunc: func(oldObj, curObj any) {
			old, ok1 := oldObj.(*corev1.Pod)
			cur, ok2 := curObj.(*corev1.Pod)
			if ok1 && ok2 {
				enqueue(servicesForUpdate(services, old, cur))
			}
		},
		DeleteFunc: added,
	}
}

// SliceHandlers returns the EndpointSlice event handlers of the controller
// whose slices are labelled managed-by managedBy. A slice of its changed
// other than by its own last write, as tracker tells, queues the slice's
// owner (the namespace/name of its service-name label) after delay, so
// that the controller puts the slice back.
func SliceHandlers(tracker *SliceTracker, managedBy string, queue Queue, delay time.Duration) cache.ResourceEventHandlerFuncs {
	managed := func(s *discoveryv1.EndpointSlice) bool { return s.Labels[discoveryv1.LabelManagedBy] == managedBy }
	added := func(obj any) {
		s, ok := obj.(*discoveryv1.EndpointSlice)
		if !ok || !managed(s) {
			return
		}
		if key, ok := ownerKey(s); ok && tracker.ShouldSync(key, s) {
			queue.AddAfter(key, delay)
		}
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc: added,
		UpdateFunc: func(oldObj, curObj any) {
			old, ok1 := oldObj.(*discoveryv1.EndpointSlice)
			cur, ok2 := curObj.(*discoveryv1.EndpointSlice)
			if !ok1 || !ok2 {
				return
			}
			if old.Labels[discoveryv1.LabelServiceName] != cur.Labels[discoveryv1.LabelServiceName] || managed(old) != managed(cur) {
				// Relabelled away from or onto an owner: both sides re-check.
				for _, s := range []*discoveryv1.EndpointSlice{old, cur} {
					if key, ok := ownerKey(s); ok {
						queue.AddAfter(key, delay)
					}
				}
				return
			}
			added(cur)
		},
		DeleteFunc: func(obj any) {
			s, ok := controller.Deleted[*discoveryv1.EndpointSlice](obj)
			if !ok || !managed(s) {
				return
			}
			if key, ok := ownerKey(s); ok && tracker.Deleted(key, s) {
				queue.AddAfter(key, delay)
			}
		},
	}
}

// ownerKey is the namespace/name of the Service (or Endpoints) a slice is
// labelled for.
func ownerKey(s *discoveryv1.EndpointSlice) (string, bool) {
	name := s.Labels[discoveryv1.LabelServiceName]
	if name == "" {
		return "", false
	}
	return s.Namespace + "/" + name, true
}
