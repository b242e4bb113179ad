// Package web is techledger's console for registrars and auditors: server-rendered pages
// (html/template, every asset embedded), sessions opened with a token, the API's role
// matrix enforced on every page, CSRF protection on every form, a strict
// Content-Security-Policy and no inline script. Forms post through the same
// commands.Handler as the HTTP API. docs/console.md describes the pages and choices.
package web

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"iter"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"techledger/commands"
	"techledger/ledger"
	"techledger/projections"
	"techledger/reports"
	"techledger/server"
)

// Principal is who a request acts as: the API's (the name and role of a token).
type Principal = server.Principal

// Local is who every request acts as when the server runs without tokens (loopback only).
var Local = server.Local

// The console admits roles with the API's own matrix (server.Role.May): a page needs the
// capability of the API route that does the same thing (docs/console.md has the table).
//   - server.ReadContracts: find contracts, the contract page (registrar, auditor);
//   - server.Submit: register, amend, revoke, rights, payments (registrar);
//   - server.Audit: the log, verify (auditor);
//   - server.ReadFigures: the statistics dashboard and the pages others add (registrar,
//     auditor, statistician).
// Admin may do everything.

// Log is what the console reads of the ledger.
type Log interface {
	ReadStream(ctx context.Context, stream string, from ledger.Version) iter.Seq2[ledger.Record, error]
	ReadAll(ctx context.Context, from ledger.Position) iter.Seq2[ledger.Record, error]
	Head(ctx context.Context) (ledger.Position, error)
}

// Commands applies commands: a *commands.Handler, the API's own.
type Commands interface {
	Handle(ctx context.Context, cmd commands.Command, who commands.Actor) (commands.Outcome, error)
}

// Searcher answers the search page: a *projections.SearchRunner.
type Searcher interface {
	Find(q projections.SearchQuery) (projections.SearchResult, error)
}

// Page is a page another part of the server adds to the console (the statistics
// dashboard, say): it is shown in the navigation to the roles it admits, served under the
// console's session, role and CSRF checks, and rendered inside the console's layout.
type Page struct {
	// Path is where the page is served (GET) and linked from the navigation, e.g. "/stats".
	Path string
	// Nav is its label in the navigation.
	Nav string
	// Access is the capability a caller needs (the API's role matrix).
	Access server.Capability
	// Render returns the page's title and body (trusted HTML: build it with html/template).
	// An error is logged and shown as a failure page.
	Render func(r *http.Request, who Principal) (title string, body template.HTML, err error)
}

// Route is a raw route another part of the server adds under the console's session and
// role checks (a CSV download, say); it is not in the navigation.
type Route struct {
	Pattern string // as http.ServeMux takes it, e.g. "GET /stats/export.csv"
	Access  server.Capability
	Handler http.Handler
}

