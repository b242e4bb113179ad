// Package faultfs is an in-memory filestore.FS that injects storage faults,
// deterministically by seed, for the simulation tests of the filestore and of the server
// (docs/reliability.md).
//
// It keeps, for every file, what reads see (the page cache) apart from what is durable
// (what a crash leaves), and the writes and truncations made since the last fsync as a
// list of page-sized pieces. The faults:
//
//   - a write fails with EIO or ENOSPC, having written a random prefix of its bytes
//     (a short write), or nothing;
//   - an fsync fails with EIO: a random prefix of the unsynced pieces reaches the disk,
//     the rest never will (the kernel marks the pages clean after a failed writeback, as
//     Linux does: "fsyncgate"), while reads keep seeing every byte written;
//   - a truncation fails with EIO;
//   - a full disk: Capacity bounds the bytes of all files; a write past it writes what
//     fits and fails with ENOSPC;
//   - Crash: every byte not fsynced is lost, except (KeepUnsynced) a random prefix of
//     each file's unsynced pieces, as LazyFS does; names created, renamed or removed since
//     their directory's last SyncDir survive as a random prefix of those operations;
//   - FlipBit: one bit flipped at rest.
//
// A Store works on a Proc, one process's view of the FS. Kill ends the process (its open
// files and the Proc fail every call from then on; its lock is released) and keeps the
// page cache, as kill -9 does; Crash ends it and loses the page cache, as a power cut
// does. Either way the next store opens on a new Proc.
//
// Fault decisions are drawn from the seed and a count of the operations of the same kind
// on the same kind of file (segment frames, segment creation, index checkpoint), so they
// do not depend on how the goroutines of a store interleave.
package faultfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"techledger/ledger"
	"techledger/ledger/filestore"
)

// Config says which faults to inject and how often. Probabilities are per operation.
type Config struct {
	Seed int64
	// WriteErr: a write fails with EIO. NoSpace: a write fails with ENOSPC. Either writes
	// a random prefix of its bytes first (possibly nothing).
	WriteErr, NoSpace float64
	// SyncErr: an fsync fails with EIO (see the package doc). SyncDirErr: a directory
	// fsync fails with EIO, leaving its entries as they are on disk.
	SyncErr, SyncDirErr float64
	// TruncateErr: a truncation fails with EIO, changing nothing.
	TruncateErr float64
	// KeepUnsynced is the probability that a crash keeps a random prefix of a file's
	// unsynced pieces rather than none.
	KeepUnsynced float64
	// PageBytes is the piece size of unsynced writes (default 4096).
	PageBytes int
	// Capacity bounds the bytes of all files together (0: unbounded).
	Capacity int64
	// Trace, if set, is called with a line for every write, fsync, truncation, rename and
	// remove, and every fault, for replaying a failing seed by hand.
	Trace func(string)
}

// Kind names a fault, for the record of injected faults.
type Kind string

// The faults recorded.
const (
	FaultWrite    Kind = "write EIO"
	FaultNoSpace  Kind = "write ENOSPC"
	FaultSync     Kind = "fsync EIO"
	FaultSyncFull Kind = "fsync ENOSPC" // only by FailNext: delayed allocation finding no space
	FaultSyncDir  Kind = "dir fsync EIO"
	FaultTruncate Kind = "truncate EIO"
	FaultFull     Kind = "disk full"
	FaultCrash    Kind = "crash"
	FaultKill     Kind = "kill"
	FaultFlip     Kind = "bit flip"
)

// Fault is one fault injected.
type Fault struct {
	Kind Kind
	File string // base name
	Off  int64  // for a flip: the byte; for a short write: the bytes written
	Note string
}

func (f Fault) String() string { return fmt.Sprintf("%s %s %d %s", f.Kind, f.File, f.Off, f.Note) }

// ErrDead is returned by every call of a Proc, and of the files it opened, after Kill or
// Crash.
var ErrDead = errors.New("faultfs: process is dead")

