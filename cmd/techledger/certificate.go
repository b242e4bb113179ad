package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/shopspring/decimal"
	qrcode "github.com/skip2/go-qrcode"
	"github.com/spf13/pflag"

	"techledger/commands"
	"techledger/ledger"
	"techledger/transparency"
)

func init() {
	addVerb(verb{name: "certificate", usage: "certificate [--data DIR] [--url URL --key KEY] [--format text|html] [-o FILE] CONTRACT_ID", summary: "print a contract's registration certificate with its transparency proof and a QR code", nargs: 1, flags: certificateFlags,
		help: "Prints the registration certificate (技术合同登记证明) of a contract: registration number,\nname, type, field, parties with regions, 成交额 and 技术交易额 as approved, registry and date,\nwith its transparency proof: the leaf hash of the registration, the checkpoint it is\nproved against and a QR code of the proof bundle's URL. The bundle is audited first.\nFrom the store (serve must not hold it) or, with --url and --key, from a running server."})
}

func certificateFlags(fs *pflag.FlagSet) action {
	var data storeFlag
	var tf tlogFlag
	var base, token, key, publicURL, format, out string
	data.register(fs)
	tf.register(fs, false)
	fs.StringVar(&base, "url", "", "fetch the bundle from this server (needs --key)")
	fs.StringVar(&token, "token", "", "bearer token for --url (default $TECHLEDGER_TOKEN)")
	fs.StringVar(&key, "key", "", "the log's verifier key or a file holding it (default: the one serve left beside the tree)")
	fs.StringVar(&publicURL, "public-url", "", "the server's address as readers reach it, for the QR code (default --url, else http://127.0.0.1:8080)")
	fs.StringVar(&format, "format", "text", "text or html (printable)")
	fs.StringVarP(&out, "o", "o", "", "write to this file (default stdout)")
	return func(ctx context.Context, call *call) int {
		stdout, stderr := call.stdout, call.stderr
		token = tokenOrEnv(token)
		if (format != "text" && format != "html") || (base != "" && key == "") {
			call.usage()
			return exitUsage
		}
		id := call.args[0]
		var b *transparency.Bundle
		var vkey string
		if base != "" {
			var err error
			if vkey, err = readKey(key); err != nil {
				fmt.Fprintf(stderr, "techledger certificate: %v\n", err)
				return exitUsage
			}
			c := &logClient{base: strings.TrimRight(base, "/"), token: token}
			body, err := c.get(ctx, "/v1/contracts/"+url.PathEscape(id)+"/bundle", nil)
			if err != nil {
				fmt.Fprintf(stderr, "techledger certificate: %v\n", err)
				return exitFailure
			}
			if b, err = decodeBundle(body); err != nil {
				fmt.Fprintf(stderr, "techledger certificate: %v\n", err)
				return exitFailure
			}
		} else {
			s, code := openStore(ctx, data, stderr)
			if s == nil {
				return code
			}
			defer s.Close()
			l, stored, err := tf.openReading(ctx, s, data)
			if err != nil {
				fmt.Fprintf(stderr, "techledger certificate: %v\n", err)
				return exitFailure
			}
			defer l.Close()
			vkey = stored
			if key != "" {
				if vkey, err = readKey(key); err != nil {
					fmt.Fprintf(stderr, "techledger certificate: %v\n", err)
					return exitUsage
				}
			}
			if b, err = l.Bundle(ctx, id); err != nil {
				fmt.Fprintf(stderr, "techledger certificate: %v\n", err)
				if errors.Is(err, transparency.ErrNotFound) {
					return exitRejected
				}
				return exitFailure
			}
		}
		if publicURL == "" {
			publicURL = base
		}
		if publicURL == "" {
			publicURL = "http://127.0.0.1:8080"
		}
		cert, err := newCertificate(b, vkey, strings.TrimRight(publicURL, "/")+"/v1/contracts/"+url.PathEscape(id)+"/bundle")
		if err != nil {
			fmt.Fprintf(stderr, "techledger certificate: %v\n", err)
			return exitRejected
		}
		var buf bytes.Buffer
		if format == "html" {
			err = cert.writeHTML(&buf)
		} else {
			err = cert.writeText(&buf)
		}
		if err != nil {
			fmt.Fprintf(stderr, "techledger certificate: %v\n", err)
			return exitFailure
		}
		if out == "" {
			_, _ = stdout.Write(buf.Bytes())
			return exitOK
		}
		if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
			fmt.Fprintf(stderr, "techledger certificate: %v\n", err)
			return exitFailure
		}
		return exitOK
	}
}

