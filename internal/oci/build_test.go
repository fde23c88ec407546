package oci

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func testLayers() [][]File {
	return [][]File{
		{
			{Path: "/bin/busybox", Mode: 0o755, Data: []byte("#!busybox")},
			{Path: "bin/sh", Mode: fs.ModeSymlink, Linkname: "busybox"},
			{Path: "/etc/passwd", Data: []byte("root:x:0:0::/:/bin/sh\n")},
		},
		{
			{Path: "/tmp", Mode: fs.ModeDir | fs.ModeSticky | 0o777},
			{Path: "/www/index.html", Data: []byte("hello\n")},
		},
	}
}

func testConfig() Config {
	return Config{
		Entrypoint:   []string{"/bin/busybox"},
		Cmd:          []string{"httpd", "-f"},
		Env:          []string{"PATH=/bin"},
		WorkingDir:   "/www",
		User:         "0:0",
		ExposedPorts: []string{"80/tcp", "53"},
		Labels:       map[string]string{"b": "2", "a": "1"},
	}
}

func TestBuildDeterministic(t *testing.T) {
	a, err := Build(testConfig(), testLayers()...)
	if err != nil {
		t.Fatal(err)
	}
	// Same content given in another order must not change a byte.
	layers := testLayers()
	for _, l := range layers {
		for i, j := 0, len(l)-1; i < j; i, j = i+1, j-1 {
			l[i], l[j] = l[j], l[i]
		}
	}
	b, err := Build(testConfig(), layers...)
	if err != nil {
		t.Fatal(err)
	}
	if a.Descriptor.Digest != b.Descriptor.Digest {
		t.Fatalf("digests differ: %s vs %s", a.Descriptor.Digest, b.Descriptor.Digest)
	}
	c, err := Build(testConfig(), testLayers()[0])
	if err != nil {
		t.Fatal(err)
	}
	if c.Descriptor.Digest == a.Descriptor.Digest {
		t.Fatal("different content gave the same digest")
	}
}

