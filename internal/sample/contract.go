package sample

import (
	"cmp"
	"container/heap"
	"fmt"
	"slices"
	"strings"
	"time"

	"techledger/commands"
)

// contract is a contract being registered, with what its follow-up commands need.
type contract struct {
	order                 int
	id                    string
	reg, signed           day
	typ, subtype, field   string
	subject               string
	amount, tech          fen
	seller, buyer, interm *entity // interm is nil without an intermediary
	ach                   *achievement
	ip                    []string // never nil: [] means no IP involved
	team                  []int    // the seller's researchers on this contract, by index
	use                   *useGrant
}

// achievement is a result (科技成果) that contracts transact. It is remembered for a while so that it
// can be licensed again; exclEnd and anyEnd make sure that exclusive and sole grants on it never
// overlap in time (docs/domain.md, Use: exclusivity and overlap), and that an ordinary grant never
// overlaps one either.
type achievement struct {
	id      string
	seller  *entity
	field   string
	subject string
	ip      []string
	team    []int
	exclEnd day // last day covered by an exclusive or sole use grant, 0 if none
	anyEnd  day // last day covered by any use grant, 0 if none
}

// useGrant is a use right (使用权) granted to a licensee.
type useGrant struct {
	exclusivity string
	from, to    day
}

// Weights of the contract types by the seller's kind: development and service dominate;
// universities and institutes transfer and license more, individuals mostly sell patents.
var (
	typeWeights = []weighted{
		{"development", 33}, {"transfer", 13}, {"license", 9}, {"consulting", 12}, {"service", 33},
	}
	typeWeightsInstitution = []weighted{
		{"development", 36}, {"transfer", 17}, {"license", 13}, {"consulting", 12}, {"service", 22},
	}
	typeWeightsPerson = []weighted{
		{"development", 0}, {"transfer", 40}, {"license", 25}, {"consulting", 15}, {"service", 20},
	}
	// subtypeWeights lists each type's subtypes in the order of commands.SubtypesOf.
	subtypeWeights = map[string][]weighted{
		"development": {{"commissioned", 80}, {"cooperative", 20}},
		"transfer":    {{"patent_right", 45}, {"patent_application", 15}, {"technical_secret", 25}, {"other_ip", 10}, {"equity", 5}},
		"license":     {{"patent_license", 60}, {"secret_license", 28}, {"other_license", 12}},
		"consulting":  {{"feasibility", 35}, {"forecast", 10}, {"survey", 25}, {"evaluation", 30}},
		"service":     {{"general", 80}, {"training", 12}, {"brokerage", 8}},
	}
	// achievementPercent is the chance a contract of each type names an achievement.
	achievementPercent = map[string]int{"development": 10, "transfer": 92, "license": 100, "consulting": 3, "service": 3}
	// amountEdges are the bucket bounds (yuan) of contract amounts: roughly log-uniform from
	// 5,000 to 50,000,000, weighted per type by amountBuckets.
	amountEdges   = []int64{5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000, 2_000_000, 5_000_000, 10_000_000, 20_000_000, 50_000_000}
	amountBuckets = map[string][]int{
		"development": {2, 3, 6, 9, 14, 16, 17, 13, 9, 6, 3, 2},
		"transfer":    {1, 2, 4, 7, 11, 15, 17, 16, 12, 8, 4, 3},
		"license":     {2, 3, 6, 9, 13, 16, 17, 14, 10, 6, 3, 1},
		"consulting":  {8, 12, 16, 18, 16, 12, 9, 5, 2, 1, 1, 0},
		"service":     {6, 9, 13, 15, 15, 13, 11, 8, 5, 3, 1, 1},
	}
	// techEqualPercent is the chance that tech_amount equals amount (no equipment, materials
	// or other non-technical costs in the contract).
	techEqualPercent = map[string]int{"development": 45, "transfer": 75, "license": 80, "consulting": 75, "service": 60}
	exclusivities    = []weighted{{"exclusive", 30}, {"sole", 25}, {"ordinary", 45}}
)

