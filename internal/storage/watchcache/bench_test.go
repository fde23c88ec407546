package watchcache_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/storage/watchcache"
)

// BenchmarkList10k lists 10,000 pod-sized objects from the cache with a
// consistent read, as `kubectl get` without a resourceVersion does.
func BenchmarkList10k(b *testing.B) {
	f := newFixture(b, watchcache.Config{})
	ctx := context.Background()
	cm := &corev1.ConfigMap{Data: map[string]string{"payload": string(make([]byte, 1024))}}
	var g errgroup.Group
	g.SetLimit(32)
	for i := range 10000 {
		g.Go(func() error {
			obj := cm.DeepCopy()
			obj.ObjectMeta = metav1.ObjectMeta{Name: fmt.Sprintf("cm-%05d", i), Labels: map[string]string{"app": "bench"}}
			data, _ := json.Marshal(obj)
			_, err := f.kv.Create(ctx, prefix+obj.Name, data)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	res, err := f.cache.List(ctx, watchcache.ListRequest{Consistent: true})
	if err != nil || len(res.Items) != 10000 {
		b.Fatalf("list: %d items, %v", len(res.Items), err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := f.cache.List(ctx, watchcache.ListRequest{Consistent: true}); err != nil {
			b.Fatal(err)
		}
	}
}
