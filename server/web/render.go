package web

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"techledger/commands"
	"techledger/ledger"
	"techledger/projections"
	"techledger/reports"
	"techledger/server"
)

// layoutFiles are parsed with every page: the layout and the shared partials.
var layoutFiles = []string{"templates/layout.html", "templates/partials.html"}

// parseTemplates parses each page (templates/*.html but the layout files) together with
// the layout, so that every page defines its own "content".
func parseTemplates() (map[string]*template.Template, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	out := map[string]*template.Template{}
	for _, n := range names {
		if n == layoutFiles[0] || n == layoutFiles[1] {
			continue
		}
		t, err := template.New("layout").Funcs(funcs).ParseFS(templateFS, append(layoutFiles[:2:2], n)...)
		if err != nil {
			return nil, fmt.Errorf("web: parse %s: %w", n, err)
		}
		out[strings.TrimSuffix(path.Base(n), ".html")] = t
	}
	return out, nil
}

// navItem is a link of the navigation.
type navItem struct {
	Path, Label string
	Current     bool
}

// nav returns the links who may follow, in order.
func (c *Console) nav(r *http.Request, who Principal) []navItem {
	var out []navItem
	add := func(path, label string, need server.Capability) {
		if who.Role.May(need) {
			cur := r.URL.Path == path || (path != "/" && strings.HasPrefix(r.URL.Path, path+"/") && path != "/contracts")
			if path == "/contracts" {
				cur = r.URL.Path == "/contracts" || (strings.HasPrefix(r.URL.Path, "/contracts/") && r.URL.Path != "/contracts/new")
			}
			out = append(out, navItem{Path: path, Label: label, Current: cur})
		}
	}
	add("/contracts", "查询合同", server.ReadContracts)
	add("/contracts/new", "登记合同", server.Submit)
	add("/log", "日志", server.Audit)
	add("/verify", "校验", server.Audit)
	if c.cfg.Figures != nil {
		add("/stats", "统计", server.ReadFigures)
	}
	for _, p := range c.cfg.Pages {
		if p.Nav != "" {
			add(p.Path, p.Nav, p.Access)
		}
	}
	return out
}

