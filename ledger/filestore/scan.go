package filestore

import (
	"context"

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
	return s.readChunks(ctx, from, true, func(p ledger.Position, _ segment, locs []loc, chunk []byte) error {
		base := locs[0].off
		for i, l := range locs {
			lo, hi := l.off-base, l.off-base+int64(l.n)
			if err := fn(p+ledger.Position(i), chunk[lo:hi:hi]); err != nil {
				return err
			}
		}
		return nil
	})
}