// FS is the in-memory file system. It is safe for concurrent use.
type FS struct {
	mu         sync.Mutex
	cfg        Config
	gen        int               // current process
	names      map[string]*inode // the namespace reads see
	durable    map[string]*inode // the namespace on disk
	dirOps     []dirOp           // namespace changes not yet synced, in order
	dirs       map[string]bool   // directories (always durable)
	locks      map[string]int    // lock file -> holding process
	next       map[Kind]*int     // FailNext
	killAtSync bool              // KillAtNextSync
	counts     map[string]uint64 // operations per kind and file class
	faults     []Fault           // injected, in order
	off        bool              // injection paused
	full       bool              // set by a failing write past Capacity, until space is freed
}

type inode struct {
	name   string  // current name, for fault counters and traces
	data   []byte  // what reads see
	synced []byte  // what is on disk
	dirty  []piece // writes and truncations since the last fsync, in order
}

// piece is one unsynced change: bytes at off, or (trunc) a truncation to off.
type piece struct {
	off   int64
	b     []byte
	trunc bool
}

type dirOp struct {
	dir      string
	op       string // "create", "rename", "remove"
	from, to string
	ino      *inode
}

// New returns an empty FS injecting the faults of cfg.
func New(cfg Config) *FS {
	if cfg.PageBytes <= 0 {
		cfg.PageBytes = 4096
	}
	return &FS{
		cfg: cfg, names: map[string]*inode{}, durable: map[string]*inode{},
		dirs: map[string]bool{"/": true}, locks: map[string]int{}, counts: map[string]uint64{}, next: map[Kind]*int{},
	}
}

// FailNext makes the next operation of kind k fail (FaultWrite, FaultNoSpace, FaultSync,
// FaultSyncFull, FaultTruncate, FaultSyncDir), on any file: a write having written n of its bytes, an fsync having
// made n of the unsynced pieces durable; n is ignored for a truncation.
func (f *FS) FailNext(k Kind, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch k {
	case FaultWrite, FaultNoSpace, FaultSync, FaultSyncFull, FaultTruncate, FaultSyncDir:
		f.next[k] = &n
	default:
		panic("faultfs: FailNext of " + string(k))
	}
}

// KillAtNextSync makes the next fsync kill the process (as Kill) instead of syncing: what
// it wrote stays in the page cache, unsynced.
func (f *FS) KillAtNextSync() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.killAtSync = true
}

// Proc returns the view of the current process.
func (f *FS) Proc() *Proc {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &Proc{fs: f, gen: f.gen}
}

// Pause stops (true) or resumes (false) the injection of faults, Capacity included;
// crashes and flips are made by the test itself.
func (f *FS) Pause(off bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.off = off
}

// SetCapacity changes the bound on the bytes of all files (0: unbounded).
func (f *FS) SetCapacity(n int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cfg.Capacity = n
	f.full = false
}

// Used returns the bytes of all files, as reads see them.
func (f *FS) Used() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.used()
}

func (f *FS) used() int64 {
	var n int64
	for _, ino := range f.names {
		n += int64(len(ino.data))
	}
	return n
}

// Faults returns the faults injected so far.
func (f *FS) Faults() []Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.faults)
}

// Kill ends the current process as kill -9 does: its files and Proc fail from now on, its
// lock is released, the page cache is kept.
func (f *FS) Kill() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gen++
	f.faults = append(f.faults, Fault{Kind: FaultKill})
	f.trace("kill")
}

