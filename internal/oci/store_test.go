package oci

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	digest "github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func newTestStore(t *testing.T) (*Store, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := NewStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s, dir
}

func mustBuild(t *testing.T, text string) *Image {
	t.Helper()
	img, err := Build(Config{Cmd: []string{"/bin/sh"}},
		[]File{{Path: "/bin/sh", Mode: 0o755, Data: []byte("shared base layer")}},
		[]File{{Path: "/data", Data: []byte(text)}})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func layoutTar(t *testing.T, img *Image, names ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := img.WriteLayout(&buf, names...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// tarEntry is one entry of an archive a test writes by hand.
type tarEntry struct {
	name     string
	data     []byte
	linkname string // a symlink when set
}

func writeTar(t *testing.T, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), Typeflag: tar.TypeReg}
		if e.linkname != "" {
			hdr = &tar.Header{Name: e.name, Mode: 0o777, Typeflag: tar.TypeSymlink, Linkname: e.linkname}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readTar(t *testing.T, data []byte) []tarEntry {
	t.Helper()
	var out []tarEntry
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag == tar.TypeSymlink {
			out = append(out, tarEntry{name: hdr.Name, linkname: hdr.Linkname})
			continue
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tarEntry{name: hdr.Name, data: b})
	}
}

// snapshot records every file of a store directory, so a test can prove a
// failed operation changed nothing.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == lockFileName {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel] = digest.FromBytes(b).String()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func storedBlobs(t *testing.T, dir string) map[digest.Digest]bool {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[digest.Digest]bool{}
	for _, e := range entries {
		out[digest.NewDigestFromEncoded(digest.SHA256, e.Name())] = true
	}
	return out
}

func imageBlobs(img *Image) map[digest.Digest]bool {
	out := map[digest.Digest]bool{img.Descriptor.Digest: true}
	for d := range img.Blobs {
		out[d] = true
	}
	return out
}

func names(t *testing.T, s *Store) []string {
	t.Helper()
	list, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, i := range list {
		out = append(out, i.Name)
	}
	return out
}

func TestStoreAddResolveRead(t *testing.T) {
	ctx := context.Background()
	s, dir := newTestStore(t)
	img := mustBuild(t, "one")
	if err := s.Add(ctx, "busybox", img); err != nil {
		t.Fatal(err)
	}
	desc, err := s.Resolve("docker.io/library/busybox:latest")
	if err != nil {
		t.Fatal(err)
	}
	if desc.Digest != img.Descriptor.Digest || desc.MediaType != ocispec.MediaTypeImageManifest || desc.Size != img.Descriptor.Size {
		t.Fatalf("Resolve = %+v, want %+v", desc, img.Descriptor)
	}
	for d, want := range img.Blobs {
		rc, size, err := s.ReadBlob(d)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, want) || size != int64(len(want)) {
			t.Fatalf("ReadBlob(%s) = %d bytes (size %d), %v", d, len(got), size, err)
		}
	}
	if _, err := s.Resolve("busybox:other"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Resolve(unknown) error = %v, want ErrNotFound", err)
	}
	if _, _, err := s.ReadBlob(digest.FromString("nope")); !errors.Is(err, ErrNotFound) {
		t.Errorf("ReadBlob(unknown) error = %v, want ErrNotFound", err)
	}
	list, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	var wantSize int64
	for d := range imageBlobs(img) {
		if d == img.Descriptor.Digest {
			wantSize += int64(len(img.Manifest))
		} else {
			wantSize += int64(len(img.Blobs[d]))
		}
	}
	if len(list) != 1 || list[0].Name != "docker.io/library/busybox:latest" || list[0].Digest != img.Descriptor.Digest ||
		list[0].Size != wantSize || list[0].Created.IsZero() {
		t.Errorf("List = %+v, want one image of %d bytes", list, wantSize)
	}
	if diff := cmp.Diff(imageBlobs(img), storedBlobs(t, dir)); diff != "" {
		t.Errorf("stored blobs (-want +got):\n%s", diff)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, ingestDirName)); len(entries) != 0 {
		t.Errorf("staging areas left behind: %v", entries)
	}
}

