package server

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
)

// Role is what a bearer token may do, on the matrix of docs/architecture.md (Roles):
//
//   - registrar: posts commands and reads contracts, their history and the projections;
//   - auditor: reads everything (contracts, history, projections, the event log, verify,
//     metrics) and changes nothing;
//   - statistician: reads the projections only (statistics, rewards, flags): aggregate
//     figures, not single contracts or the log;
//   - admin: everything.
type Role string

// The roles a tokens file may name.
const (
	RoleRegistrar    Role = "registrar"
	RoleAuditor      Role = "auditor"
	RoleStatistician Role = "statistician"
	RoleAdmin        Role = "admin"
)

// Roles lists every role.
var Roles = []Role{RoleRegistrar, RoleAuditor, RoleStatistician, RoleAdmin}

// Capability is what a route needs of its caller's role. A route names one; the roles
// holding it are the role matrix, kept here only.
type Capability string

// The capabilities of the API's routes.
const (
	// Open routes (health, the OpenAPI document) need no token at all.
	Open Capability = "open"
	// Submit is posting commands: changing the ledger.
	Submit Capability = "submit"
	// ReadContracts is reading single contracts and their history.
	ReadContracts Capability = "read-contracts"
	// ReadFigures is reading the projections: statistics, rewards, flags.
	ReadFigures Capability = "read-figures"
	// Audit is reading the event log, verifying it and reading the metrics.
	Audit Capability = "audit"
)

// capabilityRoles is the role matrix: the roles other than admin that hold a capability.
var capabilityRoles = map[Capability][]Role{
	Submit:        {RoleRegistrar},
	ReadContracts: {RoleRegistrar, RoleAuditor},
	ReadFigures:   {RoleRegistrar, RoleAuditor, RoleStatistician},
	Audit:         {RoleAuditor},
}

// Roles returns the roles other than admin that hold c, in the order of Roles (nil for
// Open, which needs no role).
func (c Capability) Roles() []Role { return slices.Clone(capabilityRoles[c]) }

// May reports whether a caller of role r may use a route that needs c: admin may use
// every route, anyone an Open one.
func (r Role) May(c Capability) bool {
	return c == Open || r == RoleAdmin || slices.Contains(capabilityRoles[c], r)
}

// Principal is who a request acts as: the name and role of its token.
type Principal struct {
	Name string
	Role Role
}

// Local is who every request acts as when the server has no tokens: the machine's own
// users, on loopback only (see CheckListen).
var Local = Principal{Name: "local", Role: RoleAdmin}

// Limits on a tokens file.
const (
	tokensFileBytesMax = 1 << 20
	tokenBytesMin      = 16 // a bearer token shorter than this is guessable
	tokenBytesMax      = 256
	tokenNameBytesMax  = 200
)

// Tokens maps bearer tokens to principals. Tokens are kept as SHA-256 digests, so the
// map lookup does not compare secrets byte by byte and a heap dump holds no token. A
// Tokens is read-only after LoadTokens or ParseTokens and safe for concurrent use.
type Tokens struct {
	byDigest map[[sha256.Size]byte]Principal
}

// Len returns the number of tokens.
func (ts *Tokens) Len() int { return len(ts.byDigest) }

// tokenEntry is one element of a tokens file: [{"token": "...", "role": "...", "name": "..."}].
type tokenEntry struct {
	Token string `json:"token"`
	Role  string `json:"role"`
	Name  string `json:"name"`
}

// LoadTokens reads a tokens file (see ParseTokens).
func LoadTokens(path string) (*Tokens, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, tokensFileBytesMax+1))
	if err != nil {
		return nil, fmt.Errorf("tokens: read %s: %w", path, err)
	}
	if len(b) > tokensFileBytesMax {
		return nil, fmt.Errorf("tokens: %s is larger than %d bytes", path, tokensFileBytesMax)
	}
	return ParseTokens(b)
}

