package sample

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"

	"techledger/commands"
)

// weighted is a choice with a relative weight.
type weighted struct {
	id     string
	weight int
}

// pickWeighted returns the id of one choice, chosen with probability proportional to its
// weight.
func pickWeighted(rng *rand.Rand, choices []weighted) string {
	total := 0
	for _, c := range choices {
		total += c.weight
	}
	n := rng.IntN(total)
	for _, c := range choices {
		if n < c.weight {
			return c.id
		}
		n -= c.weight
	}
	panic("sample: pickWeighted out of range")
}

// pickIndex returns an index into weights, with probability proportional to its weight.
func pickIndex(rng *rand.Rand, weights []int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	n := rng.IntN(total)
	for i, w := range weights {
		if n < w {
			return i
		}
		n -= w
	}
	panic("sample: pickIndex out of range")
}

// pick returns a uniformly chosen element of s.
func pick[T any](rng *rand.Rand, s []T) T { return s[rng.IntN(len(s))] }

// pickSkewed returns an element of s, favouring the first ones: some companies do far more
// business than others.
func pickSkewed[T any](rng *rand.Rand, s []T) T { return s[rng.IntN(rng.IntN(len(s))+1)] }

// researcher is a researcher of an institution, with the id the institution gives them.
type researcher struct {
	id, name string
}

// entity is an organization or person that takes part in contracts.
type entity struct {
	party       party
	researchers []researcher // universities and institutes only
	pilot       bool         // in the 赋权 ownership pilot
	fields      []string     // preferred technical fields, if any
}

// shanxi reports whether e is located in Shanxi.
func (e *entity) shanxi() bool { return strings.HasPrefix(e.party.Region, "14") }

// USCC (统一社会信用代码) per GB 32100-2015: the code set in order of value and the weights of
// positions 1–17 (3^i mod 31).
const usccCharset = "0123456789ABCDEFGHJKLMNPQRTUWXY"

var usccWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// makeUSCC returns an invented but well-formed unified social credit code: authority and type
// (e.g. "91" for a company registered by 市场监管, "12" for a 事业单位 registered by 机构编制), the
// registering region, a 9-character body derived from a hash of the name (so an organization
// keeps one code everywhere, whatever the seed) and the GB 32100-2015 check character.
func makeUSCC(authType, region, name string) string {
	if len(authType) != 2 || len(region) != 6 {
		panic("sample: makeUSCC needs a 2-character authority/type and a 6-digit region")
	}
	h := fnv.New64a()
	h.Write([]byte(name))
	sum := h.Sum64()
	var b strings.Builder
	b.WriteString(authType)
	b.WriteString(region)
	if authType == "91" && sum%3 != 0 {
		// Companies registered since 2015 have a body starting with "MA" followed by seven
		// characters of the code set.
		sum /= 3
		b.WriteString("MA")
		for range 7 {
			b.WriteByte(usccCharset[sum%31])
			sum /= 31
		}
	} else {
		// Older organizations keep their organization code (GB 11714): eight digits and a
		// check character, a digit or X.
		sum /= 3
		for range 8 {
			b.WriteByte(byte('0' + sum%10))
			sum /= 10
		}
		b.WriteByte("0123456789X"[sum%11])
	}
	code := b.String()
	return code + string(usccCheck(code))
}

// usccCheck computes the check character of the first 17 characters of a USCC:
// 31 − (Σ value·weight mod 31), 31 written as 0.
func usccCheck(body string) byte {
	s := 0
	for i := range 17 {
		s += strings.IndexByte(usccCharset, body[i]) * usccWeights[i]
	}
	return usccCharset[(31-s%31)%31]
}

// pools holds every entity the generator draws parties from. It is built once per Write, from
// the seeded source, and its size depends only on the number of contracts (bounded).
type pools struct {
	universities, institutes []*entity
	uniWeights, instWeights  []int
	shanxiFirms              []*entity
	otherFirms               []*entity
	foreignFirms             []*entity // abroad
	byKind                   map[string][]*entity
	intermediaries           []*entity
	persons                  []*entity           // individuals who buy or sell
	brokers                  []*entity           // 技术经纪人
	counties                 map[string][]string // Shanxi county-level codes by city prefix
	cityWeights              []int
}