// Config is what New needs.
type Config struct {
	Log      Log
	Commands Commands
	Search   Searcher
	// Verify checks the whole log; nil uses ledger.Verify over Log.ReadAll.
	Verify func(ctx context.Context) (ledger.VerifyReport, error)
	// Authenticate returns the principal of a token (the --tokens file). Nil: no sign-in;
	// every request acts as Local, and every page says so.
	Authenticate func(token string) (Principal, bool)
	// TLS says the console is served over HTTPS: the session cookie is then Secure and
	// named with the __Host- prefix.
	TLS bool
	// SessionTTL is how long a session lasts from sign-in (default 8 hours).
	SessionTTL time.Duration
	// Figures, if set, adds the statistics dashboard at /stats (with its downloads) for the
	// roles that read statistics (server.ReadFigures).
	Figures *Figures
	// Proofs, if set, adds the registration certificate page (/contracts/{id}/certificate)
	// for the roles that read contracts, linked from the contract page.
	Proofs *Proofs
	// Pages and Routes are added by other parts of the server.
	Pages  []Page
	Routes []Route
	// Now gives the time (default time.Now); Logger receives errors (default slog.Default()).
	Now    func() time.Time
	Logger *slog.Logger
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Console serves the pages. It is safe for concurrent use.
type Console struct {
	cfg      Config
	sessions *sessions
	secret   [32]byte // keys the CSRF tokens
	pages    map[string]*template.Template
	mux      *http.ServeMux
	log      *slog.Logger
	now      func() time.Time
	// full is set while commands are refused for want of space, so that an incident is
	// logged once, and again when a command is accepted after it.
	full atomic.Bool
}

// New returns the console as an http.Handler to mount at "/".
func New(cfg Config) (*Console, error) {
	if cfg.Log == nil || cfg.Commands == nil || cfg.Search == nil {
		return nil, fmt.Errorf("web: Config needs Log, Commands and Search")
	}
	if f := cfg.Figures; f != nil && (f.Projections == nil || f.Reports == nil) {
		return nil, fmt.Errorf("web: Config.Figures needs Projections and Reports")
	}
	if p := cfg.Proofs; p != nil && (p.Log == nil || p.VerifierKey == "") {
		return nil, fmt.Errorf("web: Config.Proofs needs Log and VerifierKey")
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 8 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Verify == nil {
		log := cfg.Log
		cfg.Verify = func(ctx context.Context) (ledger.VerifyReport, error) {
			return ledger.Verify(ctx, log.ReadAll(ctx, 1))
		}
	}
	c := &Console{cfg: cfg, log: cfg.Logger, now: cfg.Now, sessions: newSessions(cfg.Now)}
	if _, err := rand.Read(c.secret[:]); err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	var err error
	if c.pages, err = parseTemplates(); err != nil {
		return nil, err
	}
	c.mux = c.routes()
	return c, nil
}

// ServeHTTP implements http.Handler: security headers, cross-origin protection of every
// unsafe method, then the page.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	if err := crossOrigin.Check(r); err != nil {
		w.WriteHeader(http.StatusForbidden)
		c.render(w, r, http.StatusForbidden, "error", Principal{}, map[string]any{
			"Title": "请求被拒绝", "Message": "跨站提交被拒绝（cross-origin request refused）。请从本系统的页面提交表单。"})
		return
	}
	c.mux.ServeHTTP(w, r)
}

// CSP is the Content-Security-Policy of every response: only the console's own scripts,
// styles and images; no inline script or style; forms post only to the console; no
// framing.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// crossOrigin refuses unsafe requests (POST) that a browser marks as cross-site
// (Sec-Fetch-Site), or whose Origin is not the Host they were sent to.
var crossOrigin = http.NewCrossOriginProtection()

