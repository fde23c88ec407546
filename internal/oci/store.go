package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/skiff-sh/skiff/internal/fsutil"
)

const (
	indexFileName   = "images.json"
	lockFileName    = "lock"
	ingestDirName   = "ingest"
	indexVersion    = 1
	dirMode         = 0o755
	fileMode        = 0o644
	staleIngestTime = time.Hour
)

// Store keeps images on disk: blobs content-addressed under
// blobs/sha256/<hex>, names in images.json. A blob lives as long as some
// name reaches it.
//
// Several processes may share a directory (the server and `skiff image
// import`): writers serialize on a file lock and re-read the names before
// changing them, and readers reload images.json when another process
// replaced it.
type Store struct {
	dir   string
	blobs blobDir

	// writeMu serializes this process's writers; the file lock only
	// excludes other processes.
	writeMu sync.Mutex

	mu  sync.Mutex // guards cur
	cur *state
}

// ImageInfo describes a stored name.
type ImageInfo struct {
	Name   string
	Digest digest.Digest
	// MediaType is that of the manifest or index the name points to.
	MediaType string
	// Size is the total of every distinct blob the image reaches.
	Size int64
	// Created is when the name was stored or last moved to new content.
	Created time.Time
}

// record is one entry of images.json.
type record struct {
	Target  ocispec.Descriptor `json:"target"`
	Created time.Time          `json:"created"`
}

type indexFile struct {
	Version int               `json:"version"`
	Images  map[string]record `json:"images"`
}

// state is an immutable view of the names and what they keep alive.
type state struct {
	// file identifies the images.json this state was read from or wrote;
	// nil when there was none.
	file  fs.FileInfo
	names map[string]record
	// closures holds, per manifest or index digest, every descriptor it
	// reaches (itself included); kept across reloads so that only new
	// images are walked.
	closures  map[digest.Digest][]ocispec.Descriptor
	reachable map[digest.Digest]ocispec.Descriptor
}

// NewStore opens the store in dir, creating it if needed.
func NewStore(dir string) (*Store, error) {
	s := &Store{dir: dir, blobs: blobDir(filepath.Join(dir, "blobs", "sha256"))}
	for _, d := range []string{string(s.blobs), s.ingestDir()} {
		if err := os.MkdirAll(d, dirMode); err != nil {
			return nil, fmt.Errorf("create image store: %w", err)
		}
	}
	if err := removeStaleIngests(s.ingestDir(), time.Now().Add(-staleIngestTime)); err != nil {
		return nil, err
	}
	if _, err := s.current(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Store) indexPath() string { return filepath.Join(s.dir, indexFileName) }
func (s *Store) ingestDir() string { return filepath.Join(s.dir, ingestDirName) }

// removeStaleIngests deletes staging areas a crashed import left behind.
// Only old ones go: a fresh one may belong to another process's import.
func removeStaleIngests(dir string, before time.Time) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("list staging areas: %w", err)
	}
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil || !fi.ModTime().Before(before) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("remove stale staging area: %w", err)
		}
	}
	return nil
}

// Add stores img under name, replacing whatever name pointed to.
func (s *Store) Add(ctx context.Context, name string, img *Image) error {
	ref, err := ParseReference(name)
	if err != nil {
		return err
	}
	stage, err := s.newStaging()
	if err != nil {
		return err
	}
	defer stage.remove()
	if _, err := stage.put(ctx, bytes.NewReader(img.Manifest), img.Descriptor.Digest); err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	for d, b := range img.Blobs {
		if _, err := stage.put(ctx, bytes.NewReader(b), d); err != nil {
			return err
		}
	}
	target := rootDescriptor(img.Descriptor)
	needed, err := walk(stage.dir, []ocispec.Descriptor{target}, true)
	if err != nil {
		return fmt.Errorf("image %s: %w", ref, err)
	}
	return s.update(stage, needed, func(names map[string]record) error {
		setName(names, ref.String(), target)
		return nil
	})
}

// rootDescriptor keeps what a name needs of a descriptor; annotations of
// an archive's index.json describe the archive, not the image.
func rootDescriptor(d ocispec.Descriptor) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}
}

