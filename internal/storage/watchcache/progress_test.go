package watchcache_test

import (
	"context"
	"testing"

	"github.com/skiff-sh/skiff/internal/storage/watchcache"
)

// A consistent read of a quiet resource must not wait for that resource to
// change: a progress notification tells its cache it is current.
func TestWaitFreshOnQuietResource(t *testing.T) {
	f := newFixture(t, watchcache.Config{})
	other := watchcache.New(nil, f.kv, "/test/other/", cmCodec{}, attrs, watchcache.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = other.Run(ctx) }()
	<-other.Ready()
	for range 3 {
		f.put(t, "busy", nil)
		if _, err := other.WaitFresh(context.Background()); err != nil {
			t.Fatalf("quiet cache: %v", err)
		}
	}
}
