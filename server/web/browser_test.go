package web

// Browser tests: Debian's Chromium, headless, driven by chromedp against the console on an
// httptest server. One browser for the package (TestMain), one tab per test; every tab
// fails its test on any Content-Security-Policy violation, script error or console error.
// Without Chromium the tests skip with the reason, except under CI=true where they fail.
// Screenshots go to $TECHLEDGER_ARTIFACTS or the test's temporary directory.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

var (
	browser        context.Context // the browser; tabs are its children
	browserMissing string          // why there is no browser ("" if there is)
)

// chromiumPath finds Debian's Chromium (or another Chrome), or returns "".
func chromiumPath() string {
	if p := os.Getenv("TECHLEDGER_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

func TestMain(m *testing.M) {
	os.Exit(func() int {
		path := chromiumPath()
		if path == "" {
			browserMissing = "Chromium not found (apt-get install chromium fonts-noto-cjk; .ci/run does)"
			return m.Run()
		}
		profile, err := os.MkdirTemp("", "techledger-chromium-")
		if err != nil {
			browserMissing = err.Error()
			return m.Run()
		}
		defer os.RemoveAll(profile)
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(profile),
			chromedp.WindowSize(1280, 900),
			chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true),
			chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true), chromedp.Flag("lang", "zh-CN"),
		)
		actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		defer cancelAlloc()
		bctx, cancelBrowser := chromedp.NewContext(actx)
		defer cancelBrowser()
		if err := chromedp.Do(bctx); err != nil {
			browserMissing = fmt.Sprintf("Chromium at %s does not start: %v", path, err)
			return m.Run()
		}
		browser = bctx
		return m.Run()
	}())
}

// tab is a browser tab of one test, with what the page reported.
type tab struct {
	ctx context.Context
	t   *testing.T

	mu       sync.Mutex
	problems []string // CSP violations, script errors, console errors
}

// browserMu keeps one test at a time in the browser: 2 cores, one Chromium.
var browserMu sync.Mutex

// newTab opens a tab for t, or skips t (fails it under CI=true) without a browser.
func newTab(t *testing.T) *tab {
	t.Helper()
	if browser == nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("browser tests need Chromium under CI: %s", browserMissing)
		}
		t.Skip(browserMissing)
	}
	browserMu.Lock()
	ctx, cancel := chromedp.NewContext(browser)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	tb := &tab{ctx: ctx, t: t}
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	messages := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() || strings.Contains(m.Text, "Content Security Policy") {
				tb.report(fmt.Sprintf("%s %s (%s)", m.Source, m, m.URL))
			}
		}
	}()
	t.Cleanup(func() { <-done })
	t.Cleanup(func() {
		cancelTimeout()
		cancel()
		browserMu.Unlock()
	})
	t.Cleanup(func() {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		for _, p := range tb.problems {
			t.Errorf("the browser reported: %s", p)
		}
	})
	return tb
}

// report records a problem the page reported. Failed resource loads that a test causes on
// purpose (a 4xx page) are logged by Chromium as errors too; those are not problems.
func (tb *tab) report(p string) {
	if strings.Contains(p, "Failed to load resource: the server responded with a status of 4") {
		return
	}
	tb.mu.Lock()
	tb.problems = append(tb.problems, p)
	tb.mu.Unlock()
}

// run runs actions in the tab, failing the test on error.
func (tb *tab) run(actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, actions...); err != nil {
		tb.t.Fatalf("browser: %v", err)
	}
}

// value runs an action that returns a value, failing the test on error.
func value[T any](tb *tab, a chromedp.Action[T]) T {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, a)
	if err != nil {
		tb.t.Fatalf("browser: %v", err)
	}
	return v
}

// js runs a script in the page (DevTools evaluation: not subject to the page's CSP).
func js(expr string) chromedp.Action[chromedp.Void] { return chromedp.Evaluate[chromedp.Void](expr) }

func css(sel string) chromedp.CSS { return chromedp.CSS(sel) }

// open navigates to u and waits for the page's script to mark it ready.
func (tb *tab) open(u string) {
	tb.t.Helper()
	tb.run(chromedp.Navigate(u), chromedp.WaitReady(css(`body[data-ready]`)))
}

// submit clicks a form's submit button and waits for the next page to be ready.
func (tb *tab) submit(sel string) {
	tb.t.Helper()
	tb.run(js(`document.body.removeAttribute("data-ready")`), chromedp.Click(css(sel)), chromedp.WaitReady(css(`body[data-ready]`)))
}

// text returns the text of the first element matching sel.
func (tb *tab) text(sel string) string {
	tb.t.Helper()
	return value(tb, chromedp.Text(css(sel), chromedp.NodeVisible))
}

// exists reports whether an element matches sel.
func (tb *tab) exists(sel string) bool {
	tb.t.Helper()
	return len(value(tb, chromedp.Nodes(chromedp.CSSAll(sel), chromedp.AtLeast(0)))) > 0
}

// signIn signs in with token from the sign-in page.
func (tb *tab) signIn(base, token string) {
	tb.t.Helper()
	tb.open(base + "/login")
	tb.run(chromedp.SendKeys(css(`#f-token`), token))
	tb.submit(`#login-form button[type=submit]`)
}

// artifactDir is where screenshots go: $TECHLEDGER_ARTIFACTS/<test>, or a directory of
// the test's own.
func artifactDir(t *testing.T) string {
	if d := os.Getenv("TECHLEDGER_ARTIFACTS"); d != "" {
		dir := filepath.Join(d, strings.ReplaceAll(t.Name(), "/", "_"))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.TempDir()
}

// shot writes a full-page PNG screenshot named name to the test's artifact directory.
func (tb *tab) shot(name string) string {
	tb.t.Helper()
	png := value(tb, chromedp.FullScreenshot(100))
	path := filepath.Join(artifactDir(tb.t), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
	tb.t.Logf("screenshot %s", path)
	return path
}
