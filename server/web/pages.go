package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"techledger/commands"
	"techledger/ledger"
	"techledger/projections"
	"techledger/server"
)

// partyInput is a party as a form gives it.
type partyInput struct{ ID, Name, Kind, Region string }

func (p *partyInput) party() *ledger.Party {
	if *p == (partyInput{}) {
		return nil
	}
	return &ledger.Party{ID: p.ID, Name: p.Name, Kind: p.Kind, Region: p.Region}
}

func (c *Console) getHome(w http.ResponseWriter, r *http.Request, who Principal) {
	c.render(w, r, http.StatusOK, "home", who, map[string]any{"Title": "首页"})
}

// searchPageSize is the rows of one page of search results.
const searchPageSize = 20

// searchPagesMax bounds the page number of a search: 20 million results, more than a
// registry holds, and an offset far from overflowing an int (a page near the int's limit
// made the offset negative, which the search refused for a field the page does not show).
const searchPagesMax = 1_000_000

func (c *Console) getSearch(w http.ResponseWriter, r *http.Request, who Principal) {
	qs := r.URL.Query()
	vals := map[string]string{}
	for _, k := range []string{"number", "party", "type", "status", "from", "to"} {
		vals[k] = strings.TrimSpace(qs.Get(k))
	}
	errs := map[string]string{}
	q := projections.SearchQuery{NumberPrefix: vals["number"], Party: vals["party"], Type: vals["type"], Status: vals["status"], Limit: searchPageSize}
	for _, k := range []string{"from", "to"} {
		if vals[k] == "" {
			continue
		}
		d, err := ledger.ParseDate(vals[k])
		if err != nil {
			errs[k] = "日期格式应为 YYYY-MM-DD（" + err.Error() + "）"
			continue
		}
		if k == "from" {
			q.From = d
		} else {
			q.To = d
		}
	}
	page, _ := strconv.Atoi(qs.Get("page")) // past the int range: the largest int, refused below
	page = max(page, 1)
	if page > searchPagesMax {
		c.render(w, r, http.StatusBadRequest, "error", who, map[string]any{"Title": "页码无效",
			"Message": fmt.Sprintf("页码应为 1 至 %d（page must be at most %d）。", searchPagesMax, searchPagesMax)})
		return
	}
	q.Offset = (page - 1) * searchPageSize
	data := map[string]any{"Title": "查询合同", "Values": vals, "Errors": errs, "Page": page}
	if len(errs) == 0 {
		c.catchUp(r.Context())
		res, err := c.cfg.Search.Find(q)
		var qe *projections.QueryError
		switch {
		case errors.As(err, &qe):
			errs[qe.Field] = qe.Rule
		case err != nil:
			c.failed(w, r, who, err)
			return
		default:
			data["Result"] = res
			// A capped count is a lower bound (projections.SearchResult): the page says
			// "at least" and offers the next page without a page count.
			pages := (res.Total + searchPageSize - 1) / searchPageSize
			if !res.Capped {
				data["Pages"] = pages
			}
			link := func(p int) string {
				v := url.Values{}
				for k, s := range vals {
					if s != "" {
						v.Set(k, s)
					}
				}
				v.Set("page", strconv.Itoa(p))
				return "/contracts?" + v.Encode()
			}
			if page > 1 {
				data["Prev"] = link(page - 1)
			}
			if page < pages {
				data["Next"] = link(page + 1)
			}
		}
	}
	status := http.StatusOK
	if len(errs) > 0 {
		status = http.StatusBadRequest
	}
	c.render(w, r, status, "search", who, data)
}

// searchLagMax bounds how long a search waits for the read model to reach the head of
// the log, so that a contract just registered is found.
const searchLagMax = 500 * time.Millisecond

// catchUp waits (at most searchLagMax) for the search read model to reach the log's head,
// if it can tell its position.
func (c *Console) catchUp(ctx context.Context) {
	p, ok := c.cfg.Search.(interface{ Position() ledger.Position })
	if !ok {
		return
	}
	head, err := c.cfg.Log.Head(ctx)
	if err != nil {
		return
	}
	deadline := time.Now().Add(searchLagMax)
	for p.Position() < head && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
}

