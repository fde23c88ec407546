package oci

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"path"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

const (
	defaultFileMode = 0o644
	defaultDirMode  = 0o755
)

// epoch is the modification time of every built entry. The zero time.Time
// would not fit the ustar header and would drag PAX records into the tar.
var epoch = time.Unix(0, 0)

// File is one entry of a layer. Mode.IsDir() marks a directory and
// fs.ModeSymlink with Linkname a symbolic link; anything else is a regular
// file holding Data. A zero permission means 0644 for files and 0755 for
// directories, so callers only spell out modes that matter (0755 binaries).
type File struct {
	Path     string
	Mode     fs.FileMode
	Data     []byte
	Linkname string
}

// Config is the runtime configuration of a built image.
type Config struct {
	Entrypoint []string
	Cmd        []string
	Env        []string
	WorkingDir string
	User       string
	// ExposedPorts are "port/protocol" ("80/tcp"); a bare port means TCP.
	ExposedPorts []string
	Labels       map[string]string
}

// Image is a built image held in memory: its manifest and every blob the
// manifest references.
type Image struct {
	// Descriptor describes Manifest.
	Descriptor ocispec.Descriptor
	Manifest   []byte
	// Blobs are the config and the layers, keyed by digest.
	Blobs map[digest.Digest][]byte
}

// Build assembles an image for linux on the running architecture. The
// result depends only on its arguments: entries are sorted, missing parent
// directories added, owners and times zeroed, and no creation time is
// recorded, so the same input always yields the same manifest digest.
func Build(cfg Config, layers ...[]File) (*Image, error) {
	img := &Image{Blobs: make(map[digest.Digest][]byte)}
	manifest := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Layers:    []ocispec.Descriptor{},
	}
	imgConfig, err := imageConfig(cfg)
	if err != nil {
		return nil, err
	}
	config := ocispec.Image{
		Platform: ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH},
		Config:   imgConfig,
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{}},
	}
	for i, files := range layers {
		tarball, err := layerTar(files)
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		compressed, err := gzipBytes(tarball)
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		config.RootFS.DiffIDs = append(config.RootFS.DiffIDs, digest.FromBytes(tarball))
		manifest.Layers = append(manifest.Layers, img.addBlob(ocispec.MediaTypeImageLayerGzip, compressed))
	}
	configJSON, err := json.Marshal(config)
	if err != nil {
		return nil, fmt.Errorf("encode image config: %w", err)
	}
	manifest.Config = img.addBlob(ocispec.MediaTypeImageConfig, configJSON)
	if img.Manifest, err = json.Marshal(manifest); err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	img.Descriptor = ocispec.Descriptor{
		MediaType: ocispec.MediaTypeImageManifest,
		Digest:    digest.FromBytes(img.Manifest),
		Size:      int64(len(img.Manifest)),
	}
	return img, nil
}

func (img *Image) addBlob(mediaType string, data []byte) ocispec.Descriptor {
	d := digest.FromBytes(data)
	img.Blobs[d] = data
	return ocispec.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(data))}
}

func imageConfig(cfg Config) (ocispec.ImageConfig, error) {
	c := ocispec.ImageConfig{
		User:       cfg.User,
		Env:        cfg.Env,
		Entrypoint: cfg.Entrypoint,
		Cmd:        cfg.Cmd,
		WorkingDir: cfg.WorkingDir,
		Labels:     cfg.Labels,
	}
	for _, p := range cfg.ExposedPorts {
		port, proto, found := strings.Cut(p, "/")
		if !found {
			proto = "tcp"
		}
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || n == 0 {
			return ocispec.ImageConfig{}, invalidf("exposed port %q: port must be 1-65535", p)
		}
		if proto != "tcp" && proto != "udp" && proto != "sctp" {
			return ocispec.ImageConfig{}, invalidf("exposed port %q: protocol must be tcp, udp or sctp", p)
		}
		if c.ExposedPorts == nil {
			c.ExposedPorts = make(map[string]struct{})
		}
		c.ExposedPorts[strconv.FormatUint(n, 10)+"/"+proto] = struct{}{}
	}
	return c, nil
}

