package transparency

import (
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"strings"

	qrcode "github.com/skip2/go-qrcode"

	"techledger/internal/refdata"
	"techledger/ledger"
)

// Certificate is a contract's registration certificate (技术合同登记证明): the terms in
// force as its records state them, with the proof an outsider checks a paper copy by — the
// leaf hash of the registration, the signed checkpoint its bundle is proved against, and a
// QR code of the bundle's URL. `techledger certificate` prints it as text or a standalone
// HTML page; the console shows it as a page of its own (docs/transparency.md).
type Certificate struct {
	Number       string // 登记编号
	Title        string // 项目名称
	Type         string // "技术转让 / 专利权转让"
	Field        string // 技术领域
	Seller       CertificateParty
	Buyer        CertificateParty
	Intermediary *CertificateParty // nil: none
	// Amount and TechAmount are 成交额 and 技术交易额 as approved (the last amendment's),
	// in 元 with two decimals: "1200000.00".
	Amount, TechAmount string
	Registry           string // 登记机构, from the registration number
	RegisteredOn       string // YYYY-MM-DD
	Revoked            bool
	Status             string // "有效 (in force)" or "已撤销 (revoked): reason"

	LeafHash  string          // the registration's leaf hash (hex)
	Position  ledger.Position // the registration's position in the log
	Origin    string          // the checkpoint's origin line
	Size      int64           // the checkpoint's tree size
	Root      string          // its root hash (base64, as in the signed note)
	Note      string          // the signed checkpoint itself (a signed note)
	Events    int             // the contract's records in the bundle
	BundleURL string
	QR        *qrcode.QRCode // of BundleURL
}

// CertificateParty is a party as a certificate shows it.
type CertificateParty struct {
	ID, Name   string
	Kind       string // the code; KindLabel its Chinese label
	KindLabel  string
	Region     string // GB/T 2260 code; RegionName its name
	RegionName string
}

// String is the party on one line: "太原理工大学 (高等院校; 太原市 140100)".
func (p CertificateParty) String() string {
	return fmt.Sprintf("%s (%s; %s %s)", p.Name, p.KindLabel, p.RegionName, p.Region)
}

func certificateParty(p ledger.Party) CertificateParty {
	region, ok := refdata.RegionName(p.Region)
	if !ok {
		region = p.Region
	}
	kind, _ := refdata.PartyKindLabel(p.Kind)
	return CertificateParty{ID: p.ID, Name: p.Name, Kind: p.Kind, KindLabel: kind, Region: p.Region, RegionName: region}
}

// NewCertificate audits bundle b with the verifier key vkey (Audit) and reads the
// contract's terms in force from its records: the registration, then each amendment
// (which carries the complete terms). bundleURL is where readers fetch the bundle (the QR
// code holds it). A bundle that does not audit gives no certificate.
func NewCertificate(b *Bundle, vkey, bundleURL string) (*Certificate, error) {
	rep, err := Audit(b, vkey)
	if err != nil {
		return nil, fmt.Errorf("the contract's proof bundle does not audit, no certificate: %w", err)
	}
	c := &Certificate{Number: b.ContractID, Status: "有效 (in force)", LeafHash: rep.LeafHash.String(), Origin: rep.Checkpoint.Origin,
		Root: rep.Checkpoint.Root.String(), Note: b.Checkpoint, Size: rep.Checkpoint.Size, Position: rep.Positions[0], Events: rep.Events, BundleURL: bundleURL}
	var typ, subtype, field string
	for _, br := range b.Records {
		var rec ledger.Record
		if err := rec.UnmarshalBinary(br.Record); err != nil {
			return nil, err
		}
		ev, err := ledger.DecodeRecord(&rec)
		if err != nil {
			return nil, err
		}
		switch e := ev.(type) {
		case *ledger.ContractRegistered:
			c.Title, c.RegisteredOn = e.Title, e.RegisteredOn.String()
			typ, subtype, field = e.Type, e.Subtype, e.Field
			c.Amount, c.TechAmount = e.Amount.StringFixed(2), e.TechAmount.StringFixed(2)
			c.Seller, c.Buyer = certificateParty(e.Seller), certificateParty(e.Buyer)
			if e.Intermediary != nil {
				p := certificateParty(*e.Intermediary)
				c.Intermediary = &p
			}
		case *ledger.ContractAmended:
			typ, subtype, field = e.Type, e.Subtype, e.Field
			c.Amount, c.TechAmount = e.Amount.StringFixed(2), e.TechAmount.StringFixed(2)
		case *ledger.ContractRevoked:
			c.Revoked, c.Status = true, "已撤销 (revoked): "+e.Reason
		}
	}
	c.Type = known(refdata.ContractTypeLabel(typ)) + " / " + known(refdata.SubtypeLabel(typ, subtype))
	c.Field = known(refdata.FieldLabel(field))
	c.Registry = registry(b.ContractID)
	if c.QR, err = qrcode.New(bundleURL, qrcode.Medium); err != nil {
		return nil, fmt.Errorf("QR code: %w", err)
	}
	return c, nil
}

func known(s string, ok bool) string {
	if !ok {
		return "?"
	}
	return s
}

