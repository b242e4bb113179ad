package ledger_test

import (
	"context"
	"encoding/json"
	"errors"
	"iter"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/ledger"
)

func date(s string) ledger.Date {
	d, err := ledger.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func TestParseDate(t *testing.T) {
	tests := []struct {
		in      string
		want    ledger.Date
		wantErr string
	}{
		{"2023-03-15", ledger.Date{Year: 2023, Month: 3, Day: 15}, ""},
		{"2024-02-29", ledger.Date{Year: 2024, Month: 2, Day: 29}, ""},
		{"2023-02-29", ledger.Date{}, "not a valid calendar date"},
		{"2023-13-01", ledger.Date{}, "not a valid calendar date"},
		{"2023-3-15", ledger.Date{}, "want YYYY-MM-DD"},
		{"20230315", ledger.Date{}, "want YYYY-MM-DD"},
		{"2023-03-15T00:00:00Z", ledger.Date{}, "want YYYY-MM-DD"},
		{"1899-12-31", ledger.Date{}, "year before 1900"},
		{"", ledger.Date{}, "want YYYY-MM-DD"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ledger.ParseDate(tc.in)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.in, got.String())
		})
	}
}

func TestDate_Compare(t *testing.T) {
	ds := []string{"2022-12-31", "2023-01-01", "2023-01-02", "2023-02-01", "2024-01-01"}
	for i, a := range ds {
		for j, b := range ds {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			assert.Equal(t, want, date(a).Compare(date(b)), "%s vs %s", a, b)
			// Independent check: the strings sort the same way.
			assert.Equal(t, want < 0, a < b)
		}
	}
}

func sampleEvents() []ledger.DomainEvent {
	share := dec("0.3")
	return []ledger.DomainEvent{
		&ledger.ContractRegistered{
			ContractID: "2023140101000123", Title: "煤矸石综合利用技术转让", Type: "transfer", Subtype: "patent_right",
			SignedOn: date("2023-03-01"), RegisteredOn: date("2023-03-15"), Amount: dec("1200000.00"), TechAmount: dec("1000000.00"),
			Field:         "environment",
			Seller:        ledger.Party{ID: "12140000405000025X", Name: "太原理工大学", Kind: "university", Region: "140100"},
			Buyer:         ledger.Party{ID: "91140400234567819D", Name: "长治某能源有限公司", Kind: "enterprise", Region: "140400"},
			AchievementID: "ACH-2022-0042", IPTypes: []string{"patent"},
		},
		&ledger.ContractAmended{ContractID: "2023140101000123", Type: "transfer", Subtype: "patent_right", Field: "environment",
			Amount: dec("1300000"), TechAmount: dec("1100000"), Changed: []string{"amount", "tech_amount"}, Reason: "补充协议"},
		&ledger.ContractRevoked{ContractID: "2023140101000123", Reason: "重复登记"},
		&ledger.RightsAssigned{ContractID: "2023140101000123", Right: ledger.RightProceeds, EffectiveOn: date("2023-03-15"),
			Holders: []ledger.Holder{{ID: "R-001", Name: "张三", Kind: "researcher", Institution: "太原理工大学", Share: &share}}},
		&ledger.RightsAssigned{ContractID: "2023140101000123", Right: ledger.RightUse, EffectiveOn: date("2023-03-15"),
			Exclusivity: "exclusive", Term: &ledger.Term{From: date("2023-03-15"), To: date("2033-03-14")}, AchievementID: "ACH-2022-0042",
			Holders: []ledger.Holder{{ID: "91140400234567819D", Name: "长治某能源有限公司", Kind: "enterprise"}}},
		&ledger.PaymentRecorded{ContractID: "2023140101000123", PaymentID: "P-1", Amount: dec("600000.00"), Costs: dec("50000.00"),
			Net: dec("550000.00"), PaidOn: date("2023-06-30"),
			Allocations: []ledger.Allocation{{HolderID: "R-001", Name: "张三", Kind: "researcher", Share: dec("1"), Amount: dec("550000.00")}}},
	}
}

func TestEncodeDecode_RoundTrip(t *testing.T) {
	for _, ev := range sampleEvents() {
		t.Run(ev.EventType(), func(t *testing.T) {
			e, err := ledger.Encode(ev, ledger.Metadata{Actor: "a"})
			require.NoError(t, err)
			assert.Equal(t, ev.EventType(), e.Type)
			assert.Equal(t, uint16(1), e.SchemaVersion)
			assert.Equal(t, byte(7), byte(e.ID.Version()))
			got, err := ledger.Decode(e.Type, e.SchemaVersion, e.Data)
			require.NoError(t, err)
			again, err := ledger.Encode(got, ledger.Metadata{})
			require.NoError(t, err)
			assert.Equal(t, string(e.Data), string(again.Data), "decode then encode gives the same bytes")
			// Independent check: the JSON carries amounts as strings and dates as YYYY-MM-DD.
			var raw map[string]any
			require.NoError(t, json.Unmarshal(e.Data, &raw))
			if v, ok := raw["amount"]; ok {
				assert.IsType(t, "", v, "amounts are JSON strings")
			}
			if v, ok := raw["paid_on"]; ok {
				assert.Equal(t, "2023-06-30", v)
			}
		})
	}
}

