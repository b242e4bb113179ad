package transparency

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/mod/sumdb/tlog"

	"techledger/ledger"
)

// LeafHash returns the Merkle leaf hash of a record whose chain hash is chain:
// SHA-256(0x00 ‖ chain), RFC 6962 §2.1. The leaf data is the chain hash, a fixed-size
// commitment to the record's canonical bytes (and through PrevHash to every record before
// it), so that nothing published (tiles, proofs) carries a record's content.
//
// It is tlog.RecordHash(chain[:]) computed from a stack buffer (tlog.RecordHash goes
// through a hash.Hash, which costs as much again on the append path); TestLeafHash checks
// that both agree.
func LeafHash(chain ledger.Hash) tlog.Hash {
	var buf [1 + len(chain)]byte
	copy(buf[1:], chain[:])
	return sha256.Sum256(buf[:])
}

// hashFileMagic opens a hash file; the stored hashes follow it, 32 bytes each, in
// tlog's stored-hash order (tlog.StoredHashIndex).
var hashFileMagic = [hashSize]byte{'t', 'e', 'c', 'h', 'l', 'e', 'd', 'g', 'e', 'r', ' ', 't', 'l', 'o', 'g', ' ', 'h', 'a', 's', 'h', 'e', 's', ' ', 'v', '1', '\n'}

const (
	hashSize = tlog.HashSize
	// tailHashesMax is how many new hashes a Tree keeps in memory before writing them.
	tailHashesMax = 16384
)

// Tree is the Merkle tree of a log, its stored hashes kept in an append-only hash file
// (about two hashes per record; see tlog.StoredHashes) plus a short in-memory tail not yet
// written. Hashes once stored never change, so proofs at any size up to Size read a stable
// prefix. Its methods are safe for concurrent use; Append is meant for one follower.
type Tree struct {
	mu      sync.RWMutex
	f       *os.File
	path    string
	n       int64  // records in the tree
	written int64  // hashes in the file
	tail    []byte // hashes [written, written+len(tail)/hashSize), as written to the file
	synced  int64  // records whose hashes are durable (see Sync)
	// edge holds, for each level, the stored index and hash of the last node completed
	// at that level: the only old hashes Append needs, so it never reads the file.
	edge [64]edgeHash
	err  error // a failed write: the tree accepts nothing more
}

// OpenTree opens (creating if needed) the hash file at path. It keeps the longest prefix
// that holds the hashes of a whole number of records and was made durable by Sync; the
// caller appends the rest again from the log. A file that is not a hash file is refused.
func OpenTree(path string) (*Tree, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open tree hashes: %w", err)
	}
	t := &Tree{f: f, path: path}
	if err := t.load(); err != nil {
		f.Close()
		return nil, err
	}
	return t, nil
}

func (t *Tree) load() error {
	st, err := t.f.Stat()
	if err != nil {
		return fmt.Errorf("stat tree hashes %s: %w", t.path, err)
	}
	if st.Size() < hashSize {
		return t.reset()
	}
	var magic [hashSize]byte
	if _, err := t.f.ReadAt(magic[:], 0); err != nil {
		return fmt.Errorf("read tree hashes %s: %w", t.path, err)
	}
	if magic != hashFileMagic {
		return fmt.Errorf("tree hashes %s: not a techledger hash file (bad header)", t.path)
	}
	durable, err := readSynced(t.path + ".synced")
	if err != nil {
		return err
	}
	count := st.Size()/hashSize - 1
	n := min(recordsFor(count), durable)
	t.written = count
	t.synced = n
	return t.truncateLocked(n)
}