// pilotStart is when Shanxi's 赋权 pilot began (docs/domain.md, Ownership: Shanxi 2022).
var pilotStart = dayOf(2022, time.January, 1)

// register registers one contract on reg and queues its follow-up commands.
func (g *generator) register(reg day) {
	c := g.newContract(reg)
	var interm *party
	if c.interm != nil {
		p := c.interm.party
		interm = &p
	}
	achID := ""
	if c.ach != nil {
		achID = c.ach.id
	}
	g.emit(&registerContract{
		head:          head{Command: cmdRegister, ContractID: c.id},
		Title:         title(c),
		Type:          c.typ,
		Subtype:       c.subtype,
		SignedOn:      c.signed.String(),
		RegisteredOn:  c.reg.String(),
		Amount:        c.amount.String(),
		TechAmount:    c.tech.String(),
		Field:         c.field,
		Seller:        c.seller.party,
		Buyer:         c.buyer.party,
		Intermediary:  interm,
		AchievementID: achID,
		IPTypes:       c.ip,
	})
	g.schedule(c.order, g.plan(c))
}

// newContract draws a contract registered on reg.
func (g *generator) newContract(reg day) *contract {
	rng := g.rng
	c := &contract{order: g.registered, reg: reg}
	g.registered++
	// Registered 0–60 days after signing, most within a month.
	switch r := rng.IntN(100); {
	case r < 30:
		c.signed = reg - day(rng.IntN(8))
	case r < 80:
		c.signed = reg - day(8+rng.IntN(23))
	default:
		c.signed = reg - day(31+rng.IntN(30))
	}

	c.seller = g.pickSeller()
	c.typ = g.pickType(c.seller)
	if c.typ == "license" && rng.IntN(100) < 40 {
		g.relicense(c)
	}
	if c.ach == nil {
		c.subtype = pickWeighted(rng, subtypeWeights[c.typ])
		if c.subtype == "brokerage" {
			// A brokerage contract (技术中介合同) is sold by the technology transfer agency.
			c.seller = pick(rng, g.intermediaries)
		}
		c.field = g.pickField(c.seller)
		c.subject = pick(rng, subjects[c.field])
		c.ip = g.pickIP(c.typ, c.subtype, c.field)
		if len(c.seller.researchers) > 0 {
			c.team = g.pickTeam(c.seller)
		}
		if rng.IntN(100) < achievementPercent[c.typ] {
			c.ach = g.newAchievement(c)
			if c.typ == "license" && rng.IntN(100) < 90 {
				if u, ok := g.grant(c.ach, reg); ok {
					c.use = &u
				}
			}
		}
	}
	c.buyer = g.pickBuyer(c.seller, c.typ == "transfer" || c.typ == "license")
	if c.subtype != "brokerage" && rng.IntN(100) < 14 {
		if rng.IntN(100) < 55 {
			c.interm = pickSkewed(rng, g.brokers)
		} else {
			c.interm = pick(rng, g.intermediaries)
		}
		if c.interm.party.ID == c.seller.party.ID || c.interm.party.ID == c.buyer.party.ID {
			c.interm = nil // a party cannot broker its own contract
		}
	}

	c.amount = g.amount(c.typ)
	c.tech = c.amount
	if rng.IntN(100) >= techEqualPercent[c.typ] {
		c.tech = c.amount * fen(60+rng.IntN(36)) / 100
		c.tech -= c.tech % yuan
	}
	c.id = g.registrationNumber(c)
	return c
}

// registrationNumber assigns the next 16-digit number YYYY PPCC RR NNNNNN (docs/domain.md,
// Registration number format) of the registry that registers c: the seller's city, or the
// buyer's when the seller is outside Shanxi.
func (g *generator) registrationNumber(c *contract) string {
	region := c.seller.party.Region
	if !c.seller.shanxi() {
		region = c.buyer.party.Region
	}
	point := pickWeighted(g.rng, []weighted{{"01", 70}, {"02", 20}, {"03", 10}})
	key := fmt.Sprintf("%04d%s%s", c.reg.year(), region[:4], point)
	g.serials[key]++
	if g.serials[key] > serialMax && g.err == nil {
		g.err = fmt.Errorf("sample: registry %s ran out of serials", key)
	}
	return fmt.Sprintf("%s%06d", key, g.serials[key])
}

