package web

import (
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/server"
)

// fillRegister fills the register form with the worked example of docs/domain.md (Commands), seller's id given.
func (tb *tab) fillRegister(number, sellerID string) {
	tb.t.Helper()
	keys := func(sel, v string) chromedp.Action[chromedp.Void] { return chromedp.SendKeys(css(sel), v) }
	set := func(sel, v string) chromedp.Action[chromedp.Void] { return chromedp.SetValue(css(sel), v) }
	tb.run(
		keys(`#f-contract_id`, number),
		keys(`#f-title`, "煤矸石综合利用技术转让"),
		set(`#f-type`, "transfer"), js(`document.querySelector("#f-type").dispatchEvent(new Event("change"))`),
		set(`#f-subtype`, "patent_right"),
		set(`#f-field`, "environment"),
		set(`#f-signed_on`, "2023-03-01"), set(`#f-registered_on`, "2023-03-15"),
		keys(`#f-amount`, "1200000.00"), keys(`#f-tech_amount`, "1000000.00"),
		keys(`#f-achievement_id`, "ACH-2022-0042"),
		chromedp.Click(css(`#ip-types input[value=patent]`)),
		keys(`#f-seller\.name`, "太原理工大学"), set(`#f-seller\.kind`, "university"), keys(`#f-seller\.id`, sellerID),
		keys(`#f-buyer\.name`, "长治某能源有限公司"), set(`#f-buyer\.kind`, "enterprise"), keys(`#f-buyer\.id`, "91140400234567819D"),
	)
	// Regions through the province → city → county pickers the script makes.
	tb.pickRegion("seller", "140000", "140100", "")
	tb.pickRegion("buyer", "140000", "140400", "140403")
}

// pickRegion chooses a party's region in the cascade (empty levels are left alone).
func (tb *tab) pickRegion(party, province, city, county string) {
	tb.t.Helper()
	for i, v := range []string{province, city, county} {
		if v == "" {
			continue
		}
		sel := `fieldset[data-party="` + party + `"] .cascade select:nth-of-type(` + string(rune('1'+i)) + `)`
		tb.run(chromedp.SetValue(css(sel), v), js(`document.querySelector('`+sel+`').dispatchEvent(new Event("change"))`))
	}
}

// TestBrowser_RegistrarRegistersAndFinds: a registrar signs in, registers the worked
// example through the form (type → subtype and region cascades), lands on its page, and
// finds it by number prefix and by a part of a party's name.
func TestBrowser_RegistrarRegistersAndFinds(t *testing.T) {
	ts := newTestServer(t, true)
	tb := newTab(t)
	tb.signIn(ts.URL, tokRegistrar)
	tb.shot("home")
	assert.Contains(t, tb.text(`#who`), "王登记")
	assert.False(t, tb.exists(`a[href="/log"]`), "a registrar is not shown the log")

	tb.open(ts.URL + "/contracts/new")
	tb.fillRegister("2023140101000123", "12140000405000025X")
	region := value(tb, chromedp.Value(css(`#f-buyer\.region`)))
	assert.Equal(t, "140403", region, "the cascade sets the form's region")
	tb.shot("register-form")
	tb.submit(`#submit`)

	loc := value(tb, chromedp.Location())
	assert.Contains(t, loc, "/contracts/2023140101000123")
	assert.Equal(t, "煤矸石综合利用技术转让", tb.text(`#c-title`))
	assert.Contains(t, tb.text(`#parties`), "长治市潞州区")
	assert.Contains(t, tb.text(`#timeline`), "王登记")
	tb.shot("contract")
	require.EqualValues(t, 1, ts.head(t))

	for _, q := range []url.Values{{"number": {"20231401"}}, {"party": {"理工"}}, {"party": {"某能源"}, "type": {"transfer"}, "status": {"registered"}}} {
		tb.open(ts.URL + "/contracts?" + q.Encode())
		assert.Contains(t, tb.text(`#result-count`), "共 1 份", "query %v", q)
		assert.Contains(t, tb.text(`#results`), "2023140101000123")
	}
	tb.shot("search")
	tb.open(ts.URL + "/contracts?party=" + url.QueryEscape("不存在"))
	assert.Contains(t, tb.text(`#result-count`), "共 0 份")
	assert.False(t, tb.exists(`#results`))

	// The search form: from the search page to the contract page by its link.
	tb.open(ts.URL + "/contracts?number=2023")
	tb.submit(`#results a`)
	loc = value(tb, chromedp.Location())
	assert.True(t, strings.HasSuffix(loc, "/contracts/2023140101000123"), loc)
}