// registry names the registry from the registration number, YYYY PPCC RR NNNNNN: the
// region of its first four digits after the year and the registry point.
func registry(number string) string {
	if len(number) != 16 {
		return "?"
	}
	region, ok := refdata.RegionName(number[4:8] + "00")
	if !ok {
		region = number[4:8]
	}
	return fmt.Sprintf("%s 技术合同登记点 %s", region, number[8:10])
}

// QRDataURL returns the QR code as a PNG of px × px in a data: URL, for an <img>.
func (c *Certificate) QRDataURL(px int) (template.URL, error) {
	png, err := c.QR.PNG(px)
	if err != nil {
		return "", fmt.Errorf("QR code: %w", err)
	}
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png)), nil
}

// WriteText writes the certificate as text, the QR code drawn with block characters.
func (c *Certificate) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "技术合同登记证明  Technology contract registration certificate\n\n")
	rows := [][2]string{
		{"登记编号 Registration number", c.Number}, {"项目名称 Contract name", c.Title}, {"合同类型 Type", c.Type},
		{"技术领域 Field", c.Field}, {"卖方 Seller", c.Seller.String()}, {"买方 Buyer", c.Buyer.String()},
	}
	if c.Intermediary != nil {
		rows = append(rows, [2]string{"中介方 Intermediary", c.Intermediary.String()})
	}
	rows = append(rows, [][2]string{
		{"成交额 Contract amount", c.Amount + " 元"}, {"技术交易额 Technology amount (approved)", c.TechAmount + " 元"},
		{"登记机构 Registry", c.Registry}, {"登记日期 Registered on", c.RegisteredOn}, {"状态 Status", c.Status},
	}...)
	for _, r := range rows {
		fmt.Fprintf(&b, "%-40s %s\n", r[0], r[1])
	}
	fmt.Fprintf(&b, "\n透明日志证明  Transparency proof (docs/transparency.md)\n")
	fmt.Fprintf(&b, "%-40s %s (position %d)\n", "Registration leaf hash", c.LeafHash, c.Position)
	fmt.Fprintf(&b, "%-40s %s, size %d, root %s\n", "Checkpoint", c.Origin, c.Size, c.Root)
	fmt.Fprintf(&b, "%-40s %s\n", "Proof bundle", c.BundleURL)
	fmt.Fprintf(&b, "Check: techledger prove --url SERVER %s -o bundle.json && techledger audit --key VERIFIER_KEY bundle.json\n\n", c.Number)
	b.WriteString(c.QR.ToSmallString(false))
	_, err := io.WriteString(w, b.String())
	return err
}

var certificateHTML = template.Must(template.New("certificate").Parse(`<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>技术合同登记证明 {{.Number}}</title>
<style>body{font-family:serif;max-width:48em;margin:2em auto}th{text-align:left;padding-right:1em;vertical-align:top}code{word-break:break-all}@media print{a{color:inherit}}</style></head>
<body><h1>技术合同登记证明</h1><p>Technology contract registration certificate</p>
<table>
<tr><th>登记编号 Registration number</th><td>{{.Number}}</td></tr>
<tr><th>项目名称 Contract name</th><td>{{.Title}}</td></tr>
<tr><th>合同类型 Type</th><td>{{.Type}}</td></tr>
<tr><th>技术领域 Field</th><td>{{.Field}}</td></tr>
<tr><th>卖方 Seller</th><td>{{.Seller}}</td></tr>
<tr><th>买方 Buyer</th><td>{{.Buyer}}</td></tr>
{{with .Intermediary}}<tr><th>中介方 Intermediary</th><td>{{.}}</td></tr>{{end}}
<tr><th>成交额 Contract amount</th><td>{{.Amount}} 元</td></tr>
<tr><th>技术交易额 Technology amount (approved)</th><td>{{.TechAmount}} 元</td></tr>
<tr><th>登记机构 Registry</th><td>{{.Registry}}</td></tr>
<tr><th>登记日期 Registered on</th><td>{{.RegisteredOn}}</td></tr>
<tr><th>状态 Status</th><td>{{.Status}}</td></tr>
</table>
<h2>透明日志证明 Transparency proof</h2>
<table>
<tr><th>Registration leaf hash</th><td><code>{{.LeafHash}}</code> (position {{.Position}})</td></tr>
<tr><th>Checkpoint</th><td>{{.Origin}}, size {{.Size}}, root <code>{{.Root}}</code></td></tr>
<tr><th>Proof bundle</th><td><a href="{{.BundleURL}}">{{.BundleURL}}</a></td></tr>
</table>
<p><img alt="QR code of the proof bundle's URL" src="{{.QRDataURL}}" width="200" height="200"></p>
<p>Check: <code>techledger audit --key VERIFIER_KEY bundle.json</code></p>
</body></html>
`))

// WriteHTML writes the certificate as a standalone, printable HTML page with the QR code
// inline.
func (c *Certificate) WriteHTML(w io.Writer) error {
	qr, err := c.QRDataURL(256)
	if err != nil {
		return err
	}
	return certificateHTML.Execute(w, struct {
		*Certificate
		QRDataURL template.URL
	}{c, qr})
}
