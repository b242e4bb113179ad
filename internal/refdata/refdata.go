package refdata

// Reference data as code: the closed lists of codes that commands accept (docs/domain.md,
// Reference data and where it comes from).
//
// Each category is one table, a slice in report order, with the code's English id (the value
// carried in commands and events), its Chinese label, and a form code where the source defines
// one. A map for lookups is built from each table when the package is initialized; a duplicate id
// in a table is a bug and panics there. Lookup functions never hand out the tables themselves:
// the list functions return fresh copies, so callers may sort or modify them freely.
//
// All functions here are pure and safe for concurrent use.

// refEntry is one code of a reference list.
type refEntry struct {
	id    string // English id used in commands, events and reports
	label string // Chinese label, as the source writes it
	code  string // registration-form code, "" where the source defines none
	group string // report group, party kinds only
}

// refContractType is one contract type with its subtypes, in report order.
type refContractType struct {
	id       string
	label    string
	subtypes []refEntry
}

// refContractTypes lists the five contract types and their subtypes.
//
// Sources: 民法典 第三编 第二十章 (技术合同, in force 2021-01-01), which splits 技术许可 from
// 技术转让 and so gives the five classes used in statistics since 2021; 技术合同认定规则
// (科学技术部, 国科发政字〔2001〕253号, 2001-07-18) for the subtypes registries distinguish
// (technology equity, training, brokerage). Both registration texts of 2000/2001 were replaced
// on 2026-03-01; see docs/domain.md, Registration measures.
var refContractTypes = []refContractType{
	// 民法典 第八百五十一条: 技术开发合同包括委托开发合同和合作开发合同.
	{id: "development", label: "技术开发", subtypes: []refEntry{
		{id: "commissioned", label: "委托开发"},
		{id: "cooperative", label: "合作开发"},
	}},
	// 民法典 第八百六十二、八百六十三条: 技术转让合同包括专利权转让、专利申请权转让、技术秘密转让等;
	// 第八百七十六条: 集成电路布图设计专有权、植物新品种权、计算机软件著作权等其他知识产权的转让参照适用;
	// 技术合同认定规则: 以技术入股 is registered as a transfer.
	{id: "transfer", label: "技术转让", subtypes: []refEntry{
		{id: "patent_right", label: "专利权转让"},
		{id: "patent_application", label: "专利申请权转让"},
		{id: "technical_secret", label: "技术秘密转让"},
		{id: "other_ip", label: "其他知识产权转让"}, // IC layout, plant variety, software copyright, new biomedical variety
		{id: "equity", label: "技术入股"},
	}},
	// 民法典 第八百六十二、八百六十三条: 技术许可合同包括专利实施许可、技术秘密使用许可等;
	// 第八百七十六条 for other IP. A patent licence's exclusivity (独占/排他/普通) is carried
	// separately, see refExclusivities.
	{id: "license", label: "技术许可", subtypes: []refEntry{
		{id: "patent_license", label: "专利实施许可"},
		{id: "secret_license", label: "技术秘密使用许可"},
		{id: "other_license", label: "其他知识产权许可"},
	}},
	// 民法典 第八百七十八条第一款: 技术咨询合同 … 提供可行性论证、技术预测、专题技术调查、分析评价报告等.
	{id: "consulting", label: "技术咨询", subtypes: []refEntry{
		{id: "feasibility", label: "可行性论证"},
		{id: "forecast", label: "技术预测"},
		{id: "survey", label: "专题技术调查"},
		{id: "evaluation", label: "分析评价报告"},
	}},
	// 民法典 第八百七十八条第二款 (技术服务合同); 第八百八十七条: 技术中介合同、技术培训合同;
	// 技术合同认定规则 registers training and brokerage as technical services.
	{id: "service", label: "技术服务", subtypes: []refEntry{
		{id: "general", label: "技术服务"},
		{id: "training", label: "技术培训"},
		{id: "brokerage", label: "技术中介"},
	}},
}

