package filestore

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"

	"techledger/ledger"
)

// FS is the file system a Store works on: the operations it makes on its data directory,
// and nothing more. The default (Options.FS nil) is the operating system's. Tests
// substitute one that injects storage faults (failed writes and fsyncs, a full disk,
// short writes, crashes that lose what was not synced, bit flips at rest): see the
// faultfs package and docs/reliability.md.
//
// Names are paths as the os package takes them. The methods behave as their os
// namesakes, except SyncDir and Lock.
type FS interface {
	OpenFile(name string, flag int, perm fs.FileMode) (File, error)
	ReadDir(name string) ([]fs.DirEntry, error)
	Stat(name string) (fs.FileInfo, error)
	MkdirAll(name string, perm fs.FileMode) error
	Rename(oldpath, newpath string) error
	Remove(name string) error
	// SyncDir makes the entries of directory name durable: a file created, renamed or
	// removed there survives a crash only once SyncDir has returned.
	SyncDir(name string) error
	// Lock takes an exclusive lock on the file name, creating it if needed, held until
	// the returned Closer is closed. It returns an error wrapping ledger.ErrLocked if
	// another holder has it.
	Lock(name string) (io.Closer, error)
}

// File is an open file of an FS, as *os.File behaves. ReadAt is safe for concurrent use;
// the other methods are used by one goroutine at a time.
type File interface {
	io.Reader
	io.ReaderAt
	io.Writer
	io.Seeker
	io.Closer
	Stat() (fs.FileInfo, error)
	// Sync makes the file's content durable (fsync).
	Sync() error
	Truncate(size int64) error
}

// OSFS is the operating system's file system, the default FS.
type OSFS struct{}

var _ FS = OSFS{}

// OpenFile implements FS.
func (OSFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err // not a nil *os.File in a non-nil File
	}
	return f, nil
}

// ReadDir implements FS.
func (OSFS) ReadDir(name string) ([]fs.DirEntry, error) { return os.ReadDir(name) }

// Stat implements FS.
func (OSFS) Stat(name string) (fs.FileInfo, error) { return os.Stat(name) }

// MkdirAll implements FS.
func (OSFS) MkdirAll(name string, perm fs.FileMode) error { return os.MkdirAll(name, perm) }

// Rename implements FS.
func (OSFS) Rename(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }

// Remove implements FS.
func (OSFS) Remove(name string) error { return os.Remove(name) }

// SyncDir implements FS: it opens the directory and fsyncs it.
func (OSFS) SyncDir(name string) error {
	d, err := os.Open(name)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Lock implements FS with flock(2), which the kernel releases when the process dies.
func (OSFS) Lock(name string) (io.Closer, error) {
	f, err := os.OpenFile(name, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w", name, ledger.ErrLocked)
		}
		return nil, err
	}
	return f, nil // closing the file releases the flock
}

// fsOf returns the FS opts name, or the operating system's.
func fsOf(opts Options) FS {
	if opts.FS == nil {
		return OSFS{}
	}
	return opts.FS
}

// readFile reads the whole file name of fsys.
func readFile(fsys FS, name string) ([]byte, error) {
	f, err := fsys.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// truncateFile truncates the file name of fsys to size and syncs it.
func truncateFile(fsys FS, name string, size int64) error {
	f, err := fsys.OpenFile(name, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
