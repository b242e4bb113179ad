package projections

import (
	"context"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/commands"
	"techledger/ledger"
	"techledger/ledger/memstore"
)

// designExample is the command example of docs/domain.md (Commands) (with a second payment after
// the amendment), so every value below can be checked by hand.
const designExample = `{"command":"register_contract","command_id":"c-0001","contract_id":"2023140101000123","title":"煤矸石综合利用技术转让","type":"transfer","subtype":"patent_right","signed_on":"2023-03-01","registered_on":"2023-03-15","amount":"1200000.00","tech_amount":"1000000.00","field":"environment","seller":{"id":"12140000405000025X","name":"太原理工大学","kind":"university","region":"140100"},"buyer":{"id":"91140400234567819D","name":"长治某能源有限公司","kind":"enterprise","region":"140400"},"intermediary":null,"achievement_id":"ACH-2022-0042","ip_types":["patent"]}
{"command":"record_payment","command_id":"c-0000","contract_id":"2023140101000123","payment_id":"P-0","amount":"100.00","costs":"0.00","paid_on":"2023-03-20"}
{"command":"assign_rights","command_id":"c-0002","contract_id":"2023140101000123","right":"proceeds","effective_on":"2023-03-15","holders":[{"id":"12140000405000025X","name":"太原理工大学","kind":"institution","share":"0.30"},{"id":"R-001","name":"张三","kind":"researcher","institution":"太原理工大学","share":"0.49"},{"id":"R-002","name":"李四","kind":"researcher","institution":"太原理工大学","share":"0.21"}]}
{"command":"assign_rights","command_id":"c-0003","contract_id":"2023140101000123","right":"use","exclusivity":"exclusive","term":{"from":"2023-03-15","to":"2033-03-14"},"holders":[{"id":"91140400234567819D","name":"长治某能源有限公司","kind":"enterprise"}]}
{"command":"record_payment","command_id":"c-0004","contract_id":"2023140101000123","payment_id":"P-1","amount":"600000.00","costs":"50000.00","paid_on":"2023-06-30"}
{"command":"amend_contract","command_id":"c-0005","contract_id":"2023140101000123","amount":"1300000.00","tech_amount":"1100000.00","reason":"补充协议"}
{"command":"revoke_contract","command_id":"c-0006","contract_id":"2023140101000123","reason":"重复登记"}
`

func TestFoldContract_DesignExample(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	sum, err := commands.Import(ctx, strings.NewReader(designExample), commands.NewHandler(s), commands.Actor{Name: "王登记", Role: "registrar"}, nil)
	require.NoError(t, err)
	require.Zero(t, sum.Rejected, "%v", sum.Errors)
	var recs []ledger.Record
	for rec, err := range s.ReadStream(ctx, ledger.ContractStream("2023140101000123"), 1) {
		require.NoError(t, err)
		recs = append(recs, rec)
	}
	v, ok, err := FoldContract(recs)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "revoked", v.Status)
	assert.Equal(t, "重复登记", v.RevokedReason)
	assert.Equal(t, ledger.Version(7), v.Version)
	assert.Equal(t, "1300000.00", v.Amount)
	assert.Equal(t, "1100000.00", v.TechAmount)
	assert.Equal(t, "600100.00", v.Paid)
	assert.Equal(t, 1, v.Amendments)
	require.Len(t, v.Payments, 2)
	// P-0 came before any proceeds assignment: all to the seller.
	require.Len(t, v.Payments[0].Allocations, 1)
	assert.Equal(t, "12140000405000025X", v.Payments[0].Allocations[0].HolderID)
	assert.Equal(t, "100.00", v.Payments[0].Allocations[0].Amount)
	// P-1: net 550000.00 split 0.30 / 0.49 / 0.21.
	assert.Equal(t, "550000.00", v.Payments[1].Net)
	var got []string
	for _, a := range v.Payments[1].Allocations {
		got = append(got, a.HolderID+" "+a.Amount)
	}
	assert.Equal(t, []string{"12140000405000025X 165000.00", "R-001 269500.00", "R-002 115500.00"}, got)
	require.NotNil(t, v.Rights.Proceeds)
	require.Len(t, v.Rights.Use, 1)
	assert.Equal(t, "exclusive", v.Rights.Use[0].Exclusivity)
	assert.Nil(t, v.Rights.Ownership)
	// Researchers hold 0.70: at the Shanxi level, above the statutory floor: no flag.
	assert.Empty(t, v.Flags)

	hist := History(recs)
	require.Len(t, hist, 7)
	assert.Equal(t, "王登记", hist[5].Actor)
	assert.Equal(t, "c-0005", hist[5].CommandID)
	assert.Equal(t, "补充协议", hist[5].Reason)
	assert.Equal(t, ledger.TypeContractAmended, hist[5].Type)

	_, ok, err = FoldContract(nil)
	require.NoError(t, err)
	assert.False(t, ok)
}

func TestRuleFlags(t *testing.T) {
	d := func(s string) ledger.Date { x, err := ledger.ParseDate(s); require.NoError(t, err); return x }
	tests := []struct {
		typ, effective, share string
		want                  []string // rule names flagged
	}{
		{"transfer", "2023-03-15", "0.70", nil},
		{"transfer", "2023-03-15", "0.6999", []string{"晋政发〔2017〕31号"}},
		{"license", "2023-03-15", "0.49", []string{"促进科技成果转化法(2015) 第四十五条", "晋政发〔2017〕31号"}},
		{"license", "2016-06-01", "0.49", []string{"促进科技成果转化法(2015) 第四十五条"}},
		{"transfer", "2015-09-30", "0.49", nil},
		{"transfer", "2015-09-30", "0.19", []string{"促进科技成果转化法(1996) 第二十九条"}},
		{"development", "2023-03-15", "0", nil},
		{"service", "2023-03-15", "0.10", nil},
	}
	for _, tt := range tests {
		var got []string
		for _, f := range ruleFlags("X", tt.typ, 1, d(tt.effective), decimal_(t, tt.share)) {
			got = append(got, f.Rule)
		}
		assert.Equal(t, tt.want, got, "%s %s %s", tt.typ, tt.effective, tt.share)
	}
}

func decimal_(t *testing.T, s string) decimal.Decimal {
	t.Helper()
	d, err := decimal.NewFromString(s)
	require.NoError(t, err)
	return d
}