// recordsFor returns the largest n with tlog.StoredHashCount(n) <= count.
func recordsFor(count int64) int64 {
	lo, hi := int64(0), count // StoredHashCount(n) >= n
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		if tlog.StoredHashCount(mid) <= count {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

func (t *Tree) reset() error {
	if err := t.f.Truncate(0); err != nil {
		return fmt.Errorf("truncate tree hashes %s: %w", t.path, err)
	}
	if _, err := t.f.WriteAt(hashFileMagic[:], 0); err != nil {
		return fmt.Errorf("write tree hashes %s: %w", t.path, err)
	}
	t.n, t.written, t.tail, t.synced, t.err = 0, 0, nil, 0, nil
	t.edge = [64]edgeHash{}
	return nil
}

// Truncate drops every record from position n+1 on (the tree then has n records).
func (t *Tree) Truncate(n int64) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n > t.n {
		return fmt.Errorf("truncate tree to %d records: it has %d", n, t.n)
	}
	return t.truncateLocked(n)
}

func (t *Tree) truncateLocked(n int64) error {
	if n == 0 {
		if err := t.reset(); err != nil {
			return err
		}
		return writeSynced(t.path+".synced", 0)
	}
	if err := t.writeTail(); err != nil {
		return err
	}
	count := tlog.StoredHashCount(n)
	if count > t.written {
		return fmt.Errorf("truncate tree hashes %s to %d records: only %d hashes stored", t.path, n, t.written)
	}
	if err := t.f.Truncate((count + 1) * hashSize); err != nil {
		return fmt.Errorf("truncate tree hashes %s: %w", t.path, err)
	}
	t.n, t.written, t.tail, t.err = n, count, nil, nil
	t.edge = [64]edgeHash{} // refilled from the file on demand
	// Whatever is left is durable only up to what was synced; the note beside the file
	// must not promise more than the file now holds.
	t.synced = min(t.synced, n)
	return writeSynced(t.path+".synced", t.synced)
}

// Size returns the number of records in the tree.
func (t *Tree) Size() int64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.n
}

// Append adds the records whose chain hashes are chains (positions Size()+1, …).
func (t *Tree) Append(chains ...ledger.Hash) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err != nil {
		return t.err
	}
	for _, c := range chains {
		// tlog.StoredHashesForRecordHash without its allocations: the leaf hash, then one
		// node hash for each subtree this leaf completes, its left sibling taken from the
		// right edge kept in memory (TestTree_MatchesNaiveRFC6962 checks the result).
		h := LeafHash(c)
		level := 0
		for ; (t.n>>level)&1 == 1; level++ {
			left, err := t.edgeAt(level, t.n>>level-1)
			if err != nil {
				return fmt.Errorf("tree: hashes of record %d: %w", t.n+1, err)
			}
			t.tail = append(t.tail, h[:]...)
			t.edge[level] = edgeHash{index: tlog.StoredHashIndex(level, t.n>>level) + 1, hash: h}
			h = tlog.NodeHash(left, h)
		}
		t.tail = append(t.tail, h[:]...)
		t.edge[level] = edgeHash{index: tlog.StoredHashIndex(level, t.n>>level) + 1, hash: h}
		t.n++
	}
	if len(t.tail) >= tailHashesMax*hashSize {
		return t.writeTail()
	}
	return nil
}

// writeTail writes the in-memory hashes to the file (without fsync).
func (t *Tree) writeTail() error {
	if len(t.tail) == 0 {
		return nil
	}
	if _, err := t.f.WriteAt(t.tail, (t.written+1)*hashSize); err != nil {
		t.err = fmt.Errorf("write tree hashes %s: %w", t.path, err)
		return t.err
	}
	t.written += int64(len(t.tail) / hashSize)
	t.tail = t.tail[:0]
	return nil
}

// Sync makes the hashes of every record in the tree durable (write, fsync, then a note of
// the durable size beside the file), so that OpenTree keeps them.
func (t *Tree) Sync() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err != nil {
		return t.err
	}
	if t.synced == t.n {
		return nil
	}
	if err := t.writeTail(); err != nil {
		return err
	}
	if err := t.f.Sync(); err != nil {
		t.err = fmt.Errorf("sync tree hashes %s: %w", t.path, err)
		return t.err
	}
	if err := writeSynced(t.path+".synced", t.n); err != nil {
		return err
	}
	t.synced = t.n
	return nil
}

// Close writes what is in memory and closes the file.
func (t *Tree) Close() error {
	err := t.Sync()
	if cerr := t.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close tree hashes %s: %w", t.path, cerr)
	}
	return err
}

// Leaf returns the leaf hash of the record at index i (position i+1).
func (t *Tree) Leaf(i int64) (tlog.Hash, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if i < 0 || i >= t.n {
		return tlog.Hash{}, fmt.Errorf("leaf %d: %w (tree has %d records)", i, ErrOutOfRange, t.n)
	}
	hs, err := treeReader{t}.ReadHashes([]int64{tlog.StoredHashIndex(0, i)})
	if err != nil {
		return tlog.Hash{}, err
	}
	return hs[0], nil
}