// today returns the civil date in China.
func (c *Console) today() string { return ledger.DateOf(c.now().In(china)).String() }

func (c *Console) getRegister(w http.ResponseWriter, r *http.Request, who Principal) {
	vals := map[string]string{"command_id": newCommandID(), "registered_on": c.today()}
	c.render(w, r, http.StatusOK, "register", who, map[string]any{"Title": "登记合同", "Values": vals})
}

func (c *Console) postRegister(w http.ResponseWriter, r *http.Request, who Principal) {
	cmd := registerCommand(r.PostForm)
	c.apply(w, r, who, cmd, "register", "登记合同", registerFields, nil, nil)
}

// apply hands cmd to the command handler. Applied or a duplicate (a double submit, a
// refresh): to the contract's page. Rejected: the form again, every error next to its
// field, everything typed kept, with the same command_id. rowOf maps a holder index of
// the command to the row of the form it came from.
func (c *Console) apply(w http.ResponseWriter, r *http.Request, who Principal, cmd commands.Command, page, title string, shown formFields, extra map[string]any, rowOf []int) {
	if cmd.Head().CommandID == "" {
		cmd.Head().CommandID = newCommandID() // a form without one (not rendered here): still one command
	}
	out, err := c.cfg.Commands.Handle(r.Context(), cmd, commands.Actor{Name: who.Name, Role: string(who.Role), CorrelationID: "web"})
	if err == nil && c.full.CompareAndSwap(true, false) {
		c.log.Info("web: commands accepted again after the storage was full")
	}
	if err == nil {
		done := "applied"
		if out.Status == commands.StatusDuplicate {
			done = "duplicate"
		}
		http.Redirect(w, r, "/contracts/"+url.PathEscape(out.ContractID)+"?done="+done+"&cmd="+url.QueryEscape(cmd.CommandName()), http.StatusSeeOther)
		return
	}
	if errors.Is(err, ledger.ErrStorageFull) {
		c.refuseFull(w, r, who, err, page, title, cmd, extra)
		return
	}
	byField, general, other := fieldErrors(err, shown.shows)
	if other != nil {
		c.failed(w, r, who, other)
		return
	}
	for k, v := range byField { // the IP types are one group of checkboxes
		if strings.HasPrefix(k, "ip_types[") {
			delete(byField, k)
			byField["ip_types"] = strings.TrimPrefix(byField["ip_types"]+"；", "；") + v
		}
	}
	if rowOf != nil {
		byField = remapHolders(byField, rowOf)
	}
	vals := values(r.PostForm)
	if vals["command_id"] == "" {
		vals["command_id"] = cmd.Head().CommandID
	}
	data := map[string]any{"Title": title, "Values": vals, "Errors": byField, "General": general}
	for k, v := range extra {
		data[k] = v
	}
	status := http.StatusUnprocessableEntity
	switch commands.CodeOf(err) {
	case commands.CodeConflict:
		status = http.StatusConflict
	case commands.CodeNotFound:
		status = http.StatusNotFound
	}
	c.render(w, r, status, page, who, data)
}

// refuseFull answers a form the store could not record for want of space: 507 Insufficient
// Storage, the form again with everything typed and the same command_id, and the cause, so
// that sending it again once space is freed records it once (docs/reliability.md, disk
// full). The first refusal of an incident is logged; the next ones are not.
func (c *Console) refuseFull(w http.ResponseWriter, r *http.Request, who Principal, err error, page, title string, cmd commands.Command, extra map[string]any) {
	if c.full.CompareAndSwap(false, true) {
		c.log.Error("web: commands refused: the storage is full", "err", err.Error())
	}
	vals := values(r.PostForm)
	if vals["command_id"] == "" {
		vals["command_id"] = cmd.Head().CommandID
	}
	data := map[string]any{"Title": title, "Values": vals, "General": []string{
		"存储空间已满，本次提交未写入任何内容；腾出空间后再次提交即可（storage full: nothing was recorded; submit again once space is freed）"}}
	for k, v := range extra {
		data[k] = v
	}
	c.render(w, r, http.StatusInsufficientStorage, page, who, data)
}

