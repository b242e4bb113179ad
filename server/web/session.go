package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// SessionsMax bounds the sessions kept; past it the one expiring first is dropped.
const SessionsMax = 10_000

// sessions are server-side: the cookie holds only an opaque random id.
type sessions struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[string]session
}

type session struct {
	who     Principal
	expires time.Time
}

func newSessions(now func() time.Time) *sessions {
	return &sessions{now: now, m: map[string]session{}}
}

// open starts a session for who and returns its id.
func (s *sessions) open(who Principal, ttl time.Duration) string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	id := base64.RawURLEncoding.EncodeToString(b[:])
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= SessionsMax {
		var oldest string
		var at time.Time
		for k, v := range s.m {
			if !v.expires.After(now) {
				delete(s.m, k)
				continue
			}
			if oldest == "" || v.expires.Before(at) {
				oldest, at = k, v.expires
			}
		}
		if len(s.m) >= SessionsMax {
			delete(s.m, oldest)
		}
	}
	s.m[id] = session{who: who, expires: now.Add(ttl)}
	return id
}

// get returns the principal of a session that has not expired.
func (s *sessions) get(id string) (Principal, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[id]
	if !ok {
		return Principal{}, false
	}
	if !v.expires.After(s.now()) {
		delete(s.m, id)
		return Principal{}, false
	}
	return v.who, true
}

func (s *sessions) close(id string) {
	s.mu.Lock()
	delete(s.m, id)
	s.mu.Unlock()
}

// cookieName is the session cookie's name: with the __Host- prefix under TLS (the browser
// then insists on Secure, Path=/ and no Domain).
func (c *Console) cookieName() string {
	if c.cfg.TLS {
		return "__Host-techledger-session"
	}
	return "techledger-session"
}

// sessionID returns the request's session id ("local" without sign-in).
func (c *Console) sessionID(r *http.Request) string {
	if c.cfg.Authenticate == nil {
		return "local"
	}
	ck, err := r.Cookie(c.cookieName())
	if err != nil {
		return ""
	}
	return ck.Value
}

// principal returns who the request acts as: Local without sign-in, else the principal of
// its session.
func (c *Console) principal(r *http.Request) (Principal, bool) {
	if c.cfg.Authenticate == nil {
		return Local, true
	}
	id := c.sessionID(r)
	if id == "" {
		return Principal{}, false
	}
	return c.sessions.get(id)
}

// csrfToken is the token a form of this session carries: an HMAC of the session id, so
// it needs no storage, differs per session and cannot be made without the server's key.
func (c *Console) csrfToken(r *http.Request) string {
	id := c.sessionID(r)
	if id == "" {
		return ""
	}
	m := hmac.New(sha256.New, c.secret[:])
	m.Write([]byte("csrf\x00" + id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (c *Console) validCSRF(r *http.Request, token string) bool {
	want := c.csrfToken(r)
	return want != "" && hmac.Equal([]byte(want), []byte(token))
}

func (c *Console) getLogin(w http.ResponseWriter, r *http.Request) {
	if c.cfg.Authenticate == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	c.render(w, r, http.StatusOK, "login", Principal{}, map[string]any{"Next": safeNext(r.URL.Query().Get("next"))})
}

// postLogin checks a token and opens a session. The sign-in form has no session yet, so
// it is protected by the cross-origin check alone (every POST is).
func (c *Console) postLogin(w http.ResponseWriter, r *http.Request) {
	if c.cfg.Authenticate == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	_ = r.ParseForm()
	next := safeNext(r.PostFormValue("next"))
	token := strings.TrimSpace(r.PostFormValue("token"))
	who, ok := c.cfg.Authenticate(token)
	if !ok {
		msg := "令牌无效（unknown token）"
		if token == "" {
			msg = "请输入令牌（a token is required）"
		}
		c.render(w, r, http.StatusUnauthorized, "login", Principal{}, map[string]any{"Next": next, "Errors": map[string]string{"token": msg}})
		return
	}
	id := c.sessions.open(who, c.cfg.SessionTTL)
	http.SetCookie(w, &http.Cookie{
		Name: c.cookieName(), Value: id, Path: "/", HttpOnly: true, Secure: c.cfg.TLS,
		SameSite: http.SameSiteStrictMode, MaxAge: int(c.cfg.SessionTTL / time.Second),
	})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (c *Console) postLogout(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	_ = r.ParseForm()
	if c.cfg.Authenticate == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	if !c.validCSRF(r, r.PostFormValue("csrf")) {
		c.render(w, r, http.StatusForbidden, "error", Principal{}, map[string]any{"Title": "请求被拒绝", "Message": "表单已失效（CSRF token missing or wrong）。"})
		return
	}
	c.sessions.close(c.sessionID(r))
	http.SetCookie(w, &http.Cookie{Name: c.cookieName(), Value: "", Path: "/", HttpOnly: true, Secure: c.cfg.TLS, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// safeNext keeps a redirect target on this site: a path, not "//host" or a URL.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }
