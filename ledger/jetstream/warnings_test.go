package jetstream_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/ledger/jetstream"
)

// TestStore_Warnings: a stream the Store made is safe except that the server's sync
// setting is invisible to an ordinary account; a stream made by hand with unsafe settings
// gets one warning per setting.
func TestStore_Warnings(t *testing.T) {
	srv := runServer(t)
	nc := connect(t, srv.ClientURL())
	s := openStore(t, nc, newStreamName())
	w, err := s.Warnings(ctx)
	require.NoError(t, err)
	require.Len(t, w, 1, "%q", w)
	assert.Contains(t, w[0], "sync setting cannot be seen")

	name := newStreamName()
	js, err := natsjs.New(nc)
	require.NoError(t, err)
	_, err = js.CreateStream(ctx, natsjs.StreamConfig{
		Name: name, Subjects: []string{"techledger.log." + name + ".>"},
		Storage: natsjs.MemoryStorage, MaxAge: time.Hour, MaxMsgs: 1000, Discard: natsjs.DiscardOld, AllowRollup: true,
	})
	require.NoError(t, err)
	bad := openStore(t, nc, name)
	w, err = bad.Warnings(ctx)
	require.NoError(t, err)
	all := strings.Join(w, "\n")
	for _, want := range []string{"memory storage", "max_age 1h0m0s: the server deletes older records", "max_msgs with discard old", "deleting messages", "purging", "rollups", "sync setting"} {
		assert.Contains(t, all, want)
	}
}

// TestServerSyncWarnings runs servers with a system account and checks that a server
// syncing every 2 minutes is named and one syncing always is not.
func TestServerSyncWarnings(t *testing.T) {
	for _, tc := range []struct {
		sync string
		want string
	}{
		{"always", ""},
		{`"2m"`, "server tl-sync syncs JetStream writes every 2m0s"},
	} {
		dir := t.TempDir()
		conf := filepath.Join(dir, "nats.conf")
		require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf(`
server_name: tl-sync
listen: "127.0.0.1:-1"
jetstream { store_dir: %q, sync_interval: %s }
accounts {
  SYS { users [{user: sys, password: sys}] }
  APP { jetstream: enabled, users [{user: app, password: app}] }
}
system_account: SYS
no_auth_user: app
`, filepath.Join(dir, "js"), tc.sync)), 0o600))
		opts, err := server.ProcessConfigFile(conf)
		require.NoError(t, err)
		opts.NoLog, opts.NoSigs = true, true
		srv, err := server.NewServer(opts)
		require.NoError(t, err)
		go srv.Start()
		require.True(t, srv.ReadyForConnections(10*time.Second))
		t.Cleanup(srv.Shutdown)
		sys := connect(t, strings.Replace(srv.ClientURL(), "nats://", "nats://sys:sys@", 1))
		w := jetstream.ServerSyncWarnings(ctx, sys)
		if tc.want == "" {
			assert.Empty(t, w, "sync %s", tc.sync)
		} else {
			require.Len(t, w, 1)
			assert.Contains(t, w[0], tc.want)
		}
	}
}
