package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/commands"
	"techledger/ledger"
	"techledger/ledger/memstore"
	"techledger/projections"
)

// openAPIDoc is openapi.json decoded.
type openAPIDoc map[string]any

func loadOpenAPI(tb testing.TB) openAPIDoc {
	tb.Helper()
	var doc openAPIDoc
	require.NoError(tb, json.Unmarshal(openAPIDocument, &doc), "openapi.json does not parse")
	return doc
}

// obj returns v[key] as an object, or nil.
func obj(v any, key string) map[string]any {
	if d, ok := v.(openAPIDoc); ok {
		v = map[string]any(d)
	}
	m, _ := v.(map[string]any)
	o, _ := m[key].(map[string]any)
	return o
}

// resolve follows a "#/..." JSON pointer in doc.
func (doc openAPIDoc) resolve(ref string) (any, bool) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, false
	}
	var cur any = map[string]any(doc)
	for _, part := range strings.Split(ref[2:], "/") {
		part = strings.NewReplacer("~1", "/", "~0", "~").Replace(part)
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// deref follows $ref until v is not a reference.
func (doc openAPIDoc) deref(tb testing.TB, v any) map[string]any {
	tb.Helper()
	for range 10 {
		m, _ := v.(map[string]any)
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		v, ok = doc.resolve(ref)
		require.True(tb, ok, "unresolved $ref %s", ref)
	}
	tb.Fatal("$ref chain too long")
	return nil
}

// operation returns the operation of "METHOD /path", or nil.
func (doc openAPIDoc) operation(pattern string) map[string]any {
	method, path, _ := strings.Cut(pattern, " ")
	return obj(obj(doc["paths"], path), strings.ToLower(method))
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// openRoute is the one operation the document has that routeTable does not list yet.
const openAPIRoute = "GET /openapi.json"

func TestOpenAPI_Version(t *testing.T) {
	doc := loadOpenAPI(t)
	v, _ := doc["openapi"].(string)
	assert.Regexp(t, `^3\.1\.\d+$`, v)
	assert.NotEmpty(t, obj(doc, "info")["title"])
	assert.NotEmpty(t, obj(doc, "info")["version"])
}

// TestOpenAPI_RoutesMatchRouteTable checks each route of routeTable against its operation:
// it exists, its x-roles are the route's roles then admin, and its security says the same
// (a bearer token, or none for open routes); and that the document has no other
// operation but GET /openapi.json.
func TestOpenAPI_RoutesMatchRouteTable(t *testing.T) {
	doc := loadOpenAPI(t)
	routes := New(Config{}).Routes()
	listed := map[string]bool{openAPIRoute: true}
	for _, rt := range routes {
		listed[rt.Pattern] = true
	}
	tests := []struct {
		pattern string
		roles   []string // nil: open
	}{{openAPIRoute, nil}}
	for _, rt := range routes {
		tests = append(tests, struct {
			pattern string
			roles   []string
		}{rt.Pattern, routeRoles(rt)})
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			op := doc.operation(tt.pattern)
			require.NotNil(t, op, "no operation %s in openapi.json", tt.pattern)
			var gotRoles []string
			raw, ok := op["x-roles"].([]any)
			require.True(t, ok, "x-roles: want a list")
			for _, r := range raw {
				gotRoles = append(gotRoles, r.(string))
			}
			security, ok := op["security"].([]any)
			require.True(t, ok, "security: want a list on every operation")
			if tt.roles == nil {
				assert.Empty(t, gotRoles, "an open route admits anyone")
				assert.Empty(t, security, "an open route needs security: []")
				return
			}
			assert.Equal(t, append(slices.Clone(tt.roles), string(RoleAdmin)), gotRoles, "x-roles: the route's roles, then admin")
			require.Len(t, security, 1)
			assert.Contains(t, security[0], "bearer")
		})
	}
	for path, item := range obj(doc, "paths") {
		for _, m := range httpMethods {
			if _, ok := item.(map[string]any)[m]; ok {
				pattern := strings.ToUpper(m) + " " + path
				assert.True(t, listed[pattern], "openapi.json documents %s, which routeTable does not serve", pattern)
			}
		}
	}
	scheme := obj(obj(obj(doc, "components"), "securitySchemes"), "bearer")
	assert.Equal(t, "http", scheme["type"], "the bearer security scheme")
	assert.Equal(t, "bearer", scheme["scheme"], "the bearer security scheme")
}