func TestBuildContent(t *testing.T) {
	img, err := Build(testConfig(), testLayers()...)
	if err != nil {
		t.Fatal(err)
	}
	if got := digest.FromBytes(img.Manifest); got != img.Descriptor.Digest || img.Descriptor.Size != int64(len(img.Manifest)) {
		t.Fatalf("descriptor %+v does not describe the manifest (%s)", img.Descriptor, got)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(img.Manifest, &m); err != nil {
		t.Fatal(err)
	}
	if m.MediaType != ocispec.MediaTypeImageManifest || m.Config.MediaType != ocispec.MediaTypeImageConfig || len(m.Layers) != 2 {
		t.Fatalf("manifest = %+v", m)
	}
	var cfg ocispec.Image
	if err := json.Unmarshal(blob(t, img, m.Config), &cfg); err != nil {
		t.Fatal(err)
	}
	wantCfg := ocispec.ImageConfig{
		Entrypoint:   []string{"/bin/busybox"},
		Cmd:          []string{"httpd", "-f"},
		Env:          []string{"PATH=/bin"},
		WorkingDir:   "/www",
		User:         "0:0",
		ExposedPorts: map[string]struct{}{"80/tcp": {}, "53/tcp": {}},
		Labels:       map[string]string{"a": "1", "b": "2"},
	}
	if diff := cmp.Diff(wantCfg, cfg.Config); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	if cfg.OS != "linux" || cfg.Architecture != runtime.GOARCH || cfg.RootFS.Type != "layers" || cfg.Created != nil {
		t.Errorf("config platform/rootfs/created = %+v %+v %v", cfg.Platform, cfg.RootFS, cfg.Created)
	}

	type entry struct {
		Name     string
		Type     byte
		Mode     int64
		Linkname string
		Data     string
	}
	var got [][]entry
	for i, l := range m.Layers {
		if l.MediaType != ocispec.MediaTypeImageLayerGzip {
			t.Errorf("layer %d media type %s", i, l.MediaType)
		}
		zr, err := gzip.NewReader(bytes.NewReader(blob(t, img, l)))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		if digest.FromBytes(raw) != cfg.RootFS.DiffIDs[i] {
			t.Errorf("layer %d: diff_id mismatch", i)
		}
		var entries []entry
		tr := tar.NewReader(bytes.NewReader(raw))
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if hdr.Uid != 0 || hdr.Gid != 0 || hdr.ModTime.Unix() != 0 || hdr.Uname != "" {
				t.Errorf("%s: owner/time not zeroed: %+v", hdr.Name, hdr)
			}
			data, _ := io.ReadAll(tr)
			entries = append(entries, entry{hdr.Name, hdr.Typeflag, hdr.Mode, hdr.Linkname, string(data)})
		}
		got = append(got, entries)
	}
	want := [][]entry{
		{
			{"bin/", tar.TypeDir, 0o755, "", ""},
			{"bin/busybox", tar.TypeReg, 0o755, "", "#!busybox"},
			{"bin/sh", tar.TypeSymlink, 0o777, "busybox", ""},
			{"etc/", tar.TypeDir, 0o755, "", ""},
			{"etc/passwd", tar.TypeReg, 0o644, "", "root:x:0:0::/:/bin/sh\n"},
		},
		{
			{"tmp/", tar.TypeDir, 0o1777, "", ""},
			{"www/", tar.TypeDir, 0o755, "", ""},
			{"www/index.html", tar.TypeReg, 0o644, "", "hello\n"},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("layer entries (-want +got):\n%s", diff)
	}
}

func blob(t *testing.T, img *Image, d ocispec.Descriptor) []byte {
	t.Helper()
	b, ok := img.Blobs[d.Digest]
	if !ok {
		t.Fatalf("image lacks blob %s", d.Digest)
	}
	return b
}

func TestBuildInvalid(t *testing.T) {
	tests := []struct {
		name   string
		cfg    Config
		layers [][]File
	}{
		{"duplicate path", Config{}, [][]File{{{Path: "/a"}, {Path: "a"}}}},
		{"escapes root", Config{}, [][]File{{{Path: "../etc/passwd"}}}},
		{"root itself", Config{}, [][]File{{{Path: "/", Mode: fs.ModeDir}}}},
		{"file as parent", Config{}, [][]File{{{Path: "/a"}, {Path: "/a/b"}}}},
		{"symlink without target", Config{}, [][]File{{{Path: "/a", Mode: fs.ModeSymlink}}}},
		{"link on regular file", Config{}, [][]File{{{Path: "/a", Linkname: "b"}}}},
		{"directory with data", Config{}, [][]File{{{Path: "/a", Mode: fs.ModeDir, Data: []byte("x")}}}},
		{"device", Config{}, [][]File{{{Path: "/dev/null", Mode: fs.ModeDevice}}}},
		{"bad port", Config{ExposedPorts: []string{"http"}}, nil},
		{"bad protocol", Config{ExposedPorts: []string{"80/icmp"}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Build(tc.cfg, tc.layers...); !errors.Is(err, ErrInvalid) {
				t.Fatalf("Build() error = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestWriteLayoutDeterministic(t *testing.T) {
	img, err := Build(testConfig(), testLayers()...)
	if err != nil {
		t.Fatal(err)
	}
	var a, b bytes.Buffer
	if err := img.WriteLayout(&a, "busybox", "example.com/x:1"); err != nil {
		t.Fatal(err)
	}
	if err := img.WriteLayout(&b, "busybox", "example.com/x:1"); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two layouts of one image differ")
	}
	files := map[string][]byte{}
	tr := tar.NewReader(&a)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files[hdr.Name], _ = io.ReadAll(tr)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(files["index.json"], &idx); err != nil {
		t.Fatal(err)
	}
	var gotNames [][2]string
	for _, m := range idx.Manifests {
		if m.Digest != img.Descriptor.Digest {
			t.Errorf("index points to %s, want %s", m.Digest, img.Descriptor.Digest)
		}
		gotNames = append(gotNames, [2]string{m.Annotations[ocispec.AnnotationRefName], m.Annotations[AnnotationImageName]})
	}
	wantNames := [][2]string{{"latest", "docker.io/library/busybox:latest"}, {"1", "example.com/x:1"}}
	if diff := cmp.Diff(wantNames, gotNames); diff != "" {
		t.Errorf("index names (-want +got):\n%s", diff)
	}
	if string(files["oci-layout"]) != `{"imageLayoutVersion":"1.0.0"}` {
		t.Errorf("oci-layout = %s", files["oci-layout"])
	}
	for d, b := range img.Blobs {
		if !bytes.Equal(files["blobs/sha256/"+d.Encoded()], b) {
			t.Errorf("layout lacks blob %s", d)
		}
	}
	if !bytes.Equal(files["blobs/sha256/"+img.Descriptor.Digest.Encoded()], img.Manifest) {
		t.Error("layout lacks the manifest")
	}
}