// pickSeller draws the seller: mostly universities, institutes and Shanxi companies.
func (g *generator) pickSeller() *entity {
	rng := g.rng
	switch r := rng.IntN(100); {
	case r < 36:
		return g.universities[pickIndex(rng, g.uniWeights)]
	case r < 56:
		return g.institutes[pickIndex(rng, g.instWeights)]
	case r < 91:
		return pickSkewed(rng, g.shanxiFirms)
	case r < 95:
		return pickSkewed(rng, g.otherFirms)
	case r < 97:
		return pick(rng, g.persons)
	case r < 98:
		return pick(rng, g.byKind["medical"])
	default:
		return pick(rng, g.byKind["other_public"])
	}
}

// pickBuyer draws a buyer other than seller: mostly companies, about two thirds in Shanxi, a
// few abroad. A seller outside Shanxi sells to a Shanxi buyer (who registers the contract).
// Transfers and licences (firmsOnly) are bought by companies only.
func (g *generator) pickBuyer(seller *entity, firmsOnly bool) *entity {
	rng := g.rng
	for {
		var b *entity
		switch r := rng.IntN(100); {
		case !seller.shanxi() || r < 68:
			b = g.shanxiBuyer(firmsOnly)
		case r < 97:
			b = pickSkewed(rng, g.otherFirms)
		default:
			b = pick(rng, g.foreignFirms)
		}
		if b.party.ID != seller.party.ID {
			return b
		}
	}
}

// shanxiBuyer draws a buyer in Shanxi, a company if firmsOnly.
func (g *generator) shanxiBuyer(firmsOnly bool) *entity {
	rng := g.rng
	r := rng.IntN(100)
	if firmsOnly && (r >= 86 && r < 96 || r >= 98) {
		r = 0 // a Shanxi company
	}
	switch {
	case r < 86:
		return pickSkewed(rng, g.shanxiFirms)
	case r < 89:
		return pick(rng, g.byKind["government"])
	case r < 91:
		return pick(rng, g.byKind["medical"])
	case r < 94:
		return pick(rng, g.byKind["other_public"])
	case r < 95:
		return pick(rng, g.universities)
	case r < 96:
		return pick(rng, g.institutes)
	case r < 97:
		return pick(rng, g.byKind["hmt_enterprise"])
	case r < 98:
		return pick(rng, g.byKind["foreign_enterprise"])
	case r < 99:
		return pick(rng, g.persons)
	default:
		return pick(rng, g.byKind["social_org"])
	}
}

// pickType draws the contract type for a seller.
func (g *generator) pickType(seller *entity) string {
	switch {
	case seller.party.Kind == "individual":
		return pickWeighted(g.rng, typeWeightsPerson)
	case len(seller.researchers) > 0:
		return pickWeighted(g.rng, typeWeightsInstitution)
	default:
		return pickWeighted(g.rng, typeWeights)
	}
}

// pickField draws the technical field, favouring the seller's own fields.
func (g *generator) pickField(seller *entity) string {
	if len(seller.fields) > 0 && g.rng.IntN(100) < 70 {
		return pick(g.rng, seller.fields)
	}
	return pickWeighted(g.rng, fieldWeights)
}

