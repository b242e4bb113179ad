package commands

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"time"

	"techledger/ledger"
)

// The saved index.
//
// A handler's log index (every command_id with its fingerprint and positions, and the use
// grants in force per achievement) is built by reading the log. SaveIndex writes it as it
// stands at a position, so that a handler started later loads it (LoadIndex) and reads
// only the records after that position, instead of the whole log: like the filestore's
// index checkpoint, it is what makes a restart fast. The caller keeps the file (see
// docs/operations.md); the handler does no file IO itself.
//
//	index = magic "TLCMDIDX" | version byte | position uint64 | hash [32] (of the record at position)
//	        | n uint64 | n × (key [16], fingerprint [16], first position uint64, count uint32), sorted by key
//	        | nach uint32 | nach × (achievement string16, ngrants uint32,
//	                                ngrants × (contract string16, exclusivity string8, from date, to date))
//	        | crc uint32 (CRC-32C of everything before)
//
// Integers are big-endian; stringN is a length of N bits and the bytes; a date is year
// uint16, month byte, day byte. LoadIndex uses an index only if its CRC checks out and the
// log's record at its position has the hash it records: a log that was replaced, restored
// to an earlier point or rewritten does not match, and the handler then reads the log.
const (
	indexMagic   = "TLCMDIDX"
	indexVersion = 1
	// IndexBytesMax bounds a saved index that LoadIndex reads (about 90 million commands).
	IndexBytesMax = 4 << 30
)

