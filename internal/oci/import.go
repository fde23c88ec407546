package oci

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"

	digest "github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

const (
	dockerManifestFile = "manifest.json"
	// maxLinkDepth bounds chains of links inside an archive; docker save
	// links a repeated layer to its first copy, one hop.
	maxLinkDepth = 8
)

// Import reads an image archive, either an OCI image layout or a `docker
// save` archive, and stores its images under the names the archive gives
// them. It returns those names, normalized. Every blob is verified against
// its digest and every reference must resolve inside the archive; if
// anything fails, nothing is stored.
func (s *Store) Import(ctx context.Context, r io.Reader) ([]string, error) {
	stage, err := s.newStaging()
	if err != nil {
		return nil, err
	}
	defer stage.remove()
	a := &archive{stage: stage, files: map[string]ocispec.Descriptor{}, links: map[string]string{}}
	if err := a.read(ctx, r); err != nil {
		return nil, err
	}
	images, needed, err := a.images(ctx)
	if err != nil {
		return nil, err
	}
	err = s.update(stage, needed, func(names map[string]record) error {
		for name, target := range images {
			setName(names, name, target)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(images))
	for name := range images {
		out = append(out, name)
	}
	sort.Strings(out)
	return out, nil
}

// archive is an unpacked image archive: every regular file staged under
// its digest, and links recorded to be resolved once all files are in.
type archive struct {
	stage *staging
	files map[string]ocispec.Descriptor
	links map[string]string
}

func (a *archive) read(ctx context.Context, r io.Reader) error {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return invalidf("read archive: truncated")
		}
		if errors.Is(err, tar.ErrHeader) {
			return invalidf("read archive: %v", err)
		}
		if err != nil {
			return fmt.Errorf("read archive: %w", err)
		}
		name := archivePath(hdr.Name)
		switch hdr.Typeflag {
		case tar.TypeReg:
			var want digest.Digest
			// A layout's blobs are named by digest: hold them to it.
			if enc, ok := strings.CutPrefix(name, "blobs/sha256/"); ok {
				want = digest.NewDigestFromEncoded(digest.SHA256, enc)
			} else if strings.HasPrefix(name, "blobs/") {
				continue // another algorithm; failing is left to whoever references it
			}
			desc, err := a.stage.put(ctx, tr, want)
			if err != nil {
				if errors.Is(err, io.ErrUnexpectedEOF) {
					return invalidf("archive entry %s: truncated", name)
				}
				return fmt.Errorf("archive entry %s: %w", name, err)
			}
			a.files[name] = desc
		case tar.TypeSymlink:
			target := hdr.Linkname
			if !path.IsAbs(target) {
				target = path.Join(path.Dir(name), target)
			}
			a.links[name] = archivePath(target)
		case tar.TypeLink:
			a.links[name] = archivePath(hdr.Linkname)
		}
	}
}

// archivePath normalizes an entry name: archives spell the same file
// "manifest.json", "./manifest.json" or "/manifest.json".
func archivePath(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}

// file finds a regular file by path, following links.
func (a *archive) file(name string) (ocispec.Descriptor, error) {
	name = archivePath(name)
	for range maxLinkDepth {
		if desc, ok := a.files[name]; ok {
			return desc, nil
		}
		target, ok := a.links[name]
		if !ok {
			break
		}
		name = target
	}
	return ocispec.Descriptor{}, invalidf("archive has no file %q", name)
}

func (a *archive) decode(name string, v any) error {
	desc, err := a.file(name)
	if err != nil {
		return err
	}
	data, err := a.stage.dir.readMetadata(desc.Digest)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return invalidf("%s: %v", name, err)
	}
	return nil
}

