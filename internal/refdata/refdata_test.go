package refdata

import (
	"slices"
	"testing"
	"unicode/utf8"
)

// The expected tables in these tests are written out again from docs/domain.md, not derived from
// the code's tables, so a typo in either shows up as a difference.

func TestContractTypeLabel(t *testing.T) {
	tests := []struct {
		typ       string
		wantLabel string
		wantOK    bool
	}{
		{"development", "技术开发", true},
		{"transfer", "技术转让", true},
		{"license", "技术许可", true},
		{"consulting", "技术咨询", true},
		{"service", "技术服务", true},
		{"Transfer", "", false}, // ids are case-sensitive
		{"技术转让", "", false},     // the label is not an id
		{"", "", false},
		{"patent_right", "", false}, // a subtype is not a type
	}
	for _, tt := range tests {
		got, ok := ContractTypeLabel(tt.typ)
		if got != tt.wantLabel || ok != tt.wantOK {
			t.Errorf("ContractTypeLabel(%q) = %q, %v; want %q, %v", tt.typ, got, ok, tt.wantLabel, tt.wantOK)
		}
	}
}

func TestContractTypes(t *testing.T) {
	got, want := ContractTypes(), []string{"development", "transfer", "license", "consulting", "service"}
	if !slices.Equal(got, want) {
		t.Errorf("ContractTypes() = %v, want %v", got, want)
	}
}

func TestSubtypesOf(t *testing.T) {
	tests := []struct {
		typ  string
		want []string
	}{
		{"development", []string{"commissioned", "cooperative"}},
		{"transfer", []string{"patent_right", "patent_application", "technical_secret", "other_ip", "equity"}},
		{"license", []string{"patent_license", "secret_license", "other_license"}},
		{"consulting", []string{"feasibility", "forecast", "survey", "evaluation"}},
		{"service", []string{"general", "training", "brokerage"}},
		{"unknown", nil},
		{"", nil},
	}
	for _, tt := range tests {
		if got := SubtypesOf(tt.typ); !slices.Equal(got, tt.want) {
			t.Errorf("SubtypesOf(%q) = %v, want %v", tt.typ, got, tt.want)
		}
	}
}

func TestValidSubtype(t *testing.T) {
	tests := []struct {
		name         string
		typ, subtype string
		want         bool
		wantLabel    string
	}{
		{name: "patent right transfer", typ: "transfer", subtype: "patent_right", want: true, wantLabel: "专利权转让"},
		{name: "technology equity", typ: "transfer", subtype: "equity", want: true, wantLabel: "技术入股"},
		{name: "commissioned development", typ: "development", subtype: "commissioned", want: true, wantLabel: "委托开发"},
		{name: "patent licence", typ: "license", subtype: "patent_license", want: true, wantLabel: "专利实施许可"},
		{name: "secret licence", typ: "license", subtype: "secret_license", want: true, wantLabel: "技术秘密使用许可"},
		{name: "survey", typ: "consulting", subtype: "survey", want: true, wantLabel: "专题技术调查"},
		{name: "brokerage", typ: "service", subtype: "brokerage", want: true, wantLabel: "技术中介"},
		{name: "training", typ: "service", subtype: "training", want: true, wantLabel: "技术培训"},
		{name: "subtype under the wrong type", typ: "license", subtype: "patent_right"},
		{name: "transfer subtype under development", typ: "development", subtype: "equity"},
		{name: "unknown type", typ: "sale", subtype: "general"},
		{name: "empty subtype", typ: "service", subtype: ""},
		{name: "both empty", typ: "", subtype: ""},
		{name: "case matters", typ: "transfer", subtype: "Patent_Right"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ValidSubtype(tt.typ, tt.subtype); got != tt.want {
				t.Errorf("ValidSubtype(%q, %q) = %v, want %v", tt.typ, tt.subtype, got, tt.want)
			}
			gotLabel, ok := SubtypeLabel(tt.typ, tt.subtype)
			if gotLabel != tt.wantLabel || ok != tt.want {
				t.Errorf("SubtypeLabel(%q, %q) = %q, %v; want %q, %v", tt.typ, tt.subtype, gotLabel, ok, tt.wantLabel, tt.want)
			}
		})
	}
}