func TestStoreAddRejectsBadImage(t *testing.T) {
	ctx := context.Background()
	s, dir := newTestStore(t)
	if err := s.Add(ctx, "keep", mustBuild(t, "keep")); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dir)

	corrupt := mustBuild(t, "corrupt")
	for d := range corrupt.Blobs {
		corrupt.Blobs[d] = append([]byte("x"), corrupt.Blobs[d]...)
		break
	}
	missing := mustBuild(t, "missing")
	for d := range missing.Blobs {
		delete(missing.Blobs, d)
		break
	}
	for name, img := range map[string]*Image{"corrupt": corrupt, "missing": missing} {
		if err := s.Add(ctx, name, img); !errors.Is(err, ErrInvalid) {
			t.Errorf("Add(%s) error = %v, want ErrInvalid", name, err)
		}
	}
	if err := s.Add(ctx, "Bad/Name", mustBuild(t, "x")); !errors.Is(err, ErrInvalid) {
		t.Errorf("Add(bad name) error = %v, want ErrInvalid", err)
	}
	if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
		t.Errorf("failed Add changed the store (-before +after):\n%s", diff)
	}
}

func TestStoreLayoutRoundTrip(t *testing.T) {
	ctx := context.Background()
	img := mustBuild(t, "round trip")
	src, _ := newTestStore(t)
	got, err := src.Import(ctx, bytes.NewReader(layoutTar(t, img, "busybox:1", "example.com/tools/busybox")))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"docker.io/library/busybox:1", "example.com/tools/busybox:latest"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Import names (-want +got):\n%s", diff)
	}
	for _, n := range want {
		desc, err := src.Resolve(n)
		if err != nil || desc.Digest != img.Descriptor.Digest {
			t.Errorf("Resolve(%s) = %v, %v; want %s", n, desc.Digest, err, img.Descriptor.Digest)
		}
	}
	for d := range imageBlobs(img) {
		if _, err := src.Descriptor(d); err != nil {
			t.Errorf("blob %s not reachable: %v", d, err)
		}
	}
}