// layerTar writes files as an uncompressed tar in path order, which puts
// every directory before its contents.
func layerTar(files []File) ([]byte, error) {
	entries := make(map[string]File, len(files))
	for _, f := range files {
		p, err := cleanPath(f.Path)
		if err != nil {
			return nil, err
		}
		if _, dup := entries[p]; dup {
			return nil, invalidf("file %q appears twice", p)
		}
		f.Path = p
		entries[p] = f
	}
	for p := range entries {
		for dir := path.Dir(p); dir != "."; dir = path.Dir(dir) {
			parent, ok := entries[dir]
			if !ok {
				entries[dir] = File{Path: dir, Mode: fs.ModeDir}
				continue
			}
			if !parent.Mode.IsDir() {
				return nil, invalidf("file %q: parent %q is not a directory", p, dir)
			}
		}
	}
	paths := make([]string, 0, len(entries))
	for p := range entries {
		paths = append(paths, p)
	}
	sort.Strings(paths)

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range paths {
		hdr, data, err := tarHeader(entries[p])
		if err != nil {
			return nil, err
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("write tar header for %q: %w", p, err)
		}
		if _, err := tw.Write(data); err != nil {
			return nil, fmt.Errorf("write %q: %w", p, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("finish tar: %w", err)
	}
	return buf.Bytes(), nil
}

// cleanPath makes an absolute or relative path relative to the layer root
// and refuses paths that leave it.
func cleanPath(p string) (string, error) {
	clean := path.Clean("/" + p)
	if clean == "/" || strings.Contains("/"+p+"/", "/../") {
		return "", invalidf("file path %q: must name an entry below the root", p)
	}
	return strings.TrimPrefix(clean, "/"), nil
}

func tarHeader(f File) (*tar.Header, []byte, error) {
	hdr := &tar.Header{
		Name:    f.Path,
		ModTime: epoch,
		Mode:    tarMode(f.Mode),
	}
	perm := f.Mode.Perm()
	switch {
	case f.Mode.IsDir():
		if len(f.Data) > 0 || f.Linkname != "" {
			return nil, nil, invalidf("directory %q: must have neither data nor link", f.Path)
		}
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
		if perm == 0 {
			hdr.Mode |= defaultDirMode
		}
		return hdr, nil, nil
	case f.Mode&fs.ModeSymlink != 0:
		if f.Linkname == "" || len(f.Data) > 0 {
			return nil, nil, invalidf("symlink %q: needs a link target and no data", f.Path)
		}
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = f.Linkname
		hdr.Mode = 0o777
		return hdr, nil, nil
	case f.Mode.IsRegular():
		if f.Linkname != "" {
			return nil, nil, invalidf("file %q: a link target needs fs.ModeSymlink", f.Path)
		}
		hdr.Typeflag = tar.TypeReg
		hdr.Size = int64(len(f.Data))
		if perm == 0 {
			hdr.Mode |= defaultFileMode
		}
		return hdr, f.Data, nil
	default:
		return nil, nil, invalidf("file %q: unsupported file type %v", f.Path, f.Mode.Type())
	}
}

// tarMode converts Go's mode bits to the Unix bits tar headers carry.
func tarMode(m fs.FileMode) int64 {
	mode := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	return mode
}

func gzipBytes(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	// A zero header (no name, no mtime) keeps the compressed bytes, and so
	// the layer digest, a function of the content alone.
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		return nil, fmt.Errorf("compress layer: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compress layer: %w", err)
	}
	return buf.Bytes(), nil
}

// WriteLayout writes img as an OCI image-layout tar, named by every name
// (normalized as ParseReference does). index.json carries both the OCI
// ref.name annotation (the tag) and containerd's image name annotation (the
// full name), so `ctr import` and Store.Import name the image without
// further flags.
func (img *Image) WriteLayout(w io.Writer, names ...string) error {
	index := ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{},
	}
	for _, n := range names {
		ref, err := ParseReference(n)
		if err != nil {
			return err
		}
		desc := img.Descriptor
		desc.Annotations = map[string]string{
			ocispec.AnnotationRefName: layoutRefName(ref),
			AnnotationImageName:       ref.String(),
		}
		index.Manifests = append(index.Manifests, desc)
	}
	if len(names) == 0 {
		index.Manifests = append(index.Manifests, img.Descriptor)
	}
	indexJSON, err := json.Marshal(index)
	if err != nil {
		return fmt.Errorf("encode index.json: %w", err)
	}
	layoutJSON, err := json.Marshal(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
	if err != nil {
		return fmt.Errorf("encode oci-layout: %w", err)
	}

	blobs := make(map[digest.Digest][]byte, len(img.Blobs)+1)
	for d, b := range img.Blobs {
		blobs[d] = b
	}
	blobs[img.Descriptor.Digest] = img.Manifest
	digests := make([]digest.Digest, 0, len(blobs))
	for d := range blobs {
		digests = append(digests, d)
	}
	sort.Slice(digests, func(i, j int) bool { return digests[i] < digests[j] })

	tw := tar.NewWriter(w)
	write := func(name string, data []byte) error {
		hdr := &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data)), ModTime: epoch}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("write layout entry %s: %w", name, err)
		}
		if _, err := tw.Write(data); err != nil {
			return fmt.Errorf("write layout entry %s: %w", name, err)
		}
		return nil
	}
	if err := write(ocispec.ImageLayoutFile, layoutJSON); err != nil {
		return err
	}
	if err := write(ocispec.ImageIndexFile, indexJSON); err != nil {
		return err
	}
	for _, dir := range []string{"blobs/", "blobs/sha256/"} {
		hdr := &tar.Header{Name: dir, Typeflag: tar.TypeDir, Mode: defaultDirMode, ModTime: epoch}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("write layout entry %s: %w", dir, err)
		}
	}
	for _, d := range digests {
		if err := write("blobs/sha256/"+d.Encoded(), blobs[d]); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("finish layout tar: %w", err)
	}
	return nil
}

// layoutRefName is the OCI ref.name for ref: the tag, as containerd and
// Docker write it, or the full name when there is no tag to use.
func layoutRefName(ref Reference) string {
	if ref.Tag != "" && ref.Digest == "" {
		return ref.Tag
	}
	return ref.String()
}
