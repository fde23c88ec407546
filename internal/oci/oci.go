// Package oci builds OCI images in Go, keeps them in a content-addressed
// store on disk, imports image archives and serves the store over the pull
// side of the OCI distribution API.
//
// Only sha256 content is supported: it is what every registry and runtime
// Skiff talks to produces, and a single algorithm keeps the on-disk layout
// and the reachability rules simple.
package oci

import (
	// go-digest hashes through crypto.SHA256, which only works once the
	// implementation is linked in.
	_ "crypto/sha256"
	"errors"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

var (
	// ErrNotFound reports a name or blob the store does not hold.
	ErrNotFound = errors.New("oci: not found")
	// ErrInvalid reports malformed input: a bad reference, a corrupt or
	// incomplete archive, content whose digest does not match.
	ErrInvalid = errors.New("oci: invalid")
)

// Docker's media types, still produced by `docker save` and most registries;
// they are stored and served as they are, never rewritten.
const (
	mediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	mediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
)

// AnnotationImageName is the index.json annotation containerd reads for the
// full image name; the OCI ref.name annotation usually holds only the tag.
const AnnotationImageName = "io.containerd.image.name"

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

func isIndex(mediaType string) bool {
	return mediaType == ocispec.MediaTypeImageIndex || mediaType == mediaTypeDockerManifestList
}

func isManifest(mediaType string) bool {
	return mediaType == ocispec.MediaTypeImageManifest || mediaType == mediaTypeDockerManifest
}