// Crash ends the current process and loses what was not synced (see the package doc).
func (f *FS) Crash() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gen++
	f.faults = append(f.faults, Fault{Kind: FaultCrash})
	// The namespace: what was synced, and a random prefix of the changes since.
	names := maps(f.durable)
	keep := 0
	if len(f.dirOps) > 0 {
		keep = int(f.draw("crash-dirops") % uint64(len(f.dirOps)+1))
	}
	for _, op := range f.dirOps[:keep] {
		op.apply(names)
	}
	f.dirOps = nil
	f.durable = maps(names)
	f.names = names
	// The files: what was synced, and perhaps a prefix of the unsynced pieces.
	seen := map[*inode]bool{}
	for _, name := range sortedKeys(names) {
		ino := names[name]
		if seen[ino] {
			continue
		}
		seen[ino] = true
		k := 0
		if len(ino.dirty) > 0 && f.chance("crash-keep", f.cfg.KeepUnsynced) {
			k = int(f.draw("crash-keep-n") % uint64(len(ino.dirty)+1))
		}
		ino.synced = applyPieces(ino.synced, ino.dirty[:k])
		ino.dirty = nil
		ino.data = slices.Clone(ino.synced)
		f.trace("crash: %s keeps %d bytes (%d unsynced pieces)", filepath.Base(name), len(ino.data), k)
	}
	f.full = false
}

// FlipBit flips bit (0..7) of byte off of the file name, on disk and in the page cache.
func (f *FS) FlipBit(name string, off int64, bit uint) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	ino, ok := f.names[filepath.Clean(name)]
	if !ok || off >= int64(len(ino.data)) {
		return fmt.Errorf("faultfs: flip %s offset %d: no such byte", name, off)
	}
	ino.data[off] ^= 1 << bit
	if off < int64(len(ino.synced)) {
		ino.synced[off] ^= 1 << bit
	}
	f.faults = append(f.faults, Fault{Kind: FaultFlip, File: filepath.Base(name), Off: off, Note: fmt.Sprintf("bit %d", bit)})
	return nil
}

// ReadFile returns the content of name as reads see it.
func (f *FS) ReadFile(name string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ino, ok := f.names[filepath.Clean(name)]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return slices.Clone(ino.data), nil
}

// List returns the files under dir (base names, sorted).
func (f *FS) List(dir string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for name := range f.names {
		if filepath.Dir(name) == filepath.Clean(dir) {
			out = append(out, filepath.Base(name))
		}
	}
	sort.Strings(out)
	return out
}

// class names the kind of file for the fault counters.
func class(name string) string {
	base := filepath.Base(name)
	switch {
	case strings.HasSuffix(base, ".seg.tmp"):
		return "segnew"
	case strings.HasSuffix(base, ".seg"):
		return "seg"
	case strings.HasPrefix(base, "INDEX"):
		return "index"
	}
	return "other"
}

// draw returns the next pseudo-random number of the stream key: a hash of the seed, the
// key and how many numbers the key has drawn.
func (f *FS) trace(format string, args ...any) {
	if f.cfg.Trace != nil {
		f.cfg.Trace(fmt.Sprintf(format, args...))
	}
}

func (f *FS) draw(key string) uint64 {
	n := f.counts[key]
	f.counts[key] = n + 1
	h := uint64(f.cfg.Seed) ^ 0x9e3779b97f4a7c15
	for i := 0; i < len(key); i++ {
		h = mix(h ^ uint64(key[i]))
	}
	return mix(h ^ mix(n+1))
}

