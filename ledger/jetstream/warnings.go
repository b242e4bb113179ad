package jetstream

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// StreamWarnings inspects a stream's configuration and returns one sentence for each
// setting that is unsafe for a ledger: storage that does not survive a restart, too few
// replicas on a cluster, a retention policy, limit or TTL that deletes records, deletes,
// purges or rollups allowed, asynchronous persistence. clustered says whether the server
// is part of a cluster. It returns nil for a safe stream.
func StreamWarnings(info *jetstream.StreamInfo, clustered bool) []string {
	c := &info.Config
	var w []string
	add := func(format string, args ...any) { w = append(w, fmt.Sprintf(format, args...)) }
	if c.Storage == jetstream.MemoryStorage {
		add("stream %s uses memory storage: the ledger is lost when the server stops", c.Name)
	}
	switch {
	case clustered && c.Replicas < 3:
		add("stream %s has %d replica(s) on a cluster: losing one server loses or stops the ledger; use replicas=3", c.Name, c.Replicas)
	case clustered && c.Replicas%2 == 0:
		add("stream %s has an even number of replicas (%d): it tolerates no more failures than %d", c.Name, c.Replicas, c.Replicas-1)
	}
	if c.Retention != jetstream.LimitsPolicy {
		add("stream %s has retention %s: messages are deleted once consumed; a ledger needs limits retention", c.Name, c.Retention)
	}
	limits := map[string]bool{
		"max_msgs":             c.MaxMsgs > 0,
		"max_bytes":            c.MaxBytes > 0,
		"max_age":              c.MaxAge > 0,
		"max_msgs_per_subject": c.MaxMsgsPerSubject > 0,
	}
	var set []string
	for name, on := range limits {
		if on {
			set = append(set, name)
		}
	}
	sort.Strings(set)
	for _, name := range set {
		if name == "max_age" {
			add("stream %s sets max_age %v: the server deletes older records", c.Name, c.MaxAge)
		} else if c.Discard == jetstream.DiscardOld {
			add("stream %s sets %s with discard old: the server deletes old records", c.Name, name)
		} else {
			add("stream %s sets %s: appends are refused once it is reached", c.Name, name)
		}
	}
	if !c.DenyDelete {
		add("stream %s allows deleting messages (deny_delete is off): records can be removed through the API", c.Name)
	}
	if !c.DenyPurge {
		add("stream %s allows purging (deny_purge is off): the whole ledger can be removed through the API", c.Name)
	}
	if c.AllowRollup {
		add("stream %s allows rollups: one message can replace a ledger stream's history", c.Name)
	}
	if c.AllowMsgTTL || c.SubjectDeleteMarkerTTL > 0 {
		add("stream %s allows per-message TTLs: records can expire", c.Name)
	}
	if c.PersistMode == jetstream.AsyncPersistMode {
		add("stream %s uses asynchronous persistence: acknowledged appends can be lost in a crash", c.Name)
	}
	if c.Sealed {
		add("stream %s is sealed: appends fail", c.Name)
	}
	return w
}

// Warnings inspects the Store's stream and, where the connection's account can see it,
// the servers' sync setting (see ServerSyncWarnings), and returns one sentence for each
// setting unsafe for a ledger; none means the setup is safe as far as it can be seen.
func (s *Store) Warnings(ctx context.Context) ([]string, error) {
	rctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	info, err := s.stream.Info(rctx)
	if err != nil {
		return nil, fmt.Errorf("jetstream: stream %s info: %w", s.cfg.Stream, err)
	}
	clustered := s.nc.ConnectedClusterName() != "" || (info.Cluster != nil && info.Cluster.Name != "")
	w := StreamWarnings(info, clustered)
	if info.Config.Replicas != s.cfg.Replicas {
		w = append(w, fmt.Sprintf("stream %s has %d replica(s), %d were asked for: an existing stream is not changed", s.cfg.Stream, info.Config.Replicas, s.cfg.Replicas))
	}
	return append(w, ServerSyncWarnings(ctx, s.nc)...), nil
}

// syncWaitMax bounds how long ServerSyncWarnings waits for servers to answer.
const syncWaitMax = 500 * time.Millisecond

// ServerSyncWarnings asks every server for its JetStream configuration (the system
// account's $SYS.REQ.SERVER.PING.JSZ) and warns for each server that does not sync every
// write: there an acknowledged append can be lost if the machine loses power. If no server
// answers (the account cannot see the system subjects), it says the setting could not be
// confirmed.
func ServerSyncWarnings(ctx context.Context, nc *nats.Conn) []string {
	const unknown = "the servers' sync setting cannot be seen from this account: unless every server sets jetstream { sync_interval: always }, an acknowledged append can be lost when a machine loses power (the default syncs every 2 minutes)"
	inbox := nc.NewRespInbox()
	ch := make(chan *nats.Msg, 64)
	sub, err := nc.ChanSubscribe(inbox, ch)
	if err != nil {
		return []string{unknown}
	}
	defer sub.Unsubscribe()
	if err := nc.PublishRequest("$SYS.REQ.SERVER.PING.JSZ", inbox, []byte("{}")); err != nil {
		return []string{unknown}
	}
	var w []string
	answered := 0
	timer := time.NewTimer(syncWaitMax)
	defer timer.Stop()
	for {
		select {
		case m := <-ch:
			if m.Header.Get("Status") == "503" { // no responders: not the system account
				return []string{unknown}
			}
			var resp struct {
				Server struct {
					Name string `json:"name"`
				} `json:"server"`
				Data struct {
					Config struct {
						SyncAlways   bool          `json:"sync_always"`
						SyncInterval time.Duration `json:"sync_interval"`
					} `json:"config"`
				} `json:"data"`
			}
			if json.Unmarshal(m.Data, &resp) != nil {
				continue
			}
			answered++
			if c := resp.Data.Config; !c.SyncAlways {
				every := "2m0s (the default)"
				if c.SyncInterval > 0 {
					every = c.SyncInterval.String()
				}
				w = append(w, fmt.Sprintf("server %s syncs JetStream writes every %s, not always: an acknowledged append can be lost when its machine loses power", resp.Server.Name, every))
			}
		case <-timer.C:
			if answered == 0 {
				return []string{unknown}
			}
			sort.Strings(w)
			return w
		case <-ctx.Done():
			return append(w, unknown)
		}
	}
}
