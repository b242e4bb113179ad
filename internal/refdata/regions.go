package refdata

import (
	"fmt"
	"strings"
)

// Region codes: 6-digit administrative division codes of GB/T 2260 (中华人民共和国行政区划代码),
// as published and kept current by 民政部 (县以上行政区划代码, 2023 and 2024 editions; the
// Shanxi part did not change between them).
//
// We carry the full list for Shanxi, the home province: the province, its 11 prefecture-level
// cities and every county-level division (市辖区, 县, 县级市). For every other province, and for
// Taiwan, Hong Kong and Macau, we carry only the province-level code: their county lists are not
// carried, so any 6-digit code under a known province prefix is accepted for them (ValidRegion).
// Parties abroad use AbroadRegion.

const (
	// HomeProvince is the ledger's default home province (山西省); flows (within, outflow,
	// inflow, external) are measured relative to it (docs/domain.md, Flow relative to the home
	// province).
	HomeProvince = "140000"

	// AbroadRegion is the region code of a party outside China (境外). GB/T 2260 defines no
	// code for abroad; we chose 999999 because no province prefix 99 exists or is planned, so it
	// can never collide with a real division, and it passes the same 6-digit format check as
	// every other code. ProvinceOf and CityOf return it unchanged.
	AbroadRegion = "999999"
)

// refRegion is one administrative division: its code and its name as 民政部 publishes it.
type refRegion struct {
	code string
	name string
}

// refProvince is one province-level division, by its 2-digit prefix.
type refProvince struct {
	prefix   string
	name     string
	mainland bool // false for 台湾, 香港, 澳门: no technology contract registry there
}

// refProvinces lists every province-level division of GB/T 2260 in code order (31 mainland
// provinces, autonomous regions and municipalities; 71 台湾省, 81 香港特别行政区, 82 澳门特别行政区).
var refProvinces = []refProvince{
	{"11", "北京市", true},
	{"12", "天津市", true},
	{"13", "河北省", true},
	{"14", "山西省", true},
	{"15", "内蒙古自治区", true},
	{"21", "辽宁省", true},
	{"22", "吉林省", true},
	{"23", "黑龙江省", true},
	{"31", "上海市", true},
	{"32", "江苏省", true},
	{"33", "浙江省", true},
	{"34", "安徽省", true},
	{"35", "福建省", true},
	{"36", "江西省", true},
	{"37", "山东省", true},
	{"41", "河南省", true},
	{"42", "湖北省", true},
	{"43", "湖南省", true},
	{"44", "广东省", true},
	{"45", "广西壮族自治区", true},
	{"46", "海南省", true},
	{"50", "重庆市", true},
	{"51", "四川省", true},
	{"52", "贵州省", true},
	{"53", "云南省", true},
	{"54", "西藏自治区", true},
	{"61", "陕西省", true},
	{"62", "甘肃省", true},
	{"63", "青海省", true},
	{"64", "宁夏回族自治区", true},
	{"65", "新疆维吾尔自治区", true},
	{"71", "台湾省", false},
	{"81", "香港特别行政区", false},
	{"82", "澳门特别行政区", false},
}

