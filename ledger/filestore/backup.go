package filestore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"techledger/ledger"
)

// BackupReport says what a backup (or a restore) holds and what it took.
type BackupReport struct {
	Position ledger.Position `json:"position"`  // the head of the copy
	HeadHash ledger.Hash     `json:"head_hash"` // the hash of the record at Position
	Records  uint64          `json:"records"`   // records the copy holds (verified)
	Copied   int64           `json:"copied"`    // segment bytes this run copied
	Segments int             `json:"segments"`  // segment files the copy holds
	TakenAt  time.Time       `json:"taken_at"`
}

// backupManifest is the file, in a backup directory, that says what the backup holds. It
// is informative: restore trusts the segments and verifies them, not the manifest.
const backupManifest = "BACKUP.json"

// copyBufferBytes is the buffer of a segment copy.
const copyBufferBytes = 1 << 20

// Backup copies the log in srcDir to the backup directory to: an online, consistent copy
// of the log at a position. srcDir is opened read-only (OpenReadOnly), so another process
// may own it and keep appending; the copy ends at the last whole frame when Backup starts.
// A segment's bytes are copied as they are: the backup is a data directory whose segments
// are the source's, byte for byte, up to the backup's position.
//
// Incremental: if to already holds a backup of the same log (its head record is the
// source's at that position, hash included), only what it lacks is copied — segments it
// does not have, and the tail of the last one it has. A backup of another log, or one
// ahead of the source, is refused and left alone. The copy is then verified whole (every
// frame's CRC, every hash) and its head checked against the source's; an index
// checkpoint is written in it so that a store restored from it opens fast.
func Backup(ctx context.Context, srcDir, to string, opts Options) (BackupReport, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	src, err := OpenReadOnly(srcDir, opts)
	if err != nil {
		return BackupReport{}, fmt.Errorf("backup: %w", err)
	}
	defer src.Close()
	rep, err := backupFrom(ctx, src, to, opts)
	if err != nil {
		return rep, fmt.Errorf("backup %s to %s: %w", srcDir, to, err)
	}
	return rep, nil
}