// TestBrowser_WrongUSCCShownNextToField: a wrong check character is flagged as it is
// typed, and again by the server next to the field after submitting, with everything typed
// kept and nothing appended.
func TestBrowser_WrongUSCCShownNextToField(t *testing.T) {
	ts := newTestServer(t, true)
	tb := newTab(t)
	tb.signIn(ts.URL, tokRegistrar)
	tb.open(ts.URL + "/contracts/new")
	tb.fillRegister("2023140101000123", "12140000405000025Y")
	live := tb.text(`[data-error-for="seller.id"]`)
	assert.Contains(t, live, "应为 X", "checked as typed")
	tb.submit(`#submit`)
	assert.Contains(t, tb.text(`#form-rejected`), "未登记")
	server := tb.text(`[data-error-for="seller.id"]`)
	assert.Contains(t, server, "check character is Y, want X")
	assert.Equal(t, "12140000405000025Y", value(tb, chromedp.Value(css(`#f-seller\.id`))), "typed value kept")
	assert.Equal(t, "煤矸石综合利用技术转让", value(tb, chromedp.Value(css(`#f-title`))))
	assert.Equal(t, "140403", value(tb, chromedp.Value(css(`#f-buyer\.region`))))
	assert.Equal(t, "140403", value(tb, chromedp.Value(css(`fieldset[data-party="buyer"] .cascade select:nth-of-type(3)`))), "the cascade shows the kept region")
	tb.shot("register-errors")
	assert.Zero(t, ts.head(t), "nothing appended")

	// Every field at fault at once: the title cleared and the amount broken too.
	tb.run(js(`document.querySelector("#f-title").value = ""; document.querySelector("#f-amount").value = "12,00"`))
	tb.submit(`#submit`)
	for _, f := range []string{"title", "amount", "seller.id"} {
		assert.NotEmpty(t, tb.text(`[data-error-for="`+f+`"]`), f)
	}
	assert.Zero(t, ts.head(t))
}

// TestBrowser_DoubleSubmitAppendsOne posts the same rendered form twice at once (as a
// double click or a resubmitted page does): the form's command_id makes the second a
// duplicate, so one contract is registered, and both answers lead to its page.
func TestBrowser_DoubleSubmitAppendsOne(t *testing.T) {
	ts := newTestServer(t, true)
	tb := newTab(t)
	tb.signIn(ts.URL, tokRegistrar)
	tb.open(ts.URL + "/contracts/new")
	tb.fillRegister("2023140101000123", "12140000405000025X")
	statuses := value(tb, chromedp.Evaluate[[]string](`(async () => {
		const form = document.querySelector("#register-form");
		const post = () => fetch(form.action, {method: "POST", body: new URLSearchParams(new FormData(form))}).then(r => r.url + " " + r.status);
		return Promise.all([post(), post()]);
	})()`, chromedp.EvalAwaitPromise))
	for _, s := range statuses {
		assert.Contains(t, s, "/contracts/2023140101000123?done=", s)
		assert.True(t, strings.HasSuffix(s, " 200"), s)
	}
	assert.EqualValues(t, 1, ts.head(t), "one event appended")
	// And the form submitted again by the browser after that: still a duplicate.
	tb.submit(`#submit`)
	assert.Contains(t, tb.text(`#done`), "未重复登记")
	assert.EqualValues(t, 1, ts.head(t))
	tb.open(ts.URL + "/contracts?number=2023")
	assert.Contains(t, tb.text(`#result-count`), "共 1 份")
}

