package transparency

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// This file is a witness (C2SP tlog-witness): it keeps, for each log it knows, the latest
// checkpoint it cosigned, and cosigns a new checkpoint of that log only when the log signed
// it and a consistency proof shows that it extends that latest one. Its cosignatures are
// C2SP tlog-cosignature (cosignature/v1, Ed25519, timestamped), made by
// github.com/transparency-dev/formats/note.

// WitnessStateFile is the name of the witness's state in WitnessOptions.Dir.
const WitnessStateFile = "witness.state"

// WitnessProofHashesMax is the most consistency proof lines an add-checkpoint request may
// carry (tlog-witness).
const WitnessProofHashesMax = 63

// WitnessRequestBytesMax bounds an add-checkpoint request body.
const WitnessRequestBytesMax = 16 + WitnessProofHashesMax*45 + 1 + NoteBytesMax

// WitnessOptions configure a Witness.
type WitnessOptions struct {
	// Dir holds the witness's state (created if needed). Losing it lets the witness cosign
	// a fork: a witness whose state is lost must get a new key.
	Dir string
	// SignerKey is the witness's Ed25519 note signer key (as GenerateKey writes it; its
	// name is the witness's name).
	SignerKey string
	// LogKeys are the verifier keys of the logs it witnesses. A log's origin is its key's
	// name; several keys of one name (a key rotation) are each accepted.
	LogKeys []string
	// Logger receives the refused requests that are evidence (default slog.Default()).
	Logger *slog.Logger
}

// Witness cosigns the checkpoints of the logs it knows, never two inconsistent ones of one
// log. It is safe for concurrent use: checking a request against the latest checkpoint and
// persisting the new one happen under one lock.
type Witness struct {
	cosigner note.Signer
	vkey     string
	logs     map[string][]note.Verifier
	path     string
	logger   *slog.Logger

	mu     sync.Mutex
	latest map[string]witnessed // origin → latest cosigned checkpoint
}

type witnessed struct {
	cp   Checkpoint
	note []byte // the log's signed note
}

// WitnessError is an add-checkpoint request refused. Status is the HTTP status the
// tlog-witness protocol gives it: 400 malformed or old size larger than the checkpoint's,
// 403 no trusted signature, 404 unknown origin, 409 old size not the latest cosigned, or
// same size with another root (Size is then the latest cosigned size), 422 the
// consistency proof does not verify.
type WitnessError struct {
	Status int
	Size   int64
	Reason string
}

func (e *WitnessError) Error() string { return "witness: " + e.Reason }

// OpenWitness opens the witness kept in opts.Dir. A state that does not verify with the
// configured log keys refuses to open.
func OpenWitness(opts WitnessOptions) (*Witness, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	_, vkey, err := ParseSignerKey(opts.SignerKey)
	if err != nil {
		return nil, fmt.Errorf("witness: %w", err)
	}
	cosigner, err := fnote.NewSignerForCosignatureV1(strings.TrimSpace(opts.SignerKey))
	if err != nil {
		return nil, errors.New("witness: signing key: not an Ed25519 note signer key")
	}
	if vkey, err = fnote.VKeyToCosignatureV1(vkey); err != nil {
		return nil, fmt.Errorf("witness: cosignature verifier key: %w", err)
	}
	w := &Witness{cosigner: cosigner, vkey: vkey, logs: map[string][]note.Verifier{}, logger: opts.Logger,
		path: filepath.Join(opts.Dir, WitnessStateFile), latest: map[string]witnessed{}}
	for _, k := range opts.LogKeys {
		v, err := note.NewVerifier(strings.TrimSpace(k))
		if err != nil {
			return nil, fmt.Errorf("witness: log key %q: %w", k, err)
		}
		w.logs[v.Name()] = append(w.logs[v.Name()], v)
	}
	if len(w.logs) == 0 {
		return nil, errors.New("witness: no log key")
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("witness: %w", err)
	}
	if err := w.load(); err != nil {
		return nil, err
	}
	return w, nil
}

// VerifierKey returns the witness's cosignature verifier key (C2SP tlog-cosignature,
// Ed25519, type 0x04), which clients configure to check its cosignatures (see
// NewCosignatureVerifier).
func (w *Witness) VerifierKey() string { return w.vkey }