// refFields lists the eleven technical fields (技术领域) of the registration form, in the order of
// the 全国技术市场统计 annual report (科技部火炬中心, 全国技术市场统计年度报告, 按技术领域分).
var refFields = []refEntry{
	{id: "electronic_information", label: "电子信息"},
	{id: "aerospace", label: "航空航天"},
	{id: "advanced_manufacturing", label: "先进制造"},
	{id: "biomedicine", label: "生物、医药和医疗器械"},
	{id: "new_materials", label: "新材料及其应用"},
	{id: "new_energy", label: "新能源与高效节能"},
	{id: "environment", label: "环境保护与资源综合利用"},
	{id: "nuclear", label: "核应用技术"},
	{id: "agriculture", label: "农业"},
	{id: "modern_transport", label: "现代交通"},
	{id: "urban_social", label: "城市建设与社会发展"},
}

// refPartyKinds lists the kinds of contracting party (买卖方性质) with the codes of the
// 全国技术市场统计 registration form (技术合同认定登记管理办法; 技术合同登记表). Natural persons
// and other organizations have no form code here.
var refPartyKinds = []refEntry{
	{id: "government", label: "机关法人", code: "010", group: "other"},
	{id: "research_institute", label: "科研机构", code: "021", group: "research_institute"},
	{id: "university", label: "高等院校", code: "022", group: "university"},
	{id: "medical", label: "医疗卫生", code: "023", group: "other"},
	{id: "other_public", label: "其他事业法人", code: "024", group: "other"},
	{id: "social_org", label: "社团法人", code: "030", group: "other"},
	{id: "enterprise", label: "内资企业", code: "100", group: "enterprise"},
	{id: "hmt_enterprise", label: "港澳台商投资企业", code: "200", group: "enterprise"},
	{id: "foreign_enterprise", label: "外商投资企业", code: "300", group: "enterprise"},
	{id: "individual", label: "自然人", group: "other"},
	{id: "other", label: "其他组织", group: "other"},
}

// refPartyKindGroups lists the four groups that reports use for party kinds (全国技术市场统计:
// 企业、科研机构、高等院校、其他), in report order. Each party kind names its group above.
var refPartyKindGroups = []refEntry{
	{id: "enterprise", label: "企业"},
	{id: "research_institute", label: "科研机构"},
	{id: "university", label: "高等院校"},
	{id: "other", label: "其他"},
}

// refIPTypes lists the kinds of intellectual property a contract may involve (知识产权类型,
// 技术合同登记表; 民法典 第八百六十三、八百七十六条). An empty list on a contract means none is
// involved (未涉及知识产权); there is no code for that.
var refIPTypes = []refEntry{
	{id: "patent", label: "专利"},
	{id: "technical_secret", label: "技术秘密"},
	{id: "software_copyright", label: "计算机软件著作权"},
	{id: "ic_layout", label: "集成电路布图设计专有权"},
	{id: "plant_variety", label: "植物新品种权"},
	{id: "biomedical_variety", label: "生物医药新品种"},
	{id: "other", label: "其他"},
}

// refExclusivities lists the scopes of a use right. Source: 最高人民法院关于审理技术合同纠纷案件
// 适用法律若干问题的解释 (法释〔2004〕20号, 2020 修正) 第二十五条 (独占实施许可、排他实施许可、
// 普通实施许可), applied to every use right, not only patents.
var refExclusivities = []refEntry{
	{id: "exclusive", label: "独占"}, // only the licensee may use it, not even the licensor
	{id: "sole", label: "排他"},      // the licensee and the licensor, nobody else
	{id: "ordinary", label: "普通"},  // the licensor may license others too
}

// refRights lists the three rights a rights assignment records (三权, docs/domain.md, Rights).
// Sources: ownership — 赋予科研人员职务科技成果所有权或长期使用权试点实施方案 (国科发区〔2020〕128号);
// use — 民法典 第八百六十二条 (许可) and the same plan's long-term use right; proceeds —
// 促进科技成果转化法 (2015) 第四十三至四十五条.
var refRights = []refEntry{
	{id: "ownership", label: "所有权"},
	{id: "use", label: "使用权"},
	{id: "proceeds", label: "收益权"},
}