// remapHolders renames "holders[k]…" errors to the form row the holder came from.
func remapHolders(byField map[string]string, rowOf []int) map[string]string {
	out := make(map[string]string, len(byField))
	for k, v := range byField {
		if rest, ok := strings.CutPrefix(k, "holders["); ok {
			if j := strings.IndexByte(rest, ']'); j > 0 {
				if i, err := strconv.Atoi(rest[:j]); err == nil && i < len(rowOf) {
					k = fmt.Sprintf("holders[%d]%s", rowOf[i], rest[j+1:])
				}
			}
		}
		out[k] = v
	}
	return out
}

// contractAt returns a contract's records up to a position or a time (zero: all).
func (c *Console) contractAt(ctx context.Context, id string, pos ledger.Position, at time.Time) ([]ledger.Record, error) {
	var out []ledger.Record
	for rec, err := range c.cfg.Log.ReadStream(ctx, ledger.ContractStream(id), 1) {
		if err != nil {
			return nil, err
		}
		if (pos != 0 && rec.Position > pos) || (!at.IsZero() && rec.RecordedAt.After(at)) {
			break
		}
		out = append(out, rec)
	}
	return out, nil
}

// loadContract returns the view of the contract of the request's {id}, or answers 404.
func (c *Console) loadContract(w http.ResponseWriter, r *http.Request, who Principal) (projections.ContractView, []ledger.Record, bool) {
	id := r.PathValue("id")
	recs, err := c.contractAt(r.Context(), id, 0, time.Time{})
	if err != nil {
		c.failed(w, r, who, err)
		return projections.ContractView{}, nil, false
	}
	v, ok, err := projections.FoldContract(recs)
	if err != nil {
		c.failed(w, r, who, err)
		return v, nil, false
	}
	if !ok {
		c.render(w, r, http.StatusNotFound, "error", who, map[string]any{"Title": "合同未登记", "Message": fmt.Sprintf("合同 %s 未登记（not registered）。", id)})
		return v, nil, false
	}
	return v, recs, true
}

// timelineEntry is one event of a contract's history as the page shows it.
type timelineEntry struct {
	projections.HistoryEntry
	Changes []change // for an amendment: what changed from what to what
	Summary string
}

type change struct{ Field, Label, From, To string }

// changeLabels name the terms an amendment can change.
var changeLabels = map[string]string{"type": "合同类型", "subtype": "合同子类", "field": "技术领域", "amount": "成交额", "tech_amount": "技术交易额"}

// timeline returns the history with the changes of each amendment, read from the terms
// in force before it (an amendment event carries the complete terms after it).
func timeline(recs []ledger.Record) ([]timelineEntry, error) {
	hist := projections.History(recs)
	out := make([]timelineEntry, len(hist))
	var terms map[string]string
	for i := range recs {
		out[i].HistoryEntry = hist[i]
		ev, err := ledger.DecodeRecord(&recs[i])
		if err != nil {
			return nil, err
		}
		switch e := ev.(type) {
		case *ledger.ContractRegistered:
			terms = map[string]string{"type": e.Type, "subtype": e.Subtype, "field": e.Field, "amount": e.Amount.StringFixed(2), "tech_amount": e.TechAmount.StringFixed(2)}
			out[i].Summary = fmt.Sprintf("登记 %s，成交额 %s 元", e.Title, e.Amount.StringFixed(2))
		case *ledger.ContractAmended:
			next := map[string]string{"type": e.Type, "subtype": e.Subtype, "field": e.Field, "amount": e.Amount.StringFixed(2), "tech_amount": e.TechAmount.StringFixed(2)}
			for _, f := range []string{"type", "subtype", "field", "amount", "tech_amount"} {
				if terms[f] != next[f] {
					ch := change{Field: f, Label: changeLabels[f], From: terms[f], To: next[f]}
					switch f {
					case "type":
						ch.From, ch.To = codeLabel(commands.ContractTypeLabel, ch.From), codeLabel(commands.ContractTypeLabel, ch.To)
					case "field":
						ch.From, ch.To = codeLabel(commands.FieldLabel, ch.From), codeLabel(commands.FieldLabel, ch.To)
					case "subtype":
						ch.From = codeLabel(func(s string) (string, bool) { return commands.SubtypeLabel(terms["type"], s) }, ch.From)
						ch.To = codeLabel(func(s string) (string, bool) { return commands.SubtypeLabel(next["type"], s) }, ch.To)
					}
					out[i].Changes = append(out[i].Changes, ch)
				}
			}
			terms = next
		case *ledger.ContractRevoked:
			out[i].Summary = "撤销登记"
		case *ledger.RightsAssigned:
			l, _ := commands.RightLabel(e.Right)
			out[i].Summary = fmt.Sprintf("%s：%d 位权利人，自 %s", l, len(e.Holders), e.EffectiveOn)
		case *ledger.PaymentRecorded:
			out[i].Summary = fmt.Sprintf("到款 %s：%s 元（成本 %s，净收入 %s）", e.PaymentID, e.Amount.StringFixed(2), e.Costs.StringFixed(2), e.Net.StringFixed(2))
		}
	}
	return out, nil
}

