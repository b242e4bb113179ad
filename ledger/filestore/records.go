package filestore

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/google/uuid"

	"techledger/ledger"
)

var _ ledger.RecordAppender = (*Store)(nil)

// RecordsPerCallMax bounds one AppendRecords call: its records go to disk as one frame, as
// one Append batch does.
const RecordsPerCallMax = ledger.EventsPerAppendMax

// AppendRecords implements ledger.RecordAppender: it appends recs, copied verbatim from
// another log, as one frame (atomically), after the fsync that covers it. The checks are
// those of the interface; a record failing one is refused with a *ledger.CorruptionError
// naming its position, and nothing of the call is appended. More than RecordsPerCallMax
// records, or a record past the limits of ledger.ValidateAppend, is refused with an error
// wrapping ledger.ErrInvalidAppend. A read-only store returns ErrReadOnly.
func (s *Store) AppendRecords(ctx context.Context, recs []ledger.Record) error {
	if len(recs) == 0 {
		return fmt.Errorf("%w: records: none given", ledger.ErrInvalidAppend)
	}
	if len(recs) > RecordsPerCallMax {
		return fmt.Errorf("%w: records: %d exceed RecordsPerCallMax (%d)", ledger.ErrInvalidAppend, len(recs), RecordsPerCallMax)
	}
	for i := range recs {
		if err := ledger.ValidateAppend(recs[i].Stream, []ledger.Event{recs[i].Event()}); err != nil {
			return fmt.Errorf("record at position %d: %w", recs[i].Position, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	b, kick, err := s.decideRecords(recs)
	if err != nil {
		return err
	}
	if kick {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	<-b.done // bounded by one write and fsync, as in AppendDecided
	return b.err
}

// decideRecords checks recs against the index, encodes them as one frame, enters them in
// the index past committed and queues the frame, as decide does for an Append.
func (s *Store) decideRecords(recs []ledger.Record) (*batch, bool, error) {
	s.decideMu.Lock()
	defer s.decideMu.Unlock()
	if s.readOnly {
		return nil, false, ErrReadOnly
	}
	if s.closed {
		return nil, false, ledger.ErrClosed
	}
	s.mu.RLock()
	failed := s.failed
	s.mu.RUnlock()
	if failed != nil {
		return nil, false, failed
	}
	refuse := func(r *ledger.Record, format string, args ...any) error {
		return &ledger.CorruptionError{Position: r.Position, Reason: fmt.Sprintf(format, args...)}
	}
	// Check everything before changing anything.
	prev, at := s.lastHash, s.lastTime
	versions := map[string]ledger.Version{}
	ids := map[uuid.UUID]bool{}
	for i := range recs {
		r := &recs[i]
		want := s.last + 1 + ledger.Position(i)
		v, ok := versions[r.Stream]
		if !ok {
			v = s.streamLen(r.Stream)
		}
		switch {
		case r.Position != want:
			return nil, false, &ledger.CorruptionError{Position: want, Reason: fmt.Sprintf("record has position %d, the log continues at %d", r.Position, want)}
		case r.PrevHash != prev:
			return nil, false, refuse(r, "previous hash %s does not chain: the record before has hash %s", r.PrevHash, prev)
		case r.ComputeHash() != r.Hash:
			return nil, false, refuse(r, "hash %s does not match the record's content", r.Hash)
		case r.Version != v+1:
			return nil, false, refuse(r, "stream %q version %d, want %d", r.Stream, r.Version, v+1)
		case ids[r.ID]:
			return nil, false, refuse(r, "event id %s appears twice", r.ID)
		}
		if _, dup := s.ids.get(r.ID); dup {
			return nil, false, refuse(r, "event id %s is already stored", r.ID)
		}
		ids[r.ID] = true
		versions[r.Stream] = v + 1
		prev = r.Hash
		if r.RecordedAt.After(at) { // new appends never record a time before the last record's
			at = r.RecordedAt
		}
	}
	if s.size >= s.opts.SegmentBytes {
		if err := s.roll(s.last + 1); err != nil {
			return nil, false, err
		}
	}
	fstart := len(s.frames)
	frame := append(s.frames, make([]byte, frameHeader)...)
	segIdx := uint32(len(s.segs) - 1)
	locs := make([]loc, len(recs))
	for i := range recs {
		start := len(frame)
		frame = append(frame, 0, 0, 0, 0)
		frame = recs[i].AppendBinary(frame)
		n := len(frame) - start - recordPrefix
		binary.BigEndian.PutUint32(frame[start:], uint32(n))
		locs[i] = loc{seg: segIdx, off: s.size + int64(start-fstart+recordPrefix), n: uint32(n)}
	}
	payload := frame[fstart+frameHeader:]
	binary.BigEndian.PutUint32(frame[fstart:], uint32(len(payload)))
	binary.BigEndian.PutUint32(frame[fstart+4:], crc32.Checksum(payload, castagnoli))
	s.mu.Lock()
	s.locs = append(s.locs, locs...)
	for i := range recs {
		si := s.streamNumber(recs[i].Stream)
		s.appendStream(si, recs[i].Position)
		s.ids.put(recs[i].ID, recs[i].Position)
		rec := recs[i]
		rec.RecordedAt = rec.RecordedAt.UTC()
		s.pending = append(s.pending, rec)
	}
	s.mu.Unlock()
	s.lastHash, s.lastTime = prev, at
	s.frames = frame
	s.size += int64(len(frame) - fstart)
	s.last += ledger.Position(len(recs))
	b, kick := s.enqueue(chunk{off: fstart, end: len(frame)}, s.last)
	return b, kick, nil
}