// pickIP draws the kinds of IP a contract involves, consistent with its subtype.
func (g *generator) pickIP(typ, subtype, field string) []string {
	rng := g.rng
	r := rng.IntN(100)
	switch subtype {
	case "patent_right", "patent_application", "patent_license":
		return []string{"patent"}
	case "technical_secret", "secret_license":
		return []string{"technical_secret"}
	case "equity":
		switch {
		case r < 60:
			return []string{"patent"}
		case r < 85:
			return []string{"technical_secret"}
		default:
			return []string{"patent", "technical_secret"}
		}
	case "other_ip", "other_license":
		switch {
		case field == "agriculture":
			return []string{"plant_variety"}
		case field == "biomedicine" && r < 50:
			return []string{"biomedical_variety"}
		case field == "electronic_information" && r < 30:
			return []string{"ic_layout"}
		case r < 85:
			return []string{"software_copyright"}
		default:
			return []string{"other"}
		}
	}
	switch typ {
	case "development":
		switch {
		case r < 40:
			return []string{}
		case r < 70:
			return []string{"patent"}
		case r < 85:
			return []string{"patent", "technical_secret"}
		case field == "electronic_information":
			return []string{"software_copyright"}
		default:
			return []string{"technical_secret"}
		}
	case "service":
		switch {
		case r < 80:
			return []string{}
		case r < 92:
			return []string{"technical_secret"}
		default:
			return []string{"software_copyright"}
		}
	default: // consulting
		if r < 92 {
			return []string{}
		}
		return []string{"technical_secret"}
	}
}

// pickTeam draws 1–4 distinct researchers of an institution, the lead first.
func (g *generator) pickTeam(inst *entity) []int {
	k := 1 + pickIndex(g.rng, []int{25, 35, 25, 15})
	team := make([]int, 0, k)
	for len(team) < k {
		i := g.rng.IntN(len(inst.researchers))
		if !slices.Contains(team, i) {
			team = append(team, i)
		}
	}
	return team
}

// newAchievement creates the achievement a contract transacts and remembers it if it can be
// licensed again (it involves some IP).
func (g *generator) newAchievement(c *contract) *achievement {
	g.achSeq++
	year := max(c.signed.year()-g.rng.IntN(4), 2015)
	a := &achievement{
		id:      fmt.Sprintf("ACH-%d-%04d", year, g.achSeq),
		seller:  c.seller,
		field:   c.field,
		subject: c.subject,
		ip:      c.ip,
		team:    c.team,
	}
	if len(a.ip) > 0 {
		g.recent, g.recentNext = remember(g.recent, g.recentNext, achievementsRecentMax, a)
	}
	return a
}

// remember puts a into a ring of at most size achievements, replacing the oldest.
func remember(ring []*achievement, next, size int, a *achievement) ([]*achievement, int) {
	if len(ring) < size {
		return append(ring, a), next
	}
	ring[next] = a
	return ring, (next + 1) % size
}

// relicense makes c a licence of an achievement already transacted, if one can be granted a
// use right from about c's registration that overlaps no earlier exclusive grant.
func (g *generator) relicense(c *contract) {
	var a *achievement
	switch r := g.rng.IntN(100); {
	case r < 35:
		a = g.expiring(c.reg)
	case r < 65 && len(g.licensed) > 0:
		a = pick(g.rng, g.licensed)
	case len(g.recent) > 0:
		a = pick(g.rng, g.recent)
	}
	if a == nil {
		return
	}
	u, ok := g.grant(a, c.reg)
	if !ok {
		return
	}
	c.ach, c.use = a, &u
	c.seller, c.field, c.subject, c.ip, c.team = a.seller, a.field, a.subject, a.ip, a.team
	switch a.ip[0] {
	case "patent":
		c.subtype = "patent_license"
	case "technical_secret":
		c.subtype = "secret_license"
	default:
		c.subtype = "other_license"
	}
}

