package filestore

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"
)

// ErrReadOnly is returned by the appends of a store opened with OpenReadOnly.
var ErrReadOnly = errors.New("filestore: store opened read-only")

// OpenReadOnly opens the store in dir for reading only, while another process (a serve)
// may own it and be appending. It never writes to dir, never takes the directory's lock
// and never truncates anything: it reads the log up to the last whole frame whose CRC
// checks out, as it is when OpenReadOnly runs. A frame the owner is still writing (a torn
// tail) is not visible yet; the store is a consistent prefix of the log, ending on a batch
// boundary. It uses the index checkpoint if it matches the log, as Open does, without
// ever rewriting it.
//
// What a read-only store sees is what the owner has written, which is what it has made
// durable or is about to: a frame whose write has returned and whose fsync has not yet
// may be visible, and could be lost if the machine (not the process) crashed then.
//
// The store is a snapshot: Head does not move, Subscribe yields nothing past it.
// Append and AppendRecords return ErrReadOnly. Damage before the tail refuses the open
// with a *ledger.CorruptionError, as Open does. OpenReadOnly of a directory without a log
// returns an error wrapping os.ErrNotExist.
func OpenReadOnly(dir string, opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	fsys := fsOf(opts)
	fi, err := fsys.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("filestore: open %s read-only: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("filestore: open %s read-only: not a directory", dir)
	}
	s := &Store{
		dir: dir, opts: opts, fs: fsys, readOnly: true,
		stopped: make(chan struct{}),
		kick:    make(chan struct{}, 1),
		index:   newIndex(),
		closed:  true,
	}
	close(s.stopped)
	if err := s.loadReadOnly(); err != nil {
		s.closeFiles()
		return nil, fmt.Errorf("filestore: open %s read-only: %w", dir, err)
	}
	s.head.Set(s.committed)
	return s, nil
}

// loadReadOnly builds the index of what is whole in the log now.
//
// The owner writes a segment's frames, syncs them, and only then writes to the next
// segment, which it created (header only) a little earlier. So the sizes are taken from
// the last segment to the first: if a segment has frames, those before it were whole
// when their sizes are taken. A torn tail is tolerated in the last segment holding frames
// (and the empty ones after it).
func (s *Store) loadReadOnly() error {
	segs, err := listSegments(s.fs, s.dir)
	if err != nil {
		return err
	}
	if len(segs) == 0 {
		return fmt.Errorf("no segment files: %w", os.ErrNotExist)
	}
	for _, seg := range segs {
		if err := s.addSegment(seg); err != nil {
			return err
		}
	}
	tail := 0
	for i := len(s.segs) - 1; i >= 0; i-- {
		fi, err := s.segs[i].rf.Stat()
		if err != nil {
			return fmt.Errorf("stat segment %s: %w", s.segs[i].name, err)
		}
		if fi.Size() > headerBytes {
			tail = i
			break
		}
	}
	x, _, ckpt, used, err := loadIndex(s.fs, s.dir, s.segs, tail, s.opts.Logger, false)
	if err != nil {
		return err
	}
	s.ckptPos.Store(uint64(ckpt))
	s.ckptHas.Store(used)
	s.index = *x
	s.committed = x.last
	return nil
}

// ReadOnly reports whether the store was opened with OpenReadOnly.
func (s *Store) ReadOnly() bool { return s.readOnly }