// refShanxiRegions lists Shanxi in GB/T 2260 code order: the province, then each city followed
// by its county-level divisions (117 in all: 26 市辖区, 80 县, 11 县级市). Source: 民政部
// 2023/2024 县以上行政区划代码, checked against the 2024 and 2025 tables of the public
// yescallop/areacodes data set. It reflects:
//   - 大同 (国函〔2018〕22号): 城区, 矿区, 南郊区 and 大同县 abolished; 平城区, 云冈区, 云州区 set up;
//   - 长治 (国函〔2018〕87号): 城区 and 郊区 merged into 潞州区; 长治县, 屯留县, 潞城市 became
//     上党区, 屯留区, 潞城区;
//   - 朔州 (民函〔2018〕46号): 怀仁县 became 怀仁市 (140681);
//   - 晋中 (国函〔2019〕104号): 太谷县 became 太谷区 (140703).
//
// There were no changes to Shanxi's county-level codes from 2020 to 2025.
var refShanxiRegions = []refRegion{
	{"140000", "山西省"},

	{"140100", "太原市"},
	{"140105", "小店区"},
	{"140106", "迎泽区"},
	{"140107", "杏花岭区"},
	{"140108", "尖草坪区"},
	{"140109", "万柏林区"},
	{"140110", "晋源区"},
	{"140121", "清徐县"},
	{"140122", "阳曲县"},
	{"140123", "娄烦县"},
	{"140181", "古交市"},

	{"140200", "大同市"},
	{"140212", "新荣区"},
	{"140213", "平城区"},
	{"140214", "云冈区"},
	{"140215", "云州区"},
	{"140221", "阳高县"},
	{"140222", "天镇县"},
	{"140223", "广灵县"},
	{"140224", "灵丘县"},
	{"140225", "浑源县"},
	{"140226", "左云县"},

	{"140300", "阳泉市"},
	{"140302", "城区"},
	{"140303", "矿区"},
	{"140311", "郊区"},
	{"140321", "平定县"},
	{"140322", "盂县"},

	{"140400", "长治市"},
	{"140403", "潞州区"},
	{"140404", "上党区"},
	{"140405", "屯留区"},
	{"140406", "潞城区"},
	{"140423", "襄垣县"},
	{"140425", "平顺县"},
	{"140426", "黎城县"},
	{"140427", "壶关县"},
	{"140428", "长子县"},
	{"140429", "武乡县"},
	{"140430", "沁县"},
	{"140431", "沁源县"},

	{"140500", "晋城市"},
	{"140502", "城区"},
	{"140521", "沁水县"},
	{"140522", "阳城县"},
	{"140524", "陵川县"},
	{"140525", "泽州县"},
	{"140581", "高平市"},

	{"140600", "朔州市"},
	{"140602", "朔城区"},
	{"140603", "平鲁区"},
	{"140621", "山阴县"},
	{"140622", "应县"},
	{"140623", "右玉县"},
	{"140681", "怀仁市"},

	{"140700", "晋中市"},
	{"140702", "榆次区"},
	{"140703", "太谷区"},
	{"140721", "榆社县"},
	{"140722", "左权县"},
	{"140723", "和顺县"},
	{"140724", "昔阳县"},
	{"140725", "寿阳县"},
	{"140727", "祁县"},
	{"140728", "平遥县"},
	{"140729", "灵石县"},
	{"140781", "介休市"},

	{"140800", "运城市"},
	{"140802", "盐湖区"},
	{"140821", "临猗县"},
	{"140822", "万荣县"},
	{"140823", "闻喜县"},
	{"140824", "稷山县"},
	{"140825", "新绛县"},
	{"140826", "绛县"},
	{"140827", "垣曲县"},
	{"140828", "夏县"},
	{"140829", "平陆县"},
	{"140830", "芮城县"},
	{"140881", "永济市"},
	{"140882", "河津市"},

	{"140900", "忻州市"},
	{"140902", "忻府区"},
	{"140921", "定襄县"},
	{"140922", "五台县"},
	{"140923", "代县"},
	{"140924", "繁峙县"},
	{"140925", "宁武县"},
	{"140926", "静乐县"},
	{"140927", "神池县"},
	{"140928", "五寨县"},
	{"140929", "岢岚县"},
	{"140930", "河曲县"},
	{"140931", "保德县"},
	{"140932", "偏关县"},
	{"140981", "原平市"},

	{"141000", "临汾市"},
	{"141002", "尧都区"},
	{"141021", "曲沃县"},
	{"141022", "翼城县"},
	{"141023", "襄汾县"},
	{"141024", "洪洞县"},
	{"141025", "古县"},
	{"141026", "安泽县"},
	{"141027", "浮山县"},
	{"141028", "吉县"},
	{"141029", "乡宁县"},
	{"141030", "大宁县"},
	{"141031", "隰县"},
	{"141032", "永和县"},
	{"141033", "蒲县"},
	{"141034", "汾西县"},
	{"141081", "侯马市"},
	{"141082", "霍州市"},

	{"141100", "吕梁市"},
	{"141102", "离石区"},
	{"141121", "文水县"},
	{"141122", "交城县"},
	{"141123", "兴县"},
	{"141124", "临县"},
	{"141125", "柳林县"},
	{"141126", "石楼县"},
	{"141127", "岚县"},
	{"141128", "方山县"},
	{"141129", "中阳县"},
	{"141130", "交口县"},
	{"141181", "孝义市"},
	{"141182", "汾阳市"},
}

