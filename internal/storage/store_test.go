package storage_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/internal/storage"
	"github.com/skiff-sh/skiff/internal/storage/storagetest"
)

func TestWritesAndClaims(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	const claim = "/claims/ip/10.0.0.1"

	rev, err := s.Create(ctx, "/objs/a", []byte("a"), claim)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	steps := []struct {
		name string
		op   func() error
		want error
	}{
		{"create existing key", func() error { _, err := s.Create(ctx, "/objs/a", []byte("x")); return err }, storage.ErrExists},
		{"claim held by another object", func() error { _, err := s.Create(ctx, "/objs/b", []byte("b"), claim); return err }, storage.ErrClaimTaken},
		{"update at a stale revision", func() error { _, err := s.Update(ctx, "/objs/a", []byte("x"), rev-1, nil, nil); return err }, storage.ErrConflict},
		{"update of a missing key", func() error { _, err := s.Update(ctx, "/objs/none", []byte("x"), 1, nil, nil); return err }, storage.ErrNotFound},
		{"delete releases the claim", func() error { _, err := s.Delete(ctx, "/objs/a", rev, claim); return err }, nil},
		{"claim free again", func() error { _, err := s.Create(ctx, "/objs/b", []byte("b"), claim); return err }, nil},
		{"guard at its revision", func() error {
			g, err := s.Get(ctx, "/objs/b")
			if err != nil {
				return err
			}
			_, err = s.CreateGuarded(ctx, "/objs/c", []byte("c"), storage.Guard{Key: "/objs/b", ModRevision: g.ModRevision})
			return err
		}, nil},
		{"guard changed", func() error {
			_, err := s.CreateGuarded(ctx, "/objs/d", []byte("d"), storage.Guard{Key: "/objs/b", ModRevision: 1})
			return err
		}, storage.ErrGuardChanged},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if err := st.op(); !errors.Is(err, st.want) {
				t.Fatalf("got %v, want %v", err, st.want)
			}
		})
	}
	if _, err := s.Create(ctx, "/objs/b", []byte("b")); !errors.Is(err, storage.ErrExists) {
		t.Fatalf("a failed write must leave nothing behind; create b again: %v", err)
	}
	if _, err := s.Get(ctx, "/objs/a"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("get deleted: %v", err)
	}
}

func TestCompactorDiscardsOldHistory(t *testing.T) {
	s := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first, err := s.Create(ctx, "/objs/a", []byte("1"))
	if err != nil {
		t.Fatal(err)
	}
	rev := first
	for range 5 {
		if rev, err = s.Update(ctx, "/objs/a", []byte("n"), rev, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	go func() { _ = s.RunCompactor(ctx, 20*time.Millisecond) }()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, _, _, err := s.List(ctx, "/objs/", "", first, 10)
		if errors.Is(err, storage.ErrExpired) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("revision %d still readable after compaction: %v", first, err)
		}
	}
}

func newStore(t *testing.T) *storage.Store {
	c := storagetest.Etcd(t)
	return storage.New(c, c)
}
