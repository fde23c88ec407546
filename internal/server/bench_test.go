package server

import (
	"context"
	"testing"

	"github.com/skiff-sh/skiff/internal/storage/storagetest"
)

// BenchmarkStartToReady measures `skiff server` from start to ready (the
// moment /readyz answers ok) on a data dir that already exists, as after a
// restart; the first start also creates certificates.
func BenchmarkStartToReady(b *testing.B) {
	dir := b.TempDir()
	cfg := Config{
		DataDir:        dir,
		HTTPSPort:      storagetest.FreePort(b),
		EtcdClientPort: storagetest.FreePort(b),
		EtcdPeerPort:   storagetest.FreePort(b),
	}
	start := func() {
		srv, err := New(nil, cfg)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- srv.Run(ctx) }()
		select {
		case <-srv.Ready():
		case err := <-done:
			b.Fatalf("server exited: %v", err)
		}
		b.StopTimer()
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	start() // first start: certificates and etcd data
	b.ResetTimer()
	for b.Loop() {
		start()
	}
}
