package projections

import (
	"context"
	"errors"
	"fmt"
	"iter"

	"techledger/ledger"
)

// Reader is what a replay needs of a ledger.Store.
type Reader interface {
	ReadAll(ctx context.Context, from ledger.Position) iter.Seq2[ledger.Record, error]
}

// RawScanner is an optional capability of a Reader (filestore.Store has it): it hands out
// each record's binary encoding (see (*ledger.Record).AppendBinary) from a buffer it
// reuses, so that a replay decodes in place and allocates nothing per record. ScanRaw calls
// fn for every record with position >= from, in order, up to the head at the time of the
// call or later; raw is valid only until fn returns. It returns the first error fn returns,
// ctx's error or a read error.
type RawScanner interface {
	ScanRaw(ctx context.Context, from ledger.Position, fn func(pos ledger.Position, raw []byte) error) error
}

// replayBatch is how many records travel together from the reading goroutine to the fold.
const replayBatch = 256

// batch is records read and decoded, on their way to the fold. Their data is copied back
// to back into data, which the views point into, so that a batch is reused whole once
// folded and a replay allocates nothing per record.
type batch struct {
	items []item
	views []view
	data  []byte
	err   error // the read or decode error after the records (if any)
}

// item is a record in a batch: its envelope, and where its data is in batch.data.
type item struct {
	meta
	typ       string
	schema    uint16
	off, size int
}

func newBatch() *batch {
	return &batch{items: make([]item, 0, replayBatch), views: make([]view, replayBatch)}
}

func (b *batch) reset() {
	b.items, b.data, b.err = b.items[:0], b.data[:0], nil
}

// add appends a record to the batch, copying its data.
func (b *batch) add(m meta, typ []byte, schema uint16, data []byte) {
	var t string
	if k, ok := evOf(typ); ok {
		t = typeOf(k) // no allocation for the types the folds read
	} else {
		t = string(typ)
	}
	b.items = append(b.items, item{meta: m, typ: t, schema: schema, off: len(b.data), size: len(data)})
	b.data = append(b.data, data...)
}

// decode decodes the views of the batch's records. On an error it keeps the records
// before the one that failed and sets b.err.
func (b *batch) decode() {
	for i := range b.items {
		it := &b.items[i]
		data := b.data[it.off : it.off+it.size : it.off+it.size]
		if err := decodeData(it.pos, it.typ, it.schema, data, &b.views[i]); err != nil {
			b.items = b.items[:i]
			b.err = err
			return
		}
		if !decodeExtra(b.views[i].typ, data, &it.x) {
			b.items = b.items[:i]
			b.err = fmt.Errorf("position %d: %w: data does not scan", it.pos, ErrFold)
			return
		}
	}
}

// Replay folds the records of log after st.Position() into st, up to position to (0: up to
// the head of the log when the read started). Reading and decoding run on one goroutine
// and the fold on the caller's, in batches, so a replay uses two cores. It reads through
// ScanRaw when log is a RawScanner, else through ReadAll.
func Replay(ctx context.Context, log Reader, st *State, to ledger.Position) error {
	return ReplayProgress(ctx, log, st, to, nil)
}

// ReplayProgress is Replay calling progress, if not nil, with the position folded after
// each batch of records (every few thousand), on the goroutine that called it.
func ReplayProgress(ctx context.Context, log Reader, st *State, to ledger.Position, progress func(ledger.Position)) error {
	if to != 0 && to <= st.Position() {
		if to < st.Position() {
			return fmt.Errorf("projections: replay to position %d: the state is already at %d", to, st.Position())
		}
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	full := make(chan *batch, 4)
	free := make(chan *batch, 4)
	for range cap(free) {
		free <- newBatch()
	}
	go func() {
		defer close(full)
		read(ctx, log, st.Position()+1, to, free, full)
	}()
	for b := range full {
		for i := range b.items {
			if err := st.applyView(&b.items[i].meta, &b.views[i]); err != nil {
				return fmt.Errorf("projections: replay: %w", err)
			}
		}
		if b.err != nil {
			return fmt.Errorf("projections: replay: %w", b.err)
		}
		if progress != nil {
			progress(st.Position())
		}
		if st.Position() == to {
			return nil
		}
		free <- b
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if to != 0 && st.Position() < to {
		return fmt.Errorf("projections: replay to position %d: the log ends at %d", to, st.Position())
	}
	return nil
}

// errStop ends a scan early.
var errStop = errors.New("stop")

// read reads the records of log from position from up to to (0: the head), fills batches
// taken from free with them, decodes them and sends them to full, until the log ends, to
// is reached, an error is sent or ctx is done. A batch with an error is the last one sent.
// full has room for every batch, so read never blocks on it.
func read(ctx context.Context, log Reader, from, to ledger.Position, free <-chan *batch, full chan<- *batch) {
	var b *batch
	next := func() bool {
		select {
		case b = <-free:
			b.reset()
			return true
		case <-ctx.Done():
			return false
		}
	}
	// added sends the batch once it is full or holds the record at to, and reports whether
	// to go on.
	added := func(pos ledger.Position) bool {
		if len(b.items) < replayBatch && pos != to {
			return true
		}
		b.decode()
		full <- b
		return b.err == nil && pos != to && next()
	}
	fail := func(err error) {
		b.decode()
		if b.err == nil {
			b.err = err
		}
		full <- b
	}
	if !next() {
		return
	}
	if rs, ok := log.(RawScanner); ok {
		var rec ledger.RawRecord
		err := rs.ScanRaw(ctx, from, func(pos ledger.Position, raw []byte) error {
			if err := rec.UnmarshalBinary(raw); err != nil || rec.Position != pos {
				return &ledger.CorruptionError{Position: pos, Reason: fmt.Sprintf("record does not decode as position %d: %v", pos, err)}
			}
			b.add(meta{pos: pos, at: rec.RecordedAt, hash: rec.Hash}, rec.Type, rec.SchemaVersion, rec.Data)
			if !added(pos) {
				return errStop
			}
			return nil
		})
		switch {
		case errors.Is(err, errStop):
		case err != nil:
			fail(err)
		case len(b.items) > 0:
			b.decode()
			full <- b
		}
		return
	}
	for rec, err := range log.ReadAll(ctx, from) {
		if err != nil {
			fail(err)
			return
		}
		b.add(meta{pos: rec.Position, at: rec.RecordedAt, hash: rec.Hash}, []byte(rec.Type), rec.SchemaVersion, rec.Data)
		if !added(rec.Position) {
			return
		}
	}
	if len(b.items) > 0 {
		b.decode()
		full <- b
	}
}