func TestStoreImportRefNameOnly(t *testing.T) {
	tests := []struct {
		name    string
		refName string
		want    []string
		wantErr string
	}{
		{name: "full reference", refName: "example.com/x:2", want: []string{"example.com/x:2"}},
		{name: "tag only", refName: "latest", wantErr: "named only by tag"},
		{name: "unnamed", refName: "", wantErr: "has no name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img := mustBuild(t, tc.name)
			desc := img.Descriptor
			if tc.refName != "" {
				desc.Annotations = map[string]string{ocispec.AnnotationRefName: tc.refName}
			}
			archive := replaceEntry(t, layoutTar(t, img), "index.json",
				mustJSON(t, ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, Manifests: []ocispec.Descriptor{desc}}))
			s, dir := newTestStore(t)
			got, err := s.Import(context.Background(), bytes.NewReader(archive))
			if tc.wantErr != "" {
				if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Import error = %v, want ErrInvalid containing %q", err, tc.wantErr)
				}
				if blobs := storedBlobs(t, dir); len(blobs) != 0 {
					t.Errorf("failed import stored %d blobs", len(blobs))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("names (-want +got):\n%s", diff)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func replaceEntry(t *testing.T, archive []byte, name string, data []byte) []byte {
	t.Helper()
	entries := readTar(t, archive)
	for i := range entries {
		if entries[i].name == name {
			entries[i].data = data
		}
	}
	return writeTar(t, entries)
}

func dropEntry(t *testing.T, archive []byte, name string) []byte {
	t.Helper()
	var out []tarEntry
	for _, e := range readTar(t, archive) {
		if e.name != name {
			out = append(out, e)
		}
	}
	return writeTar(t, out)
}

// dockerArchive builds what `docker save` writes: manifest.json, a config
// named by image ID, and one directory with layer.tar per layer, the
// repeated layer linked to its first copy.
func dockerArchive(t *testing.T, repoTags ...string) ([]byte, []digest.Digest) {
	t.Helper()
	base, err := layerTar([]File{{Path: "/bin/sh", Mode: 0o755, Data: []byte("sh")}})
	if err != nil {
		t.Fatal(err)
	}
	top, err := layerTar([]File{{Path: "/etc/motd", Data: []byte("hi")}})
	if err != nil {
		t.Fatal(err)
	}
	diffIDs := []digest.Digest{digest.FromBytes(base), digest.FromBytes(top), digest.FromBytes(base)}
	config := mustJSON(t, ocispec.Image{
		Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"},
		Config:   ocispec.ImageConfig{Cmd: []string{"/bin/sh"}},
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: diffIDs},
	})
	id := digest.FromBytes(config).Encoded()
	manifest := mustJSON(t, []map[string]any{{
		"Config":   id + ".json",
		"RepoTags": repoTags,
		"Layers":   []string{"aaa/layer.tar", "bbb/layer.tar", "ccc/layer.tar"},
	}})
	return writeTar(t, []tarEntry{
		{name: "aaa/VERSION", data: []byte("1.0")},
		{name: "aaa/layer.tar", data: base},
		{name: "bbb/layer.tar", data: top},
		{name: "ccc/layer.tar", linkname: "../aaa/layer.tar"},
		{name: id + ".json", data: config},
		{name: "repositories", data: []byte(`{}`)},
		{name: "manifest.json", data: manifest},
	}), append([]digest.Digest{digest.FromBytes(config)}, diffIDs...)
}

func TestStoreImportDockerArchive(t *testing.T) {
	ctx := context.Background()
	s, dir := newTestStore(t)
	archive, blobs := dockerArchive(t, "busybox:1.36", "registry.local:5000/team/busybox:v1")
	got, err := s.Import(ctx, bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"docker.io/library/busybox:1.36", "registry.local:5000/team/busybox:v1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("names (-want +got):\n%s", diff)
	}
	desc, err := s.Resolve("busybox:1.36")
	if err != nil {
		t.Fatal(err)
	}
	rc, _, err := s.ReadBlob(desc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var m ocispec.Manifest
	if err := json.NewDecoder(rc).Decode(&m); err != nil {
		t.Fatal(err)
	}
	if m.MediaType != ocispec.MediaTypeImageManifest || m.Config.Digest != blobs[0] || m.Config.MediaType != ocispec.MediaTypeImageConfig {
		t.Fatalf("manifest = %+v", m)
	}
	var layers []digest.Digest
	for _, l := range m.Layers {
		if l.MediaType != ocispec.MediaTypeImageLayer {
			t.Errorf("layer media type %s, want %s", l.MediaType, ocispec.MediaTypeImageLayer)
		}
		layers = append(layers, l.Digest)
	}
	if diff := cmp.Diff(blobs[1:], layers); diff != "" {
		t.Errorf("layers (-want +got):\n%s", diff)
	}
	// Only the image's blobs are kept: not VERSION, repositories or
	// manifest.json.
	wantStored := map[digest.Digest]bool{desc.Digest: true}
	for _, d := range blobs {
		wantStored[d] = true
	}
	if diff := cmp.Diff(wantStored, storedBlobs(t, dir)); diff != "" {
		t.Errorf("stored blobs (-want +got):\n%s", diff)
	}
	// Converting is deterministic: importing again changes nothing.
	before := snapshot(t, dir)
	if _, err := s.Import(ctx, bytes.NewReader(archive)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
		t.Errorf("re-import changed the store (-before +after):\n%s", diff)
	}
}

func TestStoreImportInvalid(t *testing.T) {
	img := mustBuild(t, "bad archives")
	good := layoutTar(t, img, "busybox")
	layerDigest := func() digest.Digest {
		var m ocispec.Manifest
		if err := json.Unmarshal(img.Manifest, &m); err != nil {
			t.Fatal(err)
		}
		return m.Layers[1].Digest
	}()
	layerPath := "blobs/sha256/" + layerDigest.Encoded()
	docker, _ := dockerArchive(t, "busybox:1")
	dockerUntagged, _ := dockerArchive(t)

	tests := []struct {
		name    string
		archive []byte
		wantErr string
	}{
		{"corrupt blob", replaceEntry(t, good, layerPath, []byte("not the layer")), "hashes to"},
		{"missing blob", dropEntry(t, good, layerPath), "is missing"},
		{"truncated in an entry", good[:bytes.Index(good, img.Blobs[layerDigest])+10], "truncated"},
		// The tar reader takes a stream ending between entries for a whole
		// archive: what is lost shows up as missing content.
		{"truncated between entries", good[:bytes.Index(good, img.Blobs[layerDigest])-512], "is missing"},
		{"missing index", dropEntry(t, good, "index.json"), `no file "index.json"`},
		{"bad layout version", replaceEntry(t, good, "oci-layout", []byte(`{"imageLayoutVersion":"2"}`)), "layout version"},
		{"not an archive", []byte("hello, world"), "read archive"},
		{"empty tar", writeTar(t, nil), "neither an OCI image layout"},
		{"docker untagged", dockerUntagged, "no RepoTags"},
		{"docker missing layer", dropEntry(t, docker, "bbb/layer.tar"), `no file "bbb/layer.tar"`},
		{"docker corrupt layer", replaceEntry(t, docker, "bbb/layer.tar", []byte("garbage")), "config diff_id"},
		{"docker bad tag", replaceEntry(t, docker, "manifest.json", bytes.ReplaceAll(
			readEntry(t, docker, "manifest.json"), []byte("busybox:1"), []byte("BusyBox:1"))), "lowercase"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, dir := newTestStore(t)
			if err := s.Add(context.Background(), "keep", mustBuild(t, "keep")); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, dir)
			names, err := s.Import(context.Background(), bytes.NewReader(tc.archive))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Import = %v, %v; want ErrInvalid containing %q", names, err, tc.wantErr)
			}
			if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
				t.Errorf("failed import changed the store (-before +after):\n%s", diff)
			}
		})
	}
}