func mix(z uint64) uint64 { // splitmix64's finaliser
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// chance draws from key and reports an event of probability p.
func (f *FS) chance(key string, p float64) bool {
	if p <= 0 {
		return false
	}
	return float64(f.draw(key)>>11)/(1<<53) < p
}

func (f *FS) inject(key string, p float64) bool {
	return !f.off && f.chance(key, p)
}

func maps(m map[string]*inode) map[string]*inode {
	out := make(map[string]*inode, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func sortedKeys(m map[string]*inode) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (op dirOp) apply(names map[string]*inode) {
	switch op.op {
	case "create":
		names[op.to] = op.ino
	case "rename":
		if ino, ok := names[op.from]; ok {
			delete(names, op.from)
			names[op.to] = ino
		}
	case "remove":
		delete(names, op.from)
	}
}

func applyPieces(b []byte, ps []piece) []byte {
	b = slices.Clone(b)
	for _, p := range ps {
		if p.trunc {
			b = resize(b, p.off)
			continue
		}
		if end := p.off + int64(len(p.b)); end > int64(len(b)) {
			b = resize(b, end)
		}
		copy(b[p.off:], p.b)
	}
	return b
}

func resize(b []byte, n int64) []byte {
	if n <= int64(len(b)) {
		return b[:n]
	}
	return append(b, make([]byte, n-int64(len(b)))...)
}

// Proc is one process's view of an FS: a filestore.FS that fails with ErrDead once the
// process was killed or crashed.
type Proc struct {
	fs  *FS
	gen int
}

var _ filestore.FS = (*Proc)(nil)

func (p *Proc) lock() error {
	p.fs.mu.Lock()
	if p.gen != p.fs.gen {
		p.fs.mu.Unlock()
		return ErrDead
	}
	return nil
}

func pathErr(op, name string, err error) error { return &fs.PathError{Op: op, Path: name, Err: err} }

// OpenFile implements filestore.FS.
func (p *Proc) OpenFile(name string, flag int, perm fs.FileMode) (filestore.File, error) {
	if err := p.lock(); err != nil {
		return nil, pathErr("open", name, err)
	}
	defer p.fs.mu.Unlock()
	f := p.fs
	name = filepath.Clean(name)
	if !f.dirs[filepath.Dir(name)] {
		return nil, pathErr("open", name, fs.ErrNotExist)
	}
	ino, ok := f.names[name]
	if !ok {
		if flag&os.O_CREATE == 0 {
			return nil, pathErr("open", name, fs.ErrNotExist)
		}
		ino = &inode{name: name}
		f.names[name] = ino
		f.dirOps = append(f.dirOps, dirOp{dir: filepath.Dir(name), op: "create", to: name, ino: ino})
	} else if flag&os.O_TRUNC != 0 && len(ino.data) > 0 {
		ino.data = ino.data[:0]
		ino.dirty = append(ino.dirty, piece{trunc: true})
	}
	return &file{p: p, ino: ino, name: name, write: flag&(os.O_WRONLY|os.O_RDWR) != 0}, nil
}

// ReadDir implements filestore.FS.
func (p *Proc) ReadDir(name string) ([]fs.DirEntry, error) {
	if err := p.lock(); err != nil {
		return nil, pathErr("readdir", name, err)
	}
	defer p.fs.mu.Unlock()
	name = filepath.Clean(name)
	if !p.fs.dirs[name] {
		return nil, pathErr("readdir", name, fs.ErrNotExist)
	}
	var out []fs.DirEntry
	for _, n := range sortedKeys(p.fs.names) {
		if filepath.Dir(n) == name {
			out = append(out, fs.FileInfoToDirEntry(info{name: filepath.Base(n), size: int64(len(p.fs.names[n].data))}))
		}
	}
	return out, nil
}

// Stat implements filestore.FS.
func (p *Proc) Stat(name string) (fs.FileInfo, error) {
	if err := p.lock(); err != nil {
		return nil, pathErr("stat", name, err)
	}
	defer p.fs.mu.Unlock()
	name = filepath.Clean(name)
	if p.fs.dirs[name] {
		return info{name: filepath.Base(name), dir: true}, nil
	}
	ino, ok := p.fs.names[name]
	if !ok {
		return nil, pathErr("stat", name, fs.ErrNotExist)
	}
	return info{name: filepath.Base(name), size: int64(len(ino.data))}, nil
}

// MkdirAll implements filestore.FS.
func (p *Proc) MkdirAll(name string, perm fs.FileMode) error {
	if err := p.lock(); err != nil {
		return pathErr("mkdir", name, err)
	}
	defer p.fs.mu.Unlock()
	for d := filepath.Clean(name); !p.fs.dirs[d]; d = filepath.Dir(d) {
		p.fs.dirs[d] = true
	}
	return nil
}

// Rename implements filestore.FS.
func (p *Proc) Rename(oldpath, newpath string) error {
	if err := p.lock(); err != nil {
		return pathErr("rename", oldpath, err)
	}
	defer p.fs.mu.Unlock()
	oldpath, newpath = filepath.Clean(oldpath), filepath.Clean(newpath)
	ino, ok := p.fs.names[oldpath]
	if !ok {
		return pathErr("rename", oldpath, fs.ErrNotExist)
	}
	delete(p.fs.names, oldpath)
	p.fs.names[newpath] = ino
	ino.name = newpath
	p.fs.dirOps = append(p.fs.dirOps, dirOp{dir: filepath.Dir(newpath), op: "rename", from: oldpath, to: newpath})
	p.fs.trace("rename %s %s", filepath.Base(oldpath), filepath.Base(newpath))
	return nil
}

// Remove implements filestore.FS.
func (p *Proc) Remove(name string) error {
	if err := p.lock(); err != nil {
		return pathErr("remove", name, err)
	}
	defer p.fs.mu.Unlock()
	name = filepath.Clean(name)
	if _, ok := p.fs.names[name]; !ok {
		return pathErr("remove", name, fs.ErrNotExist)
	}
	delete(p.fs.names, name)
	p.fs.full = false
	p.fs.dirOps = append(p.fs.dirOps, dirOp{dir: filepath.Dir(name), op: "remove", from: name})
	return nil
}

// SyncDir implements filestore.FS.
func (p *Proc) SyncDir(name string) error {
	if err := p.lock(); err != nil {
		return pathErr("sync", name, err)
	}
	defer p.fs.mu.Unlock()
	f := p.fs
	name = filepath.Clean(name)
	if f.next[FaultSyncDir] != nil || f.inject("syncdir", f.cfg.SyncDirErr) {
		delete(f.next, FaultSyncDir)
		f.faults = append(f.faults, Fault{Kind: FaultSyncDir, File: filepath.Base(name)})
		return pathErr("sync", name, syscall.EIO)
	}
	rest := f.dirOps[:0:0]
	for _, op := range f.dirOps {
		if op.dir == name {
			op.apply(f.durable)
		} else {
			rest = append(rest, op)
		}
	}
	f.dirOps = rest
	return nil
}

// Lock implements filestore.FS: one holder at a time; a dead process's lock is free.
func (p *Proc) Lock(name string) (io.Closer, error) {
	if err := p.lock(); err != nil {
		return nil, pathErr("lock", name, err)
	}
	defer p.fs.mu.Unlock()
	name = filepath.Clean(name)
	if g, ok := p.fs.locks[name]; ok && g == p.fs.gen {
		return nil, fmt.Errorf("%s: %w", name, ledger.ErrLocked)
	}
	p.fs.locks[name] = p.gen
	if _, ok := p.fs.names[name]; !ok {
		ino := &inode{name: name}
		p.fs.names[name] = ino
		p.fs.durable[name] = ino
	}
	return lockCloser{p: p, name: name}, nil
}

type lockCloser struct {
	p    *Proc
	name string
}

func (l lockCloser) Close() error {
	l.p.fs.mu.Lock()
	defer l.p.fs.mu.Unlock()
	if g, ok := l.p.fs.locks[l.name]; ok && g == l.p.gen {
		delete(l.p.fs.locks, l.name)
	}
	return nil
}

type info struct {
	name string
	size int64
	dir  bool
}

func (i info) Name() string { return i.name }
func (i info) Size() int64  { return i.size }
func (i info) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o755
	}
	return 0o644
}
func (i info) ModTime() time.Time { return time.Time{} }
func (i info) IsDir() bool        { return i.dir }
func (i info) Sys() any           { return nil }

// file is an open file of a Proc.
type file struct {
	p      *Proc
	ino    *inode
	name   string
	off    int64
	write  bool
	closed bool
}

func (h *file) lock(op string) error {
	if err := h.p.lock(); err != nil {
		return pathErr(op, h.name, err)
	}
	if h.closed {
		h.p.fs.mu.Unlock()
		return pathErr(op, h.name, fs.ErrClosed)
	}
	return nil
}

func (h *file) Read(b []byte) (int, error) {
	if err := h.lock("read"); err != nil {
		return 0, err
	}
	defer h.p.fs.mu.Unlock()
	if h.off >= int64(len(h.ino.data)) {
		return 0, io.EOF
	}
	n := copy(b, h.ino.data[h.off:])
	h.off += int64(n)
	return n, nil
}

func (h *file) ReadAt(b []byte, off int64) (int, error) {
	if err := h.lock("read"); err != nil {
		return 0, err
	}
	defer h.p.fs.mu.Unlock()
	if off >= int64(len(h.ino.data)) {
		return 0, io.EOF
	}
	n := copy(b, h.ino.data[off:])
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

func (h *file) Seek(off int64, whence int) (int64, error) {
	if err := h.lock("seek"); err != nil {
		return 0, err
	}
	defer h.p.fs.mu.Unlock()
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += h.off
	case io.SeekEnd:
		off += int64(len(h.ino.data))
	}
	if off < 0 {
		return 0, pathErr("seek", h.name, syscall.EINVAL)
	}
	h.off = off
	return off, nil
}

// Write writes b at the offset, splitting it into page pieces, unless a fault or the
// capacity cuts it short.
func (h *file) Write(b []byte) (int, error) {
	if err := h.lock("write"); err != nil {
		return 0, err
	}
	defer h.p.fs.mu.Unlock()
	if !h.write {
		return 0, pathErr("write", h.name, fs.ErrPermission)
	}
	f := h.p.fs
	c := class(h.ino.name)
	n, fail := len(b), error(nil)
	switch {
	case f.next[FaultWrite] != nil || f.next[FaultNoSpace] != nil:
		fail = syscall.EIO
		k := FaultWrite
		if f.next[FaultNoSpace] != nil {
			fail, k = syscall.ENOSPC, FaultNoSpace
		}
		n = min(n, *f.next[k])
		delete(f.next, k)
		f.faults = append(f.faults, Fault{Kind: k, File: filepath.Base(h.ino.name), Off: int64(n)})
	case f.inject("write-eio-"+c, f.cfg.WriteErr):
		n = int(f.draw("write-short-"+c) % uint64(len(b)+1))
		fail = syscall.EIO
		f.faults = append(f.faults, Fault{Kind: FaultWrite, File: filepath.Base(h.ino.name), Off: int64(n)})
	case f.inject("write-nospace-"+c, f.cfg.NoSpace):
		n = int(f.draw("write-short-"+c) % uint64(len(b)+1))
		fail = syscall.ENOSPC
		f.faults = append(f.faults, Fault{Kind: FaultNoSpace, File: filepath.Base(h.ino.name), Off: int64(n)})
	case !f.off && f.cfg.Capacity > 0:
		grow := h.off + int64(len(b)) - int64(len(h.ino.data))
		if free := f.cfg.Capacity - f.used(); grow > free {
			n = max(0, len(b)-int(grow-max(free, 0)))
			fail = syscall.ENOSPC
			if !f.full {
				f.faults = append(f.faults, Fault{Kind: FaultFull, File: filepath.Base(h.ino.name), Off: int64(n)})
			}
			f.full = true
		}
	}
	h.put(b[:n])
	f.trace("write %s at %d: %d of %d bytes, %v", filepath.Base(h.ino.name), h.off-int64(n), n, len(b), fail)
	if fail != nil {
		return n, pathErr("write", h.name, fail)
	}
	return n, nil
}

func (h *file) put(b []byte) {
	if len(b) == 0 {
		return
	}
	ino, page := h.ino, int64(h.p.fs.cfg.PageBytes)
	end := h.off + int64(len(b))
	if end > int64(len(ino.data)) {
		ino.data = resize(ino.data, end)
	}
	copy(ino.data[h.off:], b)
	for off := h.off; len(b) > 0; {
		n := min(int64(len(b)), page-off%page)
		ino.dirty = append(ino.dirty, piece{off: off, b: slices.Clone(b[:n])})
		b, off = b[n:], off+n
	}
	h.off = end
}

func (h *file) Close() error {
	if err := h.lock("close"); err != nil {
		if errors.Is(err, ErrDead) {
			return nil
		}
		return err
	}
	defer h.p.fs.mu.Unlock()
	h.closed = true
	return nil
}

func (h *file) Stat() (fs.FileInfo, error) {
	if err := h.lock("stat"); err != nil {
		return nil, err
	}
	defer h.p.fs.mu.Unlock()
	return info{name: filepath.Base(h.ino.name), size: int64(len(h.ino.data))}, nil
}

// Sync makes the unsynced pieces durable, or fails with EIO having made a random prefix of
// them durable and dropped the others (see the package doc).
func (h *file) Sync() error {
	if err := h.lock("sync"); err != nil {
		return err
	}
	defer h.p.fs.mu.Unlock()
	f, ino := h.p.fs, h.ino
	if f.killAtSync {
		f.killAtSync = false
		f.gen++
		f.faults = append(f.faults, Fault{Kind: FaultKill, File: filepath.Base(h.ino.name), Note: "before fsync"})
		f.trace("kill before fsync %s", filepath.Base(h.ino.name))
		return pathErr("sync", h.name, ErrDead)
	}
	if f.next[FaultSync] != nil || f.next[FaultSyncFull] != nil || f.inject("sync-"+class(h.ino.name), f.cfg.SyncErr) {
		n := len(ino.dirty)
		k := int(f.draw("sync-keep") % uint64(n+1))
		kind, errno := FaultSync, syscall.EIO
		if f.next[FaultSyncFull] != nil {
			kind, errno = FaultSyncFull, syscall.ENOSPC
		}
		if f.next[kind] != nil {
			k = min(n, *f.next[kind])
		}
		delete(f.next, kind)
		ino.synced = applyPieces(ino.synced, ino.dirty[:k])
		ino.dirty = nil
		f.faults = append(f.faults, Fault{Kind: kind, File: filepath.Base(h.ino.name), Note: fmt.Sprintf("kept %d pieces", k)})
		f.trace("fsync %s: EIO, kept %d of %d pieces, durable %d bytes, cache %d", filepath.Base(h.ino.name), k, n, len(ino.synced), len(ino.data))
		return pathErr("sync", h.name, errno)
	}
	ino.synced = applyPieces(ino.synced, ino.dirty)
	ino.dirty = nil
	f.trace("fsync %s: durable %d bytes", filepath.Base(h.ino.name), len(ino.synced))
	return nil
}

func (h *file) Truncate(size int64) error {
	if err := h.lock("truncate"); err != nil {
		return err
	}
	defer h.p.fs.mu.Unlock()
	f := h.p.fs
	if f.next[FaultTruncate] != nil || f.inject("truncate-"+class(h.ino.name), f.cfg.TruncateErr) {
		delete(f.next, FaultTruncate)
		f.faults = append(f.faults, Fault{Kind: FaultTruncate, File: filepath.Base(h.ino.name)})
		return pathErr("truncate", h.name, syscall.EIO)
	}
	h.ino.data = resize(h.ino.data, size)
	h.ino.dirty = append(h.ino.dirty, piece{off: size, trunc: true})
	f.trace("truncate %s to %d", filepath.Base(h.ino.name), size)
	f.full = false
	return nil
}