func decodeBundle(body []byte) (*transparency.Bundle, error) {
	return parseBundle(bytes.NewReader(body), "from the server")
}

// certificate is what a registration certificate shows.
type certificate struct {
	Number, Title, Type, Field        string
	Seller, Buyer, Intermediary       string
	Amount, TechAmount                string
	Registry, RegisteredOn, Status    string
	LeafHash, Origin, Root, BundleURL string
	Position                          ledger.Position
	Size                              int64
	Events                            int
	QR                                *qrcode.QRCode
}

// newCertificate audits the bundle with vkey and reads the contract's terms in force from
// its records: the registration, then each amendment (which carries the complete terms).
func newCertificate(b *transparency.Bundle, vkey, bundleURL string) (*certificate, error) {
	rep, err := transparency.Audit(b, vkey)
	if err != nil {
		return nil, fmt.Errorf("the contract's proof bundle does not audit, no certificate: %w", err)
	}
	c := &certificate{Number: b.ContractID, Status: "有效 (in force)", LeafHash: rep.LeafHash.String(), Origin: rep.Checkpoint.Origin,
		Root: rep.Checkpoint.Root.String(), Size: rep.Checkpoint.Size, Position: rep.Positions[0], Events: rep.Events, BundleURL: bundleURL}
	var typ, subtype, field string
	var amount, tech decimal.Decimal
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
			typ, subtype, field, amount, tech = e.Type, e.Subtype, e.Field, e.Amount, e.TechAmount
			c.Seller, c.Buyer = partyLine(e.Seller), partyLine(e.Buyer)
			if e.Intermediary != nil {
				c.Intermediary = partyLine(*e.Intermediary)
			}
		case *ledger.ContractAmended:
			typ, subtype, field, amount, tech = e.Type, e.Subtype, e.Field, e.Amount, e.TechAmount
		case *ledger.ContractRevoked:
			c.Status = "已撤销 (revoked): " + e.Reason
		}
	}
	c.Type = label(commands.ContractTypeLabel(typ)) + " / " + label(commands.SubtypeLabel(typ, subtype))
	c.Field = label(commands.FieldLabel(field))
	c.Amount, c.TechAmount = yuan(amount), yuan(tech)
	c.Registry = registry(b.ContractID)
	if c.QR, err = qrcode.New(bundleURL, qrcode.Medium); err != nil {
		return nil, fmt.Errorf("QR code: %w", err)
	}
	return c, nil
}

func label(s string, ok bool) string {
	if !ok {
		return "?"
	}
	return s
}

func yuan(d decimal.Decimal) string { return d.StringFixed(2) + " 元" }

func partyLine(p ledger.Party) string {
	region, ok := commands.RegionName(p.Region)
	if !ok {
		region = p.Region
	}
	kind, _ := commands.PartyKindLabel(p.Kind)
	return fmt.Sprintf("%s (%s; %s %s)", p.Name, kind, region, p.Region)
}

// registry names the registry from the registration number, YYYY PPCC RR NNNNNN: the
// region of its first four digits after the year and the registry point.
func registry(number string) string {
	if len(number) != 16 {
		return "?"
	}
	region, ok := commands.RegionName(number[4:8] + "00")
	if !ok {
		region = number[4:8]
	}
	return fmt.Sprintf("%s 技术合同登记点 %s", region, number[8:10])
}

func (c *certificate) writeText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "技术合同登记证明  Technology contract registration certificate\n\n")
	rows := [][2]string{
		{"登记编号 Registration number", c.Number}, {"项目名称 Contract name", c.Title}, {"合同类型 Type", c.Type},
		{"技术领域 Field", c.Field}, {"卖方 Seller", c.Seller}, {"买方 Buyer", c.Buyer},
	}
	if c.Intermediary != "" {
		rows = append(rows, [2]string{"中介方 Intermediary", c.Intermediary})
	}
	rows = append(rows, [][2]string{
		{"成交额 Contract amount", c.Amount}, {"技术交易额 Technology amount (approved)", c.TechAmount},
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
{{if .Intermediary}}<tr><th>中介方 Intermediary</th><td>{{.Intermediary}}</td></tr>{{end}}
<tr><th>成交额 Contract amount</th><td>{{.Amount}}</td></tr>
<tr><th>技术交易额 Technology amount (approved)</th><td>{{.TechAmount}}</td></tr>
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

func (c *certificate) writeHTML(w io.Writer) error {
	png, err := c.QR.PNG(256)
	if err != nil {
		return fmt.Errorf("QR code: %w", err)
	}
	return certificateHTML.Execute(w, struct {
		*certificate
		QRDataURL template.URL
	}{c, template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))})
}