// TestSubtypesOf_AllValid checks the two views of the subtype table agree: every listed subtype
// is valid under its own type and under no other (subtype ids are not shared between types).
func TestSubtypesOf_AllValid(t *testing.T) {
	for _, typ := range ContractTypes() {
		for _, sub := range SubtypesOf(typ) {
			for _, other := range ContractTypes() {
				if got, want := ValidSubtype(other, sub), other == typ; got != want {
					t.Errorf("ValidSubtype(%q, %q) = %v, want %v", other, sub, got, want)
				}
			}
		}
	}
}

func TestFieldLabel(t *testing.T) {
	want := []struct{ id, label string }{
		{"electronic_information", "电子信息"},
		{"aerospace", "航空航天"},
		{"advanced_manufacturing", "先进制造"},
		{"biomedicine", "生物、医药和医疗器械"},
		{"new_materials", "新材料及其应用"},
		{"new_energy", "新能源与高效节能"},
		{"environment", "环境保护与资源综合利用"},
		{"nuclear", "核应用技术"},
		{"agriculture", "农业"},
		{"modern_transport", "现代交通"},
		{"urban_social", "城市建设与社会发展"},
	}
	var wantIDs []string
	for _, w := range want {
		wantIDs = append(wantIDs, w.id)
		got, ok := FieldLabel(w.id)
		if got != w.label || !ok {
			t.Errorf("FieldLabel(%q) = %q, %v; want %q, true", w.id, got, ok, w.label)
		}
	}
	if got := Fields(); !slices.Equal(got, wantIDs) {
		t.Errorf("Fields() = %v, want %v", got, wantIDs)
	}
	for _, bad := range []string{"", "energy", "New_Energy", "电子信息", "other"} {
		if got, ok := FieldLabel(bad); ok || got != "" {
			t.Errorf("FieldLabel(%q) = %q, %v; want \"\", false", bad, got, ok)
		}
	}
}

func TestPartyKind(t *testing.T) {
	tests := []struct {
		kind, label, code, group string
	}{
		{"government", "机关法人", "010", "other"},
		{"research_institute", "科研机构", "021", "research_institute"},
		{"university", "高等院校", "022", "university"},
		{"medical", "医疗卫生", "023", "other"},
		{"other_public", "其他事业法人", "024", "other"},
		{"social_org", "社团法人", "030", "other"},
		{"enterprise", "内资企业", "100", "enterprise"},
		{"hmt_enterprise", "港澳台商投资企业", "200", "enterprise"},
		{"foreign_enterprise", "外商投资企业", "300", "enterprise"},
		{"individual", "自然人", "", "other"},
		{"other", "其他组织", "", "other"},
	}
	var wantKinds []string
	for _, tt := range tests {
		wantKinds = append(wantKinds, tt.kind)
		if got, ok := PartyKindLabel(tt.kind); got != tt.label || !ok {
			t.Errorf("PartyKindLabel(%q) = %q, %v; want %q, true", tt.kind, got, ok, tt.label)
		}
		if got := PartyKindCode(tt.kind); got != tt.code {
			t.Errorf("PartyKindCode(%q) = %q, want %q", tt.kind, got, tt.code)
		}
		if got := PartyKindGroup(tt.kind); got != tt.group {
			t.Errorf("PartyKindGroup(%q) = %q, want %q", tt.kind, got, tt.group)
		}
	}
	if got := PartyKinds(); !slices.Equal(got, wantKinds) {
		t.Errorf("PartyKinds() = %v, want %v", got, wantKinds)
	}
	// Unknown kinds, including the holder-only kinds, are not party kinds.
	for _, bad := range []string{"", "institution", "researcher", "broker", "University", "022", "company"} {
		if got, ok := PartyKindLabel(bad); ok || got != "" {
			t.Errorf("PartyKindLabel(%q) = %q, %v; want \"\", false", bad, got, ok)
		}
		if got := PartyKindCode(bad); got != "" {
			t.Errorf("PartyKindCode(%q) = %q, want \"\"", bad, got)
		}
		if got := PartyKindGroup(bad); got != "" {
			t.Errorf("PartyKindGroup(%q) = %q, want \"\"", bad, got)
		}
	}
}