// TestOpenAPI_ResponsesDocumented checks the answers every operation can give: 401 and 403
// where it has roles (and neither where it is open), a problem-details body for every
// error status, and each path parameter declared.
func TestOpenAPI_ResponsesDocumented(t *testing.T) {
	doc := loadOpenAPI(t)
	patterns := []string{openAPIRoute}
	roles := map[string][]string{}
	for _, rt := range New(Config{}).Routes() {
		patterns = append(patterns, rt.Pattern)
		roles[rt.Pattern] = routeRoles(rt)
	}
	wantErrors := map[string][]string{
		"POST /v1/commands":              {"400", "404", "409", "413", "422", "500"},
		"GET /v1/contracts/{id}":         {"404", "500"},
		"GET /v1/contracts/{id}/history": {"404", "500"},
		"GET /v1/stats/contracts":        {"400", "500"},
		"GET /v1/rewards/researchers":    {"400", "500"},
		"GET /v1/rewards/flags":          {"400", "500"},
		"GET /v1/events":                 {"400"},
		"GET /v1/verify":                 {"500"},
		"GET /healthz":                   {"503"},
	}
	for _, pattern := range patterns {
		t.Run(pattern, func(t *testing.T) {
			op := doc.operation(pattern)
			require.NotNil(t, op)
			responses := obj(op, "responses")
			want := slices.Clone(wantErrors[pattern])
			if roles[pattern] != nil {
				want = append(want, "401", "403")
			} else {
				assert.NotContains(t, responses, "401")
				assert.NotContains(t, responses, "403")
			}
			for _, code := range want {
				assert.Contains(t, responses, code)
			}
			for code, resp := range responses {
				r := doc.deref(t, resp)
				assert.NotEmpty(t, r["description"], "%s: description", code)
				if code >= "400" {
					assert.Contains(t, obj(r, "content"), "application/problem+json", "%s: an error is problem details", code)
				}
			}
			assert.True(t, responses["200"] != nil || responses["201"] != nil, "no success response")
			_, path, _ := strings.Cut(pattern, " ")
			for _, m := range regexp.MustCompile(`\{(\w+)\}`).FindAllStringSubmatch(path, -1) {
				found := false
				for _, p := range op["parameters"].([]any) {
					p := doc.deref(t, p)
					if p["in"] == "path" && p["name"] == m[1] && p["required"] == true {
						found = true
					}
				}
				assert.True(t, found, "path parameter %s is not declared (in: path, required)", m[1])
			}
		})
	}
}

// TestOpenAPI_RefsResolve checks that every $ref in the document points at something.
func TestOpenAPI_RefsResolve(t *testing.T) {
	doc := loadOpenAPI(t)
	n := 0
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				if ref, ok := c.(string); ok && k == "$ref" {
					n++
					_, ok := doc.resolve(ref)
					assert.True(t, ok, "%s: $ref %q does not resolve", at, ref)
					continue
				}
				walk(c, at+"/"+k)
			}
		case []any:
			for i, c := range v {
				walk(c, fmt.Sprintf("%s/%d", at, i))
			}
		}
	}
	walk(map[string]any(doc), "#")
	assert.Greater(t, n, 50, "suspiciously few $refs")
}

// member is one member of a JSON object, in document order.
type member struct {
	key   string
	value json.RawMessage
}

// members returns the members of a JSON object in order, or false if raw is not one.
func members(tb testing.TB, raw json.RawMessage) ([]member, bool) {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	var out []member
	for dec.More() {
		tok, err := dec.Token()
		require.NoError(tb, err)
		var v json.RawMessage
		require.NoError(tb, dec.Decode(&v))
		out = append(out, member{tok.(string), v})
	}
	return out, true
}