// refHolderKinds lists the kinds a rights holder may have besides the party kinds: the institution
// that produced the result, its researchers, and the broker (docs/domain.md, Rights;
// 促进科技成果转化法 第四十五条 for researchers' rewards; 技术经纪人 as in 技术合同认定登记管理办法).
var refHolderKinds = []refEntry{
	{id: "institution", label: "成果完成单位"},
	{id: "researcher", label: "科研人员"},
	{id: "broker", label: "技术经纪人"},
}

// Lookup maps, built once from the tables above when the package is initialized.
var (
	refContractTypeIndex = refIndexContractTypes(refContractTypes)
	refFieldIndex        = refIndex("field", refFields)
	refPartyKindIndex    = refIndex("party kind", refPartyKinds)
	refPartyGroupIndex   = refIndex("party kind group", refPartyKindGroups)
	refIPTypeIndex       = refIndex("IP type", refIPTypes)
	refExclusivityIndex  = refIndex("exclusivity", refExclusivities)
	refRightIndex        = refIndex("right", refRights)
	refHolderKindIndex   = refIndexHolderKinds(refPartyKinds, refHolderKinds)
)

// refIndex maps each id of a table to its entry. It panics on an empty or duplicate id: the
// tables are code, so that is a bug.
func refIndex(what string, table []refEntry) map[string]refEntry {
	m := make(map[string]refEntry, len(table))
	for _, e := range table {
		if e.id == "" || e.label == "" {
			panic("refdata: " + what + " table has an entry without id or label")
		}
		if _, dup := m[e.id]; dup {
			panic("refdata: duplicate " + what + " id " + e.id)
		}
		m[e.id] = e
	}
	return m
}

// refIndexContractTypes maps each type id to its entry and checks each subtype list as a table.
func refIndexContractTypes(table []refContractType) map[string]refContractType {
	m := make(map[string]refContractType, len(table))
	for _, t := range table {
		if t.id == "" || t.label == "" || len(t.subtypes) == 0 {
			panic("refdata: contract type table has an incomplete entry " + t.id)
		}
		if _, dup := m[t.id]; dup {
			panic("refdata: duplicate contract type id " + t.id)
		}
		refIndex("subtype of "+t.id, t.subtypes)
		m[t.id] = t
	}
	return m
}

// refIndexHolderKinds maps every kind a rights holder may have: the party kinds, then the
// holder-only kinds.
func refIndexHolderKinds(parties, holders []refEntry) map[string]refEntry {
	all := make([]refEntry, 0, len(parties)+len(holders))
	all = append(all, parties...)
	all = append(all, holders...)
	return refIndex("holder kind", all)
}

// refIDs returns the ids of a table in table order, in a new slice.
func refIDs(table []refEntry) []string {
	out := make([]string, len(table))
	for i, e := range table {
		out[i] = e.id
	}
	return out
}

// refLabel returns the label of id in m and whether id is a known code.
func refLabel(m map[string]refEntry, id string) (string, bool) {
	e, ok := m[id]
	return e.label, ok
}

// ContractTypes returns the contract type ids (development, transfer, license, consulting,
// service) in report order.
func ContractTypes() []string {
	out := make([]string, len(refContractTypes))
	for i, t := range refContractTypes {
		out[i] = t.id
	}
	return out
}

// ContractTypeLabel returns the Chinese label of contract type t (transfer → 技术转让) and
// whether t is a known type.
func ContractTypeLabel(t string) (string, bool) {
	ct, ok := refContractTypeIndex[t]
	return ct.label, ok
}

// SubtypesOf returns the subtype ids of contract type typ in report order, or nil if typ is not a
// known type.
func SubtypesOf(typ string) []string {
	ct, ok := refContractTypeIndex[typ]
	if !ok {
		return nil
	}
	return refIDs(ct.subtypes)
}

