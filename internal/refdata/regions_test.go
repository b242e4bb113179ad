package refdata

import (
	"slices"
	"strings"
	"testing"
)

func TestRegionName(t *testing.T) {
	tests := []struct {
		code, want string
		ok         bool
	}{
		{"140000", "山西省", true},
		{"140100", "太原市", true},
		{"140105", "小店区", true},
		{"140181", "古交市", true},
		{"140200", "大同市", true},
		{"140213", "平城区", true},
		{"140214", "云冈区", true},
		{"140215", "云州区", true},
		{"140403", "潞州区", true},
		{"140404", "上党区", true},
		{"140405", "屯留区", true},
		{"140406", "潞城区", true},
		{"140302", "城区", true}, // 阳泉市城区
		{"140502", "城区", true}, // 晋城市城区: names repeat across cities
		{"140681", "怀仁市", true},
		{"140703", "太谷区", true},
		{"141100", "吕梁市", true},
		{"141182", "汾阳市", true},
		{"110000", "北京市", true},
		{"650000", "新疆维吾尔自治区", true},
		{"710000", "台湾省", true},
		{"810000", "香港特别行政区", true},
		{"820000", "澳门特别行政区", true},
		{AbroadRegion, "境外", true},
		{"110105", "", false}, // valid, but other provinces' counties are not carried
		{"140202", "", false}, // retired 大同市城区
		{"140000 ", "", false},
		{"990000", "", false},
		{"14", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := RegionName(tt.code)
		if got != tt.want || ok != tt.ok {
			t.Errorf("RegionName(%q) = %q, %v; want %q, %v", tt.code, got, ok, tt.want, tt.ok)
		}
	}
}

func TestValidRegion(t *testing.T) {
	tests := []struct {
		name    string
		code    string
		wantErr string // "" for valid; otherwise a substring of the error
	}{
		{name: "Shanxi province", code: "140000"},
		{name: "Shanxi city", code: "140400"},
		{name: "Shanxi county after the 2018 大同 change", code: "140215"},
		{name: "Shanxi county-level city", code: "141081"},
		{name: "other province, province level", code: "110000"},
		{name: "other province, any county code", code: "110105"},
		{name: "other province, code we cannot check", code: "659999"},
		{name: "Taiwan", code: "710000"},
		{name: "Hong Kong", code: "810000"},
		{name: "Macau", code: "820000"},
		{name: "abroad", code: "999999"},

		{name: "retired 大同市城区", code: "140202", wantErr: "140213 平城区, 140214 云冈区"},
		{name: "retired 大同市矿区", code: "140203", wantErr: "140214 云冈区"},
		{name: "retired 南郊区", code: "140211", wantErr: "国函〔2018〕22号"},
		{name: "retired 大同县", code: "140227", wantErr: "140215 云州区"},
		{name: "retired 长治市城区", code: "140402", wantErr: "140403 潞州区"},
		{name: "retired 长治市郊区", code: "140411", wantErr: "140403 潞州区"},
		{name: "retired 长治县", code: "140421", wantErr: "140404 上党区"},
		{name: "retired 屯留县", code: "140424", wantErr: "140405 屯留区"},
		{name: "retired 潞城市", code: "140481", wantErr: "140406 潞城区"},
		{name: "retired 怀仁县", code: "140624", wantErr: "140681 怀仁市"},
		{name: "retired 太谷县", code: "140726", wantErr: "140703 太谷区"},
		{name: "Shanxi code that never existed", code: "140199", wantErr: "not a current Shanxi code"},
		{name: "Shanxi 市辖区 placeholder is not carried", code: "140101", wantErr: "not a current Shanxi code"},
		{name: "unknown province prefix", code: "160000", wantErr: "no known province prefix 16"},
		{name: "prefix 99 other than the abroad code", code: "990000", wantErr: "no known province prefix 99"},
		{name: "all zeros", code: "000000", wantErr: "no known province prefix 00"},
		{name: "five digits", code: "14010", wantErr: "6 digits"},
		{name: "seven digits", code: "1401000", wantErr: "6 digits"},
		{name: "letter", code: "14010A", wantErr: "6 digits"},
		{name: "full-width digits", code: "１４０１００", wantErr: "6 digits"},
		{name: "space padded", code: " 14010", wantErr: "6 digits"},
		{name: "empty", code: "", wantErr: "6 digits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidRegion(tt.code)
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("ValidRegion(%q) = %v, want nil", tt.code, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ValidRegion(%q) = %v, want an error containing %q", tt.code, err, tt.wantErr)
			}
		})
	}
}

