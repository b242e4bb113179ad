package jetstream_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/ledger/jetstream"
)

func TestParseURL(t *testing.T) {
	servers, opts, cfg, err := jetstream.ParseURL("nats://alice:s%40cret@h1:4222,h2:4223/LEDGER?replicas=3&timeout=5s&creds=/etc/x.creds")
	require.NoError(t, err)
	assert.Equal(t, "nats://h1:4222,nats://h2:4223", servers)
	assert.Len(t, opts, 2, "user/password and credentials")
	assert.Equal(t, "LEDGER", cfg.Stream)
	assert.Equal(t, 3, cfg.Replicas)
	assert.Equal(t, 5*time.Second, cfg.RequestTimeout)

	servers, opts, cfg, err = jetstream.ParseURL("nats://127.0.0.1:4222/L")
	require.NoError(t, err)
	assert.Equal(t, "nats://127.0.0.1:4222", servers)
	assert.Empty(t, opts)
	assert.Equal(t, 0, cfg.Replicas, "New applies the default")

	for _, bad := range []string{
		"http://h:1/L",
		"nats://h:1",
		"nats://h:1/",
		"nats://h:1/a.b",
		"nats:///L",
		"nats://h:1/L?replicas=0",
		"nats://h:1/L?replicas=7",
		"nats://h:1/L?replica=3",
		"nats://h:1/L?timeout=-1s",
		"nats://h:1/L?prefix=a.*",
	} {
		_, _, _, err := jetstream.ParseURL(bad)
		assert.Error(t, err, bad)
	}
	_, _, _, err = jetstream.ParseURL("http://bob:hunter2@h:1/L")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "hunter2", "errors never show a password")
}
