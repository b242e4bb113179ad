package transparency

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"runtime"
	"slices"
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
	// upperLevel is the lowest tree level whose hashes a Tree keeps in memory as well as
	// in the file: about n/128 hashes for n records (2.5 MB at 10M records), so that a
	// proof reads from the file only the hashes of levels 0..7 near its leaf.
	upperLevel = 8
	// groupLeaves is the number of leaves under a node of upperLevel; groupHashes is the
	// number of stored hashes of such a subtree (its leaves and interior nodes, its root
	// included), which lie contiguously in the file.
	groupLeaves = 1 << upperLevel
	groupHashes = 2*groupLeaves - 1
	// readSpanMax is the widest run of stored hashes (in hashes) that one file read fetches
	// when a proof needs several hashes close to each other: the hashes of one group.
	readSpanMax = groupHashes
	// parallelGroupsMin is the least number of whole groups an Append hashes on several
	// goroutines; parallelGroupsMax bounds the groups hashed in one round (4 MB of hashes,
	// added to the tail at once).
	parallelGroupsMin = 8
	parallelGroupsMax = 256
)

// Tree is the Merkle tree of a log, its stored hashes kept in an append-only hash file
// (about two hashes per record; see tlog.StoredHashes) plus a short in-memory tail not yet
// written. The hashes of levels 8 and up (one in 128) are also kept in memory, loaded at
// open, so that a proof reads at most a few runs of nearby hashes from the file. Hashes
// once stored never change, so proofs at any size up to Size read a stable prefix. Its
// methods are safe for concurrent use; Append is meant for one follower.
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
	// upper[l] holds the hashes of the nodes of level upperLevel+l, in node order: every
	// node of that level in the tree (n>>(upperLevel+l) of them).
	upper [][]tlog.Hash
	err   error // a failed write: the tree accepts nothing more
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
	if err := t.truncateLocked(n); err != nil {
		return err
	}
	return t.loadUpper()
}

// loadUpper reads the hashes of levels upperLevel and up from the file into t.upper. The
// last record of each group stores them, one after the other, after its lower levels: one
// read per group.
func (t *Tree) loadUpper() error {
	buf := make([]byte, 0, 64*hashSize)
	for k := range t.n >> upperLevel {
		levels := 1 + bits.TrailingZeros64(^uint64(k)) // level 8, and one more for each trailing 1 of k
		i := tlog.StoredHashIndex(upperLevel, k)
		buf = buf[:levels*hashSize]
		if err := t.readAt(buf, i); err != nil {
			return err
		}
		for j := range levels {
			t.addUpper(upperLevel+j, k>>j, tlog.Hash(buf[j*hashSize:]))
		}
	}
	return nil
}

// addUpper records the hash of node of level (upperLevel or higher), the next one there.
func (t *Tree) addUpper(level int, node int64, h tlog.Hash) {
	l := level - upperLevel
	for len(t.upper) <= l {
		t.upper = append(t.upper, nil)
	}
	if int64(len(t.upper[l])) != node {
		panic(fmt.Sprintf("transparency: tree node %d of level %d stored after %d nodes", node, level, len(t.upper[l])))
	}
	t.upper[l] = append(t.upper[l], h)
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
	t.upper = nil
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
	for l := range t.upper {
		t.upper[l] = t.upper[l][:n>>(upperLevel+l)]
	}
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

// Append adds the records whose chain hashes are chains (positions Size()+1, …). Long
// runs of whole groups of 256 records are hashed on several goroutines.
func (t *Tree) Append(chains ...ledger.Hash) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err != nil {
		return t.err
	}
	for len(chains) > 0 {
		if g := min(len(chains)/groupLeaves, parallelGroupsMax); t.n%groupLeaves == 0 && g >= parallelGroupsMin {
			if err := t.appendGroups(chains[:g*groupLeaves]); err != nil {
				return err
			}
			chains = chains[g*groupLeaves:]
		} else {
			if err := t.climb(t.n, 0, LeafHash(chains[0])); err != nil {
				return err
			}
			t.n++
			chains = chains[1:]
		}
		if len(t.tail) >= tailHashesMax*hashSize {
			if err := t.writeTail(); err != nil {
				return err
			}
		}
	}
	return nil
}

// climb stores hash h of the node of record r at level, then the hash of each subtree
// that this node completes: tlog.StoredHashesForRecordHash without its allocations, the
// left siblings taken from the right edge kept in memory (TestTree_MatchesNaiveRFC6962
// checks the result).
func (t *Tree) climb(r int64, level int, h tlog.Hash) error {
	for {
		node := r >> level
		var left tlog.Hash
		if node&1 == 1 {
			var err error
			if left, err = t.edgeAt(level, node-1); err != nil {
				return fmt.Errorf("tree: hashes of record %d: %w", r+1, err)
			}
		}
		t.store(level, node, h)
		if node&1 == 0 {
			return nil
		}
		h = tlog.NodeHash(left, h)
		level++
	}
}