// commandExamples returns every example in the document that is a command (an object with
// a "command" member), in document order: the order they are meant to be applied in.
func commandExamples(tb testing.TB) []json.RawMessage {
	tb.Helper()
	var out []json.RawMessage
	consider := func(v json.RawMessage) {
		if ms, ok := members(tb, v); ok && slices.ContainsFunc(ms, func(m member) bool { return m.key == "command" }) {
			out = append(out, v)
		}
	}
	var walk func(raw json.RawMessage)
	walk = func(raw json.RawMessage) {
		ms, ok := members(tb, raw)
		if !ok {
			var list []json.RawMessage
			if json.Unmarshal(raw, &list) == nil {
				for _, v := range list {
					walk(v)
				}
			}
			return
		}
		for _, m := range ms {
			switch m.key {
			case "example":
				consider(m.value)
			case "examples":
				var list []json.RawMessage
				if json.Unmarshal(m.value, &list) == nil { // a schema's examples
					for _, v := range list {
						consider(v)
					}
					continue
				}
				named, _ := members(tb, m.value) // a media type's examples: {name: {value}}
				for _, ex := range named {
					exm, _ := members(tb, ex.value)
					for _, f := range exm {
						if f.key == "value" {
							consider(f.value)
						}
					}
				}
			default:
				walk(m.value)
			}
		}
	}
	walk(openAPIDocument)
	return out
}

// exampleToday is "today" for the handler in the example tests: after every example's
// dates, and fixed so that the tests do not depend on the clock.
var exampleToday = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

// TestOpenAPI_CommandExamplesApply posts every command example of the document, in
// document order, to the real handler over an empty in-memory store: each must match the
// Command schema and be applied, and together they must cover every command.
func TestOpenAPI_CommandExamplesApply(t *testing.T) {
	doc := loadOpenAPI(t)
	h := commands.NewHandler(memstore.New())
	h.Now = func() time.Time { return exampleToday }
	examples := commandExamples(t)
	names := map[string]bool{}
	for i, ex := range examples {
		var head struct{ Command string }
		require.NoError(t, json.Unmarshal(ex, &head))
		names[head.Command] = true
		t.Run(fmt.Sprintf("%d_%s", i+1, head.Command), func(t *testing.T) {
			assert.Empty(t, doc.validate(t, ref("Command"), decode(t, ex)), "the example does not match the Command schema")
			out, err := h.HandleJSON(context.Background(), ex, commands.Actor{Name: "openapi test", Role: string(RoleRegistrar)})
			require.NoError(t, err, "%s", ex)
			assert.Equal(t, commands.StatusApplied, out.Status)
			assert.Empty(t, doc.validate(t, ref("Outcome"), decode(t, mustJSON(t, out))))
		})
	}
	for _, name := range commands.Names {
		assert.True(t, names[name], "no example of %s", name)
	}
}

// TestOpenAPI_SchemaRejectsWhatHandlerRejects checks that the Command schema is not
// looser than the handler where it can say so: each case is refused by both.
func TestOpenAPI_SchemaRejectsWhatHandlerRejects(t *testing.T) {
	doc := loadOpenAPI(t)
	base := compactJSON(t, string(commandExamples(t)[0]))
	tests := []struct {
		name string
		cmd  string
	}{
		{"unknown field", strings.Replace(base, `"title"`, `"titel"`, 1)},
		{"unknown command", strings.Replace(base, `"register_contract"`, `"register"`, 1)},
		{"amount with 3 decimals", strings.Replace(base, `"1200000.00"`, `"1200000.001"`, 1)},
		{"amount as a number", strings.Replace(base, `"1200000.00"`, `1200000`, 1)},
		{"date not YYYY-MM-DD", strings.Replace(base, `"2023-03-01"`, `"2023/03/01"`, 1)},
		{"unknown type", strings.Replace(base, `"transfer"`, `"sale"`, 1)},
		{"party without region", strings.Replace(base, `,"region":"140100"`, ``, 1)},
		{"no contract_id", strings.Replace(base, `"contract_id":"2023140101000123",`, ``, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			compact := &bytes.Buffer{}
			require.NoError(t, json.Compact(compact, []byte(tt.cmd)))
			require.NotEqual(t, compactJSON(t, base), compact.String(), "the case changed nothing")
			h := commands.NewHandler(memstore.New())
			h.Now = func() time.Time { return exampleToday }
			_, err := h.HandleJSON(context.Background(), compact.Bytes(), commands.Actor{Name: "t", Role: string(RoleRegistrar)})
			assert.Error(t, err, "the handler accepts it")
			var v any
			if json.Unmarshal(compact.Bytes(), &v) == nil {
				assert.NotEmpty(t, doc.validate(t, ref("Command"), v), "the schema accepts it")
			}
		})
	}
}

