// Package fsutil writes files so that a reader, or a restart after a crash,
// sees the old content or the new one and never a torn file.
package fsutil

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteFile writes data to path with the given mode: into a temporary file
// in the same directory, synced, then renamed over path, and the directory
// synced so that the rename survives a power loss.
func WriteFile(path string, data []byte, mode os.FileMode) error {
	return write(path, data, mode, os.Rename)
}

// CreateFile is WriteFile for a file that must not exist yet: when path
// exists it is kept and the error wraps fs.ErrExist, which lets concurrent
// creators agree on one file.
func CreateFile(path string, data []byte, mode os.FileMode) error {
	return write(path, data, mode, os.Link)
}

func write(path string, data []byte, mode os.FileMode, place func(oldpath, newpath string) error) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create temporary file for %s: %w", path, err)
	}
	defer func() {
		// After a rename the name is gone; after a link it must go.
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
	}()
	// Set the mode before any byte reaches the disk: the data may be a key.
	if err := tmp.Chmod(mode); err != nil {
		return fmt.Errorf("chmod temporary file for %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write temporary file for %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync temporary file for %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close temporary file for %s: %w", path, err)
	}
	if err := place(tmp.Name(), path); err != nil {
		return fmt.Errorf("move temporary file to %s: %w", path, err)
	}
	return SyncDir(dir)
}

// SyncDir makes the entries of dir durable; without it a power loss can
// roll a rename back even though the file's data was synced.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