// store stores the hash h of node of level: at the end of the tail, or in the slot
// appendGroups made for it.
func (t *Tree) store(level int, node int64, h tlog.Hash) {
	i := tlog.StoredHashIndex(level, node)
	switch off := (i - t.written) * hashSize; {
	case off == int64(len(t.tail)):
		t.tail = append(t.tail, h[:]...)
	case off >= 0 && off < int64(len(t.tail)):
		copy(t.tail[off:], h[:])
	default:
		panic(fmt.Sprintf("transparency: stored hash %d stored after %d hashes", i, t.written+int64(len(t.tail))/hashSize))
	}
	t.edge[level] = edgeHash{index: i + 1, hash: h}
	if level >= upperLevel {
		t.addUpper(level, node, h)
	}
}

// appendGroups appends whole groups of 256 records to a tree whose size is a multiple of
// 256. It extends the tail by every hash these records store; the hashes of each group
// (its leaves and nodes up to its root, contiguous) are computed into their place on
// several goroutines, then each group's root climbs the tree, filling the slots of the
// nodes above it.
func (t *Tree) appendGroups(chains []ledger.Hash) error {
	g := int64(len(chains) / groupLeaves)
	first := tlog.StoredHashIndex(0, t.n)
	if int64(len(t.tail)) != (first-t.written)*hashSize {
		panic(fmt.Sprintf("transparency: the tree's tail does not end at stored hash %d", first))
	}
	end := int64(len(t.tail)) + (tlog.StoredHashCount(t.n+g*groupLeaves)-first)*hashSize
	t.tail = slices.Grow(t.tail, int(end)-len(t.tail))[:end]
	n0 := t.n
	offset := func(k int64) int64 { // where group k's hashes start in the tail
		return (tlog.StoredHashIndex(0, n0+k*groupLeaves) - t.written) * hashSize
	}
	workers := min(int64(runtime.GOMAXPROCS(0)), g)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := g*w/workers, g*(w+1)/workers
		wg.Go(func() {
			for k := lo; k < hi; k++ {
				off := offset(k)
				hashGroup(t.tail[off:off+groupHashes*hashSize], chains[k*groupLeaves:(k+1)*groupLeaves])
			}
		})
	}
	wg.Wait()
	for k := range g {
		off := offset(k) + (groupHashes-1)*hashSize
		last := n0 + (k+1)*groupLeaves - 1 // the record whose hashes end the group
		// The edge below level 8 is not updated: the next record starts a new group, whose
		// nodes below level 8 have no left sibling outside it.
		if err := t.climb(last, upperLevel, tlog.Hash(t.tail[off:])); err != nil {
			t.err = err // the tail holds slots never filled: accept nothing more
			return err
		}
		t.n = last + 1
	}
	return nil
}

// hashGroup computes the groupHashes stored hashes of a group of groupLeaves records
// whose chain hashes are chains into out, in stored order (tlog.StoredHashIndex): each
// record's leaf hash, then the nodes it completes; the group's root is last.
func hashGroup(out []byte, chains []ledger.Hash) {
	var edge [upperLevel + 1]tlog.Hash
	p := 0
	for j, c := range chains {
		h := LeafHash(c)
		for level := 0; ; level++ {
			copy(out[p:], h[:])
			p += hashSize
			if (j>>level)&1 == 0 {
				edge[level] = h
				break
			}
			h = tlog.NodeHash(edge[level], h)
		}
	}
	if p != groupHashes*hashSize {
		panic(fmt.Sprintf("transparency: a group of %d records stored %d hashes", len(chains), p/hashSize))
	}
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
	var fromFile []int // positions in indexes of the hashes read from the file
	stored := t.written + int64(len(t.tail)/hashSize)
	for k, i := range indexes {
		if i < 0 || i >= stored {
			return nil, fmt.Errorf("tree: stored hash %d: %w", i, ErrOutOfRange)
		}
		level, node := levelOf(i)
		switch {
		case level >= upperLevel:
			l := level - upperLevel
			if l >= len(t.upper) || node >= int64(len(t.upper[l])) {
				panic(fmt.Sprintf("transparency: stored hash %d (node %d of level %d) is not in memory", i, node, level))
			}
			out[k] = t.upper[l][node]
		case i >= t.written:
			copy(out[k][:], t.tail[(i-t.written)*hashSize:])
		case t.edge[level].index == i+1:
			out[k] = t.edge[level].hash
		default:
			fromFile = append(fromFile, k)
		}
	}
	if len(fromFile) == 0 {
		return out, nil
	}
	// One read for each run of hashes no wider than a group.
	slices.SortFunc(fromFile, func(a, b int) int { return cmp.Compare(indexes[a], indexes[b]) })
	var buf []byte
	for len(fromFile) > 0 {
		first := indexes[fromFile[0]]
		m := 1
		for m < len(fromFile) && indexes[fromFile[m]]-first < readSpanMax {
			m++
		}
		span := indexes[fromFile[m-1]] - first + 1
		buf = slices.Grow(buf[:0], int(span*hashSize))[:span*hashSize]
		if err := t.readAt(buf, first); err != nil {
			return nil, err
		}
		for _, k := range fromFile[:m] {
			copy(out[k][:], buf[(indexes[k]-first)*hashSize:])
		}
		fromFile = fromFile[m:]
	}
	return out, nil
}

// readAt reads stored hashes from index i on into buf, from the file.
func (t *Tree) readAt(buf []byte, i int64) error {
	if _, err := t.f.ReadAt(buf, (i+1)*hashSize); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("read tree hashes %s: %w", t.path, err)
	}
	return nil
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