func TestPartyKindGroups(t *testing.T) {
	want := []struct{ id, label string }{
		{"enterprise", "企业"},
		{"research_institute", "科研机构"},
		{"university", "高等院校"},
		{"other", "其他"},
	}
	var wantIDs []string
	for _, w := range want {
		wantIDs = append(wantIDs, w.id)
		if got, ok := PartyKindGroupLabel(w.id); got != w.label || !ok {
			t.Errorf("PartyKindGroupLabel(%q) = %q, %v; want %q, true", w.id, got, ok, w.label)
		}
	}
	if got := PartyKindGroups(); !slices.Equal(got, wantIDs) {
		t.Errorf("PartyKindGroups() = %v, want %v", got, wantIDs)
	}
	if got, ok := PartyKindGroupLabel("hmt_enterprise"); ok {
		t.Errorf("PartyKindGroupLabel(hmt_enterprise) = %q, true; want not a group", got)
	}
	// Every party kind falls in exactly one listed group.
	for _, k := range PartyKinds() {
		if g := PartyKindGroup(k); !slices.Contains(wantIDs, g) {
			t.Errorf("PartyKindGroup(%q) = %q, not a report group", k, g)
		}
	}
}

func TestIPTypeLabel(t *testing.T) {
	want := []struct{ id, label string }{
		{"patent", "专利"},
		{"technical_secret", "技术秘密"},
		{"software_copyright", "计算机软件著作权"},
		{"ic_layout", "集成电路布图设计专有权"},
		{"plant_variety", "植物新品种权"},
		{"biomedical_variety", "生物医药新品种"},
		{"other", "其他"},
	}
	var wantIDs []string
	for _, w := range want {
		wantIDs = append(wantIDs, w.id)
		if got, ok := IPTypeLabel(w.id); got != w.label || !ok {
			t.Errorf("IPTypeLabel(%q) = %q, %v; want %q, true", w.id, got, ok, w.label)
		}
	}
	if got := IPTypes(); !slices.Equal(got, wantIDs) {
		t.Errorf("IPTypes() = %v, want %v", got, wantIDs)
	}
	// "none" is expressed by an empty list, never by a code.
	for _, bad := range []string{"", "none", "trademark", "Patent"} {
		if got, ok := IPTypeLabel(bad); ok {
			t.Errorf("IPTypeLabel(%q) = %q, true; want false", bad, got)
		}
	}
}

func TestExclusivityLabel(t *testing.T) {
	tests := []struct {
		id, label string
		ok        bool
	}{
		{"exclusive", "独占", true},
		{"sole", "排他", true},
		{"ordinary", "普通", true},
		{"", "", false},
		{"non_exclusive", "", false},
		{"Exclusive", "", false},
	}
	for _, tt := range tests {
		if got, ok := ExclusivityLabel(tt.id); got != tt.label || ok != tt.ok {
			t.Errorf("ExclusivityLabel(%q) = %q, %v; want %q, %v", tt.id, got, ok, tt.label, tt.ok)
		}
	}
	if got, want := Exclusivities(), []string{"exclusive", "sole", "ordinary"}; !slices.Equal(got, want) {
		t.Errorf("Exclusivities() = %v, want %v", got, want)
	}
}

func TestRightLabel(t *testing.T) {
	tests := []struct {
		id, label string
		ok        bool
	}{
		{"ownership", "所有权", true},
		{"use", "使用权", true},
		{"proceeds", "收益权", true},
		{"", "", false},
		{"disposal", "", false},
		{"Use", "", false},
	}
	for _, tt := range tests {
		if got, ok := RightLabel(tt.id); got != tt.label || ok != tt.ok {
			t.Errorf("RightLabel(%q) = %q, %v; want %q, %v", tt.id, got, ok, tt.label, tt.ok)
		}
	}
	if got, want := Rights(), []string{"ownership", "use", "proceeds"}; !slices.Equal(got, want) {
		t.Errorf("Rights() = %v, want %v", got, want)
	}
}