func backupFrom(ctx context.Context, src *Store, to string, opts Options) (BackupReport, error) {
	head, headHash := src.committed, src.lastHash
	fsys := fsOf(opts)
	if err := fsys.MkdirAll(to, 0o755); err != nil {
		return BackupReport{}, err
	}
	// What the backup already holds, and that it is a prefix of the source.
	have := map[string]int64{} // segment name -> bytes of whole frames
	if segs, err := listSegments(fsys, to); err != nil {
		return BackupReport{}, err
	} else if len(segs) > 0 {
		old, err := OpenReadOnly(to, opts)
		if err != nil {
			return BackupReport{}, fmt.Errorf("read the existing backup: %w", err)
		}
		oldHead, oldHash := old.committed, old.lastHash
		for i, seg := range old.segs {
			end := int64(headerBytes)
			if last := segLast(old, i); last > 0 {
				l := old.loc(last)
				end = l.off + int64(l.n)
			}
			have[seg.name] = end
		}
		old.Close()
		switch {
		case oldHead > head:
			return BackupReport{}, fmt.Errorf("the backup holds position %d, the source only %d: not a backup of this log", oldHead, head)
		case oldHead > 0:
			l := src.loc(oldHead)
			rec, err := readRecord(src.segs[l.seg], l, oldHead)
			if err != nil {
				return BackupReport{}, err
			}
			if rec.Hash != oldHash {
				return BackupReport{}, fmt.Errorf("the backup's record at position %d has hash %s, the source's %s: not a backup of this log", oldHead, oldHash, rec.Hash)
			}
		}
	}
	var copied int64
	nsegs := 0
	for i, seg := range src.segs {
		last := segLast(src, i)
		if last == 0 && i > 0 {
			break // empty, or being written past the copy's position
		}
		end := int64(headerBytes)
		if last > 0 {
			l := src.loc(last)
			end = l.off + int64(l.n)
		}
		n, err := copySegment(ctx, fsys, seg, filepath.Join(to, seg.name), have[seg.name], end)
		if err != nil {
			return BackupReport{}, err
		}
		copied += n
		nsegs++
	}
	// Remove an index checkpoint of the old backup before checking: Open would use it
	// and then not read the copied segments it covers.
	if err := fsys.Remove(filepath.Join(to, checkpointName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return BackupReport{}, err
	}
	if err := fsys.SyncDir(to); err != nil {
		return BackupReport{}, err
	}
	rep, err := verifyCopy(ctx, to, head, headHash, opts)
	if err != nil {
		return rep, err
	}
	rep.Copied, rep.Segments, rep.TakenAt = copied, nsegs, opts.Now().UTC()
	b, _ := json.MarshalIndent(rep, "", "  ")
	if err := writeFileSync(fsys, filepath.Join(to, backupManifest), append(b, '\n')); err != nil {
		return rep, err
	}
	return rep, nil
}

// segLast returns the last position stored in segment i of s (0 if it holds none up to the
// head).
func segLast(s *Store, i int) ledger.Position {
	last := s.committed
	if i+1 < len(s.segs) && s.segs[i+1].first-1 < last {
		last = s.segs[i+1].first - 1
	}
	if last < s.segs[i].first {
		return 0
	}
	return last
}

// copySegment makes dst hold the first end bytes of seg, of which it holds the first have
// already (0: none, dst absent or to be replaced). It returns the bytes copied.
func copySegment(ctx context.Context, fsys FS, seg segment, dst string, have, end int64) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if have == end {
		// Whole frames only: a torn tail an interrupted copy left is cut.
		if fi, err := fsys.Stat(dst); err == nil && fi.Size() != end {
			if err := truncateFile(fsys, dst, end); err != nil {
				return 0, fmt.Errorf("truncate %s: %w", dst, err)
			}
		}
		return 0, nil
	}
	if have > end {
		return 0, fmt.Errorf("segment %s: the backup holds %d bytes, the source %d", seg.name, have, end)
	}
	var f File
	var err error
	tmp := ""
	if have == 0 {
		tmp = dst + ".tmp"
		f, err = fsys.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	} else {
		f, err = fsys.OpenFile(dst, os.O_WRONLY, 0)
		if err == nil {
			err = f.Truncate(have)
		}
		if err == nil {
			_, err = f.Seek(have, io.SeekStart)
		}
	}
	if err != nil {
		if f != nil {
			f.Close()
		}
		return 0, fmt.Errorf("copy segment %s: %w", seg.name, err)
	}
	n, err := io.CopyBuffer(f, io.NewSectionReader(seg.rf, have, end-have), make([]byte, copyBufferBytes))
	if err == nil && n != end-have {
		err = fmt.Errorf("copied %d bytes, want %d", n, end-have)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && tmp != "" {
		err = fsys.Rename(tmp, dst)
	}
	if err != nil {
		if tmp != "" {
			fsys.Remove(tmp)
		}
		return 0, fmt.Errorf("copy segment %s: %w", seg.name, err)
	}
	return n, nil
}

// verifyCopy opens the copy in dir (taking its lock), verifies it whole, checks that its
// head is head with hash want, and closes it, which writes its index checkpoint.
func verifyCopy(ctx context.Context, dir string, head ledger.Position, want ledger.Hash, opts Options) (BackupReport, error) {
	opts.CheckpointRecords = -1
	s, err := Open(dir, opts)
	if err != nil {
		return BackupReport{}, fmt.Errorf("open the copy: %w", err)
	}
	defer s.Close()
	v, err := s.Verify(ctx)
	if err != nil {
		return BackupReport{}, fmt.Errorf("verify the copy: %w", err)
	}
	if v.Head != head || v.HeadHash != want {
		return BackupReport{}, fmt.Errorf("the copy ends at position %d hash %s, the source at %d hash %s", v.Head, v.HeadHash, head, want)
	}
	// Close writes the checkpoint only if something was appended; write it now.
	s.ckptMu.Lock()
	s.mu.RLock()
	err = s.checkpoint(&s.index, s.segs, s.size)
	s.mu.RUnlock()
	s.ckptMu.Unlock()
	if err != nil {
		return BackupReport{}, err
	}
	s.ckptPos.Store(uint64(head))
	s.ckptHas.Store(true)
	return BackupReport{Position: v.Head, HeadHash: v.HeadHash, Records: v.Records}, nil
}

// Restore puts the backup in from in place as the data directory dir, which must not
// exist or be empty (a non-empty one is refused and left alone). It copies the backup's
// segments, verifies the result whole and returns what it holds.
func Restore(ctx context.Context, from, dir string, opts Options) (BackupReport, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	fsys := fsOf(opts)
	if entries, err := fsys.ReadDir(dir); err == nil && len(entries) > 0 {
		return BackupReport{}, fmt.Errorf("restore: %s is not empty (%d entries): restore only into a new or empty directory", dir, len(entries))
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return BackupReport{}, fmt.Errorf("restore: %w", err)
	}
	src, err := OpenReadOnly(from, opts)
	if err != nil {
		return BackupReport{}, fmt.Errorf("restore from %s: %w", from, err)
	}
	defer src.Close()
	rep, err := backupFrom(ctx, src, dir, opts)
	if err != nil {
		return rep, fmt.Errorf("restore from %s: %w", from, err)
	}
	// The manifest belongs to backups, not to a data directory.
	if err := fsys.Remove(filepath.Join(dir, backupManifest)); err != nil {
		return rep, fmt.Errorf("restore: %w", err)
	}
	return rep, nil
}

// writeFileSync writes b to name through a synced temporary file renamed into place.
func writeFileSync(fsys FS, name string, b []byte) error {
	tmp := name + ".tmp"
	f, err := fsys.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fsys.Rename(tmp, name)
	}
	if err != nil {
		fsys.Remove(tmp)
		return fmt.Errorf("write %s: %w", filepath.Base(name), err)
	}
	return fsys.SyncDir(filepath.Dir(name))
}

// Size returns the bytes of the log's segment files up to the head.
func (s *Store) Size() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var n int64
	for i := range s.segs {
		if last := segLast(s, i); last > 0 {
			l := s.loc(last)
			n += l.off + int64(l.n)
		} else {
			n += headerBytes
		}
	}
	return n
}

// Segments returns how many segment files the log has.
func (s *Store) Segments() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.segs)
}