// ParseTokens reads a JSON list [{"token", "role", "name"}]. Every entry needs a token of
// 16..256 printable ASCII bytes used once, a known role and a name; an error names the
// entry and the field.
func ParseTokens(b []byte) (*Tokens, error) {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	var entries []tokenEntry
	if err := dec.Decode(&entries); err != nil {
		return nil, fmt.Errorf("tokens: want a JSON list of {\"token\", \"role\", \"name\"}: %w", err)
	}
	// One list and nothing after it: a second list pasted after the first would otherwise
	// be ignored without a word, its tokens refused at sign-in.
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("tokens: want one JSON list of {\"token\", \"role\", \"name\"}, and found more after its closing ]")
	}
	if len(entries) == 0 {
		return nil, errors.New("tokens: the list is empty; give at least one token")
	}
	ts := &Tokens{byDigest: make(map[[sha256.Size]byte]Principal, len(entries))}
	for i, e := range entries {
		switch {
		case len(e.Token) < tokenBytesMin || len(e.Token) > tokenBytesMax:
			return nil, fmt.Errorf("tokens[%d].token: must be %d..%d bytes long", i, tokenBytesMin, tokenBytesMax)
		case strings.IndexFunc(e.Token, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0:
			return nil, fmt.Errorf("tokens[%d].token: must be printable ASCII without spaces", i)
		case !slices.Contains(Roles, Role(e.Role)):
			return nil, fmt.Errorf("tokens[%d].role: %q is not one of %s", i, e.Role, roleList())
		case strings.TrimSpace(e.Name) == "" || len(e.Name) > tokenNameBytesMax:
			return nil, fmt.Errorf("tokens[%d].name: required, at most %d bytes", i, tokenNameBytesMax)
		}
		d := sha256.Sum256([]byte(e.Token))
		if _, dup := ts.byDigest[d]; dup {
			return nil, fmt.Errorf("tokens[%d].token: used by an earlier entry; every token must be unique", i)
		}
		ts.byDigest[d] = Principal{Name: e.Name, Role: Role(e.Role)}
	}
	return ts, nil
}

// roleList names the roles for an error message.
func roleList() string {
	names := make([]string, len(Roles))
	for i, r := range Roles {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}

// Lookup returns the principal of a bearer token.
func (ts *Tokens) Lookup(token string) (Principal, bool) {
	if len(token) > tokenBytesMax {
		return Principal{}, false
	}
	p, ok := ts.byDigest[sha256.Sum256([]byte(token))]
	return p, ok
}

// lookup returns the principal of an Authorization header's bearer token.
func (ts *Tokens) lookup(header string) (Principal, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || len(token) > tokenBytesMax {
		return Principal{}, false
	}
	return ts.Lookup(strings.TrimSpace(token))
}

type principalKey struct{}

// PrincipalOf returns who a request acts as: set for every route that needs a role (the
// zero Principal on Open routes).
func PrincipalOf(ctx context.Context) Principal {
	p, _ := ctx.Value(principalKey{}).(Principal)
	return p
}

// allow wraps h so that only roles that hold c reach it (admin always does): without a
// known bearer token 401, with a token of another role 403. Without tokens (serve
// without --tokens, loopback only) every request acts as Local.
func (s *Server) allow(h http.HandlerFunc, c Capability) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := Local
		if s.tokens != nil {
			var ok bool
			if p, ok = s.tokens.lookup(r.Header.Get("Authorization")); !ok {
				w.Header().Set("WWW-Authenticate", `Bearer realm="techledger"`)
				s.problem(w, r, http.StatusUnauthorized, "unauthorized", "a known bearer token is required: Authorization: Bearer <token>", nil)
				return
			}
		}
		if !p.Role.May(c) {
			s.problem(w, r, http.StatusForbidden, "forbidden", fmt.Sprintf("the role %s may not use this route", p.Role), nil)
			return
		}
		if rw, ok := w.(*statusWriter); ok {
			rw.who = p
		}
		h(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	}
}

// CheckListen refuses to serve without tokens on anything but loopback: without --tokens
// every request acts as admin, which only the machine's own users may do.
func CheckListen(addr string, withTokens bool) error {
	if withTokens {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("addr: %w", err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("addr: without --tokens serve listens on loopback only (127.0.0.1, ::1 or localhost), got %q; give --tokens FILE to listen on other interfaces", addr)
}
