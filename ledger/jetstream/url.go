package jetstream

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// ReplicasMax bounds the replicas a URL may ask for (JetStream allows at most 5).
const ReplicasMax = 5

// ParseURL reads a store URL of the form
//
//	nats://[user:password@|token@]host:port[,host:port...]/STREAM[?replicas=3&creds=FILE&timeout=10s&prefix=SUBJECT]
//
// (scheme tls:// for TLS). It returns the server list for nats.Connect, the connection
// options the URL asks for (user and password, token, or a credentials file) and the
// Store's Config. Unknown parameters are an error, so that a typo never goes unnoticed.
func ParseURL(raw string) (servers string, opts []nats.Option, cfg Config, err error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok || (scheme != "nats" && scheme != "tls") {
		return "", nil, cfg, fmt.Errorf("jetstream: store URL %q: want nats://host:port/STREAM or tls://host:port/STREAM", redact(raw))
	}
	rest, query, _ := strings.Cut(rest, "?")
	hosts, path, _ := strings.Cut(rest, "/")
	if user, h, ok := strings.Cut(hosts, "@"); ok {
		hosts = h
		name, pass, hasPass := strings.Cut(user, ":")
		if name, err = url.PathUnescape(name); err != nil {
			return "", nil, cfg, fmt.Errorf("jetstream: store URL: user: %w", err)
		}
		if pass, err = url.PathUnescape(pass); err != nil {
			return "", nil, cfg, fmt.Errorf("jetstream: store URL: password: %w", err)
		}
		if hasPass {
			opts = append(opts, nats.UserInfo(name, pass))
		} else {
			opts = append(opts, nats.Token(name))
		}
	}
	if hosts == "" {
		return "", nil, cfg, fmt.Errorf("jetstream: store URL %q: no host", redact(raw))
	}
	var list []string
	for _, h := range strings.Split(hosts, ",") {
		if h == "" || strings.ContainsAny(h, "/@ ") {
			return "", nil, cfg, fmt.Errorf("jetstream: store URL %q: bad host %q", redact(raw), h)
		}
		list = append(list, scheme+"://"+h)
	}
	cfg.Stream = strings.TrimSuffix(path, "/")
	if err := validStreamName(cfg.Stream); err != nil {
		return "", nil, cfg, fmt.Errorf("jetstream: store URL %q: %w", redact(raw), err)
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", nil, cfg, fmt.Errorf("jetstream: store URL parameters: %w", err)
	}
	for key, vals := range q {
		v := vals[len(vals)-1]
		switch key {
		case "replicas":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > ReplicasMax {
				return "", nil, cfg, fmt.Errorf("jetstream: store URL: replicas=%q: want 1 to %d (ReplicasMax)", v, ReplicasMax)
			}
			cfg.Replicas = n
		case "creds":
			if v == "" {
				return "", nil, cfg, fmt.Errorf("jetstream: store URL: creds: a file name is required")
			}
			opts = append(opts, nats.UserCredentials(v))
		case "timeout":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return "", nil, cfg, fmt.Errorf("jetstream: store URL: timeout=%q: want a positive duration such as 10s", v)
			}
			cfg.RequestTimeout = d
		case "prefix":
			if v == "" || strings.ContainsAny(v, "*> \t") || strings.HasPrefix(v, ".") || strings.HasSuffix(v, ".") {
				return "", nil, cfg, fmt.Errorf("jetstream: store URL: prefix=%q: want a subject without wildcards", v)
			}
			cfg.SubjectPrefix = v
		default:
			return "", nil, cfg, fmt.Errorf("jetstream: store URL: unknown parameter %q (known: replicas, creds, timeout, prefix)", key)
		}
	}
	return strings.Join(list, ","), opts, cfg, nil
}

// redact hides a password or token in a URL for error messages.
func redact(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	if i := strings.Index(rest, "@"); i >= 0 && !strings.Contains(rest[:i], "/") {
		return scheme + "://***@" + rest[i+1:]
	}
	return raw
}

// Open connects to the servers named by a store URL (see ParseURL) and opens the log
// (see New). Extra connection options, such as a name or TLS settings, follow the URL's.
// Close closes the connection.
func Open(ctx context.Context, rawURL string, extra ...nats.Option) (*Store, error) {
	servers, opts, cfg, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	opts = append([]nats.Option{nats.Name("techledger"), nats.MaxReconnects(-1)}, append(opts, extra...)...)
	nc, err := nats.Connect(servers, opts...)
	if err != nil {
		return nil, fmt.Errorf("jetstream: connect to %s: %w", servers, err)
	}
	s, err := New(ctx, nc, cfg)
	if err != nil {
		nc.Close()
		return nil, err
	}
	s.ownConn = true
	return s, nil
}