func compactJSON(tb testing.TB, s string) string {
	tb.Helper()
	b := &bytes.Buffer{}
	require.NoError(tb, json.Compact(b, []byte(s)))
	return b.String()
}

// TestOpenAPI_ExamplesMatchSchemas validates every example of a request, a response or a
// parameter against its schema.
func TestOpenAPI_ExamplesMatchSchemas(t *testing.T) {
	doc := loadOpenAPI(t)
	checked := 0
	check := func(t *testing.T, where string, schema any, content map[string]any) {
		var values []any
		if ex, ok := content["example"]; ok {
			values = append(values, ex)
		}
		for _, ex := range obj(content, "examples") {
			values = append(values, doc.deref(t, ex)["value"])
		}
		for i, v := range values {
			checked++
			if s, ok := v.(string); ok && strings.HasSuffix(where, "application/x-ndjson") {
				for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
					assert.Empty(t, doc.validate(t, schema, decode(t, []byte(line))), "%s example %d", where, i)
				}
				continue
			}
			assert.Empty(t, doc.validate(t, schema, v), "%s example %d", where, i)
		}
	}
	for path, item := range obj(doc, "paths") {
		for method, op := range item.(map[string]any) {
			op := op.(map[string]any)
			where := strings.ToUpper(method) + " " + path
			for _, p := range asList(op["parameters"]) {
				p := doc.deref(t, p)
				check(t, fmt.Sprintf("%s parameter %s", where, p["name"]), paramSchema(p), p)
			}
			for mt, c := range obj(obj(op, "requestBody"), "content") {
				check(t, where+" request "+mt, obj(c, "schema"), c.(map[string]any))
			}
			for code, resp := range obj(op, "responses") {
				for mt, c := range obj(doc.deref(t, resp), "content") {
					check(t, where+" "+code+" "+mt, obj(c, "schema"), c.(map[string]any))
				}
			}
		}
	}
	assert.Greater(t, checked, 30, "suspiciously few examples")
}

// paramSchema is the schema a parameter's example is checked against: a form-style array
// parameter is a comma-separated string.
func paramSchema(p map[string]any) any {
	s := obj(p, "schema")
	if s["type"] == "array" {
		return map[string]any{"type": "string"}
	}
	if s["type"] == "integer" {
		return map[string]any{"type": []any{"integer", "string"}}
	}
	return s
}

func asList(v any) []any { l, _ := v.([]any); return l }

// routeRoles returns the roles a route admits besides admin, as the document names them
// (nil for an open route).
func routeRoles(rt Route) []string {
	if rt.Access == Open {
		return nil
	}
	var out []string
	for _, r := range rt.Access.Roles() {
		out = append(out, string(r))
	}
	return out
}

