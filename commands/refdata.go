package commands

import "techledger/internal/refdata"

// Reference data (docs/domain.md) lives in package internal/refdata, shared with package reports;
// these are its lookups under the names commands has always exported. All are pure and safe
// for concurrent use.

const (
	// HomeProvince is the ledger's default home province (山西省), see refdata.HomeProvince.
	HomeProvince = refdata.HomeProvince
	// AbroadRegion is the region code of a party outside China, see refdata.AbroadRegion.
	AbroadRegion = refdata.AbroadRegion
)

// ContractTypes returns the contract type ids in report order.
func ContractTypes() []string { return refdata.ContractTypes() }

// ContractTypeLabel returns the Chinese label of a contract type and whether it is known.
func ContractTypeLabel(t string) (string, bool) { return refdata.ContractTypeLabel(t) }

// SubtypesOf returns the subtype ids of a contract type in report order (nil if unknown).
func SubtypesOf(typ string) []string { return refdata.SubtypesOf(typ) }

// ValidSubtype reports whether subtype belongs to contract type typ.
func ValidSubtype(typ, subtype string) bool { return refdata.ValidSubtype(typ, subtype) }

// SubtypeLabel returns the Chinese label of a subtype of typ and whether it is known.
func SubtypeLabel(typ, subtype string) (string, bool) { return refdata.SubtypeLabel(typ, subtype) }

// Fields returns the technical field ids in report order.
func Fields() []string { return refdata.Fields() }

// FieldLabel returns the Chinese label of a technical field and whether it is known.
func FieldLabel(f string) (string, bool) { return refdata.FieldLabel(f) }

// PartyKinds returns the party kind ids in report order.
func PartyKinds() []string { return refdata.PartyKinds() }

// PartyKindLabel returns the Chinese label of a party kind and whether it is known.
func PartyKindLabel(k string) (string, bool) { return refdata.PartyKindLabel(k) }

// PartyKindCode returns the registration-form code of a party kind ("" if none).
func PartyKindCode(k string) string { return refdata.PartyKindCode(k) }

// PartyKindGroups returns the report groups of party kinds in report order.
func PartyKindGroups() []string { return refdata.PartyKindGroups() }

// PartyKindGroupLabel returns the Chinese label of a party kind group and whether it is known.
func PartyKindGroupLabel(g string) (string, bool) { return refdata.PartyKindGroupLabel(g) }

// PartyKindGroup returns the report group of a party kind ("" if unknown).
func PartyKindGroup(k string) string { return refdata.PartyKindGroup(k) }

// IPTypes returns the IP type ids in report order.
func IPTypes() []string { return refdata.IPTypes() }

// IPTypeLabel returns the Chinese label of an IP type and whether it is known.
func IPTypeLabel(t string) (string, bool) { return refdata.IPTypeLabel(t) }

// Exclusivities returns the use-right scopes.
func Exclusivities() []string { return refdata.Exclusivities() }

// ExclusivityLabel returns the Chinese label of a use-right scope and whether it is known.
func ExclusivityLabel(e string) (string, bool) { return refdata.ExclusivityLabel(e) }

// Rights returns the three rights a rights assignment records.
func Rights() []string { return refdata.Rights() }

// RightLabel returns the Chinese label of a right and whether it is known.
func RightLabel(r string) (string, bool) { return refdata.RightLabel(r) }

// HolderKinds returns every kind a rights holder may have.
func HolderKinds() []string { return refdata.HolderKinds() }

// HolderKindLabel returns the Chinese label of a holder kind and whether it is known.
func HolderKindLabel(k string) (string, bool) { return refdata.HolderKindLabel(k) }

// ValidHolderKind reports whether k is a kind a rights holder may have.
func ValidHolderKind(k string) bool { return refdata.ValidHolderKind(k) }

// Provinces returns the 6-digit codes of every province-level division in code order.
func Provinces() []string { return refdata.Provinces() }

// ShanxiRegions returns every current Shanxi code in GB/T 2260 order.
func ShanxiRegions() []string { return refdata.ShanxiRegions() }

// ProvinceName returns the name of a province-level division and whether it is known.
func ProvinceName(prefix string) (string, bool) { return refdata.ProvinceName(prefix) }

// RegionName returns the name of a region code and whether one is carried.
func RegionName(code string) (string, bool) { return refdata.RegionName(code) }

// ValidRegion checks a party's region code (see refdata.ValidRegion).
func ValidRegion(code string) error { return refdata.ValidRegion(code) }

// ProvinceOf returns the 6-digit province-level code of a region code.
func ProvinceOf(code string) string { return refdata.ProvinceOf(code) }

// CityOf returns the 6-digit prefecture-level code of a region code.
func CityOf(code string) string { return refdata.CityOf(code) }

func refMainlandProvince(prefix string) bool { return refdata.MainlandProvince(prefix) }

func refAllDigits(s string) bool { return refdata.AllDigits(s) }