func readEntry(t *testing.T, archive []byte, name string) []byte {
	t.Helper()
	for _, e := range readTar(t, archive) {
		if e.name == name {
			return e.data
		}
	}
	t.Fatalf("archive has no %s", name)
	return nil
}

// Docker 25 writes an OCI layout and manifest.json together; when the
// layout's index lists content the archive omits, manifest.json is used.
func TestStoreImportDockerFallback(t *testing.T) {
	img := mustBuild(t, "layout part")
	layout := readTar(t, layoutTar(t, img, "busybox:1"))
	var entries []tarEntry
	for _, e := range layout {
		if e.name != "blobs/sha256/"+img.Descriptor.Digest.Encoded() {
			entries = append(entries, e)
		}
	}
	docker, _ := dockerArchive(t, "busybox:1")
	entries = append(entries, readTar(t, docker)...)
	s, _ := newTestStore(t)
	got, err := s.Import(context.Background(), bytes.NewReader(writeTar(t, entries)))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"docker.io/library/busybox:1"}, got); diff != "" {
		t.Fatalf("names (-want +got):\n%s", diff)
	}
	desc, err := s.Resolve("busybox:1")
	if err != nil {
		t.Fatal(err)
	}
	if desc.Digest == img.Descriptor.Digest {
		t.Error("the incomplete OCI layout was imported")
	}
}