// newPools builds the pools for a run registering contracts contracts.
func newPools(rng *rand.Rand, contracts int) *pools {
	p := &pools{byKind: map[string][]*entity{}, counties: map[string][]string{}}
	for _, code := range commands.ShanxiRegions() {
		if code[4:] != "00" {
			p.counties[code[:4]] = append(p.counties[code[:4]], code)
		}
	}
	for _, c := range shanxiCities {
		if len(p.counties[c.prefix]) == 0 {
			panic("sample: no counties for city " + c.prefix)
		}
		p.cityWeights = append(p.cityWeights, c.weight)
	}

	rseq := 0
	for _, s := range institutionSpecs {
		e := &entity{
			party:  party{ID: makeUSCC("12", "140000", s.name), Name: s.name, Kind: s.kind, Region: s.region},
			pilot:  s.pilot,
			fields: s.fields,
		}
		for range s.researchers {
			rseq++
			e.researchers = append(e.researchers, researcher{id: fmt.Sprintf("R-%06d", rseq), name: personName(rng)})
		}
		if s.kind == "university" {
			p.universities = append(p.universities, e)
			p.uniWeights = append(p.uniWeights, s.weight)
		} else {
			p.institutes = append(p.institutes, e)
			p.instWeights = append(p.instWeights, s.weight)
		}
	}

	names := map[string]bool{}
	for _, s := range institutionSpecs {
		names[s.name] = true
	}
	nShanxi := min(max(contracts/4, 300), 30000)
	for len(p.shanxiFirms) < nShanxi {
		c := shanxiCities[pickIndex(rng, p.cityWeights)]
		prefix := c.short
		if rng.IntN(100) < 30 {
			prefix = "山西"
		}
		name, fields := companyName(rng, prefix)
		if names[name] {
			continue
		}
		names[name] = true
		region := pick(rng, p.counties[c.prefix])
		p.shanxiFirms = append(p.shanxiFirms, &entity{party: party{
			ID: makeUSCC("91", region, name), Name: name, Kind: "enterprise", Region: region,
		}, fields: fields})
	}
	cityW := make([]int, len(otherCities))
	for i, c := range otherCities {
		cityW[i] = c.weight
	}
	nOther := min(max(contracts/12, 100), 10000)
	for len(p.otherFirms) < nOther {
		c := otherCities[pickIndex(rng, cityW)]
		name, fields := companyName(rng, c.short)
		if names[name] {
			continue
		}
		names[name] = true
		p.otherFirms = append(p.otherFirms, &entity{party: party{
			ID: makeUSCC("91", c.region, name), Name: name, Kind: "enterprise", Region: c.region,
		}, fields: fields})
	}
	// Companies abroad have no USCC; techledger identifies every organization by one, so they
	// carry an invented code of authority Y (其他) with the abroad region code.
	for _, name := range foreignCompanies {
		p.foreignFirms = append(p.foreignFirms, &entity{party: party{
			ID: makeUSCC("Y1", commands.AbroadRegion, name), Name: name, Kind: "foreign_enterprise", Region: commands.AbroadRegion,
		}})
	}

	// Local organizations by kind, each with the authority/type of its USCC.
	addLocal := func(kind, authType string, list []string) {
		for _, name := range list {
			city := cityOfName(name)
			var region string
			switch {
			case strings.HasPrefix(name, "山西省"):
				region = commands.HomeProvince
			case kind == "government" || kind == "social_org":
				region = city + "00"
			default:
				region = pick(rng, p.counties[city])
			}
			p.byKind[kind] = append(p.byKind[kind], &entity{party: party{
				ID: makeUSCC(authType, region, name), Name: name, Kind: kind, Region: region,
			}})
		}
	}
	addLocal("government", "11", governmentBuyers)
	addLocal("medical", "12", medicalBuyers)
	addLocal("other_public", "12", publicBuyers)
	addLocal("social_org", "51", socialBuyers)
	addLocal("hmt_enterprise", "91", hmtBuyers)
	addLocal("foreign_enterprise", "91", fieBuyers)
	for _, o := range intermediaryOrgs {
		auth := "91"
		if o.kind != "enterprise" {
			auth = "12"
		}
		p.intermediaries = append(p.intermediaries, &entity{party: party{
			ID: makeUSCC(auth, o.region, o.name), Name: o.name, Kind: o.kind, Region: o.region,
		}})
	}

	// People: brokers first, then individuals, with opaque ids.
	nBrokers := min(max(contracts/40, 30), 3000)
	nPersons := min(max(contracts/10, 100), 20000)
	for i := range nBrokers + nPersons {
		c := shanxiCities[pickIndex(rng, p.cityWeights)]
		e := &entity{party: party{
			ID: fmt.Sprintf("P-%06d", i+1), Name: personName(rng), Kind: "individual", Region: pick(rng, p.counties[c.prefix]),
		}}
		if i < nBrokers {
			p.brokers = append(p.brokers, e)
		} else {
			p.persons = append(p.persons, e)
		}
	}
	return p
}

// cityOfName returns the city prefix (1401 …) of a name starting with a Shanxi city's short
// name, or 太原's for names starting with 山西.
func cityOfName(name string) string {
	for _, c := range shanxiCities {
		if strings.HasPrefix(name, c.short) {
			return c.prefix
		}
	}
	return "1401"
}

// companyName invents a company name: place, two-character 字号, industry, legal form. It
// returns the technical fields of the company's industry too.
func companyName(rng *rand.Rand, place string) (string, []string) {
	a := rng.IntN(len(brandChars))
	b := rng.IntN(len(brandChars) - 1)
	if b >= a {
		b++
	}
	forms := make([]int, len(legalForms))
	for i, f := range legalForms {
		forms[i] = f.weight
	}
	ind := pick(rng, industries)
	return place + string(brandChars[a]) + string(brandChars[b]) + ind.name + legalForms[pickIndex(rng, forms)].name, ind.fields
}

// personName invents a Chinese name of two or three characters.
func personName(rng *rand.Rand) string {
	name := string(pick(rng, surnames)) + string(pick(rng, givenChars))
	if rng.IntN(100) < 65 {
		name += string(pick(rng, givenChars))
	}
	return name
}