// NewCosignatureVerifier returns a note verifier of cosignatures by the witness whose
// verifier key is vkey (Witness.VerifierKey).
func NewCosignatureVerifier(vkey string) (note.Verifier, error) {
	v, err := fnote.NewVerifierForCosignatureV1(strings.TrimSpace(vkey))
	if err != nil {
		return nil, fmt.Errorf("cosignature verifier key: %w", err)
	}
	return v, nil
}

// Latest returns the latest checkpoint of origin the witness cosigned and the log's
// signed note, or ok false.
func (w *Witness) Latest(origin string) (cp Checkpoint, signed []byte, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	l, ok := w.latest[origin]
	return l.cp, l.note, ok
}

// AddCheckpoint is tlog-witness's add-checkpoint: signed is a checkpoint note, oldSize the
// size of the latest checkpoint of its log that the caller believes this witness cosigned
// (0 if none), proof a consistency proof from that checkpoint. If the log signed it and it
// extends the latest cosigned checkpoint (same size: same root), the witness records it
// (persisted before returning) and returns its cosignature lines ("— name base64\n").
// Otherwise it returns a *WitnessError and records nothing.
func (w *Witness) AddCheckpoint(oldSize int64, proof tlog.TreeProof, signed []byte) ([]byte, error) {
	refuse := func(status int, format string, args ...any) ([]byte, error) {
		return nil, &WitnessError{Status: status, Reason: fmt.Sprintf(format, args...)}
	}
	switch {
	case len(signed) > NoteBytesMax:
		return refuse(http.StatusBadRequest, "checkpoint of %d bytes exceeds NoteBytesMax (%d)", len(signed), NoteBytesMax)
	case len(proof) > WitnessProofHashesMax:
		return refuse(http.StatusBadRequest, "consistency proof of %d hashes exceeds %d", len(proof), WitnessProofHashesMax)
	case oldSize < 0:
		return refuse(http.StatusBadRequest, "old size %d is negative", oldSize)
	}
	origin, _, _ := bytes.Cut(signed, []byte("\n"))
	keys, ok := w.logs[string(origin)]
	if !ok {
		return refuse(http.StatusNotFound, "unknown log origin %q", origin)
	}
	n, err := note.Open(signed, note.VerifierList(keys...))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		if errors.As(err, &unverified) || errors.As(err, &invalid) {
			return refuse(http.StatusForbidden, "checkpoint of %q: no valid signature by a trusted key of the log", origin)
		}
		return refuse(http.StatusBadRequest, "checkpoint: %v", err)
	}
	cp, err := ParseCheckpoint(n.Text)
	if err != nil {
		return refuse(http.StatusBadRequest, "%v", err)
	}
	if oldSize > cp.Size {
		return refuse(http.StatusBadRequest, "old size %d is larger than the checkpoint's size %d", oldSize, cp.Size)
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	last, seen := w.latest[cp.Origin]
	if oldSize != last.cp.Size {
		return nil, &WitnessError{Status: http.StatusConflict, Size: last.cp.Size,
			Reason: fmt.Sprintf("old size %d is not the size of the latest checkpoint of %q this witness cosigned (%d)", oldSize, cp.Origin, last.cp.Size)}
	}
	switch {
	case seen && cp.Size == last.cp.Size:
		if cp.Root != last.cp.Root {
			w.evidence("fork: two checkpoints of one size with different roots", last.note, signed)
			return nil, &WitnessError{Status: http.StatusConflict, Size: last.cp.Size,
				Reason: fmt.Sprintf("fork: checkpoint of %q at size %d has root %s, the one cosigned has %s", cp.Origin, cp.Size, cp.Root, last.cp.Root)}
		}
	case oldSize == 0:
		if len(proof) != 0 {
			return refuse(http.StatusBadRequest, "old size 0 takes an empty consistency proof, not %d hashes", len(proof))
		}
	default:
		if err := tlog.CheckTree(proof, cp.Size, cp.Root, last.cp.Size, last.cp.Root); err != nil {
			w.evidence("fork: a checkpoint that does not extend the latest cosigned", last.note, signed)
			return refuse(http.StatusUnprocessableEntity, "the consistency proof from size %d (root %s) to size %d (root %s) does not verify", last.cp.Size, last.cp.Root, cp.Size, cp.Root)
		}
	}
	if !seen || cp.Size > last.cp.Size {
		next := maps.Clone(w.latest)
		next[cp.Origin] = witnessed{cp: cp, note: signed}
		if err := w.save(next); err != nil {
			return nil, err
		}
		w.latest = next
	}
	cosigned, err := note.Sign(&note.Note{Text: n.Text}, w.cosigner)
	if err != nil {
		return nil, fmt.Errorf("witness: cosign: %w", err)
	}
	return cosigned[len(n.Text)+1:], nil
}