func (c *Console) getContract(w http.ResponseWriter, r *http.Request, who Principal) {
	id := r.PathValue("id")
	qs := r.URL.Query()
	errs := map[string]string{}
	var pos ledger.Position
	var at time.Time
	if s := strings.TrimSpace(qs.Get("as_of")); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || n == 0 {
			errs["as_of"] = "应为日志位置（1 或更大的整数）"
		}
		pos = ledger.Position(n)
	}
	if s := strings.TrimSpace(qs.Get("at")); s != "" {
		t, err := parseTime(s)
		if err != nil {
			errs["at"] = "时间格式应为 YYYY-MM-DDTHH:MM（北京时间）或 RFC 3339"
		}
		at = t
	}
	if len(errs) > 0 {
		pos, at = 0, time.Time{}
	}
	recs, err := c.contractAt(r.Context(), id, pos, at)
	if err != nil {
		c.failed(w, r, who, err)
		return
	}
	v, ok, err := projections.FoldContract(recs)
	if err != nil {
		c.failed(w, r, who, err)
		return
	}
	if !ok {
		msg := fmt.Sprintf("合同 %s 未登记（not registered）。", id)
		if pos != 0 || !at.IsZero() {
			msg = fmt.Sprintf("合同 %s 在所选时点尚未登记（not registered as of then）。", id)
		}
		c.render(w, r, http.StatusNotFound, "error", who, map[string]any{"Title": "合同未登记", "Message": msg})
		return
	}
	tl, err := timeline(recs)
	if err != nil {
		c.failed(w, r, who, err)
		return
	}
	amount, _ := decimal.NewFromString(v.Amount)
	paid, _ := decimal.NewFromString(v.Paid)
	data := map[string]any{
		"Title": "合同 " + v.ContractID, "C": v, "Timeline": tl, "Unpaid": amount.Sub(paid).StringFixed(2),
		"AsOf": pos != 0 || !at.IsZero(), "Errors": errs,
		"Values":  map[string]string{"as_of": qs.Get("as_of"), "at": qs.Get("at")},
		"Done":    qs.Get("done"),
		"Cmd":     qs.Get("cmd"),
		"CanEdit": who.Role.May(server.Submit) && v.Status == "registered" && pos == 0 && at.IsZero(),
	}
	c.render(w, r, http.StatusOK, "contract", who, data)
}

// codeLabel returns "中文（code）" for a code the reference data knows.
func codeLabel(lbl func(string) (string, bool), code string) string {
	if l, ok := lbl(code); ok {
		return l + "（" + code + "）"
	}
	return code
}

// parseTime reads a time as a datetime-local input gives it (China time) or RFC 3339.
func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, china); err == nil {
			if layout == "2006-01-02" {
				t = t.Add(24*time.Hour - time.Nanosecond) // the whole day
			}
			return t, nil
		}
	}
	return time.Parse(time.RFC3339, s)
}

func (c *Console) getAmend(w http.ResponseWriter, r *http.Request, who Principal) {
	v, _, ok := c.loadContract(w, r, who)
	if !ok {
		return
	}
	vals := map[string]string{"command_id": newCommandID(), "type": v.Type, "subtype": v.Subtype, "field": v.Field, "amount": v.Amount, "tech_amount": v.TechAmount}
	c.render(w, r, http.StatusOK, "amend", who, map[string]any{"Title": "变更登记", "C": v, "Values": vals})
}

