package transparency

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"techledger/ledger"
)

// tileHeight is the height of tlog-tiles tiles: 256 hashes per full tile.
const tileHeight = 8

// ParseTilePath parses a C2SP tlog-tiles path, "tile/<L>/<N>[.p/<W>]" or
// "tile/entries/<N>[.p/<W>]" (N in groups of three digits, "x001/x234/067"). Entry
// bundles are returned with L = -1. tlog's own paths carry the height ("tile/8/…"), which
// tlog-tiles leaves out.
func ParseTilePath(path string) (tlog.Tile, error) {
	rest, ok := strings.CutPrefix(path, "tile/")
	if !ok {
		return tlog.Tile{}, fmt.Errorf("tile path %q: want tile/<L>/<N>", path)
	}
	if e, ok := strings.CutPrefix(rest, "entries/"); ok {
		rest = "data/" + e
	}
	t, err := tlog.ParseTilePath(fmt.Sprintf("tile/%d/%s", tileHeight, rest))
	if err != nil || t.L > 7 {
		return tlog.Tile{}, fmt.Errorf("tile path %q: not a tlog-tiles path", path)
	}
	return t, nil
}

// TilePath is the C2SP tlog-tiles path of t (ParseTilePath's inverse).
func TilePath(t tlog.Tile) string {
	p := strings.TrimPrefix(t.Path(), fmt.Sprintf("tile/%d/", tileHeight))
	if rest, ok := strings.CutPrefix(p, "data/"); ok {
		return "tile/entries/" + rest
	}
	return "tile/" + p
}

// Tile returns the content of the tile at a tlog-tiles path, within the latest signed
// tree: the concatenated hashes of a hash tile, or for an entry bundle each leaf's data (the
// record's 32-byte chain hash) prefixed with its length as a big-endian uint16.
func (l *Log) Tile(ctx context.Context, path string) ([]byte, error) {
	t, err := ParseTilePath(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOutOfRange, err)
	}
	cp, _, err := l.Latest()
	if err != nil {
		return nil, err
	}
	if t.L >= 0 {
		return l.tree.TileData(t, cp.Size)
	}
	first := t.N << tileHeight
	if t.W < 1 || first+int64(t.W) > cp.Size {
		return nil, fmt.Errorf("entries tile %s: %w (signed size %d)", path, ErrOutOfRange, cp.Size)
	}
	out := make([]byte, 0, t.W*(2+hashSize))
	n := 0
	for rec, err := range l.src.ReadAll(ctx, ledger.Position(first+1)) {
		if err != nil {
			return nil, fmt.Errorf("entries tile %s: %w", path, err)
		}
		if rec.Position != ledger.Position(first+int64(n)+1) {
			return nil, fmt.Errorf("entries tile %s: the log yielded position %d, want %d", path, rec.Position, first+int64(n)+1)
		}
		out = binary.BigEndian.AppendUint16(out, hashSize)
		out = append(out, rec.Hash[:]...)
		if n++; n == t.W {
			break
		}
	}
	if n != t.W {
		return nil, fmt.Errorf("entries tile %s: the log ended after %d entries", path, n)
	}
	return out, nil
}
