package filestore

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"techledger/ledger"
)

// On-disk format.
//
// A data directory holds a LOCK file and segment files named by the position of their
// first record, zero-padded to 20 digits ("00000000000000000001.seg"), so that names sort
// in log order. A segment starts with a 16-byte header (the magic "TLSEG\x00\x00\x01" and
// the first position, big-endian) and continues with frames. A frame holds exactly one
// Append batch, so a batch is either wholly in the log or not at all:
//
//	frame  = length uint32 | crc uint32 | payload[length]      (big-endian; crc is CRC-32C of payload)
//	payload = record*
//	record = n uint32 | ledger.Record.AppendBinary encoding[n]
//
// The SHA-256 chain inside the records runs across frames and segments, over the whole log.
const (
	segmentExt    = ".seg"
	headerBytes   = 16
	frameHeader   = 8
	recordPrefix  = 4
	lockName      = "LOCK"
	segmentMagic  = "TLSEG\x00\x00\x01"
	segmentDigits = 20
)

// FrameBytesMax bounds one frame: a full batch of the largest events fits with room for
// the envelope. A length above it is corruption, not a frame.
const FrameBytesMax = ledger.EventsPerAppendMax*(ledger.EventBytesMax+2*ledger.StreamBytesMax+ledger.TypeBytesMax+256) + frameHeader

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func segmentName(first ledger.Position) string {
	return fmt.Sprintf("%0*d%s", segmentDigits, first, segmentExt)
}

// listSegments returns the segment files of dir in log order with the first position
// their names give.
func listSegments(fsys FS, dir string) ([]segment, error) {
	entries, err := fsys.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	var segs []segment
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, segmentExt) {
			continue
		}
		first, err := strconv.ParseUint(strings.TrimSuffix(name, segmentExt), 10, 64)
		if err != nil || len(name) != segmentDigits+len(segmentExt) || first == 0 {
			return nil, &ledger.CorruptionError{Location: "segment " + name, Reason: "segment file name is not a 20-digit first position"}
		}
		segs = append(segs, segment{name: name, path: filepath.Join(dir, name), first: ledger.Position(first)})
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].first < segs[j].first })
	return segs, nil
}

func segmentHeader(first ledger.Position) []byte {
	h := make([]byte, 0, headerBytes)
	h = append(h, segmentMagic...)
	return binary.BigEndian.AppendUint64(h, uint64(first))
}

// visitFunc receives each record's encoding in a segment with its offset. b aliases a
// buffer that is reused after visit returns. A *ledger.CorruptionError it returns without
// a location is given the record's.
type visitFunc func(b []byte, off int64) error

// scanResult says where the good part of a segment ends.
type scanResult struct {
	end  int64 // offset just past the last whole, valid frame
	torn bool  // bytes after end are a torn, unacknowledged tail (only when last is set)
	size int64 // file size
}

