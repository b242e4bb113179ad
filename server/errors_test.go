package server

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestAPI_ProblemListsEveryField: a registration missing its title and with a bad amount
// is rejected naming both, in the problem's errors list; field and rule are the first.
func TestAPI_ProblemListsEveryField(t *testing.T) {
	srv := newAPI(t)
	bad := strings.Replace(strings.Replace(register, `"title":"煤矸石综合利用技术转让"`, `"title":""`, 1), `"amount":"1200000.00"`, `"amount":"12,00"`, 1)
	code, body := post(t, srv, bad)
	assert.Equal(t, http.StatusUnprocessableEntity, code)
	errs, _ := body["errors"].([]any)
	var fields []string
	for _, e := range errs {
		m, _ := e.(map[string]any)
		fields = append(fields, m["field"].(string))
		assert.NotEmpty(t, m["rule"])
	}
	assert.Equal(t, []string{"title", "amount"}, fields)
	assert.Equal(t, "title", body["field"])
}
