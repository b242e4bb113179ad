package web

import (
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"techledger/commands"
)

// fieldView is one input as the "field" partial renders it.
type fieldView struct {
	Name, Label, Type, Value, Error, Hint string
	Options                               []optionGroup
	Required                              bool
}

// formField returns the view of input name of a page whose data holds "Values" and
// "Errors" (both map[string]string, keyed by the command's JSON path: "seller.id"). kind
// is an input type ("text", "date", …) or an options kind (see options), which makes it a
// select. A name ending in "*" is required.
func formField(data map[string]any, name, label, kind string) fieldView {
	values, _ := data["Values"].(map[string]string)
	errs, _ := data["Errors"].(map[string]string)
	f := fieldView{Name: strings.TrimSuffix(name, "*"), Label: label, Type: kind, Required: strings.HasSuffix(name, "*")}
	f.Value, f.Error = values[f.Name], errs[f.Name]
	if groups := options(kind, f.Value); groups != nil {
		f.Type, f.Options = "select", groups
	}
	return f
}

type option struct {
	Value, Label string
	Selected     bool
	Parent       string // for cascades: the option this one belongs under (a type, a city)
}

type optionGroup struct {
	Label   string
	Options []option
}

// options returns the choices of a select kind from the reference data, with selected
// marked, or nil if kind is not a select kind. Every select starts with an empty choice.
func options(kind, selected string) []optionGroup {
	one := func(ids []string, lbl func(string) (string, bool)) []optionGroup {
		g := optionGroup{Options: []option{{Value: "", Label: "请选择"}}}
		for _, id := range ids {
			l, _ := lbl(id)
			g.Options = append(g.Options, option{Value: id, Label: l + "（" + id + "）", Selected: id == selected})
		}
		return []optionGroup{g}
	}
	switch kind {
	case "type":
		return one(commands.ContractTypes(), commands.ContractTypeLabel)
	case "field":
		return one(commands.Fields(), commands.FieldLabel)
	case "kind":
		return one(commands.PartyKinds(), commands.PartyKindLabel)
	case "holderKind":
		return one(commands.HolderKinds(), commands.HolderKindLabel)
	case "right":
		return one(commands.Rights(), commands.RightLabel)
	case "exclusivity":
		return one(commands.Exclusivities(), commands.ExclusivityLabel)
	case "status":
		return []optionGroup{{Options: []option{{Value: "", Label: "全部"},
			{Value: "registered", Label: "有效", Selected: selected == "registered"},
			{Value: "revoked", Label: "已撤销", Selected: selected == "revoked"}}}}
	case "subtype":
		// Every subtype, grouped by type; the script shows only the chosen type's.
		var out []optionGroup
		out = append(out, optionGroup{Options: []option{{Value: "", Label: "请选择"}}})
		for _, t := range commands.ContractTypes() {
			tl, _ := commands.ContractTypeLabel(t)
			g := optionGroup{Label: tl}
			for _, s := range commands.SubtypesOf(t) {
				l, _ := commands.SubtypeLabel(t, s)
				g.Options = append(g.Options, option{Value: s, Label: l + "（" + s + "）", Selected: s == selected, Parent: t})
			}
			out = append(out, g)
		}
		return out
	case "region":
		return regionOptions(selected)
	}
	return nil
}

// regionOptions lists the regions a party may be in: Shanxi's province, cities and
// counties (each under its city), the other provinces, and abroad. Without script it is
// one select; the script turns it into province → city → county (docs/console.md).
func regionOptions(selected string) []optionGroup {
	shanxi := optionGroup{Label: "山西省"}
	for _, code := range commands.ShanxiRegions() {
		name, _ := commands.RegionName(code)
		o := option{Value: code, Label: name + "（" + code + "）", Selected: code == selected, Parent: "140000"}
		switch {
		case code == "140000":
			o.Label, o.Parent = "山西省（全省，140000）", ""
		case strings.HasSuffix(code, "00"): // a city
		default:
			city, _ := commands.RegionName(commands.CityOf(code))
			o.Label, o.Parent = city+" "+name+"（"+code+"）", commands.CityOf(code)
		}
		shanxi.Options = append(shanxi.Options, o)
	}
	others := optionGroup{Label: "其他省份"}
	for _, code := range commands.Provinces() {
		if code == "140000" {
			continue
		}
		name, _ := commands.RegionName(code)
		others.Options = append(others.Options, option{Value: code, Label: name + "（" + code + "）", Selected: code == selected})
	}
	abroad := optionGroup{Label: "境外", Options: []option{{Value: commands.AbroadRegion, Label: "境外（" + commands.AbroadRegion + "）", Selected: selected == commands.AbroadRegion}}}
	return []optionGroup{{Options: []option{{Value: "", Label: "请选择"}}}, shanxi, others, abroad}
}

