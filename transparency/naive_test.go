package transparency_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/mod/sumdb/tlog"

	"techledger/ledger"
	"techledger/transparency"
)

// naive is RFC 6962 §2.1 written as the RFC states it, recursively, over the leaf data: an
// independent second way to compute roots and proofs. It memoises subtree hashes, which
// depend only on the leaves they cover.
type naive struct {
	leaves [][]byte
	memo   map[[2]int]tlog.Hash
}

func (t *naive) mth(lo, hi int) tlog.Hash {
	if hi-lo == 0 {
		return sha256.Sum256(nil)
	}
	if h, ok := t.memo[[2]int{lo, hi}]; ok {
		return h
	}
	var h tlog.Hash
	if hi-lo == 1 {
		h = sha256.Sum256(append([]byte{0}, t.leaves[lo]...))
	} else {
		k := split(hi - lo)
		l, r := t.mth(lo, lo+k), t.mth(lo+k, hi)
		h = sha256.Sum256(append(append([]byte{1}, l[:]...), r[:]...))
	}
	t.memo[[2]int{lo, hi}] = h
	return h
}

// split is the largest power of two smaller than n (n > 1).
func split(n int) int {
	k := 1
	for k<<1 < n {
		k <<= 1
	}
	return k
}

// path is PATH(m, D[lo:hi]), the audit path of leaf m (relative to lo).
func (t *naive) path(m, lo, hi int) []tlog.Hash {
	if hi-lo <= 1 {
		return nil
	}
	k := split(hi - lo)
	if m < k {
		return append(t.path(m, lo, lo+k), t.mth(lo+k, hi))
	}
	return append(t.path(m-k, lo+k, hi), t.mth(lo, lo+k))
}

// subproof is SUBPROOF(m, D[lo:hi], b).
func (t *naive) subproof(m, lo, hi int, b bool) []tlog.Hash {
	n := hi - lo
	if m == n {
		if b {
			return nil
		}
		return []tlog.Hash{t.mth(lo, hi)}
	}
	k := split(n)
	if m <= k {
		return append(t.subproof(m, lo, lo+k, b), t.mth(lo+k, hi))
	}
	return append(t.subproof(m-k, lo+k, hi, false), t.mth(lo, lo+k))
}

// verifyPath recomputes the root from leaf m's hash and its path in a tree of n leaves,
// walking the same recursion as path: an independent check of what the library accepts.
func verifyPath(leaf tlog.Hash, m, n int, p []tlog.Hash) (tlog.Hash, bool) {
	if n == 1 {
		return leaf, len(p) == 0
	}
	if len(p) == 0 {
		return tlog.Hash{}, false
	}
	k := split(n)
	sib, rest := p[len(p)-1], p[:len(p)-1]
	if m < k {
		h, ok := verifyPath(leaf, m, k, rest)
		return tlog.NodeHash(h, sib), ok
	}
	h, ok := verifyPath(leaf, m-k, n-k, rest)
	return tlog.NodeHash(sib, h), ok
}

func chainHash(i int) ledger.Hash { return sha256.Sum256([]byte(fmt.Sprintf("record %d", i))) }

// TestTree_MatchesNaiveRFC6962 builds a Tree leaf by leaf up to 300 leaves and, at every
// size, checks its root against the naive recursion and, for every leaf, that its
// inclusion proof equals the naive audit path, that tlog.CheckRecord accepts it, that the
// naive verifier reaches the root with it, and that a proof with one hash changed fails.
// Consistency proofs from every smaller size are checked the same way up to size 100.
func TestTree_MatchesNaiveRFC6962(t *testing.T) {
	tree, err := transparency.OpenTree(filepath.Join(t.TempDir(), "tree.hashes"))
	require.NoError(t, err)
	defer tree.Close()
	nv := &naive{memo: map[[2]int]tlog.Hash{}}
	for n := 1; n <= 300; n++ {
		c := chainHash(n - 1)
		nv.leaves = append(nv.leaves, c[:])
		require.NoError(t, tree.Append(c))
		root, err := tree.Root(int64(n))
		require.NoError(t, err)
		require.Equal(t, nv.mth(0, n), root, "root at size %d", n)
		for i := range n {
			p, err := tree.InclusionProof(int64(i), int64(n))
			require.NoError(t, err)
			want := nv.path(i, 0, n)
			require.Equal(t, len(want), len(p), "size %d leaf %d", n, i)
			for j := range want {
				require.Equal(t, want[j], p[j], "size %d leaf %d hash %d", n, i, j)
			}
			leaf := transparency.LeafHash(c)
			if i != n-1 {
				leaf = transparency.LeafHash(chainHash(i))
			}
			require.NoError(t, tlog.CheckRecord(p, int64(n), root, int64(i), leaf))
			got, ok := verifyPath(leaf, i, n, p)
			require.True(t, ok && got == root, "naive verifier rejects leaf %d of size %d", i, n)
			if len(p) > 0 {
				bad := append(tlog.RecordProof(nil), p...)
				bad[len(bad)/2][0] ^= 1
				require.Error(t, tlog.CheckRecord(bad, int64(n), root, int64(i), leaf))
			}
		}
		if n > 100 {
			continue
		}
		for m := 1; m <= n; m++ {
			p, err := tree.ConsistencyProof(int64(m), int64(n))
			require.NoError(t, err)
			want := nv.subproof(m, 0, n, true)
			require.Equal(t, len(want), len(p), "consistency %d→%d", m, n)
			for j := range want {
				require.Equal(t, want[j], p[j], "consistency %d→%d hash %d", m, n, j)
			}
			require.NoError(t, tlog.CheckTree(p, int64(n), root, int64(m), nv.mth(0, m)))
			if m < n && len(p) > 0 {
				require.Error(t, tlog.CheckTree(p, int64(n), root, int64(m), nv.mth(1, m+1)))
			}
		}
	}
}

