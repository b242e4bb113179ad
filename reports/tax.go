package reports

import (
	"cmp"
	"encoding/json"
	"slices"
	"time"

	"techledger/internal/refdata"
	"techledger/ledger"
	"techledger/projections"
)

// Tax-eligibility flags: information for the registry and tax staff, not tax advice. Each
// flag names the rule version it applied; a rule version lists the conditions the ledger
// checks and those it cannot (docs/reports.md quotes the sources).

// Tax kinds.
const (
	TaxVAT = "vat" // 增值税 exemption of technology transfer and development income
	TaxEIT = "eit" // 企业所得税 relief of technology transfer income
	TaxIIT = "iit" // 个人所得税 halving of researchers' cash rewards
)

// Statuses of a flag.
const (
	StatusEligible    = "eligible"     // every condition the ledger can check holds, and the rule is certain
	StatusProbable    = "probable"     // the checkable conditions hold, but the rule's reach is unconfirmed
	StatusNotEligible = "not_eligible" // a checkable condition fails
)

// TaxRule is a dated version of a tax rule.
type TaxRule struct {
	ID        string       `json:"id"`
	Tax       string       `json:"tax"`
	Source    string       `json:"source"`
	From      ledger.Date  `json:"from"`         // in force from (registered_on, or paid_on for rewards)
	To        *ledger.Date `json:"to,omitempty"` // last day in force; nil: open
	Checks    []string     `json:"checks"`
	Unchecked []string     `json:"unchecked"` // conditions a ledger cannot check
}

func day(y int, m time.Month, d int) ledger.Date { return ledger.Date{Year: y, Month: m, Day: d} }

func dayPtr(y int, m time.Month, d int) *ledger.Date { x := day(y, m, d); return &x }

// TaxRules are the rule versions the flags apply; for each tax the version in force on the
// contract's registered_on (rewards: the payment's paid_on) applies.
var TaxRules = []TaxRule{
	{
		ID: "vat-2016", Tax: TaxVAT, From: day(2016, 5, 1), To: dayPtr(2025, 12, 31),
		Source:    "财税〔2016〕36号 附件3 第一条第（二十六）项（营改增，2016-05-01 起）",
		Checks:    []string{"registered and not revoked", "type development or transfer (licence: the text's 'right of use' is not restated after the Civil Code: probable)", "consulting and service only as part of a development or transfer contract: not eligible on their own"},
		Unchecked: []string{"consulting or service billed on the same invoice as the development or transfer", "that the work is genuine technology development or transfer"},
	},
	{
		ID: "vat-2026", Tax: TaxVAT, From: day(2026, 1, 1),
		Source:    "中华人民共和国增值税法（2026-01-01 施行）; whether the 财税〔2016〕36号 exemption continues under it is unconfirmed",
		Checks:    []string{"registered and not revoked", "type development, transfer or licence"},
		Unchecked: []string{"whether the exemption continues under the VAT Law (unconfirmed: at most probable)", "same-invoice billing", "that the work is genuine"},
	},
	{
		ID: "eit-2008", Tax: TaxEIT, From: day(2008, 1, 1), To: dayPtr(2015, 9, 30),
		Source:    "企业所得税法实施条例 第九十条; 国税函〔2009〕212号; 财税〔2010〕111号",
		Checks:    []string{"seller is an enterprise", "type transfer, or licence with an exclusive use grant of at least 5 years", "IP type patent, software copyright, IC layout, plant variety or new biomedical variety", "registered", "per seller and tax year, 技术交易额 (a proxy for 所得) against 5,000,000.00 yuan: exempt up to it, half rate above"},
		Unchecked: []string{"tax residence", "global exclusivity of a licence", "ownership of the licensed IP", "related-party status", "costs and taxes, so the real 所得"},
	},
	{
		ID: "eit-2015", Tax: TaxEIT, From: day(2015, 10, 1),
		Source:    "企业所得税法实施条例 第九十条; 国税函〔2009〕212号; 财税〔2010〕111号; 财税〔2015〕116号 (non-exclusive licences of 5 years or more, 2015-10-01 起)",
		Checks:    []string{"seller is an enterprise", "type transfer, or licence with a use grant of at least 5 years", "IP type patent, software copyright, IC layout, plant variety or new biomedical variety", "registered", "per seller and tax year, 技术交易额 (a proxy for 所得) against 5,000,000.00 yuan: exempt up to it, half rate above"},
		Unchecked: []string{"tax residence", "ownership of the licensed IP", "related-party status", "costs and taxes, so the real 所得"},
	},
	{
		ID: "iit-2018", Tax: TaxIIT, From: day(2018, 7, 1),
		Source:    "财税〔2018〕58号（2018-07-01 起）",
		Checks:    []string{"seller is a university or research institute", "type transfer or licence", "IP type patent, software copyright, IC layout, plant variety or new biomedical variety", "a registration number exists and the registration is not revoked"},
		Unchecked: []string{"the reward is paid within 36 months of the income (the ledger fixes the allocation when the income is received, not when the reward is paid out)", "non-profit status of the institution", "public notice of the reward", "that the reward is not ordinary pay"},
	},
}

