package endpointutil

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
)

// recordingQueue records what the handlers queue.
type recordingQueue struct{ keys []string }

func (q *recordingQueue) AddAfter(key string, d time.Duration) {
	q.keys = append(q.keys, key+"@"+d.String())
}

func labelledSlice(uid, rv, service, managedBy string) *discoveryv1.EndpointSlice {
	s := slice(uid, rv)
	s.Namespace = "default"
	s.Labels = map[string]string{discoveryv1.LabelServiceName: service, discoveryv1.LabelManagedBy: managedBy}
	return s
}

func TestSliceHandlers(t *testing.T) {
	const ours, theirs = "ours", "theirs"
	own := labelledSlice("a", "5", "web", ours)
	tests := []struct {
		name  string
		event func(cache.ResourceEventHandlerFuncs)
		want  []string
	}{
		{name: "own last write echoing back", event: func(h cache.ResourceEventHandlerFuncs) { h.OnAdd(own, false) }},
		{name: "edited by someone else", want: []string{"default/web@1s"},
			event: func(h cache.ResourceEventHandlerFuncs) { h.OnUpdate(own, labelledSlice("a", "6", "web", ours)) }},
		{name: "another controller's slice",
			event: func(h cache.ResourceEventHandlerFuncs) { h.OnAdd(labelledSlice("b", "1", "web", theirs), false) }},
		{name: "relabelled to another Service", want: []string{"default/web@1s", "default/api@1s"},
			event: func(h cache.ResourceEventHandlerFuncs) { h.OnUpdate(own, labelledSlice("a", "6", "api", ours)) }},
		{name: "deleted by someone else", want: []string{"default/web@1s"},
			event: func(h cache.ResourceEventHandlerFuncs) {
				h.OnDelete(cache.DeletedFinalStateUnknown{Key: "default/a", Obj: own})
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tracker := NewSliceTracker()
			tracker.Written("default/web", own, "")
			q := &recordingQueue{}
			tc.event(SliceHandlers(tracker, ours, q, time.Second))
			if !slices.Equal(q.keys, tc.want) {
				t.Errorf("queued %v, want %v", q.keys, tc.want)
			}
		})
	}
}

func TestWriteSlices(t *testing.T) {
	gvr := discoveryv1.SchemeGroupVersion.WithResource("endpointslices")
	stored := labelledSlice("old", "3", "web", "ours")
	stored.Name = "web-old"
	tests := []struct {
		name        string
		terminating bool
		wantErr     error
		wantVerbs   []string
	}{
		{name: "creates, updates, then deletes", wantVerbs: []string{"create", "update", "delete"}},
		{name: "stops quietly in a terminating namespace", terminating: true, wantVerbs: []string{"create"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset(stored.DeepCopy())
			if tc.terminating {
				client.PrependReactor("create", "endpointslices", func(clienttesting.Action) (bool, runtime.Object, error) {
					err := apierrors.NewForbidden(schema.GroupResource{Resource: "endpointslices"}, "", errors.New("terminating"))
					err.ErrStatus.Details.Causes = []metav1.StatusCause{{Type: corev1.NamespaceTerminatingCause}}
					return true, nil, err
				})
			}
			created := labelledSlice("", "", "web", "ours")
			created.Name = "web-new"
			updated := stored.DeepCopy()
			deleted := stored.DeepCopy()
			tracker := NewSliceTracker()
			err := WriteSlices(context.Background(), client.DiscoveryV1().EndpointSlices("default"), tracker, "default/web",
				SliceWrites{Create: []*discoveryv1.EndpointSlice{created}, Update: []*discoveryv1.EndpointSlice{updated},
					Delete: []*discoveryv1.EndpointSlice{deleted}})
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("WriteSlices = %v, want %v", err, tc.wantErr)
			}
			var verbs []string
			for _, a := range client.Actions() {
				if a.GetResource() == gvr {
					verbs = append(verbs, a.GetVerb())
				}
			}
			if !slices.Equal(verbs, tc.wantVerbs) {
				t.Errorf("writes %v, want %v", verbs, tc.wantVerbs)
			}
			// A deletion recorded makes the cache that still holds the
			// slice stale.
			if stale := tracker.Stale("default/web", []*discoveryv1.EndpointSlice{stored}); stale != !tc.terminating {
				t.Errorf("cache holding the deleted slice stale = %v, want %v", stale, !tc.terminating)
			}
		})
	}
}