func TestStoreRemoveCollectsGarbage(t *testing.T) {
	ctx := context.Background()
	s, dir := newTestStore(t)
	one, two := mustBuild(t, "one"), mustBuild(t, "two")
	for name, img := range map[string]*Image{"one:a": one, "one:b": one, "two": two} {
		if err := s.Add(ctx, name, img); err != nil {
			t.Fatal(err)
		}
	}
	union := imageBlobs(one)
	for d := range imageBlobs(two) {
		union[d] = true
	}
	if diff := cmp.Diff(union, storedBlobs(t, dir)); diff != "" {
		t.Fatalf("stored blobs (-want +got):\n%s", diff)
	}

	// A second name keeps the image.
	if err := s.Remove("one:a"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(union, storedBlobs(t, dir)); diff != "" {
		t.Errorf("after untagging one:a (-want +got):\n%s", diff)
	}
	// The shared base layer outlives the image it came with.
	if err := s.Remove("docker.io/library/one:b"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(imageBlobs(two), storedBlobs(t, dir)); diff != "" {
		t.Errorf("after removing one (-want +got):\n%s", diff)
	}
	for d := range imageBlobs(one) {
		_, err := s.Descriptor(d)
		if imageBlobs(two)[d] != (err == nil) {
			t.Errorf("Descriptor(%s) error = %v", d, err)
		}
	}
	if err := s.Remove("one:a"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Remove(removed) error = %v, want ErrNotFound", err)
	}
	if err := s.Remove("two"); err != nil {
		t.Fatal(err)
	}
	if blobs := storedBlobs(t, dir); len(blobs) != 0 {
		t.Errorf("blobs left after removing every name: %v", blobs)
	}
	if got := names(t, s); len(got) != 0 {
		t.Errorf("names left: %v", got)
	}
}

func TestStoreRetagCollectsOldTarget(t *testing.T) {
	ctx := context.Background()
	s, dir := newTestStore(t)
	if err := s.Add(ctx, "app", mustBuild(t, "v1")); err != nil {
		t.Fatal(err)
	}
	v2 := mustBuild(t, "v2")
	if err := s.Add(ctx, "app", v2); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(imageBlobs(v2), storedBlobs(t, dir)); diff != "" {
		t.Errorf("stored blobs (-want +got):\n%s", diff)
	}
}

func TestStoreRestart(t *testing.T) {
	ctx := context.Background()
	s, dir := newTestStore(t)
	img := mustBuild(t, "persistent")
	if err := s.Add(ctx, "busybox", img); err != nil {
		t.Fatal(err)
	}
	archive, _ := dockerArchive(t, "other:1")
	if _, err := s.Import(ctx, bytes.NewReader(archive)); err != nil {
		t.Fatal(err)
	}
	wantList, err := s.List()
	if err != nil {
		t.Fatal(err)
	}

	reopened, err := NewStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	gotList, err := reopened.List()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantList, gotList); diff != "" {
		t.Fatalf("List after restart (-want +got):\n%s", diff)
	}
	for d := range img.Blobs {
		rc, _, err := reopened.ReadBlob(d)
		if err != nil {
			t.Fatalf("ReadBlob after restart: %v", err)
		}
		rc.Close()
	}
}

// Two Store values on one directory stand for the server and a `skiff
// image` command: each sees the other's changes.
func TestStoreSharedDirectory(t *testing.T) {
	ctx := context.Background()
	a, dir := newTestStore(t)
	b, err := NewStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Add(ctx, "from-a", mustBuild(t, "a")); err != nil {
		t.Fatal(err)
	}
	if err := b.Add(ctx, "from-b", mustBuild(t, "b")); err != nil {
		t.Fatal(err)
	}
	want := []string{"docker.io/library/from-a:latest", "docker.io/library/from-b:latest"}
	for i, s := range []*Store{a, b} {
		if diff := cmp.Diff(want, names(t, s)); diff != "" {
			t.Errorf("store %d names (-want +got):\n%s", i, diff)
		}
	}
	if err := a.Remove("from-b"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Resolve("from-b"); !errors.Is(err, ErrNotFound) {
		t.Errorf("b.Resolve(removed by a) error = %v, want ErrNotFound", err)
	}
}

func TestStoreConcurrent(t *testing.T) {
	ctx := context.Background()
	s, dir := newTestStore(t)
	const n = 8
	images := make([]*Image, n)
	layouts := make([][]byte, n)
	for i := range images {
		images[i] = mustBuild(t, fmt.Sprint("image ", i))
		layouts[i] = layoutTar(t, images[i], fmt.Sprintf("layout%d", i))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			errs <- s.Add(ctx, fmt.Sprintf("img%d", i), images[i])
		}()
		go func() {
			defer wg.Done()
			_, err := s.Import(ctx, bytes.NewReader(layouts[i]))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := len(names(t, s)); got != 2*n {
		t.Fatalf("%d names, want %d", got, 2*n)
	}
	for i := range n {
		if err := s.Remove(fmt.Sprintf("img%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	want := map[digest.Digest]bool{}
	for _, img := range images {
		for d := range imageBlobs(img) {
			want[d] = true
		}
	}
	if diff := cmp.Diff(want, storedBlobs(t, dir)); diff != "" {
		t.Errorf("stored blobs (-want +got):\n%s", diff)
	}
}