// newExampleAPI returns the whole API without tokens (every request acts as admin) over an
// in-memory store holding the document's command examples.
func newExampleAPI(t *testing.T) (*httptest.Server, *Server) {
	t.Helper()
	s := memstore.New()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	proj := projections.NewRunner(s, projections.RunnerOptions{Logger: logger})
	require.NoError(t, proj.Start(ctx))
	h := commands.NewHandler(s)
	h.Now = func() time.Time { return exampleToday }
	a := New(Config{Store: s, Commands: h, Projections: proj, Logger: logger})
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	for _, ex := range commandExamples(t) {
		resp, err := http.Post(srv.URL+"/v1/commands", "application/json", bytes.NewReader(ex))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusCreated, resp.StatusCode, "%s", ex)
	}
	caughtUp(t, a)
	a.tlog = exampleTransparencyLog(t, s)
	return srv, a
}

// TestOpenAPI_ResponsesMatchHandlers calls every GET route of routeTable over a ledger
// holding the command examples, with every documented query parameter set to its example
// and the path parameter to its example: the answer must be 200 (so each documented
// parameter is one the route takes), of the documented media type, and match the
// documented schema.
func TestOpenAPI_ResponsesMatchHandlers(t *testing.T) {
	doc := loadOpenAPI(t)
	srv, _ := newExampleAPI(t)
	for _, rt := range New(Config{}).Routes() {
		method, path, _ := strings.Cut(rt.Pattern, " ")
		if method != http.MethodGet {
			continue
		}
		op := doc.operation(rt.Pattern)
		require.NotNil(t, op)
		variants := []url.Values{{}}
		q := url.Values{}
		for _, p := range asList(op["parameters"]) {
			if p := doc.deref(t, p); p["in"] == "query" && p["required"] == true {
				variants = nil // the route needs this parameter: no call without it
			}
		}
		for _, p := range asList(op["parameters"]) {
			p := doc.deref(t, p)
			examples := []any{p["example"]}
			if p["example"] == nil {
				examples = nil
				for _, ex := range obj(p, "examples") {
					examples = append(examples, doc.deref(t, ex)["value"])
				}
			}
			require.NotEmpty(t, examples, "%s: parameter %s has no example", rt.Pattern, p["name"])
			switch p["in"] {
			case "path":
				path = strings.Replace(path, "{"+p["name"].(string)+"}", fmt.Sprint(examples[0]), 1)
			case "query":
				q.Set(p["name"].(string), fmt.Sprint(examples[0]))
				for _, ex := range examples[1:] { // each further example alone
					variants = append(variants, url.Values{p["name"].(string): {fmt.Sprint(ex)}})
				}
			}
		}
		if len(q) > 0 {
			variants = append(variants, q)
		}
		for _, v := range variants {
			target := path
			if len(v) > 0 {
				target += "?" + v.Encode()
			}
			t.Run(target, func(t *testing.T) {
				resp, err := http.Get(srv.URL + target)
				require.NoError(t, err)
				defer resp.Body.Close()
				body, err := io.ReadAll(resp.Body)
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
				mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
				require.NoError(t, err)
				content := obj(obj(obj(op, "responses"), "200"), "content")
				require.Contains(t, content, mt, "the documented media types of 200")
				schema := obj(content[mt], "schema")
				switch mt {
				case "application/json":
					assert.Empty(t, doc.validate(t, schema, decode(t, body)), "%s", body)
				case "application/x-ndjson":
					lines := strings.Split(strings.TrimSpace(string(body)), "\n")
					assert.NotEmpty(t, lines)
					for _, line := range lines {
						assert.Empty(t, doc.validate(t, schema, decode(t, []byte(line))), "%s", line)
					}
				}
			})
		}
	}
}

// TestAPI_GetOpenAPI serves the document through getOpenAPI (whether or not routeTable
// lists it yet).
func TestAPI_GetOpenAPI(t *testing.T) {
	rec := httptest.NewRecorder()
	New(Config{}).getOpenAPI(rec, httptest.NewRequest(http.MethodGet, "/openapi.json", nil))
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	assert.Equal(t, openAPIDocument, rec.Body.Bytes())
	assert.True(t, json.Valid(rec.Body.Bytes()))
}