// evidence logs a refused checkpoint that the log signed: with the one cosigned before, it
// shows the log's misbehaviour.
func (w *Witness) evidence(what string, cosigned, refused []byte) {
	w.logger.Warn("witness: refused a signed checkpoint: "+what, "cosigned", string(cosigned), "refused", string(refused))
}

// The state file is JSON: origin → the log's signed note of the latest checkpoint
// cosigned. It is replaced atomically (write, fsync, rename, fsync the directory).
func (w *Witness) load() error {
	b, err := os.ReadFile(w.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("witness: read state: %w", err)
	}
	var notes map[string]string
	if err := json.Unmarshal(b, &notes); err != nil {
		return fmt.Errorf("witness: state %s: %w", w.path, err)
	}
	for origin, signed := range notes {
		keys, ok := w.logs[origin]
		if !ok {
			w.latest[origin] = witnessed{cp: Checkpoint{Origin: origin}, note: []byte(signed)} // kept, not used
			continue
		}
		n, err := note.Open([]byte(signed), note.VerifierList(keys...))
		if err != nil {
			return fmt.Errorf("witness: state %s: the checkpoint of %q does not verify: %w", w.path, origin, err)
		}
		cp, err := ParseCheckpoint(n.Text)
		if err != nil || cp.Origin != origin {
			return fmt.Errorf("witness: state %s: the checkpoint of %q: %v", w.path, origin, err)
		}
		w.latest[origin] = witnessed{cp: cp, note: []byte(signed)}
	}
	return nil
}

func (w *Witness) save(latest map[string]witnessed) error {
	notes := make(map[string]string, len(latest))
	for origin, l := range latest {
		notes[origin] = string(l.note)
	}
	b, err := json.MarshalIndent(notes, "", "  ")
	if err != nil {
		return fmt.Errorf("witness: save state: %w", err)
	}
	tmp := w.path + ".tmp"
	f, err := os.Create(tmp)
	if err == nil {
		_, err = f.Write(b)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil {
		err = os.Rename(tmp, w.path)
	}
	if err == nil {
		var d *os.File
		if d, err = os.Open(filepath.Dir(w.path)); err == nil {
			err = d.Sync()
			d.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("witness: save state: %w", err)
	}
	return nil
}

// FormatAddCheckpoint returns the body of a tlog-witness add-checkpoint request.
func FormatAddCheckpoint(oldSize int64, proof tlog.TreeProof, signed []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "old %d\n", oldSize)
	for _, h := range proof {
		b.WriteString(base64.StdEncoding.EncodeToString(h[:]))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.Write(signed)
	return b.Bytes()
}

// ParseAddCheckpoint parses the body of a tlog-witness add-checkpoint request: an old size
// line, up to 63 consistency proof lines, an empty line, the checkpoint note.
func ParseAddCheckpoint(body []byte) (oldSize int64, proof tlog.TreeProof, signed []byte, err error) {
	line, rest, ok := bytes.Cut(body, []byte("\n"))
	sizeText, found := strings.CutPrefix(string(line), "old ")
	if !ok || !found {
		return 0, nil, nil, errors.New(`add-checkpoint: the first line must be "old <size>"`)
	}
	oldSize, err = strconv.ParseInt(sizeText, 10, 64)
	if err != nil || oldSize < 0 || strconv.FormatInt(oldSize, 10) != sizeText {
		return 0, nil, nil, fmt.Errorf("add-checkpoint: old size %q is not a decimal number", sizeText)
	}
	for {
		line, rest, ok = bytes.Cut(rest, []byte("\n"))
		if !ok {
			return 0, nil, nil, errors.New("add-checkpoint: no empty line before the checkpoint")
		}
		if len(line) == 0 {
			return oldSize, proof, rest, nil
		}
		if len(proof) == WitnessProofHashesMax {
			return 0, nil, nil, fmt.Errorf("add-checkpoint: more than %d consistency proof lines", WitnessProofHashesMax)
		}
		h, err := base64.StdEncoding.DecodeString(string(line))
		if err != nil || len(h) != hashSize || base64.StdEncoding.EncodeToString(h) != string(line) {
			return 0, nil, nil, fmt.Errorf("add-checkpoint: proof line %d is not a base64 SHA-256 hash", len(proof)+1)
		}
		proof = append(proof, tlog.Hash(h))
	}
}

// Handler serves tlog-witness's add-checkpoint: POST /add-checkpoint.
func (w *Witness) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /add-checkpoint", func(rw http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, WitnessRequestBytesMax+1))
		if err != nil {
			http.Error(rw, "read request: "+err.Error(), http.StatusBadRequest)
			return
		}
		if len(body) > WitnessRequestBytesMax {
			http.Error(rw, fmt.Sprintf("request exceeds %d bytes", WitnessRequestBytesMax), http.StatusRequestEntityTooLarge)
			return
		}
		oldSize, proof, signed, err := ParseAddCheckpoint(body)
		if err != nil {
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		cosig, err := w.AddCheckpoint(oldSize, proof, signed)
		var we *WitnessError
		switch {
		case errors.As(err, &we) && we.Status == http.StatusConflict:
			// The body is the latest cosigned size (tlog-witness), for a fork too.
			rw.Header().Set("Content-Type", "text/x.tlog.size")
			rw.WriteHeader(http.StatusConflict)
			fmt.Fprintf(rw, "%d\n", we.Size)
		case errors.As(err, &we):
			http.Error(rw, we.Reason, we.Status)
		case err != nil:
			w.logger.Error("witness: add-checkpoint", "err", err)
			http.Error(rw, "internal error", http.StatusInternalServerError)
		default:
			rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
			rw.Write(cosig)
		}
	})
	return mux
}

