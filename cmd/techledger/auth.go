package main

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

// Roles of DESIGN §4. Each route of the API names the roles it admits (see api.routes):
//
//   - registrar: posts commands and reads contracts, their history and the projections;
//   - auditor: reads everything (contracts, history, projections, the event log, verify,
//     metrics) and changes nothing;
//   - statistician: reads the projections only (statistics, rewards, flags): aggregate
//     figures, not single contracts or the log;
//   - admin: everything.
const (
	roleRegistrar    = "registrar"
	roleAuditor      = "auditor"
	roleStatistician = "statistician"
	roleAdmin        = "admin"
)

var knownRoles = []string{roleRegistrar, roleAuditor, roleStatistician, roleAdmin}

// principal is who a request acts as: the name and role of its token.
type principal struct {
	Name string
	Role string
}

// localPrincipal is who every request acts as when serve runs without --tokens: the
// machine's own user, on loopback only.
var localPrincipal = principal{Name: "local", Role: roleAdmin}

// Limits on a tokens file.
const (
	tokensFileBytesMax = 1 << 20
	tokenBytesMin      = 16 // a bearer token shorter than this is guessable
	tokenBytesMax      = 256
	tokenNameBytesMax  = 200
)

// tokenSet maps bearer tokens to principals. Tokens are kept as SHA-256 digests, so
// the map lookup does not compare secrets byte by byte and a heap dump holds no token.
type tokenSet struct {
	byDigest map[[sha256.Size]byte]principal
}

// tokenEntry is one element of a tokens file: [{"token": "...", "role": "...", "name": "..."}].
type tokenEntry struct {
	Token string `json:"token"`
	Role  string `json:"role"`
	Name  string `json:"name"`
}

// loadTokens reads a tokens file. Every entry needs a token of 16..256 printable ASCII
// bytes used once, a known role and a name; an error names the entry and the field.
func loadTokens(path string) (*tokenSet, error) {
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
	return parseTokens(b)
}

func parseTokens(b []byte) (*tokenSet, error) {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	var entries []tokenEntry
	if err := dec.Decode(&entries); err != nil {
		return nil, fmt.Errorf("tokens: want a JSON list of {\"token\", \"role\", \"name\"}: %w", err)
	}
	if len(entries) == 0 {
		return nil, errors.New("tokens: the list is empty; give at least one token")
	}
	ts := &tokenSet{byDigest: make(map[[sha256.Size]byte]principal, len(entries))}
	for i, e := range entries {
		switch {
		case len(e.Token) < tokenBytesMin || len(e.Token) > tokenBytesMax:
			return nil, fmt.Errorf("tokens[%d].token: must be %d..%d bytes long", i, tokenBytesMin, tokenBytesMax)
		case strings.IndexFunc(e.Token, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0:
			return nil, fmt.Errorf("tokens[%d].token: must be printable ASCII without spaces", i)
		case !slices.Contains(knownRoles, e.Role):
			return nil, fmt.Errorf("tokens[%d].role: %q is not one of %s", i, e.Role, strings.Join(knownRoles, ", "))
		case strings.TrimSpace(e.Name) == "" || len(e.Name) > tokenNameBytesMax:
			return nil, fmt.Errorf("tokens[%d].name: required, at most %d bytes", i, tokenNameBytesMax)
		}
		d := sha256.Sum256([]byte(e.Token))
		if _, dup := ts.byDigest[d]; dup {
			return nil, fmt.Errorf("tokens[%d].token: used by an earlier entry; every token must be unique", i)
		}
		ts.byDigest[d] = principal{Name: e.Name, Role: e.Role}
	}
	return ts, nil
}

// lookup returns the principal of an Authorization header's bearer token.
func (ts *tokenSet) lookup(header string) (principal, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || len(token) > tokenBytesMax {
		return principal{}, false
	}
	p, ok := ts.byDigest[sha256.Sum256([]byte(strings.TrimSpace(token)))]
	return p, ok
}

type principalKey struct{}

// principalOf returns who the request acts as (set by allow).
func principalOf(ctx context.Context) principal {
	p, _ := ctx.Value(principalKey{}).(principal)
	return p
}

// allow wraps h so that only the given roles reach it (admin always does): without a
// known bearer token 401, with a token of another role 403. Without a token set (serve
// without --tokens, loopback only) every request acts as localPrincipal.
func (a *api) allow(h http.HandlerFunc, roles ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := localPrincipal
		if a.tokens != nil {
			var ok bool
			if p, ok = a.tokens.lookup(r.Header.Get("Authorization")); !ok {
				w.Header().Set("WWW-Authenticate", `Bearer realm="techledger"`)
				a.problem(w, r, http.StatusUnauthorized, "unauthorized", "a known bearer token is required: Authorization: Bearer <token>", nil)
				return
			}
		}
		if p.Role != roleAdmin && !slices.Contains(roles, p.Role) {
			a.problem(w, r, http.StatusForbidden, "forbidden", fmt.Sprintf("the role %s may not use this route", p.Role), nil)
			return
		}
		if rw, ok := w.(*statusWriter); ok {
			rw.who = p
		}
		h(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	}
}

// checkListen refuses to serve without tokens on anything but loopback: without --tokens
// every request acts as admin, which only the machine's own users may do.
func checkListen(addr string, withTokens bool) error {
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
