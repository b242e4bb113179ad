package kurrent

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// StreamNameBytesMax bounds the name of the KurrentDB stream holding the log.
const StreamNameBytesMax = 100

// knownParams are the connection-string settings EventStore-Client-Go v4 reads (lowercase);
// it only warns about others, so a typo would go unnoticed: ParseURL refuses them.
var knownParams = map[string]bool{
	"discoveryinterval": true, "gossiptimeout": true, "maxdiscoverattempts": true, "nodepreference": true,
	"keepaliveinterval": true, "keepalivetimeout": true, "tls": true, "tlscafile": true,
	"usercertfile": true, "userkeyfile": true, "tlsverifycert": true, "defaultdeadline": true,
}

// ParseURL splits a store URL
//
//	esdb://[user:password@]host:2113/STREAM[?tls=false&...]
//	esdb+discover://[user:password@]host:2113[,host:2113...]/STREAM[?...]
//
// (kurrentdb:// and kurrentdb+discover:// are accepted as the same) into the client's
// connection string (the URL without the stream) and the name of the KurrentDB stream holding
// the log. It refuses what the client would silently get wrong: settings it does not know,
// a defaultDeadline that is not a positive number of milliseconds (it would become zero and
// every append would time out), and credentials with tls=false (v4 drops them).
func ParseURL(raw string) (conn, stream string, err error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	switch {
	case !ok:
		return "", "", fmt.Errorf("kurrent: store URL %q: want esdb://host:2113/STREAM", redact(raw))
	case scheme == "kurrentdb":
		scheme = "esdb"
	case scheme == "kurrentdb+discover":
		scheme = "esdb+discover"
	case scheme != "esdb" && scheme != "esdb+discover":
		return "", "", fmt.Errorf("kurrent: store URL %q: scheme %q: want esdb:// or esdb+discover://", redact(raw), scheme)
	}
	rest, query, _ := strings.Cut(rest, "?")
	hosts, path, _ := strings.Cut(rest, "/")
	userinfo := ""
	if i := strings.LastIndex(hosts, "@"); i >= 0 {
		userinfo, hosts = hosts[:i], hosts[i+1:]
	}
	if hosts == "" {
		return "", "", fmt.Errorf("kurrent: store URL %q: no host", redact(raw))
	}
	for _, h := range strings.Split(hosts, ",") {
		if h == "" || strings.ContainsAny(h, " /") {
			return "", "", fmt.Errorf("kurrent: store URL %q: bad host %q", redact(raw), h)
		}
	}
	if strings.Contains(hosts, ",") && scheme == "esdb" {
		return "", "", fmt.Errorf("kurrent: store URL %q: several hosts need esdb+discover://", redact(raw))
	}
	stream = strings.TrimSuffix(path, "/")
	if err := validStreamName(stream); err != nil {
		return "", "", fmt.Errorf("kurrent: store URL %q: %w", redact(raw), err)
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", "", fmt.Errorf("kurrent: store URL parameters: %w", err)
	}
	tls := true
	for key, vals := range q {
		k := strings.ToLower(key)
		v := vals[len(vals)-1]
		switch {
		case !knownParams[k]:
			return "", "", fmt.Errorf("kurrent: store URL: unknown parameter %q", key)
		case k == "defaultdeadline":
			if n, err := strconv.ParseInt(v, 10, 64); err != nil || n <= 0 {
				return "", "", fmt.Errorf("kurrent: store URL: defaultDeadline=%q: want a positive number of milliseconds", v)
			}
		case k == "tls":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return "", "", fmt.Errorf("kurrent: store URL: tls=%q: want true or false", v)
			}
			tls = b
		}
	}
	if userinfo != "" && !tls {
		return "", "", fmt.Errorf("kurrent: store URL %q: credentials with tls=false would be dropped by the client: use TLS", redact(raw))
	}
	conn = scheme + "://"
	if userinfo != "" {
		conn += userinfo + "@"
	}
	conn += hosts
	if query != "" {
		conn += "?" + query
	}
	return conn, stream, nil
}

// validStreamName accepts letters, digits, '-', '_' and '.', not starting with '$' (KurrentDB's
// system streams).
func validStreamName(name string) error {
	if name == "" {
		return fmt.Errorf("a stream name is required (esdb://host:2113/STREAM)")
	}
	if len(name) > StreamNameBytesMax {
		return fmt.Errorf("stream name %q: longer than StreamNameBytesMax (%d)", name, StreamNameBytesMax)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("stream name %q: only letters, digits, '-', '_' and '.' are allowed", name)
		}
	}
	return nil
}

// redact hides a password in a URL for error messages.
func redact(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	host, _, _ := strings.Cut(rest, "/")
	if i := strings.LastIndex(host, "@"); i >= 0 {
		return scheme + "://***@" + rest[i+1:]
	}
	return raw
}