// refRetiredRegion is a Shanxi code abolished since 2018, kept only so that ValidRegion can
// name the current codes that replaced it (historical records carry the old codes).
type refRetiredRegion struct {
	code      string
	name      string
	retired   string // the approving document
	successor string // current codes covering its former area
}

// refShanxiRetired lists the Shanxi codes abolished in 2018–2019 (documents as in
// refShanxiRegions). They are not valid: a registrar maps them to the successor codes.
var refShanxiRetired = []refRetiredRegion{
	{"140202", "大同市城区", "国函〔2018〕22号", "140213 平城区, 140214 云冈区"},
	{"140203", "大同市矿区", "国函〔2018〕22号", "140214 云冈区"},
	{"140211", "大同市南郊区", "国函〔2018〕22号", "140213 平城区, 140214 云冈区, 140212 新荣区"},
	{"140227", "大同县", "国函〔2018〕22号", "140215 云州区"},
	{"140402", "长治市城区", "国函〔2018〕87号", "140403 潞州区"},
	{"140411", "长治市郊区", "国函〔2018〕87号", "140403 潞州区"},
	{"140421", "长治县", "国函〔2018〕87号", "140404 上党区"},
	{"140424", "屯留县", "国函〔2018〕87号", "140405 屯留区"},
	{"140481", "潞城市", "国函〔2018〕87号", "140406 潞城区"},
	{"140624", "怀仁县", "民函〔2018〕46号", "140681 怀仁市"},
	{"140726", "太谷县", "国函〔2019〕104号", "140703 太谷区"},
}

// Lookup maps, built once from the tables above when the package is initialized.
var (
	refProvinceIndex = refIndexProvinces(refProvinces)
	refShanxiIndex   = refIndexShanxi(refShanxiRegions)
	refRetiredIndex  = refIndexRetired(refShanxiRetired)
)

// refIndexProvinces maps each 2-digit prefix to its province; it panics on a malformed or
// duplicate prefix, which is a bug in the table.
func refIndexProvinces(table []refProvince) map[string]refProvince {
	m := make(map[string]refProvince, len(table))
	for _, p := range table {
		if len(p.prefix) != 2 || !refAllDigits(p.prefix) || p.name == "" {
			panic("refdata: malformed province entry " + p.prefix)
		}
		if _, dup := m[p.prefix]; dup {
			panic("refdata: duplicate province prefix " + p.prefix)
		}
		m[p.prefix] = p
	}
	return m
}

// refIndexShanxi maps each Shanxi code to its name; it panics on a malformed or duplicate code.
func refIndexShanxi(table []refRegion) map[string]string {
	m := make(map[string]string, len(table))
	for _, r := range table {
		if len(r.code) != 6 || !refAllDigits(r.code) || !strings.HasPrefix(r.code, "14") || r.name == "" {
			panic("refdata: malformed Shanxi region entry " + r.code)
		}
		if _, dup := m[r.code]; dup {
			panic("refdata: duplicate Shanxi region code " + r.code)
		}
		m[r.code] = r.name
	}
	return m
}

// refIndexRetired maps each retired code to its entry; a retired code still in the current table
// is a bug and panics.
func refIndexRetired(table []refRetiredRegion) map[string]refRetiredRegion {
	m := make(map[string]refRetiredRegion, len(table))
	for _, r := range table {
		if _, current := refShanxiIndex[r.code]; current {
			panic("refdata: retired region code " + r.code + " is also current")
		}
		m[r.code] = r
	}
	return m
}

// refAllDigits reports whether s is non-empty and consists of ASCII digits only.
func refAllDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Provinces returns the 6-digit codes of every province-level division (110000 … 820000) in code
// order. AbroadRegion is not included.
func Provinces() []string {
	out := make([]string, len(refProvinces))
	for i, p := range refProvinces {
		out[i] = p.prefix + "0000"
	}
	return out
}

// ShanxiRegions returns every current Shanxi code in GB/T 2260 order: 140000, then each city
// followed by its county-level divisions.
func ShanxiRegions() []string {
	out := make([]string, len(refShanxiRegions))
	for i, r := range refShanxiRegions {
		out[i] = r.code
	}
	return out
}