// postAmend sends only what the form changes from the terms in force, so an amendment
// that changes nothing is refused as such.
func (c *Console) postAmend(w http.ResponseWriter, r *http.Request, who Principal) {
	v, _, ok := c.loadContract(w, r, who)
	if !ok {
		return
	}
	f := func(k string) string { return strings.TrimSpace(r.PostForm.Get(k)) }
	cmd := &commands.AmendContract{Header: commands.Header{Command: commands.NameAmendContract, CommandID: f("command_id")}, ContractID: v.ContractID, Reason: f("reason")}
	set := func(dst **string, k, current string) {
		if s := f(k); s != current {
			*dst = &s
		}
	}
	set(&cmd.Type, "type", v.Type)
	set(&cmd.Subtype, "subtype", v.Subtype)
	set(&cmd.Field, "field", v.Field)
	set(&cmd.Amount, "amount", v.Amount)
	set(&cmd.TechAmount, "tech_amount", v.TechAmount)
	c.apply(w, r, who, cmd, "amend", "变更登记", formFields{"type", "subtype", "field", "amount", "tech_amount", "reason"}, map[string]any{"C": v}, nil)
}

func (c *Console) getRevoke(w http.ResponseWriter, r *http.Request, who Principal) {
	v, _, ok := c.loadContract(w, r, who)
	if !ok {
		return
	}
	c.render(w, r, http.StatusOK, "revoke", who, map[string]any{"Title": "撤销登记", "C": v, "Values": map[string]string{"command_id": newCommandID()}})
}

func (c *Console) postRevoke(w http.ResponseWriter, r *http.Request, who Principal) {
	v, _, ok := c.loadContract(w, r, who)
	if !ok {
		return
	}
	cmd := &commands.RevokeContract{Header: commands.Header{Command: commands.NameRevokeContract, CommandID: strings.TrimSpace(r.PostForm.Get("command_id"))},
		ContractID: v.ContractID, Reason: strings.TrimSpace(r.PostForm.Get("reason"))}
	c.apply(w, r, who, cmd, "revoke", "撤销登记", formFields{"reason"}, map[string]any{"C": v}, nil)
}

func (c *Console) getRights(w http.ResponseWriter, r *http.Request, who Principal) {
	v, _, ok := c.loadContract(w, r, who)
	if !ok {
		return
	}
	vals := map[string]string{"command_id": newCommandID(), "effective_on": v.RegisteredOn.String()}
	c.render(w, r, http.StatusOK, "rights", who, map[string]any{"Title": "权属登记", "C": v, "Values": vals})
}

func (c *Console) postRights(w http.ResponseWriter, r *http.Request, who Principal) {
	v, _, ok := c.loadContract(w, r, who)
	if !ok {
		return
	}
	f := func(k string) string { return strings.TrimSpace(r.PostForm.Get(k)) }
	right := f("right")
	cmd := &commands.AssignRights{Header: commands.Header{Command: commands.NameAssignRights, CommandID: f("command_id")},
		ContractID: v.ContractID, Right: right, EffectiveOn: f("effective_on"), Exclusivity: f("exclusivity")}
	if right != ledger.RightUse {
		cmd.Exclusivity = "" // the form shows exclusivity and term for every right; they belong to use rights
	} else if f("term.from") != "" || f("term.to") != "" {
		cmd.Term = &commands.TermInput{From: f("term.from"), To: f("term.to")}
	}
	var rowOf []int
	for _, i := range holderRows(values(r.PostForm)) {
		get := func(k string) string { return f(fmt.Sprintf("holders[%d].%s", i, k)) }
		h := commands.HolderInput{ID: get("id"), Name: get("name"), Kind: get("kind"), Institution: get("institution")}
		share := get("share")
		if h == (commands.HolderInput{}) && share == "" {
			continue
		}
		if right != ledger.RightUse || share != "" {
			h.Share = &share
		}
		cmd.Holders = append(cmd.Holders, h)
		rowOf = append(rowOf, i)
	}
	c.apply(w, r, who, cmd, "rights", "权属登记", formFields{"right", "effective_on", "exclusivity", "term", "term.from", "term.to", "holders"}, map[string]any{"C": v}, rowOf)
}