// ErrIndexStale is returned (wrapped) by LoadIndex for an index that does not match the
// log; the handler is left as it was.
var ErrIndexStale = errors.New("commands: saved index does not match the log")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// SaveIndex writes the handler's index of the log, as it stands, to w, and returns the
// position it covers (0: the index is empty and nothing was written, as there is nothing
// to save). It holds up commands for the time it takes to sort the entries indexed since
// the index was loaded, not while writing.
func (h *Handler) SaveIndex(ctx context.Context, w io.Writer) (ledger.Position, error) {
	h.catchMu.Lock() // no catching up meanwhile: the index stays at its checkpoint
	defer h.catchMu.Unlock()
	h.idxMu.Lock()
	pos := h.idx.checkpoint
	base, more := h.idx.commands.base, h.idx.commands.moreSorted()
	grants := make(map[string][]UseGrant, len(h.idx.grants))
	for a, gs := range h.idx.grants {
		if len(gs) > 0 {
			grants[a] = slices.Clone(gs)
		}
	}
	h.idxMu.Unlock()
	if pos == 0 {
		return 0, nil
	}
	hash, err := h.hashAt(ctx, pos)
	if err != nil {
		return 0, err
	}
	crc := crc32.New(castagnoli)
	bw := bufio.NewWriterSize(io.MultiWriter(w, crc), 1<<20)
	var b []byte
	b = append(b, indexMagic...)
	b = append(b, indexVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(pos))
	b = append(b, hash[:]...)
	n := 0
	_ = mergeBase(base, more, func(cmdRecord) error { n++; return nil })
	b = binary.BigEndian.AppendUint64(b, uint64(n))
	err = mergeBase(base, more, func(r cmdRecord) error {
		b = appendCmdRecord(b, r)
		if len(b) >= 1<<20 {
			if _, err := bw.Write(b); err != nil {
				return err
			}
			b = b[:0]
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("save command index: %w", err)
	}
	achievements := make([]string, 0, len(grants))
	for a := range grants {
		achievements = append(achievements, a)
	}
	slices.Sort(achievements)
	b = binary.BigEndian.AppendUint32(b, uint32(len(achievements)))
	for _, a := range achievements {
		b = appendString16(b, a)
		b = binary.BigEndian.AppendUint32(b, uint32(len(grants[a])))
		for _, g := range grants[a] {
			b = appendString16(b, g.ContractID)
			b = append(b, byte(len(g.Exclusivity)))
			b = append(b, g.Exclusivity...)
			b = appendDate(b, g.Term.From)
			b = appendDate(b, g.Term.To)
		}
	}
	if _, err := bw.Write(b); err != nil {
		return 0, fmt.Errorf("save command index: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return 0, fmt.Errorf("save command index: %w", err)
	}
	if _, err := w.Write(binary.BigEndian.AppendUint32(nil, crc.Sum32())); err != nil {
		return 0, fmt.Errorf("save command index: %w", err)
	}
	return pos, nil
}

// IndexPosition returns the position the handler's index covers.
func (h *Handler) IndexPosition() ledger.Position {
	h.idxMu.Lock()
	defer h.idxMu.Unlock()
	return h.idx.checkpoint
}

// CatchUp brings the handler's index up to the log's head, as the first command would:
// a server calls it at start so that its first command does not wait for it.
func (h *Handler) CatchUp(ctx context.Context) error { return h.catchUp(ctx) }

// LoadIndex reads an index SaveIndex wrote and installs it if it matches the log (the
// record at its position has the hash it records), returning the position it covers.
// It must be called before the handler's first command. An index that does not match is
// refused with an error wrapping ErrIndexStale, a malformed one with another error; in
// both cases the handler is left as it was (and builds its index from the log).
func (h *Handler) LoadIndex(ctx context.Context, r io.Reader) (ledger.Position, error) {
	buf, err := io.ReadAll(io.LimitReader(r, IndexBytesMax+1))
	if err != nil {
		return 0, fmt.Errorf("load command index: %w", err)
	}
	return h.LoadIndexBytes(ctx, buf)
}

// LoadIndexBytes is LoadIndex of the index held in buf, which the handler then answers
// from in place, without copying its entries: buf must stay valid and unchanged for as
// long as the handler is used. A server passes a read-only mapping of the file, so that a
// large index costs one pass to check it at start, not reading it into memory
// (cmd/techledger does).
func (h *Handler) LoadIndexBytes(ctx context.Context, buf []byte) (ledger.Position, error) {
	if len(buf) > IndexBytesMax {
		return 0, fmt.Errorf("load command index: larger than IndexBytesMax (%d bytes)", IndexBytesMax)
	}
	x, hash, err := parseIndex(buf)
	if err != nil {
		return 0, fmt.Errorf("load command index: %w", err)
	}
	got, err := h.hashAt(ctx, x.checkpoint)
	if err != nil {
		return 0, fmt.Errorf("load command index: %w: %v", ErrIndexStale, err)
	}
	if got != hash {
		return 0, fmt.Errorf("load command index: %w: the log's record at position %d has another hash", ErrIndexStale, x.checkpoint)
	}
	h.catchMu.Lock()
	defer h.catchMu.Unlock()
	h.idxMu.Lock()
	defer h.idxMu.Unlock()
	if h.idx.checkpoint != 0 || len(h.idx.ahead) != 0 {
		return 0, errors.New("load command index: the handler has indexed the log already")
	}
	x.durable = x.checkpoint
	h.idx = *x
	return x.checkpoint, nil
}

// UseSavedIndex makes the handler answer from buf, an index this handler's SaveIndex wrote
// (read back from where it was kept), instead of the one it answered from: the commands it
// held in memory since, that buf holds alike, are dropped, so that memory stays bounded
// while a server runs. buf must stay valid as for LoadIndexBytes; the index the handler
// answered from before is no longer used once UseSavedIndex returns without an error (a
// caller that mapped it may unmap it). It must not run concurrently with SaveIndex. An
// index that does not match the log, or is ahead of the handler's, is refused and the
// handler left as it was.
func (h *Handler) UseSavedIndex(ctx context.Context, buf []byte) (ledger.Position, error) {
	x, hash, err := parseIndex(buf)
	if err != nil {
		return 0, fmt.Errorf("use command index: %w", err)
	}
	got, err := h.hashAt(ctx, x.checkpoint)
	if err != nil || got != hash {
		return 0, fmt.Errorf("use command index: %w: the log's record at position %d has another hash", ErrIndexStale, x.checkpoint)
	}
	h.idxMu.Lock()
	defer h.idxMu.Unlock()
	if x.checkpoint > h.idx.checkpoint {
		return 0, fmt.Errorf("use command index: it covers position %d, the handler only %d", x.checkpoint, h.idx.checkpoint)
	}
	saved := cmdIndex{base: x.commands.base}
	for k, e := range h.idx.commands.more {
		if se, ok := saved.getKey(k); ok && se == e {
			delete(h.idx.commands.more, k)
		}
	}
	h.idx.commands.base = x.commands.base
	return x.checkpoint, nil
}

// hashAt returns the hash of the record at position p of the log.
func (h *Handler) hashAt(ctx context.Context, p ledger.Position) (ledger.Hash, error) {
	for rec, err := range h.log.ReadAll(ctx, p) {
		if err != nil {
			return ledger.Hash{}, fmt.Errorf("read position %d: %w", p, err)
		}
		if rec.Position != p {
			break
		}
		return rec.Hash, nil
	}
	return ledger.Hash{}, fmt.Errorf("the log has no position %d", p)
}

func parseIndex(buf []byte) (*logIndex, ledger.Hash, error) {
	var hash ledger.Hash
	head := len(indexMagic) + 1 + 8 + 32 + 8
	if len(buf) < head+4+4 || string(buf[:len(indexMagic)]) != indexMagic {
		return nil, hash, errors.New("not a command index")
	}
	if v := buf[len(indexMagic)]; v != indexVersion {
		return nil, hash, fmt.Errorf("command index version %d, want %d", v, indexVersion)
	}
	body := buf[:len(buf)-4]
	if got, want := crc32.Checksum(body, castagnoli), binary.BigEndian.Uint32(buf[len(buf)-4:]); got != want {
		return nil, hash, fmt.Errorf("command index crc mismatch: says %08x, content has %08x", want, got)
	}
	d := body[len(indexMagic)+1:]
	x := newLogIndex()
	x.checkpoint = ledger.Position(binary.BigEndian.Uint64(d))
	copy(hash[:], d[8:40])
	n := binary.BigEndian.Uint64(d[40:])
	d = d[48:]
	bad := func(what string) error { return fmt.Errorf("command index is malformed: %s", what) }
	if x.checkpoint == 0 || n > uint64(len(d)/cmdEntryBytes) {
		return nil, hash, bad("counts do not fit the file")
	}
	// The entries are answered from buf in place: checking each here would read the
	// whole index again at every start. The CRC covers damage; what SaveIndex writes is
	// sorted and complete (TestHandler_SaveLoadIndex).
	base := d[: n*cmdEntryBytes : n*cmdEntryBytes]
	d = d[n*cmdEntryBytes:]
	x.commands.base = base
	rd := reader{d: d}
	nach := rd.u32()
	for range nach {
		a := rd.str(2)
		ng := rd.u32()
		if rd.err != nil || ng > uint32(len(rd.d)) {
			return nil, hash, bad("grants")
		}
		gs := make([]UseGrant, 0, ng)
		for range ng {
			g := UseGrant{ContractID: rd.str(2), Exclusivity: rd.str(1)}
			g.Term.From, g.Term.To = rd.date(), rd.date()
			gs = append(gs, g)
			x.achieves[g.ContractID] = a
		}
		x.grants[a] = gs
	}
	if rd.err != nil || len(rd.d) != 0 {
		return nil, hash, bad("grants")
	}
	return &x, hash, nil
}

// reader reads the saved index's strings and dates, remembering the first shortfall.
type reader struct {
	d   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil || len(r.d) < n {
		r.err = io.ErrUnexpectedEOF
		return make([]byte, n)
	}
	b := r.d[:n]
	r.d = r.d[n:]
	return b
}

func (r *reader) u32() uint32 { return binary.BigEndian.Uint32(r.take(4)) }

func (r *reader) str(lenBytes int) string {
	var n int
	if lenBytes == 1 {
		n = int(r.take(1)[0])
	} else {
		n = int(binary.BigEndian.Uint16(r.take(2)))
	}
	return string(r.take(n))
}

func (r *reader) date() ledger.Date {
	b := r.take(4)
	return ledger.Date{Year: int(binary.BigEndian.Uint16(b)), Month: time.Month(b[2]), Day: int(b[3])}
}

func appendString16(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

func appendDate(b []byte, d ledger.Date) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(d.Year))
	return append(b, byte(d.Month), byte(d.Day))
}
