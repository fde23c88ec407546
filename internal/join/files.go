package join

import (
	"fmt"
	"os"
	"path/filepath"
)

// writeFileAtomic writes data with mode 0600 (everything this package stores
// is secret) under a temporary name and then moves it to path, so that a
// reader or a restart after a crash never sees a torn file. With replace
// false an existing path is kept and an error wrapping fs.ErrExist returned,
// which lets concurrent creators agree on one file.
func writeFileAtomic(path string, data []byte, replace bool) (err error) {
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
	// Restrict permissions before any secret byte reaches the disk.
	if err := tmp.Chmod(0o600); err != nil {
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
	if replace {
		err = os.Rename(tmp.Name(), path)
	} else {
		err = os.Link(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("move temporary file to %s: %w", path, err)
	}
	return syncDir(dir)
}

// syncDir makes the new directory entry durable; without it a power loss
// can lose the file even though its data was synced.
func syncDir(dir string) error {
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
