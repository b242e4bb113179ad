package filestore

import (
	"context"
	"fmt"

	"techledger/ledger"
)

// ScanRaw calls fn with the position and the binary encoding (see
// (*ledger.Record).AppendBinary) of every record with position >= from, in position order,
// up to the head at the time of the call or later. It is ReadAll without the decoding and
// without an allocation per record, for readers that decode in place
// ((*ledger.RawRecord).UnmarshalBinary) and keep little of each record.
//
// raw is only valid until fn returns: ScanRaw reads the segments in chunks of up to
// readChunkBytes into one buffer it reuses. fn must not modify raw. ScanRaw does not decode
// the records: the caller decodes each and checks that it holds pos (ReadAll does both and
// returns a *ledger.CorruptionError). ScanRaw returns the first error fn returns, ctx's
// error, or a wrapped read error.
func (s *Store) ScanRaw(ctx context.Context, from ledger.Position, fn func(pos ledger.Position, raw []byte) error) error {
	var buf []byte
	p := max(from, 1)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		s.mu.RLock()
		if p > s.committed {
			s.mu.RUnlock()
			return nil
		}
		first := s.locs[p-1]
		seg := s.segs[first.seg]
		q := p
		for q < s.committed {
			l := s.locs[q] // position q+1
			if l.seg != first.seg || l.off+int64(l.n)-first.off > readChunkBytes {
				break
			}
			q++
		}
		locs := s.locs[p-1 : q : q]
		s.mu.RUnlock()
		end := locs[len(locs)-1].off + int64(locs[len(locs)-1].n)
		if n := int(end - first.off); cap(buf) < n {
			buf = make([]byte, n)
		} else {
			buf = buf[:n]
		}
		if _, err := seg.rf.ReadAt(buf, first.off); err != nil {
			return fmt.Errorf("filestore: read segment %s offset %d: %w", seg.name, first.off, err)
		}
		for i, l := range locs {
			raw := buf[l.off-first.off : l.off-first.off+int64(l.n) : l.off-first.off+int64(l.n)]
			if err := fn(p+ledger.Position(i), raw); err != nil {
				return err
			}
		}
		p = q + 1
	}
}
