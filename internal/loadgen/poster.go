package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"techledger/commands"
)

// poster sends one command and returns the answer's status and body.
type poster interface {
	post(ctx context.Context, body []byte, buf *bytes.Buffer) (status int, err error)
	close()
}

// newPoster returns the cheapest poster for u: for plain http, a connPoster; otherwise
// the net/http client.
func newPoster(u string, token string, client *http.Client) poster {
	pu, err := url.Parse(u)
	if err == nil && pu.Scheme == "http" && pu.Port() != "" && pu.Path == "" {
		return &connPoster{addr: pu.Host, token: token}
	}
	return &clientPoster{url: u + "/v1/commands", token: token, client: client}
}

// clientPoster posts through net/http's client.
type clientPoster struct {
	url, token string
	client     *http.Client
}

func (p *clientPoster) post(ctx context.Context, body []byte, buf *bytes.Buffer) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if p.token != "" {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	buf.Reset()
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, commands.CommandBytesMax)); err != nil {
		return 0, fmt.Errorf("read answer: %w", err)
	}
	return resp.StatusCode, nil
}

func (p *clientPoster) close() {}

// connPoster posts over one kept-alive HTTP/1.1 connection of its own, writing the
// request itself and reading the answer with net/http's parser. A load generator must
// cost little next to the server it measures: this saves net/http's transport machinery
// (two goroutines and channel hand-offs per request), about a third of the client's CPU.
// After an error the connection is dropped and the next post dials again; a post is
// never retried (the bench counts it as failed).
type connPoster struct {
	addr, token string
	conn        net.Conn
	br          *bufio.Reader
	bw          *bufio.Writer
}

func (p *connPoster) post(ctx context.Context, body []byte, buf *bytes.Buffer) (int, error) {
	if p.conn == nil {
		c, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", p.addr)
		if err != nil {
			return 0, err
		}
		p.conn, p.br, p.bw = c, bufio.NewReaderSize(c, 16<<10), bufio.NewWriterSize(c, 16<<10)
	}
	status, keep, err := p.roundTrip(body, buf)
	if err != nil || !keep {
		p.close()
	}
	return status, err
}

func (p *connPoster) roundTrip(body []byte, buf *bytes.Buffer) (int, bool, error) {
	if err := p.conn.SetDeadline(time.Now().Add(requestTimeout)); err != nil {
		return 0, false, err
	}
	p.bw.WriteString("POST /v1/commands HTTP/1.1\r\nHost: ")
	p.bw.WriteString(p.addr)
	p.bw.WriteString("\r\nContent-Type: application/json\r\nContent-Length: ")
	p.bw.WriteString(strconv.Itoa(len(body)))
	if p.token != "" {
		p.bw.WriteString("\r\nAuthorization: Bearer ")
		p.bw.WriteString(p.token)
	}
	p.bw.WriteString("\r\n\r\n")
	p.bw.Write(body)
	if err := p.bw.Flush(); err != nil {
		return 0, false, err
	}
	resp, err := http.ReadResponse(p.br, nil)
	if err != nil {
		return 0, false, err
	}
	buf.Reset()
	_, err = buf.ReadFrom(io.LimitReader(resp.Body, commands.CommandBytesMax))
	resp.Body.Close()
	if err != nil {
		return 0, false, fmt.Errorf("read answer: %w", err)
	}
	return resp.StatusCode, !resp.Close, nil
}

func (p *connPoster) close() {
	if p.conn != nil {
		p.conn.Close()
		p.conn = nil
	}
}