// holdersShown is how many holder rows a rights form shows at least.
const holdersShown = 4

// holderRows returns the row indexes of a rights form: enough for every holder typed.
func holderRows(values map[string]string) []int {
	n := holdersShown
	for k := range values {
		if rest, ok := strings.CutPrefix(k, "holders["); ok {
			if i, err := strconv.Atoi(rest[:max(0, strings.IndexByte(rest, ']'))]); err == nil && i+1 > n && i < commands.HoldersMax {
				n = i + 1
			}
		}
	}
	rows := make([]int, n)
	for i := range rows {
		rows[i] = i
	}
	return rows
}

// values returns a form's fields as the page shows them again: the first value of each.
func values(form url.Values) map[string]string {
	out := make(map[string]string, len(form))
	for k, v := range form {
		if k != "csrf" && len(v) > 0 {
			out[k] = v[0]
		}
	}
	for _, t := range form["ip_types"] {
		out["ip_types:"+t] = "on"
	}
	return out
}

// fieldErrors returns a rejection as the form shows it: each field's rules, by JSON path,
// and the rules that no field of the form shows (general). An error that is not a
// rejection is returned as is.
func fieldErrors(err error, shown func(field string) bool) (byField map[string]string, general []string, other error) {
	var e *commands.Error
	if !errors.As(err, &e) {
		return nil, nil, err
	}
	byField = map[string]string{}
	for _, f := range e.FieldErrors() {
		rule := ruleText(f.Rule)
		if f.Field == "" || !shown(f.Field) {
			if f.Field != "" {
				rule = f.Field + ": " + rule
			}
			general = append(general, rule)
			continue
		}
		if prev, ok := byField[f.Field]; ok {
			rule = prev + "；" + rule
		}
		byField[f.Field] = rule
	}
	return byField, general, nil
}

// ruleText puts the Chinese for the commonest rules before the rule as the ledger states
// it (which names the value and the limit).
func ruleText(rule string) string {
	switch {
	case rule == "is required":
		return "必填（is required）"
	case strings.Contains(rule, "check character"):
		return "校验码错误：" + rule
	case strings.Contains(rule, "exceeds amount"):
		return "超过合同成交额：" + rule
	}
	return rule
}

// formFields is the set of fields a form shows, for fieldErrors.
type formFields []string

func (f formFields) shows(field string) bool {
	if strings.HasPrefix(field, "holders[") || strings.HasPrefix(field, "ip_types") {
		return slices.Contains(f, "holders") || slices.Contains(f, "ip_types")
	}
	return slices.Contains(f, field)
}

var registerFields = formFields{"contract_id", "title", "type", "subtype", "field", "signed_on", "registered_on", "amount", "tech_amount",
	"seller", "seller.id", "seller.name", "seller.kind", "seller.region", "buyer", "buyer.id", "buyer.name", "buyer.kind", "buyer.region",
	"intermediary", "intermediary.id", "intermediary.name", "intermediary.kind", "intermediary.region", "achievement_id", "ip_types"}

// registerCommand builds register_contract from the form. An intermediary is sent only if
// one of its fields is filled in.
func registerCommand(form url.Values) *commands.RegisterContract {
	v := func(k string) string { return strings.TrimSpace(form.Get(k)) }
	party := func(p string) *partyInput {
		return &partyInput{ID: v(p + ".id"), Name: v(p + ".name"), Kind: v(p + ".kind"), Region: v(p + ".region")}
	}
	cmd := &commands.RegisterContract{
		Header:     commands.Header{Command: commands.NameRegisterContract, CommandID: v("command_id")},
		ContractID: v("contract_id"), Title: v("title"), Type: v("type"), Subtype: v("subtype"), Field: v("field"),
		SignedOn: v("signed_on"), RegisteredOn: v("registered_on"), Amount: v("amount"), TechAmount: v("tech_amount"),
		AchievementID: v("achievement_id"), IPTypes: []string{},
	}
	cmd.Seller, cmd.Buyer = party("seller").party(), party("buyer").party()
	if in := party("intermediary"); *in != (partyInput{}) {
		cmd.Intermediary = in.party()
	}
	for _, t := range form["ip_types"] {
		if t = strings.TrimSpace(t); t != "" {
			cmd.IPTypes = append(cmd.IPTypes, t)
		}
	}
	return cmd
}