// setName points name at target, keeping the creation time when the name
// already points there.
func setName(names map[string]record, name string, target ocispec.Descriptor) {
	if old, ok := names[name]; ok && old.Target.Digest == target.Digest {
		return
	}
	names[name] = record{Target: target, Created: time.Now().UTC()}
}

// Resolve returns the manifest or index a name points to.
func (s *Store) Resolve(name string) (ocispec.Descriptor, error) {
	ref, err := ParseReference(name)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	st, err := s.current()
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	rec, ok := st.names[ref.String()]
	if !ok {
		return ocispec.Descriptor{}, fmt.Errorf("image %s: %w", ref, ErrNotFound)
	}
	return rec.Target, nil
}

// Descriptor describes a blob some name reaches, with the media type its
// referrer gave it.
func (s *Store) Descriptor(d digest.Digest) (ocispec.Descriptor, error) {
	st, err := s.current()
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	desc, ok := st.reachable[d]
	if !ok {
		return ocispec.Descriptor{}, fmt.Errorf("blob %s: %w", d, ErrNotFound)
	}
	return desc, nil
}

// ReadBlob opens a blob some name reaches and returns it with its size.
// Blobs no name reaches are not found even while still on disk.
func (s *Store) ReadBlob(d digest.Digest) (io.ReadSeekCloser, int64, error) {
	if _, err := s.Descriptor(d); err != nil {
		return nil, 0, err
	}
	f, err := os.Open(s.blobs.path(d))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, fmt.Errorf("blob %s: %w", d, ErrNotFound)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("open blob %s: %w", d, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("stat blob %s: %w", d, err)
	}
	return f, fi.Size(), nil
}