// images interprets the archive and returns its names with their targets
// and every blob they need, verified present. Docker 25 writes both
// formats into one archive; the OCI layout is preferred because it keeps
// the original digests, but its index may list platforms the archive
// omits, and then manifest.json, always complete, is used instead.
func (a *archive) images(ctx context.Context) (map[string]ocispec.Descriptor, []ocispec.Descriptor, error) {
	_, err := a.file(dockerManifestFile)
	hasDocker := err == nil
	if _, err := a.file(ocispec.ImageLayoutFile); err == nil {
		images, needed, layoutErr := a.layoutImages()
		if layoutErr == nil || !hasDocker {
			return images, needed, layoutErr
		}
		images, needed, dockerErr := a.dockerImages(ctx)
		if dockerErr != nil {
			return nil, nil, errors.Join(layoutErr, dockerErr)
		}
		return images, needed, nil
	}
	if hasDocker {
		return a.dockerImages(ctx)
	}
	return nil, nil, invalidf("archive is neither an OCI image layout (%s, %s) nor a docker archive (%s)",
		ocispec.ImageLayoutFile, ocispec.ImageIndexFile, dockerManifestFile)
}

func (a *archive) layoutImages() (map[string]ocispec.Descriptor, []ocispec.Descriptor, error) {
	var layout ocispec.ImageLayout
	if err := a.decode(ocispec.ImageLayoutFile, &layout); err != nil {
		return nil, nil, err
	}
	if layout.Version != ocispec.ImageLayoutVersion {
		return nil, nil, invalidf("%s: unsupported image layout version %q", ocispec.ImageLayoutFile, layout.Version)
	}
	var index ocispec.Index
	if err := a.decode(ocispec.ImageIndexFile, &index); err != nil {
		return nil, nil, err
	}
	images := make(map[string]ocispec.Descriptor)
	var roots []ocispec.Descriptor
	for _, m := range index.Manifests {
		name, err := layoutImageName(m)
		if err != nil {
			return nil, nil, err
		}
		target := rootDescriptor(m)
		if prev, dup := images[name]; dup && prev.Digest != target.Digest {
			return nil, nil, invalidf("%s names two images %s", ocispec.ImageIndexFile, name)
		}
		images[name] = target
		roots = append(roots, target)
	}
	if len(images) == 0 {
		return nil, nil, invalidf("%s lists no images", ocispec.ImageIndexFile)
	}
	needed, err := walk(a.stage.dir, roots, true)
	if err != nil {
		return nil, nil, err
	}
	return images, needed, nil
}

// layoutImageName reads an index.json entry's name: containerd's full-name
// annotation, or an OCI ref.name that is a full reference. A ref.name that
// is only a tag ("latest") leaves the repository unknown.
func layoutImageName(m ocispec.Descriptor) (string, error) {
	name := m.Annotations[AnnotationImageName]
	if name == "" {
		refName := m.Annotations[ocispec.AnnotationRefName]
		if refName == "" {
			return "", invalidf("%s: manifest %s has no name; annotate it with %s or %s",
				ocispec.ImageIndexFile, m.Digest, AnnotationImageName, ocispec.AnnotationRefName)
		}
		if !strings.ContainsAny(refName, "/:@") {
			return "", invalidf("%s: manifest %s is named only by tag %q; annotate it with %s to give the repository",
				ocispec.ImageIndexFile, m.Digest, refName, AnnotationImageName)
		}
		name = refName
	}
	ref, err := ParseReference(name)
	if err != nil {
		return "", fmt.Errorf("%s: manifest %s: %w", ocispec.ImageIndexFile, m.Digest, err)
	}
	return ref.String(), nil
}