// TestTree_LargeMatchesNaive checks roots and a sample of leaves (first, last, around
// powers of two) of a few large trees whose sizes are not powers of two.
func TestTree_LargeMatchesNaive(t *testing.T) {
	tree, err := transparency.OpenTree(filepath.Join(t.TempDir(), "tree.hashes"))
	require.NoError(t, err)
	defer tree.Close()
	nv := &naive{memo: map[[2]int]tlog.Hash{}}
	sizes := []int{1023, 1025, 4097, 70001}
	for i := range sizes[len(sizes)-1] {
		c := chainHash(i)
		nv.leaves = append(nv.leaves, c[:])
		require.NoError(t, tree.Append(c))
	}
	for _, n := range sizes {
		root, err := tree.Root(int64(n))
		require.NoError(t, err)
		require.Equal(t, nv.mth(0, n), root, "root at size %d", n)
		for _, i := range []int{0, 1, 255, 256, 511, 512, 1000, n / 2, n - 2, n - 1} {
			if i >= n {
				continue
			}
			p, err := tree.InclusionProof(int64(i), int64(n))
			require.NoError(t, err)
			require.Equal(t, nv.path(i, 0, n), []tlog.Hash(p), "size %d leaf %d", n, i)
			got, ok := verifyPath(transparency.LeafHash(chainHash(i)), i, n, p)
			require.True(t, ok && got == root)
		}
		for _, m := range []int{1, 256, 1000, n - 1} {
			p, err := tree.ConsistencyProof(int64(m), int64(n))
			require.NoError(t, err)
			require.Equal(t, nv.subproof(m, 0, n, true), []tlog.Hash(p), "consistency %d→%d", m, n)
		}
	}
}

func TestLeafHash(t *testing.T) {
	for i := range 100 {
		c := chainHash(i)
		require.Equal(t, tlog.RecordHash(c[:]), transparency.LeafHash(c))
	}
}

// TestTree_BatchesReopenTruncate builds one tree record by record and another in batches
// of uneven sizes (whole groups of 256 records are then hashed in parallel), and checks
// that both store the same hashes, byte for byte; then it checks the batched tree, as
// built, after reopening it (the upper levels loaded from the file) and after truncating
// and regrowing it, against the naive recursion: roots and inclusion proofs of sampled
// leaves, consistency proofs.
func TestTree_BatchesReopenTruncate(t *testing.T) {
	const n = 100_003
	dir := t.TempDir()
	one, err := transparency.OpenTree(filepath.Join(dir, "one"))
	require.NoError(t, err)
	batched, err := transparency.OpenTree(filepath.Join(dir, "batched"))
	require.NoError(t, err)
	nv := &naive{memo: map[[2]int]tlog.Hash{}}
	chains := make([]ledger.Hash, n)
	for i := range chains {
		chains[i] = chainHash(i)
		nv.leaves = append(nv.leaves, chains[i][:])
		require.NoError(t, one.Append(chains[i]))
	}
	for i, k := 0, 0; i < n; k++ {
		size := []int{2048, 1, 5000, 255, 256 * 300, 17, 65536 + 256*9}[k%7]
		size = min(size, n-i)
		require.NoError(t, batched.Append(chains[i:i+size]...))
		i += size
	}
	check := func(tree *transparency.Tree, sizes ...int) {
		t.Helper()
		for _, size := range sizes {
			root, err := tree.Root(int64(size))
			require.NoError(t, err)
			require.Equal(t, nv.mth(0, size), root, "root at size %d", size)
			for _, i := range []int{0, 1, 255, 256, 511, 2047, 2048, 65535, 65536, size / 3, size - 257, size - 256, size - 2, size - 1} {
				if i < 0 || i >= size {
					continue
				}
				p, err := tree.InclusionProof(int64(i), int64(size))
				require.NoError(t, err)
				require.Equal(t, nv.path(i, 0, size), []tlog.Hash(p), "size %d leaf %d", size, i)
				got, ok := verifyPath(transparency.LeafHash(chains[i]), i, size, p)
				require.True(t, ok && got == root, "naive verifier rejects leaf %d of size %d", i, size)
			}
			for _, m := range []int{1, 256, 4097, size - 1} {
				if m < 1 || m > size {
					continue
				}
				p, err := tree.ConsistencyProof(int64(m), int64(size))
				require.NoError(t, err)
				require.Equal(t, nv.subproof(m, 0, size, true), []tlog.Hash(p), "consistency %d→%d", m, size)
			}
		}
	}
	sizes := []int{2048, 2049, 65536, 65536*2 - 1, n}
	sizes = slices.DeleteFunc(sizes, func(s int) bool { return s > n })
	check(batched, sizes...)

	require.NoError(t, one.Close())
	require.NoError(t, batched.Close())
	a, err := os.ReadFile(filepath.Join(dir, "one"))
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(dir, "batched"))
	require.NoError(t, err)
	require.True(t, bytes.Equal(a, b), "the batched tree stores other hashes than the one built record by record")

	reopened, err := transparency.OpenTree(filepath.Join(dir, "batched"))
	require.NoError(t, err)
	defer reopened.Close()
	require.Equal(t, int64(n), reopened.Size())
	check(reopened, sizes...)

	for _, m := range []int{70_000, 4096, 300} {
		require.NoError(t, reopened.Truncate(int64(m)))
		check(reopened, m)
		require.NoError(t, reopened.Append(chains[m:]...))
		check(reopened, n)
	}
}