func TestDecode_Rejects(t *testing.T) {
	tests := []struct {
		name    string
		typ     string
		schema  uint16
		data    string
		unknown bool
		want    string
	}{
		{"unknown type", "ContractStolen", 1, `{}`, true, `type "ContractStolen"`},
		{"unknown schema version", ledger.TypeContractRevoked, 2, `{}`, true, "schema version 2"},
		{"unknown field", ledger.TypeContractRevoked, 1, `{"contract_id":"x","reason":"r","extra":1}`, false, "unknown field"},
		{"wrong field type", ledger.TypeContractRevoked, 1, `{"contract_id":5}`, false, "ContractRevoked"},
		{"bad date", ledger.TypePaymentRecorded, 1, `{"paid_on":"2023-02-30"}`, false, "not a valid calendar date"},
		{"trailing data", ledger.TypeContractRevoked, 1, `{"contract_id":"x"} {}`, false, "trailing data"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ledger.Decode(tc.typ, tc.schema, []byte(tc.data))
			require.ErrorContains(t, err, tc.want)
			assert.Equal(t, tc.unknown, errors.Is(err, ledger.ErrUnknownEvent))
		})
	}
}

func record(p ledger.Position, stream string, v ledger.Version) ledger.Record {
	return ledger.Record{
		ID: ledger.NewEventID(), Stream: stream, Version: v, Position: p, Type: "A", SchemaVersion: 1,
		RecordedAt: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), Data: json.RawMessage(`{"n":1}`),
		Metadata: ledger.Metadata{Actor: "u", Role: "registrar", CommandID: "c", CausationID: "x", CorrelationID: "y", Reason: "z", CommandHash: "h"},
	}
}

func TestRecord_BinaryRoundTrip(t *testing.T) {
	r := record(7, "contract-1", 3)
	r.Seal(ledger.Hash{1, 2, 3})
	b := r.AppendBinary(nil)
	var got ledger.Record
	require.NoError(t, got.UnmarshalBinary(b))
	assert.Equal(t, r, got)
	for n := range len(b) { // every truncation is an error, never a panic
		var short ledger.Record
		assert.Error(t, short.UnmarshalBinary(b[:n]), "truncated at %d", n)
	}
	assert.Error(t, got.UnmarshalBinary(append(b, 0)), "trailing bytes")
	// A length written in a non-minimal varint (0x80 0x00 for 0) is refused: every record
	// has exactly one encoding.
	nonMinimal := ledger.Record{}
	nonMinimal.RecordedAt = time.Unix(0, 0).UTC()
	enc := nonMinimal.AppendBinary(nil)
	at := 1 + 8 // format byte, position: the stream length comes next
	require.Equal(t, byte(0), enc[at])
	enc = append(enc[:at:at], append([]byte{0x80, 0x00}, enc[at+1:]...)...)
	assert.ErrorContains(t, got.UnmarshalBinary(enc), "truncated")
}

// TestRecord_SealAppend checks that SealAppend gives what Seal then AppendBinary give, for
// records smaller and larger than ComputeHash's scratch buffer, appended after other bytes.
func TestRecord_SealAppend(t *testing.T) {
	for _, size := range []int{10, 400, 5000} {
		r := record(7, "contract-1", 3)
		r.Data = json.RawMessage(`{"n":"` + strings.Repeat("x", size) + `"}`)
		want := r
		want.Seal(ledger.Hash{9})
		prefix := []byte("frame")
		got := r.SealAppend(prefix, ledger.Hash{9})
		assert.Equal(t, want.AppendBinary(prefix), got)
		assert.Equal(t, want, r, "the record is sealed as Seal seals it")
	}
}

// TestRecord_HashCoversEveryField changes each field in turn and checks the hash changes.
func TestRecord_HashCoversEveryField(t *testing.T) {
	base := record(7, "contract-1", 3)
	base.Seal(ledger.Hash{9})
	mutations := map[string]func(r *ledger.Record){
		"id":             func(r *ledger.Record) { r.ID = ledger.NewEventID() },
		"stream":         func(r *ledger.Record) { r.Stream = "contract-2" },
		"version":        func(r *ledger.Record) { r.Version++ },
		"position":       func(r *ledger.Record) { r.Position++ },
		"type":           func(r *ledger.Record) { r.Type = "B" },
		"schema":         func(r *ledger.Record) { r.SchemaVersion++ },
		"recorded_at":    func(r *ledger.Record) { r.RecordedAt = r.RecordedAt.Add(time.Nanosecond) },
		"data":           func(r *ledger.Record) { r.Data = json.RawMessage(`{"n":2}`) },
		"actor":          func(r *ledger.Record) { r.Metadata.Actor = "v" },
		"role":           func(r *ledger.Record) { r.Metadata.Role = "auditor" },
		"command_id":     func(r *ledger.Record) { r.Metadata.CommandID = "d" },
		"causation_id":   func(r *ledger.Record) { r.Metadata.CausationID = "d" },
		"correlation_id": func(r *ledger.Record) { r.Metadata.CorrelationID = "d" },
		"reason":         func(r *ledger.Record) { r.Metadata.Reason = "d" },
		"command_hash":   func(r *ledger.Record) { r.Metadata.CommandHash = "d" },
		"prev_hash":      func(r *ledger.Record) { r.PrevHash[0]++ },
		// Moving bytes between adjacent strings must change the hash too (length prefixes).
		"field boundary": func(r *ledger.Record) { r.Metadata.Actor, r.Metadata.Role = "ur", "egistrar" },
	}
	for name, mutate := range mutations {
		r := base
		mutate(&r)
		assert.NotEqual(t, base.Hash, r.ComputeHash(), name)
	}
}