// Cosignature is a witness's valid cosignature on a checkpoint.
type Cosignature struct {
	Witness string    // the witness's name
	Time    time.Time // when it says it cosigned
}

// CheckCosignatures verifies the signed checkpoint note with the log's verifier key vkey
// and requires, besides the log's signature, a valid cosignature (C2SP tlog-cosignature
// v1) by each witness whose cosignature verifier key is in witnessKeys. It returns those
// cosignatures, or an error naming every witness whose cosignature is missing.
func CheckCosignatures(signed []byte, vkey string, witnessKeys []string) ([]Cosignature, error) {
	lv, err := note.NewVerifier(strings.TrimSpace(vkey))
	if err != nil {
		return nil, fmt.Errorf("verifier key: %w", err)
	}
	vs := []note.Verifier{lv}
	for _, k := range witnessKeys {
		v, err := NewCosignatureVerifier(k)
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	n, err := note.Open(signed, note.VerifierList(vs...))
	if err != nil {
		return nil, fmt.Errorf("checkpoint signatures: %w", err)
	}
	var out []Cosignature
	var missing []string
	for _, v := range vs[1:] {
		found := false
		for _, s := range n.Sigs {
			if s.Name == v.Name() && s.Hash == v.KeyHash() {
				t, err := fnote.CoSigV1Timestamp(s)
				if err != nil {
					return nil, fmt.Errorf("cosignature of %s: %w", v.Name(), err)
				}
				out = append(out, Cosignature{Witness: v.Name(), Time: t.UTC()})
				found = true
			}
		}
		if !found {
			missing = append(missing, fmt.Sprintf("%s+%08x", v.Name(), v.KeyHash()))
		}
	}
	if !slices.ContainsFunc(n.Sigs, func(s note.Signature) bool { return s.Name == lv.Name() && s.Hash == lv.KeyHash() }) {
		return nil, fmt.Errorf("checkpoint: not signed by the log's key %s+%08x", lv.Name(), lv.KeyHash())
	}
	if len(missing) > 0 {
		return out, fmt.Errorf("checkpoint not cosigned by witness %s", strings.Join(missing, ", "))
	}
	return out, nil
}