// grant draws a use grant on a for a licence registered on reg. An exclusive or sole grant
// starts after every earlier grant on a has ended, an ordinary one after every exclusive or
// sole grant; a grant that would have to wait more than grantWaitMax days for that is made
// ordinary, or not made (false).
//
// A use grant starts at registration or later, so that its effective_on is never before
// registered_on.
func (g *generator) grant(a *achievement, reg day) (useGrant, bool) {
	rng := g.rng
	u := useGrant{exclusivity: pickWeighted(rng, exclusivities), from: reg + day(rng.IntN(31))}
	if u.exclusivity != "ordinary" && u.from <= a.anyEnd {
		if a.anyEnd+1 > reg+grantWaitMax {
			u.exclusivity = "ordinary"
		} else {
			u.from = a.anyEnd + 1
		}
	}
	if u.exclusivity == "ordinary" && u.from <= a.exclEnd {
		if a.exclEnd+1 > reg+grantWaitMax {
			return useGrant{}, false
		}
		u.from = a.exclEnd + 1
	}
	years := []int{1, 2, 3, 5, 10}
	w := []int{20, 25, 25, 20, 10}
	if u.exclusivity != "ordinary" {
		w = []int{25, 30, 30, 15, 0}
	}
	u.to = u.from.addYears(years[pickIndex(rng, w)]) - 1
	a.anyEnd = max(a.anyEnd, u.to)
	if u.exclusivity != "ordinary" {
		a.exclEnd = max(a.exclEnd, u.to)
	}
	g.licensed, g.licensNext = remember(g.licensed, g.licensNext, licensedRecentMax, a)
	if u.exclusivity != "ordinary" && g.expiries.Len() < expiriesMax {
		heap.Push(&g.expiries, expiry{a: a, end: a.anyEnd})
	}
	return u, true
}

// expiring returns an achievement whose use grants all end before reg+grantWaitMax, so that
// it can be licensed exclusively again (a renewal, or a new licensee), or nil if none does.
// Achievements whose grants ended more than a year before reg are forgotten.
func (g *generator) expiring(reg day) *achievement {
	for g.expiries.Len() > 0 {
		e := g.expiries[0]
		if e.a.anyEnd != e.end { // granted again since: requeue at its new end
			g.expiries[0].end = e.a.anyEnd
			heap.Fix(&g.expiries, 0)
			continue
		}
		if e.end+1 > reg+grantWaitMax {
			return nil
		}
		heap.Pop(&g.expiries)
		if e.end+365 >= reg {
			return e.a
		}
	}
	return nil
}

// expiry is an achievement with an exclusive or sole grant, by the end of its last grant.
type expiry struct {
	a   *achievement
	end day
}

// expiryQueue is a min-heap of achievements by the end of their last use grant.
type expiryQueue []expiry