// ProvinceName returns the name of a province-level division given either its 2-digit prefix
// ("14") or its 6-digit code ("140000"), and whether it is known. Any other form returns false.
func ProvinceName(prefix string) (string, bool) {
	if len(prefix) == 6 && strings.HasSuffix(prefix, "0000") {
		prefix = prefix[:2]
	}
	p, ok := refProvinceIndex[prefix]
	return p.name, ok
}

// RegionName returns the name of a region code and whether we carry one: every current Shanxi
// code (140000, 140100 太原市, 140213 平城区, …), every province-level code (110000 北京市, …)
// and AbroadRegion (境外). Names of county-level divisions are as 民政部 publishes them and are
// not unique across cities (140302 and 140502 are both 城区). A valid code outside Shanxi below
// province level has no name here (false), since we do not carry those lists.
func RegionName(code string) (string, bool) {
	if code == AbroadRegion {
		return "境外", true
	}
	if name, ok := refShanxiIndex[code]; ok {
		return name, true
	}
	if len(code) == 6 && strings.HasSuffix(code, "0000") {
		return ProvinceName(code)
	}
	return "", false
}

// ValidRegion checks a party's region code. A code is valid if it is
//   - 6 ASCII digits, and
//   - a current Shanxi code (the province, a city or a county-level division), or
//   - outside Shanxi with the 2-digit prefix of a known province-level division (we do not
//     carry other provinces' county lists, so 110105 and 119999 are both accepted), or
//   - AbroadRegion.
//
// A Shanxi code abolished in 2018–2019 is rejected with an error naming its successors. The error
// states the rule; the caller adds the field name.
func ValidRegion(code string) error {
	if len(code) != 6 || !refAllDigits(code) {
		return fmt.Errorf("region %q must be 6 digits (GB/T 2260 code, or %s for abroad)", code, AbroadRegion)
	}
	if code == AbroadRegion {
		return nil
	}
	if _, ok := refShanxiIndex[code]; ok {
		return nil
	}
	if r, ok := refRetiredIndex[code]; ok {
		return fmt.Errorf("region %s (%s) was abolished by %s; use %s", code, r.name, r.retired, r.successor)
	}
	if strings.HasPrefix(code, "14") {
		return fmt.Errorf("region %s is not a current Shanxi code (GB/T 2260)", code)
	}
	if _, ok := refProvinceIndex[code[:2]]; !ok {
		return fmt.Errorf("region %s has no known province prefix %s (GB/T 2260)", code, code[:2])
	}
	return nil
}

// ProvinceOf returns the 6-digit province-level code of a region code ("140213" → "140000").
// AbroadRegion maps to itself. It does not validate: for a code that is not 6 digits it returns
// "". Callers check codes with ValidRegion first.
func ProvinceOf(code string) string {
	if len(code) != 6 || !refAllDigits(code) {
		return ""
	}
	if code == AbroadRegion {
		return AbroadRegion
	}
	return code[:2] + "0000"
}

// CityOf returns the 6-digit prefecture-level code of a region code: its first four digits
// followed by "00" ("140213" → "140200"). AbroadRegion maps to itself. For a province-level code
// the result is the code itself ("140000" → "140000"), so a party known only by its province
// is counted under the province. For the municipalities (北京, 天津, 上海, 重庆) the result is
// the GB/T 2260 "市辖区/县" level (110105 → 110100), which is how their districts roll up, and
// for a 省直辖县级行政区划 (419001 济源市) it is the pseudo-city 419000. It does not validate: for
// a code that is not 6 digits it returns "".
func CityOf(code string) string {
	if len(code) != 6 || !refAllDigits(code) {
		return ""
	}
	if code == AbroadRegion {
		return AbroadRegion
	}
	return code[:4] + "00"
}

// refMainlandProvince reports whether prefix is the 2-digit prefix of one of the 31 mainland
// provinces, autonomous regions and municipalities.
func refMainlandProvince(prefix string) bool {
	p, ok := refProvinceIndex[prefix]
	return ok && p.mainland
}

// MainlandProvince reports whether prefix is the 2-digit prefix of one of the 31 mainland
// provinces, autonomous regions and municipalities (where a technology contract registry is).
func MainlandProvince(prefix string) bool { return refMainlandProvince(prefix) }

// AllDigits reports whether s is non-empty and all ASCII digits.
func AllDigits(s string) bool { return refAllDigits(s) }
