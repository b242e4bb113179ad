package commands

import (
	"techledger/internal/jsonw"
	"techledger/ledger"
)

// appendCanonical appends the JSON json.Marshal gives for cmd with its command_id
// cleared: the content Fingerprint hashes. The fingerprints are stored in every event's
// metadata and compared with those of commands to come, so the bytes must never change;
// json.Marshal is the reference (TestFingerprint_MatchesJSONMarshal compares the two).
// It reports false for a Command type it does not know.
func appendCanonical(b []byte, cmd Command) ([]byte, bool) {
	switch c := cmd.(type) {
	case *RecordPayment:
		b = canonHead(b, &c.Header)
		b = jsonw.StringField(b, "contract_id", c.ContractID)
		b = jsonw.StringField(b, "payment_id", c.PaymentID)
		b = jsonw.StringField(b, "amount", c.Amount)
		if c.Costs != "" {
			b = jsonw.StringField(b, "costs", c.Costs)
		}
		b = jsonw.StringField(b, "paid_on", c.PaidOn)
	case *RegisterContract:
		b = canonHead(b, &c.Header)
		b = jsonw.StringField(b, "contract_id", c.ContractID)
		b = jsonw.StringField(b, "title", c.Title)
		b = jsonw.StringField(b, "type", c.Type)
		b = jsonw.StringField(b, "subtype", c.Subtype)
		b = jsonw.StringField(b, "signed_on", c.SignedOn)
		b = jsonw.StringField(b, "registered_on", c.RegisteredOn)
		b = jsonw.StringField(b, "amount", c.Amount)
		b = jsonw.StringField(b, "tech_amount", c.TechAmount)
		b = jsonw.StringField(b, "field", c.Field)
		b = canonParty(jsonw.Field(b, "seller"), c.Seller)
		b = canonParty(jsonw.Field(b, "buyer"), c.Buyer)
		b = canonParty(jsonw.Field(b, "intermediary"), c.Intermediary)
		if c.AchievementID != "" {
			b = jsonw.StringField(b, "achievement_id", c.AchievementID)
		}
		b = jsonw.Strings(jsonw.Field(b, "ip_types"), c.IPTypes)
	case *AmendContract:
		b = canonHead(b, &c.Header)
		b = jsonw.StringField(b, "contract_id", c.ContractID)
		b = canonOptional(b, "amount", c.Amount)
		b = canonOptional(b, "tech_amount", c.TechAmount)
		b = canonOptional(b, "type", c.Type)
		b = canonOptional(b, "subtype", c.Subtype)
		b = canonOptional(b, "field", c.Field)
		b = jsonw.StringField(b, "reason", c.Reason)
	case *RevokeContract:
		b = canonHead(b, &c.Header)
		b = jsonw.StringField(b, "contract_id", c.ContractID)
		b = jsonw.StringField(b, "reason", c.Reason)
	case *AssignRights:
		b = canonHead(b, &c.Header)
		b = jsonw.StringField(b, "contract_id", c.ContractID)
		b = jsonw.StringField(b, "right", c.Right)
		b = jsonw.StringField(b, "effective_on", c.EffectiveOn)
		b = jsonw.Field(b, "holders")
		if c.Holders == nil {
			b = append(b, "null"...)
		} else {
			b = append(b, '[')
			for i := range c.Holders {
				h := &c.Holders[i]
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, '{')
				b = jsonw.StringField(b, "id", h.ID)
				b = jsonw.StringField(b, "name", h.Name)
				b = jsonw.StringField(b, "kind", h.Kind)
				if h.Institution != "" {
					b = jsonw.StringField(b, "institution", h.Institution)
				}
				b = canonOptional(b, "share", h.Share)
				b = append(b, '}')
			}
			b = append(b, ']')
		}
		if c.Exclusivity != "" {
			b = jsonw.StringField(b, "exclusivity", c.Exclusivity)
		}
		if c.Term != nil {
			b = append(jsonw.Field(b, "term"), '{')
			b = jsonw.StringField(b, "from", c.Term.From)
			b = jsonw.StringField(b, "to", c.Term.To)
			b = append(b, '}')
		}
	default:
		return b, false
	}
	return append(b, '}'), true
}

// canonHead opens the object with the Header's fields, command_id left out.
func canonHead(b []byte, h *Header) []byte {
	return jsonw.StringField(append(b, '{'), "command", h.Command)
}

// canonOptional appends a `json:",omitempty"` *string field: absent when nil.
func canonOptional(b []byte, name string, s *string) []byte {
	if s == nil {
		return b
	}
	return jsonw.StringField(b, name, *s)
}

func canonParty(b []byte, p *ledger.Party) []byte {
	if p == nil {
		return append(b, "null"...)
	}
	b = append(b, '{')
	b = jsonw.StringField(b, "id", p.ID)
	b = jsonw.StringField(b, "name", p.Name)
	b = jsonw.StringField(b, "kind", p.Kind)
	b = jsonw.StringField(b, "region", p.Region)
	return append(b, '}')
}