// TestShanxiRegions_Counts checks the Shanxi table against independent counts: 11 cities and
// 117 county-level divisions (26 市辖区, 80 县, 11 县级市) per city as 民政部 lists them for 2024.
func TestShanxiRegions_Counts(t *testing.T) {
	wantPerCity := map[string]int{ // county-level divisions under each city
		"140100": 10, // 太原: 6 区, 3 县, 古交市
		"140200": 10, // 大同: 4 区, 6 县
		"140300": 5,  // 阳泉: 3 区, 2 县
		"140400": 12, // 长治: 4 区, 8 县
		"140500": 6,  // 晋城: 1 区, 4 县, 高平市
		"140600": 6,  // 朔州: 2 区, 3 县, 怀仁市
		"140700": 11, // 晋中: 2 区, 8 县, 介休市
		"140800": 13, // 运城: 1 区, 10 县, 2 市
		"140900": 14, // 忻州: 1 区, 12 县, 原平市
		"141000": 17, // 临汾: 1 区, 14 县, 2 市
		"141100": 13, // 吕梁: 1 区, 10 县, 2 市
	}
	codes := ShanxiRegions()
	if codes[0] != HomeProvince {
		t.Fatalf("ShanxiRegions()[0] = %s, want %s", codes[0], HomeProvince)
	}
	if !slices.IsSorted(codes) {
		t.Errorf("ShanxiRegions() is not in code order")
	}
	gotPerCity := map[string]int{}
	var districts, counties, countyCities int
	for _, code := range codes[1:] {
		name, ok := RegionName(code)
		if !ok {
			t.Errorf("RegionName(%s) unknown for a listed code", code)
		}
		if err := ValidRegion(code); err != nil {
			t.Errorf("ValidRegion(%s) = %v for a listed code", code, err)
		}
		if got := ProvinceOf(code); got != HomeProvince {
			t.Errorf("ProvinceOf(%s) = %s, want %s", code, got, HomeProvince)
		}
		if strings.HasSuffix(code, "00") {
			if _, ok := wantPerCity[code]; !ok {
				t.Errorf("unexpected city %s %s", code, name)
			}
			continue
		}
		city := CityOf(code)
		if !slices.Contains(codes, city) {
			t.Errorf("CityOf(%s) = %s, not a listed city", code, city)
		}
		gotPerCity[city]++
		switch {
		case strings.HasSuffix(name, "区"):
			districts++
		case strings.HasSuffix(name, "县"):
			counties++
		case strings.HasSuffix(name, "市"):
			countyCities++
		default:
			t.Errorf("county-level %s %s has no 区/县/市 suffix", code, name)
		}
	}
	for city, want := range wantPerCity {
		if got := gotPerCity[city]; got != want {
			t.Errorf("city %s has %d county-level codes, want %d", city, got, want)
		}
	}
	if districts != 26 || counties != 80 || countyCities != 11 {
		t.Errorf("Shanxi has %d 市辖区, %d 县, %d 县级市; want 26, 80, 11", districts, counties, countyCities)
	}
	if got, want := len(codes), 1+11+117; got != want {
		t.Errorf("len(ShanxiRegions()) = %d, want %d", got, want)
	}
}

func TestProvinces(t *testing.T) {
	got := Provinces()
	if len(got) != 34 {
		t.Errorf("len(Provinces()) = %d, want 34 (31 mainland, 台湾, 香港, 澳门)", len(got))
	}
	if !slices.IsSorted(got) {
		t.Errorf("Provinces() not in code order: %v", got)
	}
	if got[0] != "110000" || got[len(got)-1] != "820000" {
		t.Errorf("Provinces() runs %s … %s, want 110000 … 820000", got[0], got[len(got)-1])
	}
	for _, code := range got {
		if err := ValidRegion(code); err != nil {
			t.Errorf("ValidRegion(%s) = %v", code, err)
		}
		if _, ok := RegionName(code); !ok {
			t.Errorf("RegionName(%s) unknown", code)
		}
	}
	if slices.Contains(got, AbroadRegion) {
		t.Errorf("Provinces() lists the abroad code")
	}
}

func TestProvinceName(t *testing.T) {
	tests := []struct {
		prefix, want string
		ok           bool
	}{
		{"14", "山西省", true},
		{"140000", "山西省", true},
		{"11", "北京市", true},
		{"45", "广西壮族自治区", true},
		{"64", "宁夏回族自治区", true},
		{"71", "台湾省", true},
		{"81", "香港特别行政区", true},
		{"82", "澳门特别行政区", true},
		{"140100", "", false}, // a city, not a province
		{"99", "", false},
		{"16", "", false},
		{"1", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := ProvinceName(tt.prefix)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ProvinceName(%q) = %q, %v; want %q, %v", tt.prefix, got, ok, tt.want, tt.ok)
		}
	}
}

func TestProvinceOf(t *testing.T) {
	tests := []struct{ code, want string }{
		{"140213", "140000"},
		{"140100", "140000"},
		{"140000", "140000"},
		{"110105", "110000"},
		{"820000", "820000"},
		{AbroadRegion, AbroadRegion},
		{"14021", ""},
		{"14021X", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := ProvinceOf(tt.code); got != tt.want {
			t.Errorf("ProvinceOf(%q) = %q, want %q", tt.code, got, tt.want)
		}
	}
}

func TestCityOf(t *testing.T) {
	tests := []struct{ code, want string }{
		{"140213", "140200"},
		{"140403", "140400"},
		{"141182", "141100"},
		{"140100", "140100"},
		{"140000", "140000"}, // province level stays at the province
		{"110105", "110100"}, // municipality district → 市辖区 level
		{"500000", "500000"},
		{"419001", "419000"}, // 省直辖县级 → pseudo-city
		{AbroadRegion, AbroadRegion},
		{"1402", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := CityOf(tt.code); got != tt.want {
			t.Errorf("CityOf(%q) = %q, want %q", tt.code, got, tt.want)
		}
	}
}

// TestRetired_NotCurrent checks that no retired code is still listed, and that every successor a
// retired code names is a current code.
func TestRetired_NotCurrent(t *testing.T) {
	current := ShanxiRegions()
	for _, r := range refShanxiRetired {
		if slices.Contains(current, r.code) {
			t.Errorf("retired %s %s is still listed", r.code, r.name)
		}
		for _, succ := range strings.Split(r.successor, ", ") {
			code, name, _ := strings.Cut(succ, " ")
			if got, ok := RegionName(code); !ok || got != name {
				t.Errorf("retired %s: successor %q is not current (RegionName = %q, %v)", r.code, succ, got, ok)
			}
		}
	}
}
