package sample

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/commands"
	"techledger/ledger"
)

var update = flag.Bool("update", false, "rewrite testdata/sample.ndjson")

// sampleFile is the committed sample, generated from DefaultConfig.
const sampleFile = "../../testdata/sample.ndjson"

// generate runs Write into memory.
func generate(tb testing.TB, cfg Config) ([]byte, map[string]int) {
	tb.Helper()
	var buf bytes.Buffer
	counts, err := Write(&buf, cfg)
	require.NoError(tb, err)
	return buf.Bytes(), counts
}

// TestSampleFile checks that testdata/sample.ndjson is exactly what DefaultConfig generates
// (run with -update to rewrite it). TestWrite_Valid checks that what it generates is valid,
// so the golden file does not just freeze a bug.
func TestSampleFile(t *testing.T) {
	got, _ := generate(t, DefaultConfig)
	if *update {
		require.NoError(t, os.WriteFile(sampleFile, got, 0o644))
		t.Logf("wrote %s (%d bytes)", sampleFile, len(got))
		return
	}
	want, err := os.ReadFile(sampleFile)
	require.NoError(t, err, "run: go test ./internal/sample/ -run TestSampleFile -update")
	if !bytes.Equal(got, want) {
		gl, wl := bytes.Split(got, []byte("\n")), bytes.Split(want, []byte("\n"))
		for i := range min(len(gl), len(wl)) {
			if !bytes.Equal(gl[i], wl[i]) {
				t.Fatalf("%s differs from DefaultConfig's output at line %d (run with -update to regenerate):\n got: %s\nwant: %s", sampleFile, i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("%s has %d lines, DefaultConfig generates %d (run with -update to regenerate)", sampleFile, len(wl), len(gl))
	}
}

func TestWrite_Deterministic(t *testing.T) {
	cfg := Config{Seed: 42, Contracts: 3000}
	a, _ := generate(t, cfg)
	b, _ := generate(t, cfg)
	assert.True(t, bytes.Equal(a, b), "same config gave different output")

	c, _ := generate(t, Config{Seed: 43, Contracts: 3000})
	assert.False(t, bytes.Equal(a, c), "different seeds gave the same output")
}

// TestWrite_SmallWrites checks that the output does not depend on how the writer takes it.
func TestWrite_SmallWrites(t *testing.T) {
	want, _ := generate(t, Config{Seed: 5, Contracts: 300})
	var got bytes.Buffer
	_, err := Write(oneByteWriter{&got}, Config{Seed: 5, Contracts: 300})
	require.NoError(t, err)
	assert.True(t, bytes.Equal(want, got.Bytes()))
}

type oneByteWriter struct{ w io.Writer }

func (o oneByteWriter) Write(p []byte) (int, error) {
	for i := range p {
		if _, err := o.w.Write(p[i : i+1]); err != nil {
			return i, err
		}
	}
	return len(p), nil
}

func TestWrite_Counts(t *testing.T) {
	data, counts := generate(t, DefaultConfig)
	got := map[string]int{}
	for line := range bytes.Lines(data) {
		var c struct{ Command string }
		require.NoError(t, json.Unmarshal(line, &c))
		got[c.Command]++
	}
	assert.Equal(t, got, counts)
	assert.Equal(t, DefaultConfig.Contracts, counts["register_contract"])
}

func TestWrite_Limits(t *testing.T) {
	for _, n := range []int{-1, ContractsMax + 1} {
		_, err := Write(io.Discard, Config{Seed: 1, Contracts: n})
		assert.Error(t, err, "contracts %d", n)
	}
	data, counts := generate(t, Config{Seed: 1, Contracts: 0})
	assert.Empty(t, data)
	assert.Empty(t, counts)
}

func TestWrite_WriterError(t *testing.T) {
	_, err := Write(failingWriter{}, DefaultConfig)
	assert.ErrorIs(t, err, errDiskFull)
}

var errDiskFull = fmt.Errorf("disk full")

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errDiskFull }

// TestWrite_Valid applies the rules of docs/domain.md to generated streams, line by line in file
// order, with its own bookkeeping (checkStream), and checks that the stream exercises what
// reports need: every contract type and field, flagged researcher shares, relicensed
// achievements, payments on both sides of a proceeds assignment.
func TestWrite_Valid(t *testing.T) {
	cfgs := []Config{DefaultConfig, {Seed: 7, Contracts: 500}}
	if !testing.Short() {
		cfgs = append(cfgs, Config{Seed: 99, Contracts: 30000})
	}
	for _, cfg := range cfgs {
		t.Run(fmt.Sprintf("seed%d_contracts%d", cfg.Seed, cfg.Contracts), func(t *testing.T) {
			data, _ := generate(t, cfg)
			st := checkStream(t, data)
			assert.Equal(t, cfg.Contracts, st.contracts)
			if cfg.Contracts < 2000 {
				return
			}
			assert.ElementsMatch(t, commands.ContractTypes(), keys(st.types), "contract types")
			assert.ElementsMatch(t, commands.Fields(), keys(st.fields), "fields")
			assert.ElementsMatch(t, commands.Rights(), keys(st.rights), "rights")
			assert.Less(t, st.types["license"], st.types["development"])
			assert.Less(t, st.types["transfer"], st.types["service"])
			assert.Positive(t, st.proceedsBelow50, "proceeds with researchers below 0.5")
			assert.Positive(t, st.proceeds50to70, "proceeds with researchers in [0.5, 0.7)")
			assert.Greater(t, st.proceedsAtLeast70, st.proceeds50to70+st.proceedsBelow50, "most proceeds at or above 0.7")
			assert.Positive(t, st.pilotOwnership, "赋权 pilot ownership splits")
			assert.Positive(t, st.relicensed, "achievements licensed more than once")
			assert.Positive(t, st.exclusiveTwice, "achievements with two exclusive or sole grants")
			assert.Positive(t, st.payBeforeProceeds, "payments before a proceeds assignment")
			assert.Positive(t, st.payAfterProceeds, "payments after a proceeds assignment")
			assert.Positive(t, st.amendedAmount, "amendments of the amount")
			assert.Positive(t, st.amendedClass, "reclassifications")
			assert.Positive(t, st.revoked, "revocations")
			assert.Positive(t, st.intermediaries, "intermediaries")
			assert.Positive(t, st.abroadBuyers, "buyers abroad")
			assert.Positive(t, st.outsideBuyers, "buyers in other provinces")
			assert.Positive(t, st.outsideSellers, "sellers in other provinces")
			assert.Positive(t, st.brokers, "brokers among proceeds beneficiaries")
			n := float64(cfg.Contracts)
			assert.InDelta(t, 0.05, float64(st.amendments)/n, 0.025, "amendments about 5 %%")
			assert.InDelta(t, 0.02, float64(st.revoked)/n, 0.012, "revocations about 2 %%")
			t.Logf("%+v", st)
		})
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestTables_MatchReferenceData checks the generator's weight tables against package
// commands, so that a change there cannot leave a code unused or an unknown code generated.
func TestTables_MatchReferenceData(t *testing.T) {
	for _, tw := range [][]weighted{typeWeights, typeWeightsInstitution, typeWeightsPerson} {
		assert.Equal(t, commands.ContractTypes(), ids(tw))
	}
	for _, typ := range commands.ContractTypes() {
		assert.Equal(t, commands.SubtypesOf(typ), ids(subtypeWeights[typ]), typ)
		assert.Len(t, amountBuckets[typ], len(amountEdges)-1, typ)
	}
	assert.Equal(t, commands.Fields(), ids(fieldWeights))
	for _, f := range commands.Fields() {
		assert.NotEmpty(t, subjects[f], f)
	}
	assert.Equal(t, commands.Exclusivities(), ids(exclusivities))
	for _, s := range institutionSpecs {
		assert.Contains(t, []string{"university", "research_institute"}, s.kind, s.name)
		assert.NoError(t, commands.ValidRegion(s.region), s.name)
		for _, f := range s.fields {
			assert.Contains(t, commands.Fields(), f, s.name)
		}
	}
	for _, ind := range industries {
		for _, f := range ind.fields {
			assert.Contains(t, commands.Fields(), f, ind.name)
		}
	}
	for _, c := range otherCities {
		assert.NoError(t, commands.ValidRegion(c.region), c.short)
		assert.False(t, strings.HasPrefix(c.region, "14"), c.short)
	}
}

func ids(ws []weighted) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.id
	}
	return out
}

func TestMakeUSCC_Valid(t *testing.T) {
	for i := range 2000 {
		name := fmt.Sprintf("测试%d有限公司", i)
		for _, at := range []string{"91", "12", "11", "51", "Y1"} {
			code := makeUSCC(at, "140105", name)
			require.NoError(t, commands.ValidUSCC(code))
			assert.Equal(t, code, makeUSCC(at, "140105", name), "stable per name")
			// Any other check character is rejected.
			bad := code[:17] + string(usccCharset[(strings.IndexByte(usccCharset, code[17])+1)%31])
			assert.Error(t, commands.ValidUSCC(bad))
		}
	}
}

func TestFormatShare(t *testing.T) {
	for bp, want := range map[int]string{1: "0.0001", 3000: "0.30", 4900: "0.49", 2125: "0.2125", 2150: "0.215", 10000: "1.00"} {
		assert.Equal(t, want, formatShare(bp))
	}
}

// streamStats is what checkStream saw.
type streamStats struct {
	contracts, amendments, revoked                       int
	types, fields, rights                                map[string]int
	proceedsBelow50, proceeds50to70, proceedsAtLeast70   int
	pilotOwnership                                       int
	relicensed, exclusiveTwice                           int
	payBeforeProceeds, payAfterProceeds                  int
	amendedAmount, amendedClass                          int
	intermediaries, abroadBuyers, outsideBuyers, brokers int
	outsideSellers                                       int
}

// The wire form as checkStream reads it: every field any command may carry.
type (
	wireParty struct {
		ID     string `json:"id"`
		Name   string `json:"name"`
		Kind   string `json:"kind"`
		Region string `json:"region"`
	}
	wireHolder struct {
		ID          string  `json:"id"`
		Name        string  `json:"name"`
		Kind        string  `json:"kind"`
		Institution string  `json:"institution"`
		Share       *string `json:"share"`
	}
	wireCmd struct {
		Command       string     `json:"command"`
		CommandID     string     `json:"command_id"`
		ContractID    string     `json:"contract_id"`
		Title         string     `json:"title"`
		Type          string     `json:"type"`
		Subtype       string     `json:"subtype"`
		SignedOn      string     `json:"signed_on"`
		RegisteredOn  string     `json:"registered_on"`
		Amount        string     `json:"amount"`
		TechAmount    string     `json:"tech_amount"`
		Field         string     `json:"field"`
		Seller        *wireParty `json:"seller"`
		Buyer         *wireParty `json:"buyer"`
		Intermediary  *wireParty `json:"intermediary"`
		AchievementID string     `json:"achievement_id"`
		IPTypes       []string   `json:"ip_types"`
		Right         string     `json:"right"`
		EffectiveOn   string     `json:"effective_on"`
		Exclusivity   string     `json:"exclusivity"`
		Term          *struct{ From, To string }
		Holders       []wireHolder `json:"holders"`
		PaymentID     string       `json:"payment_id"`
		Costs         string       `json:"costs"`
		PaidOn        string       `json:"paid_on"`
		Reason        string       `json:"reason"`
	}
)

// commandKeys lists the keys each command may carry (true: required), as docs/domain.md
// (Commands) shows them.
var commandKeys = map[string]map[string]bool{
	"register_contract": {
		"command": true, "command_id": true, "contract_id": true, "title": true, "type": true,
		"subtype": true, "signed_on": true, "registered_on": true, "amount": true,
		"tech_amount": true, "field": true, "seller": true, "buyer": true, "intermediary": true,
		"achievement_id": false, "ip_types": true,
	},
	"amend_contract": {
		"command": true, "command_id": true, "contract_id": true, "reason": true,
		"type": false, "subtype": false, "field": false, "amount": false, "tech_amount": false,
	},
	"revoke_contract": {"command": true, "command_id": true, "contract_id": true, "reason": true},
	"assign_rights": {
		"command": true, "command_id": true, "contract_id": true, "right": true,
		"effective_on": true, "holders": true, "exclusivity": false, "term": false,
	},
	"record_payment": {
		"command": true, "command_id": true, "contract_id": true, "payment_id": true,
		"amount": true, "costs": true, "paid_on": true,
	},
}

var (
	moneyRE       = regexp.MustCompile(`^(0|[1-9][0-9]*)\.[0-9]{2}$`)
	shareRE       = regexp.MustCompile(`^(0\.[0-9]{1,4}|1(\.0{1,4})?)$`)
	achievementRE = regexp.MustCompile(`^ACH-20[0-9]{2}-[0-9]{4,}$`)
	personRE      = regexp.MustCompile(`^P-[0-9]{6}$`)
	researcherRE  = regexp.MustCompile(`^R-[0-9]{6}$`)
	commandIDRE   = regexp.MustCompile(`^s[0-9]+-[0-9]{6,}$`)
)

// checkContract is checkStream's own view of a contract.
type checkContract struct {
	signed, registered time.Time
	typ                string
	amount, tech, paid decimal.Decimal
	payments           map[string]bool
	revoked            bool
	achievement        string
	proceeds           bool // a proceeds assignment has been recorded
	paidBeforeProceeds bool
}

type grantTerm struct {
	from, to time.Time
	contract string
}

// checkStream checks every line of data against the rules of docs/domain.md in file order and
// returns what it saw. It reports each broken rule with its line number.
func checkStream(t *testing.T, data []byte) streamStats {
	t.Helper()
	st := streamStats{types: map[string]int{}, fields: map[string]int{}, rights: map[string]int{}}
	var (
		contracts   = map[string]*checkContract{}
		commandIDs  = map[string]bool{}
		orgByName   = map[string]string{} // organization name → USCC
		orgByID     = map[string]string{} // USCC → organization name
		researchers = map[string]string{} // id → name|institution
		exclusive   = map[string][]grantTerm{}
		useGrants   = map[string]int{}
		lastReg     time.Time
		errs        int
	)
	first, last := mustDate(t, "2019-01-01"), mustDate(t, "2025-12-31")
	require.True(t, len(data) == 0 || data[len(data)-1] == '\n', "output must end with a newline")

	n := 0
	for raw := range bytes.Lines(data) {
		n++
		fail := func(format string, args ...any) {
			t.Helper()
			errs++
			t.Errorf("line %d: %s\n%s", n, fmt.Sprintf(format, args...), raw)
			if errs >= 20 {
				t.FailNow()
			}
		}
		date := func(field, s string) time.Time {
			d, err := time.Parse(time.DateOnly, s)
			if err != nil {
				fail("%s %q is not a date", field, s)
			}
			return d
		}
		money := func(field, s string) decimal.Decimal {
			if !moneyRE.MatchString(s) {
				fail("%s %q is not an amount with two decimals", field, s)
				return decimal.Zero
			}
			return decimal.RequireFromString(s)
		}
		checkParty := func(role string, p *wireParty) {
			if p == nil {
				fail("%s missing", role)
				return
			}
			if !slices.Contains(commands.PartyKinds(), p.Kind) {
				fail("%s kind %q", role, p.Kind)
			}
			if err := commands.ValidRegion(p.Region); err != nil {
				fail("%s region: %v", role, err)
			}
			if p.Name == "" {
				fail("%s without name", role)
			}
			if p.Kind == "individual" {
				if !personRE.MatchString(p.ID) {
					fail("%s individual id %q", role, p.ID)
				}
				return
			}
			if err := commands.ValidUSCC(p.ID); err != nil {
				fail("%s id: %v", role, err)
			}
			if id, ok := orgByName[p.Name]; ok && id != p.ID {
				fail("%s %s has ids %s and %s", role, p.Name, id, p.ID)
			}
			if name, ok := orgByID[p.ID]; ok && name != p.Name {
				fail("%s id %s names %s and %s", role, p.ID, name, p.Name)
			}
			orgByName[p.Name], orgByID[p.ID] = p.ID, p.Name
		}

		var keys map[string]json.RawMessage
		if err := json.Unmarshal(raw, &keys); err != nil {
			fail("not a JSON object: %v", err)
			continue
		}
		var cmd wireCmd
		if err := json.Unmarshal(raw, &cmd); err != nil {
			fail("does not decode: %v", err)
			continue
		}
		allowed, ok := commandKeys[cmd.Command]
		if !ok {
			fail("unknown command %q", cmd.Command)
			continue
		}
		for k := range keys {
			if _, ok := allowed[k]; !ok {
				fail("unknown key %q for %s", k, cmd.Command)
			}
		}
		for k, required := range allowed {
			if _, ok := keys[k]; required && !ok {
				fail("%s without %q", cmd.Command, k)
			}
		}
		if !commandIDRE.MatchString(cmd.CommandID) || commandIDs[cmd.CommandID] {
			fail("command_id %q missing, malformed or repeated", cmd.CommandID)
		}
		commandIDs[cmd.CommandID] = true

		if cmd.Command == "register_contract" {
			st.contracts++
			id := cmd.ContractID
			if err := commands.ValidRegistrationNumber(id); err != nil || len(id) != 16 {
				fail("contract_id: %v (len %d)", err, len(id))
				continue
			}
			if contracts[id] != nil {
				fail("contract %s registered twice", id)
				continue
			}
			reg, signed := date("registered_on", cmd.RegisteredOn), date("signed_on", cmd.SignedOn)
			if id[:4] != cmd.RegisteredOn[:4] {
				fail("registration number year %s, registered_on %s", id[:4], cmd.RegisteredOn)
			}
			if name, ok := commands.RegionName(id[4:8] + "00"); !ok || id[4:6] != "14" {
				fail("registry %s is not a Shanxi registry (%s)", id[4:8], name)
			}
			if pt := id[8:10]; pt < "01" || pt > "03" {
				fail("registry point %s", pt)
			}
			if reg.Before(lastReg) {
				fail("registered_on %s before the previous registration", cmd.RegisteredOn)
			}
			lastReg = reg
			if reg.Before(first) || reg.After(last) {
				fail("registered_on %s outside 2019–2025", cmd.RegisteredOn)
			}
			if signed.After(reg) || reg.Sub(signed) > 60*24*time.Hour {
				fail("signed_on %s, registered_on %s", cmd.SignedOn, cmd.RegisteredOn)
			}
			if cmd.Title == "" {
				fail("empty title")
			}
			if !commands.ValidSubtype(cmd.Type, cmd.Subtype) {
				fail("type %q subtype %q", cmd.Type, cmd.Subtype)
			}
			if !slices.Contains(commands.Fields(), cmd.Field) {
				fail("field %q", cmd.Field)
			}
			amount, tech := money("amount", cmd.Amount), money("tech_amount", cmd.TechAmount)
			if tech.GreaterThan(amount) {
				fail("tech_amount %s > amount %s", tech, amount)
			}
			if amount.LessThan(decimal.NewFromInt(5000)) || amount.GreaterThan(decimal.NewFromInt(50_000_000)) {
				fail("amount %s outside 5,000 … 50,000,000", amount)
			}
			checkParty("seller", cmd.Seller)
			checkParty("buyer", cmd.Buyer)
			if cmd.Intermediary != nil {
				checkParty("intermediary", cmd.Intermediary)
				st.intermediaries++
			}
			if cmd.Seller != nil && cmd.Buyer != nil {
				if cmd.Seller.ID == cmd.Buyer.ID {
					fail("seller is the buyer")
				}
				switch {
				case cmd.Buyer.Region == commands.AbroadRegion:
					st.abroadBuyers++
				case !strings.HasPrefix(cmd.Buyer.Region, "14"):
					st.outsideBuyers++
				}
				if !strings.HasPrefix(cmd.Seller.Region, "14") {
					st.outsideSellers++
					if !strings.HasPrefix(cmd.Buyer.Region, "14") {
						fail("neither party in Shanxi")
					}
				}
			}
			if cmd.IPTypes == nil {
				fail("ip_types missing or null")
			}
			for _, ip := range cmd.IPTypes {
				if !slices.Contains(commands.IPTypes(), ip) {
					fail("ip type %q", ip)
				}
			}
			if cmd.AchievementID != "" && !achievementRE.MatchString(cmd.AchievementID) {
				fail("achievement_id %q", cmd.AchievementID)
			}
			st.types[cmd.Type]++
			st.fields[cmd.Field]++
			contracts[id] = &checkContract{
				signed: signed, registered: reg, typ: cmd.Type, amount: amount, tech: tech,
				payments: map[string]bool{}, achievement: cmd.AchievementID,
			}
			continue
		}

		c := contracts[cmd.ContractID]
		if c == nil {
			fail("%s before contract %s is registered", cmd.Command, cmd.ContractID)
			continue
		}
		if c.revoked {
			fail("%s after contract %s was revoked", cmd.Command, cmd.ContractID)
			continue
		}
		switch cmd.Command {
		case "revoke_contract":
			if cmd.Reason == "" {
				fail("revocation without reason")
			}
			c.revoked = true
			st.revoked++

		case "amend_contract":
			st.amendments++
			if cmd.Reason == "" {
				fail("amendment without reason")
			}
			if cmd.Type == "" && cmd.Subtype == "" && cmd.Field == "" && cmd.Amount == "" && cmd.TechAmount == "" {
				fail("amendment changes nothing")
			}
			if cmd.Type != "" {
				if cmd.Subtype == "" {
					fail("type changed without subtype")
				}
				c.typ = cmd.Type
			}
			if cmd.Subtype != "" && !commands.ValidSubtype(c.typ, cmd.Subtype) {
				fail("subtype %q is not a subtype of %q", cmd.Subtype, c.typ)
			}
			if cmd.Field != "" && !slices.Contains(commands.Fields(), cmd.Field) {
				fail("field %q", cmd.Field)
			}
			if cmd.Type != "" || cmd.Subtype != "" || cmd.Field != "" {
				st.amendedClass++
			}
			if cmd.Amount != "" {
				c.amount = money("amount", cmd.Amount)
				st.amendedAmount++
			}
			if cmd.TechAmount != "" {
				c.tech = money("tech_amount", cmd.TechAmount)
			}
			if c.tech.GreaterThan(c.amount) {
				fail("amended tech_amount %s > amount %s", c.tech, c.amount)
			}
			if c.amount.LessThan(c.paid) {
				fail("amended amount %s below %s already paid", c.amount, c.paid)
			}

		case "record_payment":
			if cmd.PaymentID == "" || c.payments[cmd.PaymentID] {
				fail("payment_id %q missing or repeated", cmd.PaymentID)
			}
			c.payments[cmd.PaymentID] = true
			amount, costs := money("amount", cmd.Amount), money("costs", cmd.Costs)
			if !amount.IsPositive() || costs.GreaterThan(amount) {
				fail("payment %s with costs %s", amount, costs)
			}
			paidOn := date("paid_on", cmd.PaidOn)
			if paidOn.Before(c.signed) || paidOn.After(last) {
				fail("paid_on %s before signed_on or after 2025", cmd.PaidOn)
			}
			c.paid = c.paid.Add(amount)
			if c.paid.GreaterThan(c.amount) {
				fail("payments total %s exceed the amount in force %s", c.paid, c.amount)
			}
			if c.proceeds {
				st.payAfterProceeds++
			} else {
				c.paidBeforeProceeds = true
			}

		case "assign_rights":
			st.rights[cmd.Right]++
			eff := date("effective_on", cmd.EffectiveOn)
			if eff.Before(c.registered) {
				fail("effective_on %s before registered_on", cmd.EffectiveOn)
			}
			if len(cmd.Holders) == 0 {
				fail("no holders")
			}
			for _, h := range cmd.Holders {
				if !commands.ValidHolderKind(h.Kind) || h.ID == "" || h.Name == "" {
					fail("holder %+v", h)
				}
				switch h.Kind {
				case "researcher":
					if !researcherRE.MatchString(h.ID) || h.Institution == "" {
						fail("researcher %+v", h)
					}
					who := h.Name + "|" + h.Institution
					if prev, ok := researchers[h.ID]; ok && prev != who {
						fail("researcher %s is %s and %s", h.ID, prev, who)
					}
					researchers[h.ID] = who
				case "institution":
					checkParty("institution", &wireParty{ID: h.ID, Name: h.Name, Kind: "other", Region: "140000"})
				case "broker", "individual":
					if !personRE.MatchString(h.ID) {
						fail("%s id %q", h.Kind, h.ID)
					}
				}
			}
			switch cmd.Right {
			case "ownership", "proceeds":
				if cmd.Exclusivity != "" || cmd.Term != nil {
					fail("%s with exclusivity or term", cmd.Right)
				}
				sum, team := decimal.Zero, decimal.Zero
				for _, h := range cmd.Holders {
					if h.Share == nil || !shareRE.MatchString(*h.Share) {
						fail("share %v", h.Share)
						continue
					}
					s := decimal.RequireFromString(*h.Share)
					if !s.IsPositive() || s.GreaterThan(decimal.NewFromInt(1)) {
						fail("share %s outside (0, 1]", s)
					}
					sum = sum.Add(s)
					if h.Kind == "researcher" {
						team = team.Add(s)
					}
				}
				if !sum.Equal(decimal.NewFromInt(1)) {
					fail("shares sum to %s", sum)
				}
				if cmd.Right == "proceeds" {
					if c.paidBeforeProceeds && !c.proceeds {
						st.payBeforeProceeds++
					}
					c.proceeds = true
					switch {
					case team.LessThan(decimal.RequireFromString("0.5")):
						st.proceedsBelow50++
					case team.LessThan(decimal.RequireFromString("0.7")):
						st.proceeds50to70++
					default:
						st.proceedsAtLeast70++
					}
					for _, h := range cmd.Holders {
						if h.Kind == "broker" {
							st.brokers++
						}
					}
				} else if team.IsPositive() {
					st.pilotOwnership++
				}
			case "use":
				if !slices.Contains(commands.Exclusivities(), cmd.Exclusivity) || cmd.Term == nil {
					fail("use right without exclusivity or term")
					continue
				}
				for _, h := range cmd.Holders {
					if h.Share != nil {
						fail("use right holder with a share")
					}
				}
				from, to := date("term.from", cmd.Term.From), date("term.to", cmd.Term.To)
				if to.Before(from) {
					fail("term %s … %s", cmd.Term.From, cmd.Term.To)
				}
				if c.achievement == "" {
					fail("use right on a contract without achievement")
					continue
				}
				useGrants[c.achievement]++
				if cmd.Exclusivity == "ordinary" {
					continue
				}
				for _, g := range exclusive[c.achievement] {
					if !from.After(g.to) && !g.from.After(to) {
						fail("%s grant %s … %s on %s overlaps the grant %s … %s of %s", cmd.Exclusivity,
							cmd.Term.From, cmd.Term.To, c.achievement, g.from.Format(time.DateOnly), g.to.Format(time.DateOnly), g.contract)
					}
				}
				exclusive[c.achievement] = append(exclusive[c.achievement], grantTerm{from, to, cmd.ContractID})
			default:
				fail("right %q", cmd.Right)
			}
		}
	}
	for _, n := range useGrants {
		if n > 1 {
			st.relicensed++
		}
	}
	for _, g := range exclusive {
		if len(g) > 1 {
			st.exclusiveTwice++
		}
	}
	return st
}

func mustDate(t *testing.T, s string) time.Time {
	t.Helper()
	d, err := time.Parse(time.DateOnly, s)
	require.NoError(t, err)
	return d
}

// BenchmarkWrite measures generation speed per contract.
func BenchmarkWrite(b *testing.B) {
	for b.Loop() {
		if _, err := Write(io.Discard, Config{Seed: 1, Contracts: 10000}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRegistrations: one record per register_contract line of the same stream, at
// positions 1..n, each a registration of that line's contract, recorded when asked.
func TestRegistrations(t *testing.T) {
	cfg := Config{Seed: 3, Contracts: 40}
	var buf bytes.Buffer
	_, err := Write(&buf, cfg)
	require.NoError(t, err)
	var ids []string
	for line := range strings.Lines(buf.String()) {
		if strings.HasPrefix(line, `{"command":"register_contract"`) {
			var c struct {
				ContractID string `json:"contract_id"`
			}
			require.NoError(t, json.Unmarshal([]byte(line), &c))
			ids = append(ids, c.ContractID)
		}
	}
	at := time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC)
	var got []string
	err = Registrations(cfg, at, func(r *ledger.Record) error {
		require.Equal(t, ledger.Position(len(got)+1), r.Position)
		require.Equal(t, at, r.RecordedAt)
		ev, err := ledger.Decode(r.Type, r.SchemaVersion, r.Data)
		require.NoError(t, err)
		reg, ok := ev.(*ledger.ContractRegistered)
		require.True(t, ok, "%T", ev)
		got = append(got, reg.ContractID)
		return nil
	})
	require.NoError(t, err)
	require.Len(t, ids, cfg.Contracts)
	require.Equal(t, ids, got)
}