// EITThresholdFen is the yearly technology-transfer income exempt from enterprise income
// tax (企业所得税法实施条例 第九十条: 500万元), in fen.
const EITThresholdFen = 5_000_000_00

// qualifyingIP are the IP types 财税〔2010〕111号 lists for technology transfer (and
// 财税〔2018〕58号 follows for rewards).
var qualifyingIP = []string{"patent", "software_copyright", "ic_layout", "plant_variety", "biomedical_variety"}

// ruleFor returns the version of tax in force on d.
func ruleFor(tax string, d ledger.Date) *TaxRule {
	for i := range TaxRules {
		r := &TaxRules[i]
		if r.Tax == tax && !d.Before(r.From) && (r.To == nil || !d.After(*r.To)) {
			return r
		}
	}
	return nil
}

// TaxReport holds the flags of one tax year.
type TaxReport struct {
	AsOf         ledger.Position `json:"as_of"`
	HeadHash     ledger.Hash     `json:"head_hash"`
	HomeProvince string          `json:"home_province"`
	Year         int             `json:"year"`
	Note         string          `json:"note"`
	Rules        []TaxRule       `json:"rules"`
	VATCounts    StatusCounts    `json:"vat_counts"`
	VAT          []VATFlag       `json:"vat"`
	EIT          []EITTally      `json:"eit"`
	IIT          []IITFlag       `json:"iit"`
	RecordedAt   time.Time       `json:"-"`
}

// StatusCounts counts flags by status.
type StatusCounts struct {
	Eligible    int64 `json:"eligible"`
	Probable    int64 `json:"probable"`
	NotEligible int64 `json:"not_eligible"`
}

func (c *StatusCounts) add(status string) {
	switch status {
	case StatusEligible:
		c.Eligible++
	case StatusProbable:
		c.Probable++
	default:
		c.NotEligible++
	}
}

// VATFlag is the VAT-exemption status of a contract registered in the year.
type VATFlag struct {
	ContractID   string      `json:"contract_id"`
	RegisteredOn ledger.Date `json:"registered_on"`
	Type         string      `json:"type"`
	Status       string      `json:"status"`
	Rule         string      `json:"rule"` // TaxRule.ID; "" when none was in force
	Reasons      []string    `json:"reasons"`
}

// EITTally is a seller's qualifying contracts in the tax year against the threshold.
type EITTally struct {
	SellerID   string            `json:"seller_id"`
	Name       string            `json:"name"`
	Contracts  int64             `json:"contracts"`
	TechAmount projections.Money `json:"tech_amount"` // proxy for 所得
	Exempt     projections.Money `json:"exempt"`      // up to the threshold
	HalfRate   projections.Money `json:"half_rate"`   // above it
	Rules      []string          `json:"rules"`       // the versions that applied
}

// IITFlag says whether the halving may apply to the researchers' part of a payment.
type IITFlag struct {
	ContractID  string            `json:"contract_id"`
	Position    ledger.Position   `json:"position"`
	PaidOn      ledger.Date       `json:"paid_on"`
	Researchers projections.Money `json:"researchers_amount"`
	Status      string            `json:"status"` // probable or not_eligible (never certain: see the rule's unchecked conditions)
	Rule        string            `json:"rule"`
	Reasons     []string          `json:"reasons"`
}