// TestBrowser_AmendShowsChangeInTimeline amends the amounts through the form; the
// contract page's timeline shows what changed from what to what, and the reason.
func TestBrowser_AmendShowsChangeInTimeline(t *testing.T) {
	ts := newTestServer(t, true)
	ts.apply(t, exampleJSON)
	tb := newTab(t)
	tb.signIn(ts.URL, tokRegistrar)
	tb.open(ts.URL + "/contracts/2023140101000123")
	tb.submit(`a[href$="/amend"]`)
	tb.run(chromedp.SetValue(css(`#f-amount`), "1300000.00"), chromedp.SetValue(css(`#f-tech_amount`), "1100000.00"),
		chromedp.SendKeys(css(`#f-reason`), "补充协议"))
	tb.submit(`#submit`)
	assert.Equal(t, "1300000.00 元", tb.text(`#c-amount`))
	tl := tb.text(`#timeline`)
	assert.Contains(t, tl, "变更")
	assert.Contains(t, tl, "1200000.00 → 1300000.00")
	assert.Contains(t, tl, "1000000.00 → 1100000.00")
	assert.Contains(t, tl, "补充协议")
	tb.shot("contract-amended")
	assert.EqualValues(t, 2, ts.head(t))

	// An amendment without a reason and with a bad amount: both named, nothing appended.
	tb.open(ts.URL + "/contracts/2023140101000123/amend")
	tb.run(chromedp.SetValue(css(`#f-amount`), "abc"))
	tb.submit(`#submit`)
	assert.NotEmpty(t, tb.text(`[data-error-for="reason"]`))
	assert.NotEmpty(t, tb.text(`[data-error-for="amount"]`))
	assert.EqualValues(t, 2, ts.head(t))
}

// TestBrowser_StatisticianGets403 signs in as a statistician: the navigation offers no
// registrar page, and typing a registrar URL gets 403 from the server.
func TestBrowser_StatisticianGets403(t *testing.T) {
	ts := newTestServer(t, true, Page{Path: "/stats", Nav: "统计", Access: server.ReadFigures,
		Render: func(*http.Request, Principal) (string, template.HTML, error) {
			return "统计", "<p id=\"stats\">统计表</p>", nil
		}})
	ts.apply(t, exampleJSON)
	tb := newTab(t)
	tb.signIn(ts.URL, tokStatistician)
	assert.True(t, tb.exists(`nav a[href="/stats"]`), "the statistics slot")
	assert.False(t, tb.exists(`nav a[href="/contracts/new"]`))
	assert.False(t, tb.exists(`nav a[href="/contracts"]`))
	for _, path := range []string{"/contracts/new", "/contracts/2023140101000123", "/contracts/2023140101000123/amend", "/log"} {
		resp := value(tb, chromedp.NavigateResponse(ts.URL+path))
		assert.EqualValues(t, http.StatusForbidden, resp.Status, path)
		assert.Contains(t, tb.text(`#error-message`), "无权", path)
	}
	tb.shot("forbidden")
	tb.open(ts.URL + "/stats")
	assert.Equal(t, "统计表", tb.text(`#stats`))

	// The server refuses the post too, not only the page.
	cl := ts.client(t, tokStatistician)
	code, _ := get(t, cl, ts.URL+"/contracts/new")
	assert.Equal(t, http.StatusForbidden, code)
}