// scanSegment reads a segment's frames in order from offset start (0 for the beginning:
// the header is checked and skipped; otherwise the offset of a frame, next being the
// position of its first record), checks each frame's length and CRC, and passes each
// record's encoding to visit, which decodes it and checks its position. In the last segment (last set) an
// incomplete frame at the end, or a tail of zero bytes, is a torn write that was never
// acknowledged; it is reported as torn, not as an error. Anything else that does not check
// out is a *ledger.CorruptionError naming the segment, the offset and the position.
func scanSegment(seg segment, start int64, next ledger.Position, last bool, visit visitFunc) (scanResult, error) {
	st, err := seg.rf.Stat()
	if err != nil {
		return scanResult{}, fmt.Errorf("stat segment %s: %w", seg.name, err)
	}
	res := scanResult{size: st.Size()}
	corrupt := func(off int64, pos ledger.Position, format string, args ...any) error {
		return &ledger.CorruptionError{Position: pos, Location: fmt.Sprintf("segment %s offset %d", seg.name, off), Reason: fmt.Sprintf(format, args...)}
	}
	f := io.NewSectionReader(seg.rf, 0, res.size)
	hdr := make([]byte, headerBytes)
	if _, err := io.ReadFull(f, hdr); err != nil {
		return res, corrupt(0, seg.first, "segment header: %v", err)
	}
	if string(hdr[:8]) != segmentMagic {
		return res, corrupt(0, seg.first, "segment header: bad magic %q", hdr[:8])
	}
	if got := ledger.Position(binary.BigEndian.Uint64(hdr[8:])); got != seg.first {
		return res, corrupt(0, seg.first, "segment header says first position %d, file name says %d", got, seg.first)
	}
	off := int64(headerBytes)
	if start > off {
		off = start
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			return res, fmt.Errorf("seek segment %s offset %d: %w", seg.name, off, err)
		}
	}
	// Up to 1 MiB at a time, but no more than the segment holds: a log of many small
	// segments (or Verify of one) would otherwise allocate 1 MiB per segment read.
	r := bufio.NewReaderSize(f, int(min(1<<20, max(res.size-off, 0))))
	var payload []byte
	var fh [frameHeader]byte
	// tornOrCorrupt decides what a bad frame at off is: a torn tail if this is the last
	// segment and everything from off to the end is either an incomplete frame or zeros.
	tornOrCorrupt := func(incomplete bool, format string, args ...any) (scanResult, error) {
		res.end = off
		if last && (incomplete || zeroTail(seg.rf, off, res.size)) {
			res.torn = true
			return res, nil
		}
		return res, corrupt(off, next, format, args...)
	}
	for off < res.size {
		if res.size-off < frameHeader {
			return tornOrCorrupt(true, "frame header cut short (%d bytes left)", res.size-off)
		}
		if _, err := io.ReadFull(r, fh[:]); err != nil {
			return res, fmt.Errorf("read segment %s offset %d: %w", seg.name, off, err)
		}
		n := int64(binary.BigEndian.Uint32(fh[:4]))
		sum := binary.BigEndian.Uint32(fh[4:])
		if n == 0 || n > FrameBytesMax {
			return tornOrCorrupt(false, "frame length %d out of range", n)
		}
		if off+frameHeader+n > res.size {
			if endsBefore(seg.rf, off, res.size, sum) {
				return res, corrupt(off, next, "frame length %d runs past the end of the segment, but its crc matches the records up to an earlier end: the length is damaged", n)
			}
			return tornOrCorrupt(true, "frame of %d bytes runs past the end of the segment", n)
		}
		if cap(payload) < int(n) {
			payload = make([]byte, n)
		}
		payload = payload[:n]
		if _, err := io.ReadFull(r, payload); err != nil {
			return res, fmt.Errorf("read segment %s offset %d: %w", seg.name, off, err)
		}
		if got := crc32.Checksum(payload, castagnoli); got != sum {
			return tornOrCorrupt(false, "crc mismatch: frame says %08x, payload has %08x", sum, got)
		}
		for p := 0; p < len(payload); {
			recOff := off + frameHeader + int64(p)
			if len(payload)-p < recordPrefix {
				return res, corrupt(recOff, next, "record length cut short inside a frame")
			}
			rn := int(binary.BigEndian.Uint32(payload[p:]))
			p += recordPrefix
			if rn > len(payload)-p {
				return res, corrupt(recOff, next, "record of %d bytes runs past its frame", rn)
			}
			if err := visit(payload[p:p+rn], recOff+recordPrefix); err != nil {
				var ce *ledger.CorruptionError
				if errors.As(err, &ce) && ce.Location == "" {
					ce.Location = fmt.Sprintf("segment %s offset %d", seg.name, recOff)
				}
				return res, err
			}
			next++
			p += rn
		}
		off += frameHeader + n
	}
	res.end = off
	return res, nil
}

// endsBefore reports whether the frame at off, whose length runs past size, is in fact
// whole with a damaged length: the records after its header, walked by their own
// lengths, reach a point where the CRC of what they cover is the frame's CRC. A frame
// torn by a crash never is (its CRC covers bytes that are missing), but a bit flipped in
// the length of a whole frame must not pass for a torn tail, which Open would cut off
// with every acknowledged record from there on.
func endsBefore(f io.ReaderAt, off, size int64, sum uint32) bool {
	b := make([]byte, size-off-frameHeader)
	if n, _ := f.ReadAt(b, off+frameHeader); n != len(b) {
		return false
	}
	var crc uint32
	for p := 0; len(b)-p >= recordPrefix; {
		rn := int(binary.BigEndian.Uint32(b[p:]))
		if rn > len(b)-p-recordPrefix {
			return false
		}
		crc = crc32.Update(crc, castagnoli, b[p:p+recordPrefix+rn])
		p += recordPrefix + rn
		if crc == sum {
			return true
		}
	}
	return false
}

// zeroTail reports whether every byte of f from off to size is zero, as a file extended by
// a crash before its data was written reads.
func zeroTail(f io.ReaderAt, off, size int64) bool {
	buf := make([]byte, 64<<10)
	for off < size {
		n, err := f.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		if !bytes.Equal(buf[:n], make([]byte, n)) {
			return false
		}
		if err != nil && n == 0 {
			return false
		}
		off += int64(n)
	}
	return true
}

// createSegment durably creates an empty segment starting at first: header written and
// synced under a temporary name, renamed into place, directory synced. A crash leaves
// either no segment or a whole header, never a torn one.
func createSegment(fsys FS, dir string, first ledger.Position) (segment, File, error) {
	name := segmentName(first)
	tmp := filepath.Join(dir, name+".tmp")
	f, err := fsys.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return segment{}, nil, fmt.Errorf("create segment %s: %w", name, err)
	}
	fail := func(err error) (segment, File, error) {
		f.Close()
		fsys.Remove(tmp)
		return segment{}, nil, fmt.Errorf("create segment %s: %w", name, err)
	}
	if _, err := f.Write(segmentHeader(first)); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	path := filepath.Join(dir, name)
	if err := fsys.Rename(tmp, path); err != nil {
		return fail(err)
	}
	if err := fsys.SyncDir(dir); err != nil {
		return fail(err)
	}
	return segment{name: name, path: path, first: first}, f, nil
}