// TestOpenAPI_SchemasMatchGoTypes compares each schema's properties with the JSON members
// of the Go type it describes, and (for answers) its required members with the members
// always present (no omitempty). A field added to a type without the document fails here.
func TestOpenAPI_SchemasMatchGoTypes(t *testing.T) {
	doc := loadOpenAPI(t)
	tests := []struct {
		schema   string
		typ      any
		required bool // check required against the members without omitempty
	}{
		{"Outcome", commands.Outcome{}, true},
		{"RegisterContract", commands.RegisterContract{}, false},
		{"AmendContract", commands.AmendContract{}, false},
		{"RevokeContract", commands.RevokeContract{}, false},
		{"AssignRights", commands.AssignRights{}, false},
		{"RecordPayment", commands.RecordPayment{}, false},
		{"HolderInput", commands.HolderInput{}, false},
		{"TermInput", commands.TermInput{}, true},
		{"PartyInput", ledger.Party{}, true},
		{"Party", ledger.Party{}, true},
		{"Holder", ledger.Holder{}, true},
		{"Term", ledger.Term{}, true},
		{"RightsAssigned", ledger.RightsAssigned{}, true},
		{"Allocation", ledger.Allocation{}, true},
		{"Metadata", ledger.Metadata{}, true},
		{"ContractView", projections.ContractView{}, true},
		{"RightsInForce", projections.RightsInForce{}, true},
		{"PaymentView", projections.PaymentView{}, true},
		{"Flag", projections.Flag{}, true},
		{"RewardRule", projections.RewardRule{}, true},
		{"RewardRow", projections.RewardRow{}, true},
		{"RewardsReport", projections.RewardsReport{}, true},
		{"VerifyReport", ledger.VerifyReport{}, true},
		{"Record", RecordView{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.schema, func(t *testing.T) {
			s := obj(obj(obj(doc, "components"), "schemas"), tt.schema)
			require.NotNil(t, s, "no schema %s", tt.schema)
			var props []string
			for k := range obj(s, "properties") {
				props = append(props, k)
			}
			all, always := jsonMembers(reflect.TypeOf(tt.typ))
			assert.ElementsMatch(t, all, props, "properties")
			if tt.required {
				var req []string
				for _, r := range asList(s["required"]) {
					req = append(req, r.(string))
				}
				assert.ElementsMatch(t, always, req, "required")
			}
		})
	}
}

// jsonMembers returns the JSON member names of struct type t (embedded structs flattened)
// and those without omitempty.
func jsonMembers(t reflect.Type) (all, always []string) {
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			a, b := jsonMembers(f.Type)
			all, always = append(all, a...), append(always, b...)
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		all = append(all, name)
		if !strings.Contains(opts, "omitempty") {
			always = append(always, name)
		}
	}
	return all, always
}

