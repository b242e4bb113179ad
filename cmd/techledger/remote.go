package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"techledger/commands"
	"techledger/internal/loadgen"
)

// remoteRequestTimeout bounds one request of an import into a server.
const remoteRequestTimeout = time.Minute

// remote applies an import's commands by posting them to a running server
// (POST /v1/commands) and looks contracts up with GET /v1/contracts/{id}. The server
// records the token's name and role as each event's actor.
type remote struct {
	url    string // base URL, without a trailing slash
	token  string
	client *http.Client
}

func newRemote(base, token string, lanes int) (*remote, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("url: want http://host:port or https://host:port, got %q", base)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = lanes
	return &remote{url: strings.TrimRight(base, "/"), token: token, client: &http.Client{Transport: tr, Timeout: remoteRequestTimeout}}, nil
}

// Apply posts one command. A 4xx answer with a rejection code is a rejection whose text
// is the server's detail (the text a local import prints); any other answer but 200 and
// 201 is a failure that stops the import.
func (r *remote) Apply(ctx context.Context, line []byte) (commands.Outcome, error) {
	status, body, err := r.do(ctx, http.MethodPost, "/v1/commands", line)
	if err != nil {
		return commands.Outcome{}, err
	}
	if status == http.StatusCreated || status == http.StatusOK {
		var out commands.Outcome
		if err := json.Unmarshal(body, &out); err != nil || len(out.Positions) == 0 {
			return commands.Outcome{}, fmt.Errorf("server answered %d with %q", status, loadgen.Clip(body))
		}
		return out, nil
	}
	var p struct {
		Code   commands.Code `json:"code"`
		Detail string        `json:"detail"`
	}
	_ = json.Unmarshal(body, &p)
	if status >= 400 && status < 500 && p.Code != "" {
		return commands.Outcome{}, &commands.Error{Code: p.Code, Rule: p.Detail}
	}
	return commands.Outcome{}, fmt.Errorf("server answered %d: %s", status, cmp.Or(p.Detail, loadgen.Clip(body)))
}

// AchievementOf reads the contract from the server ("" if it is not registered).
func (r *remote) AchievementOf(ctx context.Context, contractID string) (string, error) {
	status, body, err := r.do(ctx, http.MethodGet, "/v1/contracts/"+url.PathEscape(contractID), nil)
	switch {
	case err != nil:
		return "", err
	case status == http.StatusNotFound:
		return "", nil
	case status != http.StatusOK:
		return "", fmt.Errorf("GET /v1/contracts/%s answered %d", contractID, status)
	}
	var c struct {
		AchievementID string `json:"achievement_id"`
	}
	err = json.Unmarshal(body, &c)
	return c.AchievementID, err
}

// check asks GET /healthz, so that a wrong URL fails before the first line.
func (r *remote) check(ctx context.Context) error {
	status, body, err := r.do(ctx, http.MethodGet, "/healthz", nil)
	if err == nil && status != http.StatusOK {
		err = fmt.Errorf("GET /healthz answered %d: %s", status, loadgen.Clip(body))
	}
	if err != nil {
		return fmt.Errorf("server %s: %w", r.url, err)
	}
	return nil
}

func (r *remote) do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, r.url+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, commands.CommandBytesMax))
	if err != nil {
		return 0, nil, fmt.Errorf("read answer: %w", err)
	}
	return resp.StatusCode, b, nil
}