// List returns the stored names in order.
func (s *Store) List() ([]ImageInfo, error) {
	st, err := s.current()
	if err != nil {
		return nil, err
	}
	out := make([]ImageInfo, 0, len(st.names))
	for name, rec := range st.names {
		var size int64
		for _, d := range st.closures[rec.Target.Digest] {
			size += d.Size
		}
		out = append(out, ImageInfo{
			Name:      name,
			Digest:    rec.Target.Digest,
			MediaType: rec.Target.MediaType,
			Size:      size,
			Created:   rec.Created,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Remove deletes a name and then every blob no remaining name reaches.
func (s *Store) Remove(name string) error {
	ref, err := ParseReference(name)
	if err != nil {
		return err
	}
	return s.update(nil, nil, func(names map[string]record) error {
		if _, ok := names[ref.String()]; !ok {
			return fmt.Errorf("image %s: %w", ref, ErrNotFound)
		}
		delete(names, ref.String())
		return nil
	})
}

// current returns the state matching images.json on disk, reloading it
// when another process replaced the file.
func (s *Store) current() (*state, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fi, err := os.Stat(s.indexPath())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("stat image index: %w", err)
	}
	if s.cur != nil && sameFile(s.cur.file, fi) {
		return s.cur, nil
	}
	st, err := s.readState(s.cur)
	if err != nil {
		return nil, err
	}
	s.cur = st
	return st, nil
}

func sameFile(a, b fs.FileInfo) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	// The inode alone could be reused after a rename; time and size make a
	// false match practically impossible.
	return os.SameFile(a, b) && a.ModTime().Equal(b.ModTime()) && a.Size() == b.Size()
}

func (s *Store) readState(prev *state) (*state, error) {
	f, err := os.Open(s.indexPath())
	if errors.Is(err, fs.ErrNotExist) {
		return s.newState(nil, map[string]record{}, prev)
	}
	if err != nil {
		return nil, fmt.Errorf("open image index: %w", err)
	}
	defer f.Close()
	// Stat the open file, not the path, so the identity matches the bytes
	// read even if the file is replaced meanwhile.
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat image index: %w", err)
	}
	var idx indexFile
	if err := json.NewDecoder(f).Decode(&idx); err != nil {
		return nil, fmt.Errorf("decode image index %s: %w", s.indexPath(), err)
	}
	if idx.Version != indexVersion {
		return nil, fmt.Errorf("image index %s: unsupported version %d", s.indexPath(), idx.Version)
	}
	if idx.Images == nil {
		idx.Images = map[string]record{}
	}
	return s.newState(fi, idx.Images, prev)
}

// newState computes what names keep alive, walking only images prev did
// not know.
func (s *Store) newState(file fs.FileInfo, names map[string]record, prev *state) (*state, error) {
	st := &state{
		file:      file,
		names:     names,
		closures:  make(map[digest.Digest][]ocispec.Descriptor),
		reachable: make(map[digest.Digest]ocispec.Descriptor),
	}
	for _, rec := range names {
		d := rec.Target.Digest
		if _, done := st.closures[d]; done {
			continue
		}
		closure, known := []ocispec.Descriptor(nil), false
		if prev != nil {
			closure, known = prev.closures[d]
		}
		if !known {
			var err error
			if closure, err = walk(s.blobs, []ocispec.Descriptor{rec.Target}, false); err != nil {
				return nil, fmt.Errorf("walk image %s: %w", d, err)
			}
		}
		st.closures[d] = closure
		for _, desc := range closure {
			if _, ok := st.reachable[desc.Digest]; !ok {
				st.reachable[desc.Digest] = rootDescriptor(desc)
			}
		}
	}
	return st, nil
}

// update changes the names under both locks: it moves the staged blobs
// that are needed into the store, writes the new names, then deletes blobs
// nothing reaches any more. Blobs go in before the names that reach them,
// so a crash leaves at worst unreferenced blobs, which the next update
// collects.
func (s *Store) update(stage *staging, needed []ocispec.Descriptor, change func(map[string]record) error) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	unlock, err := lockFile(filepath.Join(s.dir, lockFileName))
	if err != nil {
		return err
	}
	defer unlock()

	cur, err := s.current()
	if err != nil {
		return err
	}
	names := maps.Clone(cur.names)
	if err := change(names); err != nil {
		return err
	}
	if stage != nil {
		if err := stage.commit(s.blobs, needed); err != nil {
			return err
		}
	}
	next, err := s.newState(nil, names, cur)
	if err != nil {
		return err
	}
	if next.file, err = s.writeIndex(names); err != nil {
		return err
	}
	s.mu.Lock()
	s.cur = next
	s.mu.Unlock()
	return s.collect(next)
}

func (s *Store) writeIndex(names map[string]record) (fs.FileInfo, error) {
	data, err := json.MarshalIndent(indexFile{Version: indexVersion, Images: names}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode image index: %w", err)
	}
	tmp, err := os.CreateTemp(s.dir, "."+indexFileName+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("write image index: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if err := tmp.Chmod(fileMode); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("write image index: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("write image index: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("sync image index: %w", err)
	}
	fi, err := tmp.Stat()
	if err != nil {
		tmp.Close()
		return nil, fmt.Errorf("stat image index: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("write image index: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.indexPath()); err != nil {
		return nil, fmt.Errorf("replace image index: %w", err)
	}
	if err := fsutil.SyncDir(s.dir); err != nil {
		return nil, err
	}
	return fi, nil
}

// collect deletes every blob st does not reach.
func (s *Store) collect(st *state) error {
	entries, err := os.ReadDir(string(s.blobs))
	if err != nil {
		return fmt.Errorf("list blobs: %w", err)
	}
	for _, e := range entries {
		d := digest.NewDigestFromEncoded(digest.SHA256, e.Name())
		if d.Validate() != nil {
			continue
		}
		if _, ok := st.reachable[d]; ok {
			continue
		}
		if err := os.Remove(s.blobs.path(d)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("delete unreferenced blob %s: %w", d, err)
		}
	}
	return nil
}

// lockFile takes an exclusive lock other processes' writers respect and
// returns its release.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, fileMode)
	if err != nil {
		return nil, fmt.Errorf("open store lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock store: %w", err)
	}
	// Closing the descriptor drops the lock.
	return func() { f.Close() }, nil
}