// TestOpenAPI_ReferenceData checks the enums and limits the document states against the
// code's own lists and constants.
func TestOpenAPI_ReferenceData(t *testing.T) {
	doc := loadOpenAPI(t)
	schemas := obj(obj(doc, "components"), "schemas")
	var subtypes []string
	for _, typ := range commands.ContractTypes() {
		subtypes = append(subtypes, commands.SubtypesOf(typ)...)
	}
	enums := []struct {
		schema string
		want   []string
	}{
		{"ContractType", commands.ContractTypes()},
		{"Subtype", subtypes},
		{"TechField", commands.Fields()},
		{"PartyKind", commands.PartyKinds()},
		{"HolderKind", commands.HolderKinds()},
		{"IPType", commands.IPTypes()},
		{"Right", commands.Rights()},
		{"Exclusivity", commands.Exclusivities()},
		{"Dimension", projections.Dimensions},
		{"RejectionCode", []string{string(commands.CodeMalformed), string(commands.CodeInvalid), string(commands.CodeNotFound), string(commands.CodeConflict)}},
	}
	for _, tt := range enums {
		var got []string
		for _, v := range asList(obj(schemas, tt.schema)["enum"]) {
			got = append(got, v.(string))
		}
		assert.Equal(t, tt.want, got, "%s enum", tt.schema)
	}
	var names []string
	for _, one := range asList(obj(schemas, "Command")["oneOf"]) {
		s := doc.deref(t, one)
		names = append(names, obj(obj(s, "properties"), "command")["const"].(string))
	}
	assert.ElementsMatch(t, commands.Names, names, "Command.oneOf")

	limits := []struct {
		at   string // JSON pointer
		want float64
	}{
		{"#/info/x-limits/command_bytes_max", commands.CommandBytesMax},
		{"#/info/x-limits/query_bytes_max", queryBytesMax},
		{"#/info/x-limits/events_page_max", eventsPageMax},
		{"#/components/schemas/RegisterContract/properties/title/maxLength", commands.TitleBytesMax},
		{"#/components/schemas/RegisterContract/properties/ip_types/maxItems", commands.IPTypesMax},
		{"#/components/schemas/PartyInput/properties/name/maxLength", commands.NameBytesMax},
		{"#/components/schemas/HolderInput/properties/name/maxLength", commands.NameBytesMax},
		{"#/components/schemas/HolderInput/properties/institution/maxLength", commands.NameBytesMax},
		{"#/components/schemas/Identifier/maxLength", commands.IDBytesMax},
		{"#/components/schemas/AmendContract/properties/reason/maxLength", commands.ReasonBytesMax},
		{"#/components/schemas/RevokeContract/properties/reason/maxLength", commands.ReasonBytesMax},
		{"#/components/schemas/AssignRights/properties/holders/maxItems", commands.HoldersMax},
	}
	for _, tt := range limits {
		got, ok := doc.resolve(tt.at)
		require.True(t, ok, tt.at)
		assert.Equal(t, tt.want, got, tt.at)
	}
	desc := obj(doc, "info")["description"].(string)
	for _, n := range []int{commands.CommandBytesMax, queryBytesMax, eventsPageMax} {
		assert.Contains(t, desc, fmt.Sprint(n), "info.description states the limit")
	}
}

func ref(schema string) any { return map[string]any{"$ref": "#/components/schemas/" + schema} }

func decode(tb testing.TB, b []byte) any {
	tb.Helper()
	var v any
	require.NoError(tb, json.Unmarshal(b, &v), "%s", b)
	return v
}

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	require.NoError(tb, err)
	return b
}

// validate checks v against schema: the subset of JSON Schema 2020-12 the document uses
// ($ref, type, const, enum, properties, required, additionalProperties, propertyNames,
// items, minItems, maxItems, uniqueItems, pattern, minLength, maxLength, minimum, maximum,
// allOf, anyOf, oneOf, not, if/then/else). It returns what does not match; none: valid.
func (doc openAPIDoc) validate(tb testing.TB, schema any, v any) []string {
	tb.Helper()
	return doc.check(tb, schema, v, "$")
}