// dockerManifestEntry is one image of a `docker save` manifest.json.
type dockerManifestEntry struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// dockerImages converts each image of a docker archive into an OCI
// manifest over the archive's own config and layer files.
func (a *archive) dockerImages(ctx context.Context) (map[string]ocispec.Descriptor, []ocispec.Descriptor, error) {
	var entries []dockerManifestEntry
	if err := a.decode(dockerManifestFile, &entries); err != nil {
		return nil, nil, err
	}
	if len(entries) == 0 {
		return nil, nil, invalidf("%s lists no images", dockerManifestFile)
	}
	images := make(map[string]ocispec.Descriptor)
	var roots []ocispec.Descriptor
	for i, e := range entries {
		if len(e.RepoTags) == 0 {
			return nil, nil, invalidf("%s image %d (config %s) has no RepoTags; tag it before saving", dockerManifestFile, i, e.Config)
		}
		target, err := a.convertDocker(ctx, e)
		if err != nil {
			return nil, nil, fmt.Errorf("%s image %d: %w", dockerManifestFile, i, err)
		}
		for _, tag := range e.RepoTags {
			ref, err := ParseReference(tag)
			if err != nil {
				return nil, nil, fmt.Errorf("%s image %d: %w", dockerManifestFile, i, err)
			}
			if prev, dup := images[ref.String()]; dup && prev.Digest != target.Digest {
				return nil, nil, invalidf("%s names two images %s", dockerManifestFile, ref)
			}
			images[ref.String()] = target
		}
		roots = append(roots, target)
	}
	needed, err := walk(a.stage.dir, roots, true)
	if err != nil {
		return nil, nil, err
	}
	return images, needed, nil
}

func (a *archive) convertDocker(ctx context.Context, e dockerManifestEntry) (ocispec.Descriptor, error) {
	configDesc, err := a.file(e.Config)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	var config struct {
		RootFS ocispec.RootFS `json:"rootfs"`
	}
	if err := a.decode(e.Config, &config); err != nil {
		return ocispec.Descriptor{}, err
	}
	if len(config.RootFS.DiffIDs) != len(e.Layers) {
		return ocispec.Descriptor{}, invalidf("config %s has %d diff_ids for %d layers", e.Config, len(config.RootFS.DiffIDs), len(e.Layers))
	}
	manifest := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: configDesc.Digest, Size: configDesc.Size},
		Layers:    []ocispec.Descriptor{},
	}
	for i, l := range e.Layers {
		desc, err := a.file(l)
		if err != nil {
			return ocispec.Descriptor{}, err
		}
		if desc.MediaType, err = a.layerMediaType(desc.Digest); err != nil {
			return ocispec.Descriptor{}, err
		}
		// An uncompressed layer is its own diff: its digest must be the
		// one the config promises. Compressed ones are checked by the
		// runtime when it unpacks them.
		if desc.MediaType == ocispec.MediaTypeImageLayer && desc.Digest != config.RootFS.DiffIDs[i] {
			return ocispec.Descriptor{}, invalidf("layer %s hashes to %s, config diff_id is %s", l, desc.Digest, config.RootFS.DiffIDs[i])
		}
		manifest.Layers = append(manifest.Layers, desc)
	}
	data, err := json.Marshal(manifest)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("encode manifest: %w", err)
	}
	desc, err := a.stage.put(ctx, bytes.NewReader(data), "")
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	desc.MediaType = ocispec.MediaTypeImageManifest
	return desc, nil
}

// layerMediaType recognizes the compression of a docker archive's layer by
// its magic number: classic `docker save` writes plain tars, the
// containerd image store keeps the registry's compressed blobs.
func (a *archive) layerMediaType(d digest.Digest) (string, error) {
	f, err := os.Open(a.stage.dir.path(d))
	if err != nil {
		return "", fmt.Errorf("open layer %s: %w", d, err)
	}
	defer f.Close()
	magic := make([]byte, 4)
	n, err := io.ReadFull(f, magic)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && err != io.EOF {
		return "", fmt.Errorf("read layer %s: %w", d, err)
	}
	magic = magic[:n]
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		return ocispec.MediaTypeImageLayerGzip, nil
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return ocispec.MediaTypeImageLayerZstd, nil
	default:
		return ocispec.MediaTypeImageLayer, nil
	}
}
