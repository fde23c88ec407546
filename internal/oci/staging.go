package oci

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/skiff-sh/skiff/internal/fsutil"
)

// staging is a private directory on the store's filesystem where incoming
// content is hashed and verified before any of it enters the store, so an
// invalid import leaves nothing behind and a valid one enters by rename.
type staging struct {
	dir blobDir
}

func (s *Store) newStaging() (*staging, error) {
	dir, err := os.MkdirTemp(s.ingestDir(), "")
	if err != nil {
		return nil, fmt.Errorf("create staging area: %w", err)
	}
	return &staging{dir: blobDir(dir)}, nil
}

func (st *staging) remove() {
	// Best effort: what a failure leaves, the next NewStore removes.
	_ = os.RemoveAll(string(st.dir))
}

// put copies r into the staging area under its sha256 digest and returns
// its descriptor (without media type). When want is set the content must
// hash to it.
func (st *staging) put(ctx context.Context, r io.Reader, want digest.Digest) (ocispec.Descriptor, error) {
	if want != "" {
		if err := checkDigest(want); err != nil {
			return ocispec.Descriptor{}, err
		}
	}
	tmp, err := os.CreateTemp(string(st.dir), ".tmp-*")
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("stage blob: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	// Images are not secret; CreateTemp's 0600 would lock out readers
	// that do not run as root.
	if err := tmp.Chmod(fileMode); err != nil {
		tmp.Close()
		return ocispec.Descriptor{}, fmt.Errorf("stage blob: %w", err)
	}
	digester := digest.Canonical.Digester()
	n, err := io.Copy(io.MultiWriter(tmp, digester.Hash()), ctxReader{ctx: ctx, r: r})
	if err != nil {
		tmp.Close()
		return ocispec.Descriptor{}, fmt.Errorf("stage blob: %w", err)
	}
	got := digester.Digest()
	if want != "" && got != want {
		tmp.Close()
		return ocispec.Descriptor{}, invalidf("blob %s: content hashes to %s", want, got)
	}
	// Synced here, once, so that commit only has to rename.
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return ocispec.Descriptor{}, fmt.Errorf("sync staged blob: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("stage blob: %w", err)
	}
	if err := os.Rename(tmp.Name(), st.dir.path(got)); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("stage blob: %w", err)
	}
	return ocispec.Descriptor{Digest: got, Size: n}, nil
}

// commit moves the needed blobs into the store. A blob the store already
// holds stays as it is: same digest, same bytes.
func (st *staging) commit(blobs blobDir, needed []ocispec.Descriptor) error {
	for _, d := range needed {
		dst := blobs.path(d.Digest)
		if _, err := os.Stat(dst); err == nil {
			continue
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("stat blob %s: %w", d.Digest, err)
		}
		if err := os.Rename(st.dir.path(d.Digest), dst); err != nil {
			return fmt.Errorf("store blob %s: %w", d.Digest, err)
		}
	}
	return fsutil.SyncDir(string(blobs))
}

// ctxReader stops a long copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