func (q expiryQueue) Len() int { return len(q) }
func (q expiryQueue) Less(i, j int) bool {
	return q[i].end < q[j].end || q[i].end == q[j].end && q[i].a.id < q[j].a.id
}
func (q expiryQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *expiryQueue) Push(x any)   { *q = append(*q, x.(expiry)) }
func (q *expiryQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

// amount draws a contract amount for a type.
func (g *generator) amount(typ string) fen {
	rng := g.rng
	i := pickIndex(rng, amountBuckets[typ])
	lo, hi := amountEdges[i], amountEdges[i+1]
	y := lo + rng.Int64N(hi-lo+1)
	r := rng.IntN(100)
	switch {
	case r < 50 && y >= 100_000:
		y -= y % 10_000
	case r < 80:
		y -= y % 1_000
	case r < 95:
		y -= y % 100
	}
	f := fen(y) * yuan
	if r >= 97 && y < amountEdges[len(amountEdges)-1] {
		f += fen(rng.IntN(100))
	}
	return f
}

// title composes a contract title from its subject and subtype: 煤矸石综合利用技术转让.
func title(c *contract) string {
	var suffix string
	switch c.subtype {
	case "other_ip", "other_license":
		act := "转让"
		if c.subtype == "other_license" {
			act = "许可"
		}
		switch c.ip[0] {
		case "software_copyright":
			suffix = "软件著作权" + act
		case "ic_layout":
			suffix = "集成电路布图设计专有权" + act
		case "plant_variety":
			suffix = "植物新品种权" + act
		case "biomedical_variety":
			suffix = "成果" + act
		default:
			suffix = "知识产权" + act
		}
	default:
		list := titleSuffixes[c.subtype]
		// The choice depends only on the contract, so titles cost no random draws.
		suffix = list[c.order%len(list)]
	}
	if strings.HasSuffix(c.subject, "技术") && strings.HasPrefix(suffix, "技术") {
		suffix = strings.TrimPrefix(suffix, "技术")
	}
	return c.subject + suffix
}

// Follow-up steps of a contract, before amounts are settled.
const (
	stepPayment = iota
	stepProceeds
	stepOwnership
	stepUse
	stepAmend
	stepRevoke
)

type step struct {
	kind int
	on   day // recorded on
	paid day // paid_on, for payments
}

// plan draws c's follow-up commands in the order they are recorded, with the amounts they
// carry: payments that never exceed the amount in force, an amendment that keeps the amount
// at or above what was paid, nothing after a revocation and nothing recorded after lastDay.
func (g *generator) plan(c *contract) []planned {
	rng := g.rng
	var steps []step
	nPay := pickIndex(rng, []int{10, 35, 30, 15, 10})
	paidOn := c.signed + day(rng.IntN(91)) // a first payment may precede registration
	for range nPay {
		steps = append(steps, step{kind: stepPayment, on: max(paidOn+day(rng.IntN(16)), c.reg), paid: paidOn})
		paidOn += day(30 + rng.IntN(336))
	}
	if len(c.team) > 0 {
		p := 35
		if c.typ == "transfer" || c.typ == "license" {
			p = 85 // 促进科技成果转化法 art. 45 rewards apply to transfers and licences
		}
		if rng.IntN(100) < p {
			on := c.reg + day(rng.IntN(121))
			steps = append(steps, step{kind: stepProceeds, on: on})
			if rng.IntN(100) < 12 {
				steps = append(steps, step{kind: stepProceeds, on: on + day(60+rng.IntN(481))})
			}
		}
	}
	if c.typ == "transfer" && g.wantsOwnership(c) {
		steps = append(steps, step{kind: stepOwnership, on: c.reg + day(rng.IntN(61))})
	}
	if c.use != nil {
		steps = append(steps, step{kind: stepUse, on: c.reg + day(rng.IntN(21))})
	}
	// About 7 % planned, so that about 5 % are recorded: some fall after lastDay or after a
	// revocation.
	if rng.IntN(100) < 7 {
		steps = append(steps, step{kind: stepAmend, on: c.reg + day(10+rng.IntN(441))})
	}
	if rng.IntN(100) < 2 {
		steps = append(steps, step{kind: stepRevoke, on: c.reg + day(3+rng.IntN(398))})
	}
	slices.SortStableFunc(steps, func(a, b step) int { return cmp.Compare(a.on, b.on) })

	st := terms{typ: c.typ, subtype: c.subtype, field: c.field, amount: c.amount, tech: c.tech}
	fullPay := rng.IntN(100) < 70
	payLeft := nPay
	var paid fen
	nPaid := 0
	var out []planned
	for _, s := range steps {
		if s.on > lastDay {
			break
		}
		h := head{ContractID: c.id}
		switch s.kind {
		case stepPayment:
			payLeft--
			remaining := st.amount - paid
			if remaining <= 0 {
				continue
			}
			amt := remaining
			if payLeft > 0 || !fullPay {
				amt = remaining * fen(15+rng.IntN(46)) / 100
				if amt >= 10_000*yuan {
					amt -= amt % (100 * yuan)
				} else {
					amt -= amt % yuan
				}
				if amt <= 0 {
					amt = remaining
				}
			}
			var costs fen
			if rng.IntN(100) >= 55 {
				costs = amt * fen(1+rng.IntN(30)) / 100
				costs -= costs % yuan
			}
			paid += amt
			nPaid++
			h.Command = cmdPayment
			out = append(out, planned{s.on, &recordPayment{
				head: h, PaymentID: fmt.Sprintf("P-%d", nPaid),
				Amount: amt.String(), Costs: costs.String(), PaidOn: s.paid.String(),
			}})
		case stepProceeds:
			h.Command = cmdAssign
			out = append(out, planned{s.on, &assignRights{
				head: h, Right: "proceeds", EffectiveOn: s.on.String(), Holders: g.proceedsHolders(c),
			}})
		case stepOwnership:
			h.Command = cmdAssign
			out = append(out, planned{s.on, &assignRights{
				head: h, Right: "ownership", EffectiveOn: s.on.String(), Holders: g.ownershipHolders(c),
			}})
		case stepUse:
			b := c.buyer.party
			h.Command = cmdAssign
			out = append(out, planned{s.on, &assignRights{
				head: h, Right: "use", EffectiveOn: c.use.from.String(),
				Exclusivity: c.use.exclusivity, Term: &term{From: c.use.from.String(), To: c.use.to.String()},
				Holders: []holder{{ID: b.ID, Name: b.Name, Kind: b.Kind}},
			}})
		case stepAmend:
			if a := g.amendment(&st, paid); a != nil {
				a.head = head{Command: cmdAmend, ContractID: c.id}
				out = append(out, planned{s.on, a})
			}
		case stepRevoke:
			h.Command = cmdRevoke
			out = append(out, planned{s.on, &revokeContract{head: h, Reason: pick(rng, revokeReasons)}})
			return out
		}
	}
	return out
}

// terms are a contract's amendable terms in force.
type terms struct {
	typ, subtype, field string
	amount, tech        fen
}

// amendment draws an amendment of st, applies it to st and returns it, or returns nil if it
// would change nothing. Amounts stay at or above paid, and tech_amount at or below amount.
// Only development, consulting and service contracts are reclassified: a transfer or licence
// carries rights that a reclassification would leave meaningless.
func (g *generator) amendment(st *terms, paid fen) *amendContract {
	rng := g.rng
	a := &amendContract{}
	reclassify := st.typ == "development" || st.typ == "consulting" || st.typ == "service"
	r := rng.IntN(100)
	if !reclassify || r < 75 {
		amount := st.amount * fen(80+rng.IntN(51)) / 100
		amount -= amount % (100 * yuan)
		amount = max(amount, paid, 5_000*yuan)
		if amount != st.amount {
			tech := amount
			if st.tech != st.amount {
				tech = amount * (st.tech * 10_000 / st.amount) / 10_000
				tech -= tech % yuan
			}
			a.Amount = amount.String()
			if tech != st.tech {
				a.TechAmount = tech.String()
			}
			st.amount, st.tech = amount, tech
			a.Reason = pick(rng, amountReasons)
		}
	}
	if reclassify && r >= 60 {
		switch rng.IntN(3) {
		case 0:
			subs := commands.SubtypesOf(st.typ)
			s := subs[rng.IntN(len(subs))]
			if s != st.subtype {
				a.Subtype, st.subtype = s, s
			}
		case 1:
			f := pickWeighted(rng, fieldWeights)
			if f != st.field {
				a.Field, st.field = f, f
			}
		default:
			to := map[string][2]string{
				"development": {"service", "general"},
				"consulting":  {"service", "general"},
				"service":     {"consulting", "evaluation"},
			}[st.typ]
			a.Type, a.Subtype = to[0], to[1]
			st.typ, st.subtype = to[0], to[1]
		}
		if a.Subtype != "" || a.Field != "" {
			a.Reason = pick(rng, classReasons)
		}
	}
	if a.Reason == "" {
		return nil
	}
	if st.tech > st.amount || st.amount < paid {
		panic("sample: amendment broke tech_amount ≤ amount or amount ≥ paid")
	}
	return a
}

// wantsOwnership decides whether a transfer records an ownership assignment: the 赋权 pilot
// split at a pilot institution, or the buyer as sole owner of a transferred patent.
func (g *generator) wantsOwnership(c *contract) bool {
	if g.pilotOwnership(c) {
		return g.rng.IntN(100) < 45
	}
	switch c.subtype {
	case "patent_right", "patent_application", "equity":
		return g.rng.IntN(100) < 30
	}
	return false
}

// pilotOwnership reports whether c's seller shares ownership with its researchers under the
// 赋权 pilot.
func (g *generator) pilotOwnership(c *contract) bool {
	return c.seller.pilot && c.reg >= pilotStart && len(c.team) > 0
}

// ownershipHolders draws an ownership assignment: institution and team (the pilot's agreed
// split, 0.3 / 0.7 most often), or the buyer alone.
func (g *generator) ownershipHolders(c *contract) []holder {
	if !g.pilotOwnership(c) {
		b := c.buyer.party
		return []holder{{ID: b.ID, Name: b.Name, Kind: b.Kind, Share: formatShare(shareOne)}}
	}
	inst := []int{3000, 2000, 4000, 1000, 5000}[pickIndex(g.rng, []int{50, 15, 15, 10, 10})]
	return g.shareHolders(c, inst, shareOne-inst, nil, 0)
}

// proceedsHolders draws a proceeds assignment: the institution, the team and sometimes a
// broker. The team's share is at or above Shanxi's 0.70 (晋政发〔2017〕31号) most of the
// time, between the statutory 0.50 (促进科技成果转化法 art. 45) and 0.70 sometimes, and below
// 0.50 now and then, so that reports have assignments to flag.
func (g *generator) proceedsHolders(c *contract) []holder {
	rng := g.rng
	var team int
	switch r := rng.IntN(100); {
	case r < 72:
		team = 7000 + 50*rng.IntN(51) // 0.70 … 0.95
	case r < 89:
		team = 5000 + 50*rng.IntN(40) // 0.50 … 0.695
	default:
		team = 2000 + 50*rng.IntN(60) // 0.20 … 0.495
	}
	if rng.IntN(100) < 12 {
		team += rng.IntN(50) // an odd split, down to the basis point
	}
	var broker *entity
	switch {
	case c.interm != nil && c.interm.party.Kind == "individual" && rng.IntN(100) < 40:
		broker = c.interm
	case rng.IntN(100) < 8:
		broker = pickSkewed(rng, g.brokers)
	}
	brokerShare := 0
	if broker != nil {
		brokerShare = min(100*(1+rng.IntN(8)), shareOne-team-100)
	}
	return g.shareHolders(c, shareOne-team-brokerShare, team, broker, brokerShare)
}

// shareHolders lists the institution (inst), the team (team, split among c.team, the lead
// taking the most) and an optional broker, with shares in basis points that sum to exactly 1.
func (g *generator) shareHolders(c *contract, inst, team int, broker *entity, brokerShare int) []holder {
	if inst < 1 || team < 100*len(c.team) || inst+team+brokerShare != shareOne {
		panic(fmt.Sprintf("sample: shares %d + %d + %d do not make 1", inst, team, brokerShare))
	}
	s := c.seller.party
	hs := []holder{{ID: s.ID, Name: s.Name, Kind: "institution", Share: formatShare(inst)}}
	unit := 50
	if team%50 != 0 {
		unit = 1
	}
	rest := team
	for i, ri := range c.team {
		r := c.seller.researchers[ri]
		share := rest
		if left := len(c.team) - 1 - i; left > 0 {
			share = rest * (35 + g.rng.IntN(31)) / 100
			share -= share % unit
			share = min(max(share, 100), rest-100*left)
		}
		rest -= share
		hs = append(hs, holder{ID: r.id, Name: r.name, Kind: "researcher", Institution: s.Name, Share: formatShare(share)})
	}
	if broker != nil {
		b := broker.party
		hs = append(hs, holder{ID: b.ID, Name: b.Name, Kind: "broker", Share: formatShare(brokerShare)})
	}
	if rest != 0 {
		panic("sample: team shares do not add up")
	}
	return hs
}
