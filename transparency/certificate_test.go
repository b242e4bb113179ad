package transparency_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"html"
	"strings"
	"testing"
	"time"

	qrcode "github.com/skip2/go-qrcode"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/commands"
	"techledger/ledger"
	"techledger/ledger/memstore"
	"techledger/transparency"
)

// TestNewCertificate registers the worked example of docs/domain.md through the command
// handler, amends its amounts, signs a checkpoint and checks the certificate against the
// records: the terms in force (the amendment's amounts), the parties with their regions,
// the registry, the leaf hash computed here as SHA-256(0x00 ‖ chain hash) of the
// registration, the checkpoint, and a QR code of the bundle's URL. A bundle that does not
// audit gives no certificate.
func TestNewCertificate(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	h := commands.NewHandler(s)
	h.Now = func() time.Time { return time.Date(2023, 4, 1, 0, 0, 0, 0, time.UTC) }
	who := commands.Actor{Name: "王登记", Role: "registrar"}
	for _, js := range []string{
		`{"command":"register_contract","command_id":"c-0001","contract_id":"2023140101000123","title":"煤矸石综合利用技术转让","type":"transfer","subtype":"patent_right",
		 "signed_on":"2023-03-01","registered_on":"2023-03-15","amount":"1200000.00","tech_amount":"1000000.00","field":"environment",
		 "seller":{"id":"12140000405000025X","name":"太原理工大学","kind":"university","region":"140100"},
		 "buyer":{"id":"91140400234567819D","name":"长治某能源有限公司","kind":"enterprise","region":"140400"},
		 "intermediary":null,"achievement_id":"ACH-2022-0042","ip_types":["patent"]}`,
		`{"command":"amend_contract","command_id":"c-0002","contract_id":"2023140101000123","type":"transfer","subtype":"patent_right","field":"environment",
		 "amount":"1250000.00","tech_amount":"1050000.50","reason":"补充协议"}`,
	} {
		_, err := h.HandleJSON(ctx, []byte(js), who)
		require.NoError(t, err)
	}
	l := openLog(t, s, t.TempDir())
	_, err := l.SignNow()
	require.NoError(t, err)
	b, err := l.Bundle(ctx, "2023140101000123")
	require.NoError(t, err)

	const url = "https://ledger.example.cn/v1/contracts/2023140101000123/bundle"
	c, err := transparency.NewCertificate(b, testVKey, url)
	require.NoError(t, err)
	var reg ledger.Record
	for rec, err := range s.ReadStream(ctx, ledger.ContractStream("2023140101000123"), 1) {
		require.NoError(t, err)
		reg = rec
		break
	}
	leaf := sha256.Sum256(append([]byte{0}, reg.Hash[:]...))
	assert.Equal(t, base64.StdEncoding.EncodeToString(leaf[:]), c.LeafHash, "RFC 6962 leaf of the registration's chain hash")
	assert.Equal(t, reg.Position, c.Position)
	assert.Equal(t, "2023140101000123", c.Number)
	assert.Equal(t, "煤矸石综合利用技术转让", c.Title)
	assert.Equal(t, "技术转让 / 专利权转让", c.Type)
	assert.Equal(t, "1250000.00", c.Amount, "as amended")
	assert.Equal(t, "1050000.50", c.TechAmount, "as amended")
	assert.Equal(t, "2023-03-15", c.RegisteredOn)
	assert.Equal(t, "太原理工大学", c.Seller.Name)
	assert.Equal(t, "140100", c.Seller.Region)
	assert.Equal(t, "太原市", c.Seller.RegionName)
	assert.Equal(t, "长治市", c.Buyer.RegionName)
	assert.Nil(t, c.Intermediary)
	assert.Equal(t, "太原市 技术合同登记点 01", c.Registry)
	assert.Equal(t, int64(2), c.Size)
	assert.Equal(t, 2, c.Events)
	assert.Equal(t, testOrigin, c.Origin)
	assert.Equal(t, b.Checkpoint, c.Note)
	assert.False(t, c.Revoked)
	want, err := qrcode.New(url, qrcode.Medium)
	require.NoError(t, err)
	assert.Equal(t, want.Bitmap(), c.QR.Bitmap(), "the QR code holds the bundle's URL")
	qr, err := c.QRDataURL(128)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(qr), "data:image/png;base64,iVBOR"), "a PNG")

	var text, page bytes.Buffer
	require.NoError(t, c.WriteText(&text))
	require.NoError(t, c.WriteHTML(&page))
	// html/template writes '+' as &#43;, so the page is compared as a browser reads it.
	for _, out := range []string{text.String(), html.UnescapeString(page.String())} {
		for _, s := range []string{"技术合同登记证明", "2023140101000123", "1250000.00 元", "1050000.50 元", c.LeafHash, "太原理工大学 (高等院校; 太原市 140100)"} {
			assert.Contains(t, out, s)
		}
	}

	b.Records[0].Record[40] ^= 1 // a changed byte
	_, err = transparency.NewCertificate(b, testVKey, url)
	assert.ErrorContains(t, err, "does not audit")
}