func TestValidHolderKind(t *testing.T) {
	tests := []struct {
		kind  string
		want  bool
		label string
	}{
		{"institution", true, "成果完成单位"},
		{"researcher", true, "科研人员"},
		{"broker", true, "技术经纪人"},
		{"university", true, "高等院校"}, // any party kind may hold a right
		{"enterprise", true, "内资企业"},
		{"individual", true, "自然人"},
		{"other", true, "其他组织"},
		{"", false, ""},
		{"team", false, ""},
		{"Researcher", false, ""},
	}
	for _, tt := range tests {
		if got := ValidHolderKind(tt.kind); got != tt.want {
			t.Errorf("ValidHolderKind(%q) = %v, want %v", tt.kind, got, tt.want)
		}
		if got, ok := HolderKindLabel(tt.kind); got != tt.label || ok != tt.want {
			t.Errorf("HolderKindLabel(%q) = %q, %v; want %q, %v", tt.kind, got, ok, tt.label, tt.want)
		}
	}
	got := HolderKinds()
	want := append(PartyKinds(), "institution", "researcher", "broker")
	if !slices.Equal(got, want) {
		t.Errorf("HolderKinds() = %v, want %v", got, want)
	}
	for _, k := range got {
		if !ValidHolderKind(k) {
			t.Errorf("HolderKinds() lists %q but ValidHolderKind(%q) = false", k, k)
		}
	}
}

// TestLists_ReturnCopies proves the list functions hand out copies: a caller that sorts or
// overwrites a result does not change what the next caller sees.
func TestLists_ReturnCopies(t *testing.T) {
	lists := map[string]func() []string{
		"ContractTypes":          ContractTypes,
		"SubtypesOf(transfer)":   func() []string { return SubtypesOf("transfer") },
		"Fields":                 Fields,
		"PartyKinds":             PartyKinds,
		"PartyKindGroups":        PartyKindGroups,
		"IPTypes":                IPTypes,
		"Exclusivities":          Exclusivities,
		"Rights":                 Rights,
		"HolderKinds":            HolderKinds,
		"Provinces":              Provinces,
		"ShanxiRegions":          ShanxiRegions,
		"SubtypesOf(consulting)": func() []string { return SubtypesOf("consulting") },
	}
	for name, list := range lists {
		before := list()
		scribble := list()
		for i := range scribble {
			scribble[i] = "changed"
		}
		if after := list(); !slices.Equal(before, after) {
			t.Errorf("%s: changing a result changed the next result: %v, then %v", name, before, after)
		}
	}
}

// TestLabels_AreChinese guards against a label left in English or empty: every label must
// contain at least one non-ASCII character.
func TestLabels_AreChinese(t *testing.T) {
	check := func(what, id, label string) {
		t.Helper()
		if utf8.RuneCountInString(label) == len(label) {
			t.Errorf("%s %q has label %q, want Chinese", what, id, label)
		}
	}
	for _, typ := range ContractTypes() {
		l, _ := ContractTypeLabel(typ)
		check("contract type", typ, l)
		for _, s := range SubtypesOf(typ) {
			l, _ := SubtypeLabel(typ, s)
			check("subtype", typ+"/"+s, l)
		}
	}
	for _, f := range Fields() {
		l, _ := FieldLabel(f)
		check("field", f, l)
	}
	for _, k := range HolderKinds() {
		l, _ := HolderKindLabel(k)
		check("holder kind", k, l)
	}
	for _, x := range IPTypes() {
		l, _ := IPTypeLabel(x)
		check("IP type", x, l)
	}
	for _, x := range Exclusivities() {
		l, _ := ExclusivityLabel(x)
		check("exclusivity", x, l)
	}
	for _, x := range Rights() {
		l, _ := RightLabel(x)
		check("right", x, l)
	}
}