// ValidSubtype reports whether subtype is a subtype of the known contract type typ. A subtype id
// is only valid under its own type: ValidSubtype("license", "patent_right") is false.
func ValidSubtype(typ, subtype string) bool {
	_, ok := SubtypeLabel(typ, subtype)
	return ok
}

// SubtypeLabel returns the Chinese label of subtype under contract type typ (transfer,
// patent_right → 专利权转让) and whether the pair is known.
func SubtypeLabel(typ, subtype string) (string, bool) {
	ct, ok := refContractTypeIndex[typ]
	if !ok {
		return "", false
	}
	for _, s := range ct.subtypes {
		if s.id == subtype {
			return s.label, true
		}
	}
	return "", false
}

// Fields returns the eleven technical field ids in report order.
func Fields() []string { return refIDs(refFields) }

// FieldLabel returns the Chinese label of technical field f (new_energy → 新能源与高效节能) and
// whether f is a known field.
func FieldLabel(f string) (string, bool) { return refLabel(refFieldIndex, f) }

// PartyKinds returns the party kind ids in the order of the registration form, individual and
// other last.
func PartyKinds() []string { return refIDs(refPartyKinds) }

// PartyKindLabel returns the Chinese label of party kind k (university → 高等院校) and whether k
// is a known party kind.
func PartyKindLabel(k string) (string, bool) { return refLabel(refPartyKindIndex, k) }

// PartyKindCode returns the registration-form code of party kind k (university → "022"). It
// returns "" for individual and other, which have no form code, and for an unknown kind.
func PartyKindCode(k string) string { return refPartyKindIndex[k].code }

// PartyKindGroups returns the report groups of party kinds in report order: enterprise,
// research_institute, university, other.
func PartyKindGroups() []string { return refIDs(refPartyKindGroups) }

// PartyKindGroupLabel returns the Chinese label of a report group (enterprise → 企业) and whether
// g is a known group.
func PartyKindGroupLabel(g string) (string, bool) { return refLabel(refPartyGroupIndex, g) }

// PartyKindGroup returns the report group of party kind k: "enterprise" for enterprise,
// hmt_enterprise and foreign_enterprise; "research_institute"; "university"; and "other" for
// every other known kind. It returns "" for an unknown kind.
func PartyKindGroup(k string) string { return refPartyKindIndex[k].group }

// IPTypes returns the intellectual property type ids in report order.
func IPTypes() []string { return refIDs(refIPTypes) }

// IPTypeLabel returns the Chinese label of IP type t (patent → 专利) and whether t is a known
// type.
func IPTypeLabel(t string) (string, bool) { return refLabel(refIPTypeIndex, t) }

// Exclusivities returns the use-right scopes: exclusive, sole, ordinary.
func Exclusivities() []string { return refIDs(refExclusivities) }

// ExclusivityLabel returns the Chinese label of use-right scope e (exclusive → 独占, sole → 排他,
// ordinary → 普通) and whether e is known.
func ExclusivityLabel(e string) (string, bool) { return refLabel(refExclusivityIndex, e) }

// Rights returns the rights a rights assignment can record: ownership, use, proceeds.
func Rights() []string { return refIDs(refRights) }

// RightLabel returns the Chinese label of right r (ownership → 所有权, use → 使用权, proceeds →
// 收益权) and whether r is known.
func RightLabel(r string) (string, bool) { return refLabel(refRightIndex, r) }

// HolderKinds returns every kind a rights holder may have: the party kinds in form order, then
// institution, researcher, broker.
func HolderKinds() []string {
	return append(PartyKinds(), refIDs(refHolderKinds)...)
}

// HolderKindLabel returns the Chinese label of holder kind k (researcher → 科研人员) and whether
// k is a valid holder kind.
func HolderKindLabel(k string) (string, bool) { return refLabel(refHolderKindIndex, k) }

// ValidHolderKind reports whether k may be the kind of a rights holder: any party kind, or
// institution, researcher or broker.
func ValidHolderKind(k string) bool {
	_, ok := refHolderKindIndex[k]
	return ok
}
