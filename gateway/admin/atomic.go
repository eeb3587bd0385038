package admin

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFileAtomic replaces the file at path with data so that a reader (or
// a crash) sees either the old or the new content, never a mix or an empty
// file: it writes a temp file in the same folder, fsyncs it, renames it over
// path and fsyncs the folder. The existing file's mode is kept (0644 for a
// new file). A symlink at path is followed: its target is replaced. On any
// failure the temp file is removed and path is untouched.
func WriteFileAtomic(path string, data []byte) error {
	return writeFileAtomic(path, data, nil)
}

// writeFileAtomic is WriteFileAtomic with a hook that runs between the
// written temp file and the rename (tests inject failures there).
func writeFileAtomic(path string, data []byte, beforeRename func(tmp string) error) (err error) {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	mode := fs.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("creating a temp file next to %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err = f.Chmod(mode); err != nil {
		return fmt.Errorf("chmod %s: %w", tmp, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", tmp, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", tmp, err)
	}
	if beforeRename != nil {
		if err = beforeRename(tmp); err != nil {
			return err
		}
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("renaming %s to %s: %w", tmp, path, err)
	}
	if d, derr := os.Open(dir); derr == nil {
		// Best effort: some file systems refuse fsync on a folder.
		d.Sync()
		d.Close()
	}
	return nil
}