// render writes page name with data (a map the page reads; the layout adds its own keys).
// A template error is a bug: it is logged and answered 500.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, who Principal, data map[string]any) {
	t, ok := c.pages[name]
	if !ok {
		panic("web: no template " + name)
	}
	if data == nil {
		data = map[string]any{}
	}
	for _, k := range []string{"Values", "Errors"} {
		if m, _ := data[k].(map[string]string); m == nil {
			data[k] = map[string]string{}
		}
	}
	data["Who"] = who
	data["Local"] = c.cfg.Authenticate == nil
	data["SignedIn"] = who.Role != ""
	data["CSRF"] = c.csrfToken(r)
	data["Nav"] = c.nav(r, who)
	data["Certificates"] = c.cfg.Proofs != nil
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		c.log.Error("web: render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// failed answers an internal failure: the details go to the log only.
func (c *Console) failed(w http.ResponseWriter, r *http.Request, who Principal, err error) {
	if errors.Is(err, projections.ErrCatchingUp) {
		w.Header().Set("Retry-After", strconv.Itoa(server.CatchUpRetryAfter))
		c.render(w, r, http.StatusServiceUnavailable, "error", who, map[string]any{"Title": "正在加载", "Message": "服务刚启动，正在加载统计与查询数据，请稍后刷新（catching up with the log）。"})
		return
	}
	c.log.Error("web: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	c.render(w, r, http.StatusInternalServerError, "error", who, map[string]any{"Title": "内部错误", "Message": "服务器未能完成请求，已记录日志（internal error）。"})
}

var roleLabels = map[server.Role]string{server.RoleRegistrar: "登记员", server.RoleAuditor: "审计", server.RoleStatistician: "统计", server.RoleAdmin: "管理员"}

// roleLabel names a role in Chinese; role is a server.Role or the string a record's
// metadata holds.
func roleLabel(role any) string {
	r := server.Role(fmt.Sprint(role))
	if l, ok := roleLabels[r]; ok {
		return l
	}
	return string(r)
}

// label returns "中文" for a code the reference data knows, else the code itself.
func label(l string, ok bool, code string) string {
	if ok {
		return l
	}
	return code
}

var funcs = template.FuncMap{
	"roleLabel": roleLabel,
	"typeLabel": func(t string) string { l, ok := commands.ContractTypeLabel(t); return label(l, ok, t) },
	"subtypeLabel": func(t, s string) string {
		l, ok := commands.SubtypeLabel(t, s)
		return label(l, ok, s)
	},
	"fieldLabel":  func(f string) string { l, ok := commands.FieldLabel(f); return label(l, ok, f) },
	"kindLabel":   func(k string) string { l, ok := commands.HolderKindLabel(k); return label(l, ok, k) },
	"ipLabel":     func(t string) string { l, ok := commands.IPTypeLabel(t); return label(l, ok, t) },
	"rightLabel":  func(r string) string { l, ok := commands.RightLabel(r); return label(l, ok, r) },
	"exclLabel":   func(e string) string { l, ok := commands.ExclusivityLabel(e); return label(l, ok, e) },
	"regionName":  regionName,
	"statusLabel": statusLabel,
	"eventLabel":  eventLabel,
	"time": func(t time.Time) string {
		return t.In(china).Format("2006-01-02 15:04:05")
	},
	"shortHash": func(h ledger.Hash) string { s := h.String(); return s[:12] },
	"add":       func(a, b int) int { return a + b },
	// The dashboard's numbers: amounts in 元 and counts with grouped digits, percents ("—": null).
	"yuan":      func(m projections.Money) string { return group(m.String()) },
	"count":     func(n int64) string { return group(strconv.FormatInt(n, 10)) },
	"certParty": func(role string, p any) map[string]any { return map[string]any{"Role": role, "P": p} },
	"rowOf": func(r reports.Row, noTech bool, total string) map[string]any {
		return map[string]any{"R": r, "NoTech": noTech, "Total": total != ""}
	},
	"pct": func(p string) string {
		if p == "" {
			return "—"
		}
		return p
	},
	"field":   formField,
	"options": options,
	"holderRows": func(v map[string]string) []int {
		return holderRows(v)
	},
	"idx":     func(prefix string, i int, suffix string) string { return fmt.Sprintf("%s[%d].%s", prefix, i, suffix) },
	"ipTypes": commands.IPTypes,
	"partyOf": func(page map[string]any, prefix, legend string, required bool) map[string]any {
		star := ""
		if required {
			star = "*"
		}
		return map[string]any{"Page": page, "Prefix": prefix, "Legend": legend, "Star": star}
	},
	"holdersOf": func(label string, r *ledger.RightsAssigned) map[string]any {
		return map[string]any{"Label": label, "R": r}
	},
	"trimStream": func(s string) string { return strings.TrimPrefix(s, "contract-") },
	"doneLabel": func(cmd string) string {
		switch cmd {
		case commands.NameAmendContract:
			return "变更已登记。"
		case commands.NameRevokeContract:
			return "已撤销登记。"
		case commands.NameAssignRights:
			return "权属已登记。"
		case commands.NameRecordPayment:
			return "到款已登记。"
		}
		return "已登记。"
	},
}

// china is the zone the console shows times in (UTC+8).
var china = time.FixedZone("CST", 8*3600)

func regionName(code string) string {
	if code == "" {
		return ""
	}
	name, ok := commands.RegionName(code)
	if !ok {
		if p, ok := commands.ProvinceName(code[:min(2, len(code))]); ok {
			return p + " " + code
		}
		return code
	}
	if city := commands.CityOf(code); city != code && strings.HasPrefix(code, "14") {
		if c, ok := commands.RegionName(city); ok {
			return c + name
		}
	}
	return name
}

func statusLabel(s string) string {
	switch s {
	case "registered":
		return "有效"
	case "revoked":
		return "已撤销"
	}
	return s
}

func eventLabel(t string) string {
	switch t {
	case ledger.TypeContractRegistered:
		return "登记"
	case ledger.TypeContractAmended:
		return "变更"
	case ledger.TypeContractRevoked:
		return "撤销"
	case ledger.TypeRightsAssigned:
		return "权属登记"
	case ledger.TypePaymentRecorded:
		return "到款"
	}
	return t
}