// TestBrowser_AuditorSeesHistoryAndVerify: an auditor reads a contract's history (also as
// of an earlier position), browses the log, and runs verify.
func TestBrowser_AuditorSeesHistoryAndVerify(t *testing.T) {
	ts := newTestServer(t, true)
	ts.apply(t, exampleJSON,
		`{"command":"amend_contract","command_id":"c-0005","contract_id":"2023140101000123","amount":"1300000.00","tech_amount":"1100000.00","reason":"补充协议"}`,
		`{"command":"record_payment","command_id":"c-0004","contract_id":"2023140101000123","payment_id":"P-1","amount":"600000.00","costs":"50000.00","paid_on":"2023-06-30"}`)
	tb := newTab(t)
	tb.signIn(ts.URL, tokAuditor)
	assert.False(t, tb.exists(`nav a[href="/contracts/new"]`))
	tb.open(ts.URL + "/contracts/2023140101000123")
	assert.False(t, tb.exists(`a[href$="/amend"]`), "an auditor changes nothing")
	assert.Contains(t, tb.text(`#timeline`), "导入")
	assert.Contains(t, tb.text(`#payments`), "550000.00")
	assert.Equal(t, "700000.00", tb.text(`#c-unpaid`))
	tb.open(ts.URL + "/contracts/2023140101000123?as_of=1")
	assert.Equal(t, "1200000.00 元", tb.text(`#c-amount`), "as of position 1: before the amendment")
	assert.Contains(t, tb.text(`#as-of-note`), "日志位置 1")

	tb.open(ts.URL + "/log?from=1")
	log := tb.text(`#log`)
	assert.Contains(t, log, "contract-2023140101000123")
	assert.Contains(t, log, "✓")
	tb.shot("log")
	tb.open(ts.URL + "/verify")
	tb.submit(`#run-verify`)
	assert.Contains(t, tb.text(`#verify-report`), "校验通过")
	assert.Equal(t, "3", tb.text(`#v-records`))
	tb.shot("verify")
	code, _ := get(t, ts.client(t, tokRegistrar), ts.URL+"/verify")
	assert.Equal(t, http.StatusForbidden, code, "verify is the auditor's")
}

// TestBrowser_CrossOriginPostRefused: a page on another site posts a registration form to
// the console in a browser signed in to it; the console refuses it and appends nothing.
func TestBrowser_CrossOriginPostRefused(t *testing.T) {
	ts := newTestServer(t, true)
	target := strings.Replace(ts.URL, "127.0.0.1", "localhost", 1) // another site than the attacker's
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html><form id="f" method="post" action="%s/contracts/new"><input name="contract_id" value="2023140101000123"><input name="title" value="伪造"></form><button id="go" form="f">go</button>`, target)
	}))
	defer evil.Close()
	tb := newTab(t)
	tb.signIn(target, tokRegistrar)
	tb.run(chromedp.Navigate(evil.URL), chromedp.Click(css(`#go`)), chromedp.WaitReady(css(`#error-message`)))
	assert.Contains(t, tb.text(`#error-message`), "跨站")
	assert.Zero(t, ts.head(t))
}

// TestBrowser_EveryPageWithoutCSPViolation opens every page of the console as admin (the
// tab fails the test on any CSP violation, script error or console error) and checks
// that the harness does catch a violation: a page with an inline script added on purpose.
func TestBrowser_EveryPageWithoutCSPViolation(t *testing.T) {
	ts := newTestServer(t, true, Page{Path: "/inline", Nav: "", Access: server.ReadFigures,
		Render: func(*http.Request, Principal) (string, template.HTML, error) {
			return "inline", `<p id="x">x</p><script>document.title = "ran"</script>`, nil
		}})
	ts.apply(t, exampleJSON, proceedsJSON)
	tb := newTab(t)
	tb.signIn(ts.URL, tokAdmin)
	const id = "/contracts/2023140101000123"
	for _, path := range []string{"/", "/contracts", "/contracts?party=" + url.QueryEscape("理工"), "/contracts/new", id, id + "?as_of=1",
		id + "/amend", id + "/revoke", id + "/rights", id + "/payments", "/log", "/verify?run=1"} {
		tb.open(ts.URL + path)
	}
	tb.open(ts.URL + id + "/rights")
	tb.shot("rights-form")

	tb.open(ts.URL + "/inline")
	tb.run(chromedp.Sleep(200 * time.Millisecond))
	tb.mu.Lock()
	caught := slices.ContainsFunc(tb.problems, func(p string) bool { return strings.Contains(p, "Content Security Policy") })
	tb.problems = nil // expected here
	tb.mu.Unlock()
	assert.True(t, caught, "the inline script was refused and reported")
	assert.NotEqual(t, "ran", value(tb, chromedp.Title()), "the inline script did not run")
}
