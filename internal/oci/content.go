package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// maxMetadataSize bounds the manifests, indexes and configs read into
// memory; real ones are a few kilobytes, so anything larger is hostile.
const maxMetadataSize = 4 << 20

// blobDir is a directory of blobs named by the hex of their sha256 digest:
// the store's blobs/sha256 and an import's staging area share this shape.
type blobDir string

func (d blobDir) path(dg digest.Digest) string {
	return filepath.Join(string(d), dg.Encoded())
}

// readMetadata reads a manifest, index or config, refusing oversized ones.
func (d blobDir) readMetadata(dg digest.Digest) ([]byte, error) {
	f, err := os.Open(d.path(dg))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxMetadataSize+1))
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", dg, err)
	}
	if len(data) > maxMetadataSize {
		return nil, invalidf("blob %s: larger than %d bytes", dg, maxMetadataSize)
	}
	return data, nil
}

// manifestOrIndex holds the fields of either document that lead to more
// content.
type manifestOrIndex struct {
	MediaType string               `json:"mediaType"`
	Config    *ocispec.Descriptor  `json:"config"`
	Layers    []ocispec.Descriptor `json:"layers"`
	Manifests []ocispec.Descriptor `json:"manifests"`
}

// walk returns every descriptor reachable from roots, each once: indexes
// lead to their manifests, manifests to their config and layers.
//
// A strict walk validates content about to enter the store: every blob
// must be present with the size its descriptor states, and manifests and
// indexes must parse. A lenient walk computes what the store keeps alive;
// it stops at a missing or unreadable document instead of failing, so a
// damaged image never prevents the store from opening.
func walk(dir blobDir, roots []ocispec.Descriptor, strict bool) ([]ocispec.Descriptor, error) {
	for _, r := range roots {
		if strict && !isIndex(r.MediaType) && !isManifest(r.MediaType) {
			return nil, invalidf("%s: media type %q is neither a manifest nor an index", r.Digest, r.MediaType)
		}
	}
	var out []ocispec.Descriptor
	seen := make(map[digest.Digest]bool)
	queue := append([]ocispec.Descriptor(nil), roots...)
	for len(queue) > 0 {
		desc := queue[0]
		queue = queue[1:]
		if err := checkDigest(desc.Digest); err != nil {
			if strict {
				return nil, err
			}
			continue
		}
		if seen[desc.Digest] {
			continue
		}
		seen[desc.Digest] = true
		out = append(out, desc)
		if strict {
			if err := checkPresent(dir, desc); err != nil {
				return nil, err
			}
		}
		if !isIndex(desc.MediaType) && !isManifest(desc.MediaType) {
			continue
		}
		children, err := references(dir, desc)
		if err != nil {
			if strict || !errors.Is(err, ErrInvalid) && !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
			continue
		}
		queue = append(queue, children...)
	}
	return out, nil
}

func checkDigest(d digest.Digest) error {
	if err := d.Validate(); err != nil {
		return invalidf("digest %q: %v", d, err)
	}
	if d.Algorithm() != digest.SHA256 {
		return invalidf("digest %s: unsupported algorithm, only sha256 is", d)
	}
	return nil
}

func checkPresent(dir blobDir, desc ocispec.Descriptor) error {
	fi, err := os.Stat(dir.path(desc.Digest))
	if errors.Is(err, fs.ErrNotExist) {
		return invalidf("blob %s (%s) is missing", desc.Digest, desc.MediaType)
	}
	if err != nil {
		return fmt.Errorf("stat blob %s: %w", desc.Digest, err)
	}
	if fi.Size() != desc.Size {
		return invalidf("blob %s: size %d, descriptor says %d", desc.Digest, fi.Size(), desc.Size)
	}
	return nil
}

// references parses a manifest or index and returns what it points to.
func references(dir blobDir, desc ocispec.Descriptor) ([]ocispec.Descriptor, error) {
	data, err := dir.readMetadata(desc.Digest)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("blob %s: %w", desc.Digest, err)
	}
	if err != nil {
		return nil, err
	}
	var doc manifestOrIndex
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, invalidf("%s %s: %v", desc.MediaType, desc.Digest, err)
	}
	if doc.MediaType != "" && doc.MediaType != desc.MediaType {
		return nil, invalidf("%s: descriptor says %q, document says %q", desc.Digest, desc.MediaType, doc.MediaType)
	}
	if isIndex(desc.MediaType) {
		return doc.Manifests, nil
	}
	if doc.Config == nil {
		return nil, invalidf("manifest %s: no config", desc.Digest)
	}
	return append([]ocispec.Descriptor{*doc.Config}, doc.Layers...), nil
}