// Root returns the root hash of the tree of the first n records.
func (t *Tree) Root(n int64) (tlog.Hash, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if n < 0 || n > t.n {
		return tlog.Hash{}, fmt.Errorf("root at size %d: %w (tree has %d records)", n, ErrOutOfRange, t.n)
	}
	return tlog.TreeHash(n, treeReader{t})
}

// InclusionProof returns the proof that the tree of size n holds leaf i.
func (t *Tree) InclusionProof(i, n int64) (tlog.RecordProof, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if n < 1 || n > t.n || i < 0 || i >= n {
		return nil, fmt.Errorf("inclusion proof of leaf %d at size %d: %w (tree has %d records)", i, n, ErrOutOfRange, t.n)
	}
	return tlog.ProveRecord(n, i, treeReader{t})
}

// ConsistencyProof returns the proof that the tree of size n extends the tree of size m.
func (t *Tree) ConsistencyProof(m, n int64) (tlog.TreeProof, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if m < 1 || m > n || n > t.n {
		return nil, fmt.Errorf("consistency proof from size %d to %d: %w (tree has %d records)", m, n, ErrOutOfRange, t.n)
	}
	return tlog.ProveTree(n, m, treeReader{t})
}

// TileData returns the hashes of tile tl (tlog-tiles layout, height 8), which must lie
// within the tree of size n.
func (t *Tree) TileData(tl tlog.Tile, n int64) ([]byte, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if n > t.n || !tileWithin(tl, n) {
		return nil, fmt.Errorf("tile %s: %w (tree size %d)", tl.Path(), ErrOutOfRange, n)
	}
	return tlog.ReadTileData(tl, treeReader{t})
}

// tileWithin reports whether every hash of tile tl is a hash of the tree of size n.
func tileWithin(tl tlog.Tile, n int64) bool {
	if tl.H != tileHeight || tl.L < 0 || tl.L > 7 || tl.N < 0 || tl.W < 1 || tl.W > 1<<tileHeight {
		return false
	}
	// The tile's last hash covers leaves up to (N·256 + W) · 256^L.
	last := tl.N<<tileHeight + int64(tl.W)
	for range tl.L {
		if last > n {
			return false
		}
		last <<= tileHeight
	}
	return last <= n
}

type edgeHash struct {
	index int64 // stored hash index + 1; 0: none
	hash  tlog.Hash
}

// treeReader reads stored hashes for tlog while the caller holds t.mu.
type treeReader struct{ t *Tree }

func (r treeReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	t := r.t
	out := make([]tlog.Hash, len(indexes))
	var buf [hashSize]byte
	for k, i := range indexes {
		switch {
		case i < 0 || i >= t.written+int64(len(t.tail)/hashSize):
			return nil, fmt.Errorf("tree: stored hash %d: %w", i, ErrOutOfRange)
		case i >= t.written:
			copy(out[k][:], t.tail[(i-t.written)*hashSize:])
		case t.hasEdge(i):
			out[k] = t.edgeHash(i)
		default:
			if _, err := t.f.ReadAt(buf[:], (i+1)*hashSize); err != nil {
				if errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				return nil, fmt.Errorf("read tree hashes %s: %w", t.path, err)
			}
			out[k] = buf
		}
	}
	return out, nil
}

// edgeAt returns the hash of node n at level, from the edge or else the stored hashes.
func (t *Tree) edgeAt(level int, n int64) (tlog.Hash, error) {
	i := tlog.StoredHashIndex(level, n)
	if e := t.edge[level]; e.index == i+1 {
		return e.hash, nil
	}
	hs, err := treeReader{t}.ReadHashes([]int64{i})
	if err != nil {
		return tlog.Hash{}, err
	}
	return hs[0], nil
}

func (t *Tree) hasEdge(i int64) bool {
	level, _ := levelOf(i)
	return level < len(t.edge) && t.edge[level].index == i+1
}

func (t *Tree) edgeHash(i int64) tlog.Hash {
	level, _ := levelOf(i)
	return t.edge[level].hash
}

// levelOf is tlog.SplitStoredHashIndex, cheap enough for the append path.
func levelOf(i int64) (int, int64) { return tlog.SplitStoredHashIndex(i) }

// readSynced reads the durable record count written by Sync; a missing file is 0.
func readSynced(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) != 8 {
		return 0, nil // torn: trust nothing, rebuild
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

func writeSynced(path string, n int64) error {
	tmp := path + ".tmp"
	b := binary.BigEndian.AppendUint64(nil, uint64(n))
	f, err := os.Create(tmp)
	if err == nil {
		_, err = f.Write(b)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