func (c *Console) getPayment(w http.ResponseWriter, r *http.Request, who Principal) {
	v, _, ok := c.loadContract(w, r, who)
	if !ok {
		return
	}
	c.render(w, r, http.StatusOK, "payment", who, map[string]any{"Title": "到款登记", "C": v, "Unpaid": unpaid(v),
		"Values": map[string]string{"command_id": newCommandID(), "paid_on": c.today(), "costs": "0.00"}})
}

func (c *Console) postPayment(w http.ResponseWriter, r *http.Request, who Principal) {
	v, _, ok := c.loadContract(w, r, who)
	if !ok {
		return
	}
	f := func(k string) string { return strings.TrimSpace(r.PostForm.Get(k)) }
	cmd := &commands.RecordPayment{Header: commands.Header{Command: commands.NameRecordPayment, CommandID: f("command_id")},
		ContractID: v.ContractID, PaymentID: f("payment_id"), Amount: f("amount"), Costs: f("costs"), PaidOn: f("paid_on")}
	c.apply(w, r, who, cmd, "payment", "到款登记", formFields{"payment_id", "amount", "costs", "paid_on"}, map[string]any{"C": v, "Unpaid": unpaid(v)}, nil)
}

// unpaid is the contract amount in force less what was paid.
func unpaid(v projections.ContractView) string {
	a, _ := decimal.NewFromString(v.Amount)
	p, _ := decimal.NewFromString(v.Paid)
	return a.Sub(p).StringFixed(2)
}

// logPageSize is the records of one page of the log.
const logPageSize = 50

// logRow is a record as the log page shows it.
type logRow struct {
	ledger.Record
	Linked bool // PrevHash is the Hash of the row before (checked for every row but the first of the page)
	First  bool
}

func (c *Console) getLog(w http.ResponseWriter, r *http.Request, who Principal) {
	head, err := c.cfg.Log.Head(r.Context())
	if err != nil {
		c.failed(w, r, who, err)
		return
	}
	from := uint64(1)
	if head > logPageSize {
		from = uint64(head) - logPageSize + 1
	}
	errs := map[string]string{}
	if s := strings.TrimSpace(r.URL.Query().Get("from")); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || n == 0 {
			errs["from"] = "应为日志位置（1 或更大的整数）"
		} else {
			from = n
		}
	}
	var rows []logRow
	var prev *ledger.Hash
	for rec, err := range c.cfg.Log.ReadAll(r.Context(), ledger.Position(from)) {
		if err != nil {
			c.failed(w, r, who, err)
			return
		}
		row := logRow{Record: rec, First: prev == nil}
		row.Linked = prev != nil && *prev == rec.PrevHash
		h := rec.Hash
		prev = &h
		rows = append(rows, row)
		if len(rows) == logPageSize {
			break
		}
	}
	data := map[string]any{"Title": "日志", "Rows": rows, "Head": head, "Errors": errs, "Values": map[string]string{"from": strconv.FormatUint(from, 10)}}
	if from > 1 {
		data["Prev"] = fmt.Sprintf("/log?from=%d", max(1, int64(from)-logPageSize))
	}
	if next := from + uint64(len(rows)); len(rows) == logPageSize && next <= uint64(head) {
		data["Next"] = fmt.Sprintf("/log?from=%d", next)
	}
	c.render(w, r, http.StatusOK, "log", who, data)
}

// getVerify shows the verify form, and with ?run=1 runs verify over the whole log (it
// changes nothing, so a GET may run it).
func (c *Console) getVerify(w http.ResponseWriter, r *http.Request, who Principal) {
	data := map[string]any{"Title": "校验"}
	if r.URL.Query().Get("run") != "" {
		start := time.Now()
		rep, err := c.cfg.Verify(r.Context())
		var ce *ledger.CorruptionError
		switch {
		case errors.As(err, &ce):
			data["Broken"] = ce
		case err != nil:
			c.failed(w, r, who, err)
			return
		default:
			data["Report"] = rep
		}
		data["Took"] = time.Since(start).Round(time.Millisecond).String()
		data["At"] = c.now()
	}
	c.render(w, r, http.StatusOK, "verify", who, data)
}