func seq(recs []ledger.Record) iter.Seq2[ledger.Record, error] {
	return func(yield func(ledger.Record, error) bool) {
		for _, r := range recs {
			if !yield(r, nil) {
				return
			}
		}
	}
}

func chain(n int) []ledger.Record {
	var out []ledger.Record
	var prev ledger.Hash
	versions := map[string]ledger.Version{}
	for i := range n {
		stream := []string{"a", "b"}[i%2]
		versions[stream]++
		r := record(ledger.Position(i+1), stream, versions[stream])
		r.Seal(prev)
		prev = r.Hash
		out = append(out, r)
	}
	return out
}

func TestVerify(t *testing.T) {
	ctx := context.Background()
	good := chain(6)
	rep, err := ledger.Verify(ctx, seq(good))
	require.NoError(t, err)
	assert.Equal(t, ledger.VerifyReport{Records: 6, Streams: 2, Head: 6, HeadHash: good[5].Hash}, rep)

	tests := []struct {
		name   string
		damage func(rs []ledger.Record) []ledger.Record
		pos    ledger.Position
		reason string
	}{
		{"altered data", func(rs []ledger.Record) []ledger.Record { rs[2].Data = json.RawMessage(`{"n":9}`); return rs }, 3, "hash mismatch"},
		{"resealed record breaks the next link", func(rs []ledger.Record) []ledger.Record {
			rs[2].Data = json.RawMessage(`{"n":9}`)
			rs[2].Seal(rs[1].Hash)
			return rs
		}, 4, "previous hash"},
		{"removed record", func(rs []ledger.Record) []ledger.Record { return append(rs[:3:3], rs[4:]...) }, 5, "position 5 follows 3"},
		{"stream version gap", func(rs []ledger.Record) []ledger.Record { rs[3].Version = 5; rs[3].Seal(rs[2].Hash); return rs }, 4, "version 5 follows 1"},
		{"not UTC", func(rs []ledger.Record) []ledger.Record {
			rs[0].RecordedAt = rs[0].RecordedAt.In(time.FixedZone("CST", 8*3600))
			return rs
		}, 1, "not UTC"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ledger.Verify(ctx, seq(tc.damage(chain(6))))
			var ce *ledger.CorruptionError
			require.ErrorAs(t, err, &ce)
			require.ErrorIs(t, err, ledger.ErrCorrupt)
			assert.Equal(t, tc.pos, ce.Position)
			assert.Contains(t, ce.Reason, tc.reason)
		})
	}
}

func FuzzRecord_UnmarshalBinary(f *testing.F) {
	r := record(1, "s", 1)
	r.Seal(ledger.Hash{})
	f.Add(r.AppendBinary(nil))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		var got ledger.Record
		err := got.UnmarshalBinary(b)
		k, kerr := ledger.DecodeKey(b)
		// DecodeKey accepts exactly what UnmarshalBinary accepts.
		require.Equal(t, err == nil, kerr == nil, "UnmarshalBinary: %v, DecodeKey: %v", err, kerr)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to the same bytes.
		assert.Equal(t, b, got.AppendBinary(nil))
		assert.Equal(t, keyOf(&got), k)
	})
}

func keyOf(r *ledger.Record) ledger.RecordKey {
	return ledger.RecordKey{Position: r.Position, Stream: []byte(r.Stream), Version: r.Version, ID: r.ID,
		RecordedAt: r.RecordedAt.UnixNano(), PrevHash: r.PrevHash, Hash: r.Hash}
}

// TestDecodeKey checks that DecodeKey gives the record's key fields and refuses every
// truncation and trailing bytes, as UnmarshalBinary does.
func TestDecodeKey(t *testing.T) {
	r := record(7, "contract-1", 3)
	r.Seal(ledger.Hash{1, 2, 3})
	b := r.AppendBinary(nil)
	got, err := ledger.DecodeKey(b)
	require.NoError(t, err)
	assert.Equal(t, keyOf(&r), got)
	for n := range len(b) {
		_, err := ledger.DecodeKey(b[:n])
		assert.Error(t, err, "truncated at %d", n)
	}
	_, err = ledger.DecodeKey(append(b, 0))
	assert.Error(t, err, "trailing bytes")
}
