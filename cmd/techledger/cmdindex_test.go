package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/commands"
	"techledger/ledger"
	"techledger/ledger/filestore"
)

// TestWarmHandler_MappedIndex saves a handler's command index the way serve does, then
// starts a new handler on the same store from it (mapped, not read into memory): it
// reports the index loaded, catches up on what was appended after the save, and answers a
// command sent before the save and one sent after as duplicates, and a changed one as a
// conflict. A damaged index is ignored with a warning and the log read instead.
func TestWarmHandler_MappedIndex(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	snap := filepath.Join(dir, "projections")
	s, err := filestore.Open(filepath.Join(dir, "data"), filestore.Options{})
	require.NoError(t, err)
	defer s.Close()
	who := commands.Actor{Name: "t", Role: "registrar"}
	h := commands.NewHandler(s)
	for i := range 20 {
		_, err := h.HandleJSON(ctx, []byte(registerN(i)), who)
		require.NoError(t, err)
	}
	pos, err := saveCommandIndex(ctx, h, snap)
	require.NoError(t, err)
	require.Positive(t, pos)
	_, err = h.HandleJSON(ctx, []byte(registerN(20)), who)
	require.NoError(t, err)

	for _, damaged := range []bool{false, true} {
		t.Run(fmt.Sprintf("damaged=%v", damaged), func(t *testing.T) {
			if damaged {
				b, err := os.ReadFile(filepath.Join(snap, commandIndexFile))
				require.NoError(t, err)
				b[len(b)/2] ^= 1
				// Replaced by renaming, as serve does: the file mapped above is not changed.
				require.NoError(t, os.WriteFile(filepath.Join(snap, "damaged"), b, 0o644))
				require.NoError(t, os.Rename(filepath.Join(snap, "damaged"), filepath.Join(snap, commandIndexFile)))
			}
			var logs bytes.Buffer
			fresh := commands.NewHandler(s)
			mapped, err := warmHandler(ctx, fresh, snap, slog.New(slog.NewTextHandler(&logs, nil)))
			require.NoError(t, err)
			assert.Equal(t, !damaged, mapped != nil, "the handler answers from the mapped file")
			if damaged {
				assert.Contains(t, logs.String(), "command index ignored")
			} else {
				assert.Contains(t, logs.String(), fmt.Sprintf("command index loaded\" position=%d", pos))
			}
			head, _ := s.Head(ctx)
			assert.Equal(t, head, fresh.IndexPosition())
			for _, i := range []int{3, 20} {
				out, err := fresh.HandleJSON(ctx, []byte(registerN(i)), who)
				require.NoError(t, err)
				assert.Equal(t, commands.StatusDuplicate, out.Status, "contract %d", i)
			}
			changed := bytes.Replace([]byte(registerN(3)), []byte(`"title":"`), []byte(`"title":"x`), 1)
			require.NotEqual(t, registerN(3), string(changed))
			_, err = fresh.HandleJSON(ctx, changed, who)
			assert.Equal(t, commands.CodeConflict, commands.CodeOf(err))
		})
	}
}

// TestUseSavedIndex: after a periodic save, the handler switches to the file just saved
// (a new mapping; the one it answered from is released) and answers every command sent
// before and after as duplicates.
func TestUseSavedIndex(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	snap := filepath.Join(dir, "projections")
	s, err := filestore.Open(filepath.Join(dir, "data"), filestore.Options{})
	require.NoError(t, err)
	defer s.Close()
	who := commands.Actor{Name: "t", Role: "registrar"}
	h := commands.NewHandler(s)
	for i := range 10 {
		_, err := h.HandleJSON(ctx, []byte(registerN(i)), who)
		require.NoError(t, err)
	}
	_, err = saveCommandIndex(ctx, h, snap)
	require.NoError(t, err)
	h = commands.NewHandler(s)
	mapped, err := warmHandler(ctx, h, snap, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	require.NotNil(t, mapped)
	for i := 10; i < 20; i++ {
		_, err := h.HandleJSON(ctx, []byte(registerN(i)), who)
		require.NoError(t, err)
	}
	pos, err := saveCommandIndex(ctx, h, snap)
	require.NoError(t, err)
	_, err = h.HandleJSON(ctx, []byte(registerN(20)), who)
	require.NoError(t, err)
	now, err := useSavedIndex(ctx, h, snap, mapped)
	require.NoError(t, err)
	require.NotNil(t, now)
	assert.Equal(t, pos, ledger.Position(binary.BigEndian.Uint64(now[9:])), "the new mapping is the second save")
	for _, i := range []int{0, 15, 20} {
		out, err := h.HandleJSON(ctx, []byte(registerN(i)), who)
		require.NoError(t, err)
		assert.Equal(t, commands.StatusDuplicate, out.Status, "contract %d", i)
	}
}