func (c *Console) routes() *http.ServeMux {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	fileServer := http.StripPrefix("/static/", http.FileServer(http.FS(static)))
	mux.Handle("GET /static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fileServer.ServeHTTP(w, r)
	}))
	mux.HandleFunc("GET /login", c.getLogin)
	mux.HandleFunc("POST /login", c.postLogin)
	mux.HandleFunc("POST /logout", c.postLogout)
	mux.HandleFunc("GET /{$}", c.page(c.getHome, server.Open))

	mux.HandleFunc("GET /contracts", c.page(c.getSearch, server.ReadContracts))
	mux.HandleFunc("GET /contracts/new", c.page(c.getRegister, server.Submit))
	mux.HandleFunc("POST /contracts/new", c.form(c.postRegister, server.Submit))
	mux.HandleFunc("GET /contracts/{id}", c.page(c.getContract, server.ReadContracts))
	mux.HandleFunc("GET /contracts/{id}/amend", c.page(c.getAmend, server.Submit))
	mux.HandleFunc("POST /contracts/{id}/amend", c.form(c.postAmend, server.Submit))
	mux.HandleFunc("GET /contracts/{id}/revoke", c.page(c.getRevoke, server.Submit))
	mux.HandleFunc("POST /contracts/{id}/revoke", c.form(c.postRevoke, server.Submit))
	mux.HandleFunc("GET /contracts/{id}/rights", c.page(c.getRights, server.Submit))
	mux.HandleFunc("POST /contracts/{id}/rights", c.form(c.postRights, server.Submit))
	mux.HandleFunc("GET /contracts/{id}/payments", c.page(c.getPayment, server.Submit))
	mux.HandleFunc("POST /contracts/{id}/payments", c.form(c.postPayment, server.Submit))

	mux.HandleFunc("GET /log", c.page(c.getLog, server.Audit))
	mux.HandleFunc("GET /verify", c.page(c.getVerify, server.Audit))

	if c.cfg.Proofs != nil {
		mux.HandleFunc("GET /contracts/{id}/certificate", c.page(c.getCertificate, server.ReadContracts))
	}
	if c.cfg.Figures != nil {
		mux.HandleFunc("GET /stats", c.page(c.getDashboard, server.ReadFigures))
		mux.HandleFunc("GET /stats/report.xlsx", c.page(c.getDashboardFile(reports.FormatXLSX), server.ReadFigures))
		mux.HandleFunc("GET /stats/report.csv", c.page(c.getDashboardFile(formatCSV), server.ReadFigures))
	}

	for _, p := range c.cfg.Pages {
		p := p
		mux.HandleFunc("GET "+p.Path, c.page(func(w http.ResponseWriter, r *http.Request, who Principal) {
			title, body, err := p.Render(r, who)
			if err != nil {
				c.failed(w, r, who, err)
				return
			}
			c.render(w, r, http.StatusOK, "extra", who, map[string]any{"Title": title, "Body": body})
		}, p.Access))
	}
	for _, rt := range c.cfg.Routes {
		h := rt.Handler
		mux.HandleFunc(rt.Pattern, c.page(func(w http.ResponseWriter, r *http.Request, _ Principal) { h.ServeHTTP(w, r) }, rt.Access))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		who, _ := c.principal(r)
		c.render(w, r, http.StatusNotFound, "error", who, map[string]any{"Title": "未找到", "Message": "没有这个页面（not found）。"})
	})
	return mux
}

// pageFunc serves a page to a principal the roles admit.
type pageFunc func(w http.ResponseWriter, r *http.Request, who Principal)

// page wraps h: without a session, to the sign-in page; a role without capability need,
// 403 (server.Open: any signed-in principal).
func (c *Console) page(h pageFunc, need server.Capability) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		who, ok := c.principal(r)
		if !ok {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/login?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			c.render(w, r, http.StatusUnauthorized, "error", Principal{}, map[string]any{"Title": "请先登录", "Message": "会话已过期或未登录（sign in first）。"})
			return
		}
		if !who.Role.May(need) {
			c.render(w, r, http.StatusForbidden, "error", who, map[string]any{"Title": "无权访问",
				"Message": fmt.Sprintf("角色 %s 无权使用此页面（the role %s may not use this page）。", roleLabel(who.Role), who.Role)})
			return
		}
		h(w, r, who)
	}
}

// form wraps a form post like page, and first checks the form's CSRF token.
func (c *Console) form(h pageFunc, need server.Capability) http.HandlerFunc {
	return c.page(func(w http.ResponseWriter, r *http.Request, who Principal) {
		r.Body = http.MaxBytesReader(w, r.Body, formBytesMax)
		if err := r.ParseForm(); err != nil {
			c.render(w, r, http.StatusBadRequest, "error", who, map[string]any{"Title": "表单无效", "Message": "表单无法读取（the form could not be read）。"})
			return
		}
		if !c.validCSRF(r, r.PostFormValue("csrf")) {
			c.render(w, r, http.StatusForbidden, "error", who, map[string]any{"Title": "请求被拒绝", "Message": "表单已失效，请重新打开页面再提交（CSRF token missing or wrong）。"})
			return
		}
		h(w, r, who)
	}, need)
}

// formBytesMax bounds a form post.
const formBytesMax = 256 << 10

// newCommandID returns a command_id for a form as it is rendered: a double submit or a
// refresh of the form posts the same one, so the ledger sees a duplicate.
func newCommandID() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return "web-" + hex.EncodeToString(b[:])
}
