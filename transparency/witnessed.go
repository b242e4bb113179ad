package transparency

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// This file is the log's side of tlog-witness: Run submits each new checkpoint, with a
// consistency proof, to the witnesses of Options.Witnesses, and Latest publishes the
// checkpoint with the cosignature lines they returned.

// CosignatureBytesMax bounds the cosignature lines one witness may return.
const CosignatureBytesMax = 4 << 10

// witnessTimeout bounds one add-checkpoint request.
const witnessTimeout = 10 * time.Second

// witnessClient submits checkpoints to one witness.
type witnessClient struct {
	url    string // the witness's submission prefix
	size   int64  // the size of the latest checkpoint it cosigned, as far as known
	client *http.Client
}

// cosigned is the latest checkpoint that witnesses cosigned and their lines.
type cosigned struct {
	mu    sync.Mutex
	cp    Checkpoint
	lines []byte
	at    time.Time
}

// witnessLoop submits the latest checkpoint to every witness when it changes, and again
// after ResignInterval (a fresh cosignature is the checkpoint's freshness), until ctx is
// done.
func (l *Log) witnessLoop(ctx context.Context) {
	tick := time.NewTicker(l.opts.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		cp, msg := l.cps.Latest()
		if msg == nil {
			continue
		}
		l.cosigs.mu.Lock()
		fresh := l.cosigs.cp == cp && time.Since(l.cosigs.at) < l.opts.ResignInterval
		l.cosigs.mu.Unlock()
		if fresh {
			continue
		}
		var lines []byte
		for _, w := range l.witnesses {
			sig, err := l.submit(ctx, w, cp, msg)
			if err != nil {
				if ctx.Err() == nil {
					l.opts.Logger.Warn("transparency: witness did not cosign", "witness", w.url, "size", cp.Size, "err", err)
				}
				continue
			}
			lines = append(lines, sig...)
		}
		l.cosigs.mu.Lock()
		l.cosigs.cp, l.cosigs.lines, l.cosigs.at = cp, lines, time.Now()
		l.cosigs.mu.Unlock()
	}
}

// submit asks witness w to cosign the checkpoint cp (signed note msg) and returns its
// cosignature lines, checked to keep the note well formed. A 409 teaches it the witness's
// size, and it tries once more from there.
func (l *Log) submit(ctx context.Context, w *witnessClient, cp Checkpoint, msg []byte) ([]byte, error) {
	for range 2 {
		if w.size > cp.Size {
			return nil, fmt.Errorf("the witness cosigned size %d, larger than this log's %d", w.size, cp.Size)
		}
		var body []byte
		if w.size == 0 || w.size == cp.Size {
			body = FormatAddCheckpoint(w.size, nil, msg)
		} else {
			p, err := l.tree.ConsistencyProof(w.size, cp.Size)
			if err != nil {
				return nil, err
			}
			body = FormatAddCheckpoint(w.size, p, msg)
		}
		status, resp, err := post(ctx, w, body)
		if err != nil {
			return nil, err
		}
		switch status {
		case http.StatusOK:
			if err := checkCosignatures(msg, resp, l.verifier); err != nil {
				return nil, err
			}
			w.size = cp.Size
			return resp, nil
		case http.StatusConflict:
			n, err := strconv.ParseInt(strings.TrimSuffix(string(resp), "\n"), 10, 64)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("409 Conflict without a size: %q", resp)
			}
			if n == w.size {
				return nil, fmt.Errorf("409 Conflict at size %d: the witness holds another checkpoint of this size (a fork?)", n)
			}
			w.size = n
		default:
			return nil, fmt.Errorf("%d %s: %s", status, http.StatusText(status), bytes.TrimSpace(resp))
		}
	}
	return nil, fmt.Errorf("the witness's size keeps changing (now %d)", w.size)
}

func post(ctx context.Context, w *witnessClient, body []byte) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, witnessTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(w.url, "/")+"/add-checkpoint", bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, CosignatureBytesMax+1))
	if err != nil {
		return 0, nil, err
	}
	if len(b) > CosignatureBytesMax {
		return 0, nil, fmt.Errorf("answer exceeds %d bytes", CosignatureBytesMax)
	}
	return resp.StatusCode, b, nil
}

// checkCosignatures checks that lines are signature lines that, appended to the signed
// note msg, leave a note that still verifies with the log's key.
func checkCosignatures(msg, lines []byte, v note.Verifier) error {
	if len(lines) == 0 || !bytes.HasSuffix(lines, []byte("\n")) {
		return fmt.Errorf("not cosignature lines: %q", lines)
	}
	for _, line := range strings.SplitAfter(strings.TrimSuffix(string(lines), "\n"), "\n") {
		if !strings.HasPrefix(line, "— ") {
			return fmt.Errorf("not a cosignature line: %q", line)
		}
	}
	if _, err := note.Open(append(bytes.Clone(msg), lines...), note.VerifierList(v)); err != nil {
		return fmt.Errorf("the cosigned note does not open: %w", err)
	}
	return nil
}
