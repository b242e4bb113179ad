package server

import (
	_ "embed"
	"net/http"
)

// openAPIDocument is the OpenAPI 3.1 description of the HTTP API (openapi.json next to
// this file). openapi_test.go checks it against Server.Routes and the real handlers.
//
//go:embed openapi.json
var openAPIDocument []byte

// getOpenAPI answers GET /openapi.json, open to anyone: the OpenAPI document.
func (s *Server) getOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPIDocument)
}