func (doc openAPIDoc) check(tb testing.TB, schema any, v any, at string) []string {
	s, _ := schema.(map[string]any)
	if s == nil {
		return nil
	}
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, at+": "+fmt.Sprintf(format, args...)) }
	if r, ok := s["$ref"].(string); ok {
		target, ok := doc.resolve(r)
		require.True(tb, ok, "unresolved $ref %s", r)
		errs = append(errs, doc.check(tb, target, v, at)...)
	}
	if t, ok := s["type"]; ok {
		types := []any{t}
		if l, ok := t.([]any); ok {
			types = l
		}
		if !slices.ContainsFunc(types, func(t any) bool { return jsonType(v, t.(string)) }) {
			fail("%v is not of type %v", v, t)
			return errs
		}
	}
	if c, ok := s["const"]; ok && !reflect.DeepEqual(c, v) {
		fail("%v is not %v", v, c)
	}
	if e, ok := s["enum"].([]any); ok && !slices.ContainsFunc(e, func(x any) bool { return reflect.DeepEqual(x, v) }) {
		fail("%v is not one of %v", v, e)
	}
	switch v := v.(type) {
	case string:
		if p, ok := s["pattern"].(string); ok && !goRegexp(tb, p).MatchString(v) {
			fail("%q does not match %s", v, p)
		}
		if n, ok := s["maxLength"].(float64); ok && float64(utf8.RuneCountInString(v)) > n {
			fail("%q is longer than %v", v, n)
		}
		if n, ok := s["minLength"].(float64); ok && float64(utf8.RuneCountInString(v)) < n {
			fail("%q is shorter than %v", v, n)
		}
	case float64:
		if n, ok := s["minimum"].(float64); ok && v < n {
			fail("%v is below %v", v, n)
		}
		if n, ok := s["maximum"].(float64); ok && v > n {
			fail("%v is above %v", v, n)
		}
	case []any:
		if n, ok := s["maxItems"].(float64); ok && float64(len(v)) > n {
			fail("%d items, more than %v", len(v), n)
		}
		if n, ok := s["minItems"].(float64); ok && float64(len(v)) < n {
			fail("%d items, fewer than %v", len(v), n)
		}
		if s["uniqueItems"] == true {
			for i := range v {
				for j := range i {
					if reflect.DeepEqual(v[i], v[j]) {
						fail("items %d and %d are equal", j, i)
					}
				}
			}
		}
		if items, ok := s["items"]; ok {
			for i, x := range v {
				errs = append(errs, doc.check(tb, items, x, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	case map[string]any:
		for _, r := range asList(s["required"]) {
			if _, ok := v[r.(string)]; !ok {
				fail("member %s is required", r)
			}
		}
		props := obj(s, "properties")
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if pn, ok := s["propertyNames"]; ok {
				errs = append(errs, doc.check(tb, pn, k, at+"."+k+" (name)")...)
			}
			if p, ok := props[k]; ok {
				errs = append(errs, doc.check(tb, p, v[k], at+"."+k)...)
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case bool:
				if !ap {
					fail("member %s is not allowed", k)
				}
			case map[string]any:
				errs = append(errs, doc.check(tb, ap, v[k], at+"."+k)...)
			}
		}
	}
	for _, sub := range asList(s["allOf"]) {
		errs = append(errs, doc.check(tb, sub, v, at)...)
	}
	if l := asList(s["anyOf"]); l != nil && !slices.ContainsFunc(l, func(sub any) bool { return len(doc.check(tb, sub, v, at)) == 0 }) {
		fail("matches none of anyOf")
	}
	if l := asList(s["oneOf"]); l != nil {
		n := 0
		var why []string
		for _, sub := range l {
			e := doc.check(tb, sub, v, at)
			if len(e) == 0 {
				n++
			}
			why = append(why, e...)
		}
		if n != 1 {
			fail("matches %d of oneOf, want 1: %s", n, strings.Join(why, "; "))
		}
	}
	if not, ok := s["not"]; ok && len(doc.check(tb, not, v, at)) == 0 {
		fail("matches not")
	}
	if cond, ok := s["if"]; ok {
		if len(doc.check(tb, cond, v, at)) == 0 {
			errs = append(errs, doc.check(tb, s["then"], v, at)...)
		} else {
			errs = append(errs, doc.check(tb, s["else"], v, at)...)
		}
	}
	return errs
}

func jsonType(v any, t string) bool {
	switch t {
	case "null":
		return v == nil
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "number":
		_, ok := v.(float64)
		return ok
	case "integer":
		f, ok := v.(float64)
		return ok && f == math.Trunc(f)
	case "array":
		_, ok := v.([]any)
		return ok
	case "object":
		_, ok := v.(map[string]any)
		return ok
	}
	panic("unknown JSON type " + t)
}

// goRegexp compiles an ECMA-262 pattern of the document, whose \uXXXX escapes RE2 spells
// \x{XXXX}.
func goRegexp(tb testing.TB, p string) *regexp.Regexp {
	tb.Helper()
	re, err := regexp.Compile(regexp.MustCompile(`\\u([0-9a-fA-F]{4})`).ReplaceAllString(p, `\x{$1}`))
	require.NoError(tb, err, "pattern %s", p)
	return re
}
