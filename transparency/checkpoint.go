package transparency

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Checkpoint is a signed tree head: the origin (the log's name, which is also its key
// name), the number of records, and the root hash of their tree. Its text is the body of a
// C2SP tlog-checkpoint: "<origin>\n<size>\n<base64 root>\n".
type Checkpoint struct {
	Origin string
	Size   int64
	Root   tlog.Hash
}

// Body returns the checkpoint's note text.
func (c Checkpoint) Body() string {
	return fmt.Sprintf("%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Root[:]))
}

// ParseCheckpoint parses a checkpoint's note text. Extension lines after the root are
// allowed and ignored (tlog-checkpoint); anything else malformed is an error.
func ParseCheckpoint(text string) (Checkpoint, error) {
	var c Checkpoint
	lines := strings.SplitAfter(text, "\n")
	if len(lines) < 4 || !strings.HasSuffix(text, "\n") {
		return c, errors.New("checkpoint: want origin, size and root hash lines")
	}
	origin := strings.TrimSuffix(lines[0], "\n")
	sizeText := strings.TrimSuffix(lines[1], "\n")
	rootText := strings.TrimSuffix(lines[2], "\n")
	if origin == "" {
		return c, errors.New("checkpoint: empty origin line")
	}
	size, err := strconv.ParseInt(sizeText, 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != sizeText {
		return c, fmt.Errorf("checkpoint: size %q is not a decimal number", sizeText)
	}
	root, err := base64.StdEncoding.DecodeString(rootText)
	if err != nil || len(root) != hashSize {
		return c, fmt.Errorf("checkpoint: root %q is not a base64 SHA-256 hash", rootText)
	}
	c.Origin, c.Size = origin, size
	copy(c.Root[:], root)
	return c, nil
}

// OpenCheckpoint verifies a signed checkpoint note with the verifier key vkey (note format
// "name+hash+base64") and parses it. The origin must equal the key's name. Signatures by
// other keys are ignored (key rotation signs with two keys); at least one must be by vkey.
func OpenCheckpoint(signed []byte, vkey string) (Checkpoint, error) {
	v, err := note.NewVerifier(strings.TrimSpace(vkey))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("verifier key: %w", err)
	}
	return openCheckpoint(signed, v)
}

func openCheckpoint(signed []byte, v note.Verifier) (Checkpoint, error) {
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		if errors.As(err, &unverified) {
			return Checkpoint{}, fmt.Errorf("checkpoint signature: not signed by the trusted key %s+%08x (signed by %s)", v.Name(), v.KeyHash(), signers(unverified.Note))
		}
		return Checkpoint{}, fmt.Errorf("checkpoint signature: %w", err)
	}
	c, err := ParseCheckpoint(n.Text)
	if err != nil {
		return Checkpoint{}, err
	}
	if c.Origin != v.Name() {
		return Checkpoint{}, fmt.Errorf("checkpoint: origin %q is not the key's name %q", c.Origin, v.Name())
	}
	return c, nil
}

func signers(n *note.Note) string {
	if n == nil || len(n.UnverifiedSigs) == 0 {
		return "no key"
	}
	var names []string
	for _, s := range n.UnverifiedSigs {
		names = append(names, fmt.Sprintf("%s+%08x", s.Name, s.Hash))
	}
	return strings.Join(names, ", ")
}

// GenerateKey returns a new Ed25519 signer key (secret: "PRIVATE+KEY+origin+hash+base64")
// and its verifier key ("origin+hash+base64") for a log named origin.
func GenerateKey(origin string) (skey, vkey string, err error) {
	skey, vkey, err = note.GenerateKey(rand.Reader, origin)
	if err != nil {
		return "", "", fmt.Errorf("generate key for origin %q: %w", origin, err)
	}
	return skey, vkey, nil
}

// ParseSignerKey reads a signer key written by GenerateKey and returns the signer and the
// matching verifier key. The error never quotes the key.
func ParseSignerKey(skey string) (note.Signer, string, error) {
	skey = strings.TrimSpace(skey)
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, "", errors.New("signing key: not a note signer key (PRIVATE+KEY+name+hash+base64)")
	}
	// The verifier key is derived from the private key's Ed25519 seed.
	// The layout is PRIVATE+KEY+name+hash+key; the base64 key may itself contain '+'.
	rest := skey
	for range 4 {
		_, rest, _ = strings.Cut(rest, "+")
	}
	raw, err := base64.StdEncoding.DecodeString(rest)
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 1 {
		return nil, "", errors.New("signing key: not an Ed25519 key")
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(s.Name(), pub)
	if err != nil {
		return nil, "", fmt.Errorf("signing key: %w", err)
	}
	return s, vkey, nil
}

// sign signs c with s; the key name must be the origin.
func sign(c Checkpoint, s note.Signer) ([]byte, error) {
	if s.Name() != c.Origin {
		return nil, fmt.Errorf("sign checkpoint: key name %q is not the origin %q", s.Name(), c.Origin)
	}
	msg, err := note.Sign(&note.Note{Text: c.Body()}, s)
	if err != nil {
		return nil, fmt.Errorf("sign checkpoint at size %d: %w", c.Size, err)
	}
	return msg, nil
}

// sameNote reports whether two signed notes are byte for byte the same.
func sameNote(a, b []byte) bool { return bytes.Equal(a, b) }
