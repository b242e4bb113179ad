package transparency

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sync"

	"golang.org/x/mod/sumdb/note"
)

// NoteBytesMax bounds one signed checkpoint note (persisted, fetched or read from a bundle).
const NoteBytesMax = 16 << 10

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checkpoints is the append-only file of every checkpoint the log signed, in signing
// order: frames of a 4-byte big-endian length, a 4-byte CRC-32C and the signed note. A
// checkpoint is written and fsynced here before it is published.
type checkpoints struct {
	mu     sync.RWMutex
	f      *os.File
	path   string
	size   int64            // file size
	bySize map[int64][]byte // signed note of each size (the latest signed for that size)
	latest []byte
	last   Checkpoint
}

// openCheckpoints reads the file at path, checking every note with v. A torn last frame (a
// crash during its write: it was never published) is cut off; any other damage, a note
// that does not verify, or a checkpoint inconsistent with the one before it (a smaller
// size, or the same size with another root) refuses the open.
func openCheckpoints(path string, v note.Verifier) (*checkpoints, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open checkpoints: %w", err)
	}
	c := &checkpoints{f: f, path: path, bySize: make(map[int64][]byte)}
	if err := c.load(v); err != nil {
		f.Close()
		return nil, err
	}
	return c, nil
}

func (c *checkpoints) load(v note.Verifier) error {
	data, err := io.ReadAll(c.f)
	if err != nil {
		return fmt.Errorf("read checkpoints %s: %w", c.path, err)
	}
	off := 0
	for off < len(data) {
		rest := data[off:]
		if len(rest) < 8 {
			break // torn header
		}
		n := int(binary.BigEndian.Uint32(rest))
		if n > NoteBytesMax {
			return fmt.Errorf("checkpoints %s offset %d: frame of %d bytes exceeds NoteBytesMax", c.path, off, n)
		}
		if len(rest) < 8+n {
			break // torn body
		}
		msg := rest[8 : 8+n]
		if crc32.Checksum(msg, castagnoli) != binary.BigEndian.Uint32(rest[4:]) {
			if off+8+n == len(data) {
				break // torn last frame
			}
			return fmt.Errorf("checkpoints %s offset %d: CRC mismatch", c.path, off)
		}
		cp, err := openCheckpoint(msg, v)
		if err != nil {
			return fmt.Errorf("checkpoints %s offset %d: %w", c.path, off, err)
		}
		if c.latest != nil && (cp.Size < c.last.Size || cp.Size == c.last.Size && cp.Root != c.last.Root) {
			return fmt.Errorf("checkpoints %s offset %d: size %d root %s is inconsistent with the checkpoint before it (size %d root %s)", c.path, off, cp.Size, cp.Root, c.last.Size, c.last.Root)
		}
		c.bySize[cp.Size] = msg
		c.latest, c.last = msg, cp
		off += 8 + n
	}
	if off < len(data) {
		if err := c.f.Truncate(int64(off)); err != nil {
			return fmt.Errorf("truncate torn checkpoint in %s: %w", c.path, err)
		}
	}
	c.size = int64(off)
	return nil
}

// Latest returns the last checkpoint persisted and its signed note (nil if none).
func (c *checkpoints) Latest() (Checkpoint, []byte) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.last, c.latest
}

// At returns the signed note of the checkpoint of size n, or ErrNotSigned.
func (c *checkpoints) At(n int64) ([]byte, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	msg, ok := c.bySize[n]
	if !ok {
		return nil, fmt.Errorf("checkpoint of size %d: %w", n, ErrNotSigned)
	}
	return msg, nil
}

// Signed reports whether n is a signed size.
func (c *checkpoints) Signed(n int64) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	_, ok := c.bySize[n]
	return ok
}

// add persists (write, fsync) a signed checkpoint, then publishes it. It refuses one
// inconsistent with the latest (the caller checked consistency of the tree; this is the
// pair assertion).
func (c *checkpoints) add(cp Checkpoint, msg []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.latest != nil && (cp.Size < c.last.Size || cp.Size == c.last.Size && cp.Root != c.last.Root) {
		panic(fmt.Sprintf("transparency: signing size %d root %s after size %d root %s", cp.Size, cp.Root, c.last.Size, c.last.Root))
	}
	if len(msg) > NoteBytesMax {
		return fmt.Errorf("persist checkpoint: %d bytes exceed NoteBytesMax", len(msg))
	}
	frame := make([]byte, 8, 8+len(msg))
	binary.BigEndian.PutUint32(frame, uint32(len(msg)))
	binary.BigEndian.PutUint32(frame[4:], crc32.Checksum(msg, castagnoli))
	frame = append(frame, msg...)
	if _, err := c.f.WriteAt(frame, c.size); err != nil {
		return fmt.Errorf("persist checkpoint of size %d: %w", cp.Size, err)
	}
	if err := c.f.Sync(); err != nil {
		return fmt.Errorf("persist checkpoint of size %d: sync: %w", cp.Size, err)
	}
	c.size += int64(len(frame))
	c.bySize[cp.Size] = msg
	c.latest, c.last = msg, cp
	return nil
}

func (c *checkpoints) close() error { return c.f.Close() }

// Errors a Log returns; match them with errors.Is.
var (
	// ErrNotSigned: a proof or checkpoint was asked for at a size the log never signed.
	ErrNotSigned = errors.New("transparency: size not signed")
	// ErrOutOfRange: an index or size outside the tree.
	ErrOutOfRange = errors.New("transparency: out of range")
	// ErrNoCheckpoint: the log has signed nothing yet.
	ErrNoCheckpoint = errors.New("transparency: no signed checkpoint yet")
	// ErrNoSigner: SignNow on a Log opened without a Signer.
	ErrNoSigner = errors.New("transparency: no signing key")
	// ErrNotFound: no records for the contract at the signed size.
	ErrNotFound = errors.New("transparency: contract not found")
)
