// Package rawlog is the baseline the ledger's benchmarks measure themselves against: records
// framed with length + CRC-32C appended to a plain file by one writer goroutine with the
// same fsync discipline as the filestore (group commit, or one fsync per record), and
// nothing else — no hashing, no index, no envelope. It is test tooling, not a store.
package rawlog

import (
	"encoding/binary"
	"hash/crc32"
	"os"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// groupMax bounds how many waiting appends one fsync covers, as in the filestore.
const groupMax = 1024

// Log is a durable framed append-only file.
type Log struct {
	f    *os.File
	reqs chan *req
	done chan struct{}
}

type req struct {
	data []byte
	err  error
	ch   chan struct{}
}

// Open creates the file at path. With group set, every append waiting when the writer is
// free shares one write and one fsync; otherwise each append gets its own.
func Open(path string, group bool) (*Log, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	l := &Log{f: f, reqs: make(chan *req, groupMax), done: make(chan struct{})}
	go l.run(group)
	return l, nil
}

func (l *Log) run(group bool) {
	defer close(l.done)
	var buf []byte
	batch := make([]*req, 0, groupMax)
	for r := range l.reqs {
		batch = append(batch[:0], r)
	drain:
		for group && len(batch) < groupMax {
			select {
			case r2, ok := <-l.reqs:
				if !ok {
					break drain
				}
				batch = append(batch, r2)
			default:
				break drain
			}
		}
		buf = buf[:0]
		for _, r := range batch {
			buf = binary.BigEndian.AppendUint32(buf, uint32(len(r.data)))
			buf = binary.BigEndian.AppendUint32(buf, crc32.Checksum(r.data, castagnoli))
			buf = append(buf, r.data...)
		}
		_, err := l.f.Write(buf)
		if err == nil {
			err = l.f.Sync()
		}
		for _, r := range batch {
			r.err = err
			close(r.ch)
		}
	}
}

// Append writes data as one frame and returns after the fsync that covers it.
func (l *Log) Append(data []byte) error {
	r := &req{data: data, ch: make(chan struct{})}
	l.reqs <- r
	<-r.ch
	return r.err
}

// Close waits for pending appends and closes the file.
func (l *Log) Close() error {
	close(l.reqs)
	<-l.done
	return l.f.Close()
}