// BuildTax computes the tax flags of year y: contracts registered in y (VAT, EIT) and
// reward payments paid in y (IIT). It reads st only: call it inside Runner.Read.
func BuildTax(st *projections.State, y int) (*TaxReport, error) {
	p, err := Annual(y)
	if err != nil {
		return nil, err
	}
	t := &TaxReport{
		AsOf: st.Position(), HeadHash: st.Hash(), RecordedAt: st.RecordedAt(), HomeProvince: st.HomeProvince() + "0000", Year: y,
		Note:  "供参考，非税务意见 (information, not tax advice): a flag says what the ledger can check; see each rule's unchecked conditions",
		Rules: TaxRules, VAT: []VATFlag{}, EIT: []EITTally{}, IIT: []IITFlag{},
	}
	ips := st.IPTypes()
	var qualMask uint16
	for bit, ip := range ips {
		if slices.Contains(qualifyingIP, ip) {
			qualMask |= 1 << bit
		}
	}
	type seller struct {
		t     EITTally
		fen   projections.Money
		rules map[string]bool
	}
	sellers := map[string]*seller{}
	st.EachContract(p.From, p.To, func(f *projections.Facts) {
		reg := projections.DateOf(f.Day)
		typ := st.Code(f.Type)
		t.VAT = append(t.VAT, vatFlag(st.ContractID(f.Index), reg, typ))
		t.VATCounts.add(t.VAT[len(t.VAT)-1].Status)

		r := ruleFor(TaxEIT, reg)
		if r == nil || refdata.PartyKindGroup(st.Code(f.SellerKind)) != "enterprise" || f.IPTypes&qualMask == 0 {
			return
		}
		switch typ {
		case "transfer":
		case "license":
			rf, _ := st.Rights(f.Index)
			g := rf.Use
			if r.ID == "eit-2008" {
				g = rf.ExclusiveUse
			}
			if g == nil || !g.Years(5) {
				return
			}
		default:
			return
		}
		id, name := st.Party(f.Seller)
		s := sellers[id]
		if s == nil {
			s = &seller{t: EITTally{SellerID: id}, rules: map[string]bool{}}
			sellers[id] = s
		}
		s.t.Name = name // the latest registered
		s.t.Contracts++
		s.fen.Add(f.TechAmount)
		s.rules[r.ID] = true
	})
	for _, s := range sellers {
		s.t.TechAmount = s.fen
		if s.fen.Fen().Cmp(projections.Fen(EITThresholdFen).Fen()) > 0 {
			s.t.Exempt = projections.Fen(EITThresholdFen)
			s.t.HalfRate = s.fen
			s.t.HalfRate.Add(-EITThresholdFen)
		} else {
			s.t.Exempt = s.fen
		}
		for _, r := range TaxRules {
			if s.rules[r.ID] {
				s.t.Rules = append(s.t.Rules, r.ID)
			}
		}
		t.EIT = append(t.EIT, s.t)
	}
	slices.SortFunc(t.EIT, func(a, b EITTally) int { return cmp.Compare(a.SellerID, b.SellerID) })

	st.EachRewardPayment(p.From, p.To, func(rp projections.RewardPayment) {
		f, revoked := st.ContractFacts(rp.Index)
		fl := IITFlag{ContractID: st.ContractID(rp.Index), Position: rp.Position, PaidOn: rp.PaidOn, Researchers: rp.Researchers, Status: StatusProbable, Reasons: []string{}}
		fail := func(reason string) {
			fl.Status = StatusNotEligible
			fl.Reasons = append(fl.Reasons, reason)
		}
		r := ruleFor(TaxIIT, rp.PaidOn)
		if r == nil {
			fail("paid before 2018-07-01: 财税〔2018〕58号 not yet in force")
		} else {
			fl.Rule = r.ID
		}
		if g := refdata.PartyKindGroup(st.Code(f.SellerKind)); g != "university" && g != "research_institute" {
			fail("seller is not a university or research institute")
		}
		if typ := st.Code(f.Type); typ != "transfer" && typ != "license" {
			fail("type is not transfer or licence")
		}
		if f.IPTypes&qualMask == 0 {
			fail("no qualifying IP type (patent, software copyright, IC layout, plant variety, new biomedical variety)")
		}
		if !registrationNumber(fl.ContractID) {
			fail("the contract id is not a registration number")
		}
		if revoked {
			fail("the registration was revoked")
		}
		t.IIT = append(t.IIT, fl)
	})
	return t, nil
}

// vatFlag is the VAT-exemption status of a contract of type typ registered on reg.
func vatFlag(id string, reg ledger.Date, typ string) VATFlag {
	f := VATFlag{ContractID: id, RegisteredOn: reg, Type: typ, Reasons: []string{}}
	r := ruleFor(TaxVAT, reg)
	if r == nil {
		f.Status = StatusNotEligible
		f.Reasons = append(f.Reasons, "no rule version recorded for the registration date (before 2016-05-01)")
		return f
	}
	f.Rule = r.ID
	switch typ {
	case "development", "transfer":
		f.Status = StatusEligible
	case "license":
		f.Status = StatusProbable
		f.Reasons = append(f.Reasons, "licence: covered by the 'right of use' wording of 财税〔2016〕36号, not restated after the Civil Code")
	default:
		f.Status = StatusNotEligible
		f.Reasons = append(f.Reasons, "consulting and service qualify only when sold with a development or transfer contract on one invoice, which the ledger cannot see")
	}
	if r.ID == "vat-2026" && f.Status == StatusEligible {
		f.Status = StatusProbable
		f.Reasons = append(f.Reasons, "registered on or after 2026-01-01: whether the exemption continues under the VAT Law is unconfirmed")
	}
	return f
}

// registrationNumber reports whether id has the form of a registration number (16 digits,
// or the older 14).
func registrationNumber(id string) bool {
	return (len(id) == 16 || len(id) == 14) && refdata.AllDigits(id)
}

// MarshalJSON implements json.Marshaler; the fields are in struct order, every list in a
// fixed order, so one State gives the same bytes.
func (t *TaxReport) MarshalJSON() ([]byte, error) {
	type plain TaxReport
	return json.Marshal((*plain)(t))
}
