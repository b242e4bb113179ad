package commands_test

import (
	"bytes"
	"context"
	"fmt"
	"iter"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/commands"
	"techledger/ledger"
	"techledger/ledger/memstore"
)

// countingLog counts the records its ReadAll yields.
type countingLog struct {
	*memstore.Store
	read int
}

func (l *countingLog) ReadAll(ctx context.Context, from ledger.Position) iter.Seq2[ledger.Record, error] {
	return func(yield func(ledger.Record, error) bool) {
		for rec, err := range l.Store.ReadAll(ctx, from) {
			l.read++
			if !yield(rec, err) {
				return
			}
		}
	}
}

// fillLog registers n contracts with a payment each and an exclusive use grant on one
// achievement, through h.
func fillLog(t testing.TB, h *commands.Handler, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		id := fmt.Sprintf("2023140101%06d", i)
		handle(t, h, register(id, fmt.Sprintf("c-%d", i), "1000.00"))
		handle(t, h, payment(id, "P-1", "10.00"))
	}
}

// TestHandler_SaveLoadIndex saves a handler's index, loads it into a new handler over the
// same log, and checks that the new handler answers every repeated command as one that
// read the whole log does (duplicate with the original positions, conflict for other
// content, the grants in force), while reading only the records after the saved position.
func TestHandler_SaveLoadIndex(t *testing.T) {
	l := &countingLog{Store: memstore.New()}
	h := newHandler(l)
	fillLog(t, h, 0, 50)
	handle(t, h, useGrant("2023140101000001", "u-1", "exclusive", "2023-04-01", "2028-03-31"))
	var buf bytes.Buffer
	pos, err := h.SaveIndex(ctx, &buf)
	require.NoError(t, err)
	require.Equal(t, head(t, l), pos)
	fillLog(t, h, 50, 5) // after the save: the loaded index catches up on these

	loaded := newHandler(l)
	got, err := loaded.LoadIndex(ctx, bytes.NewReader(buf.Bytes()))
	require.NoError(t, err)
	require.Equal(t, pos, got)
	l.read = 0
	require.NoError(t, loaded.CatchUp(ctx))
	assert.Equal(t, 10, l.read, "only the records after the saved position are read")
	read := newHandler(l) // the second way: an index built from the whole log

	for _, h := range []*commands.Handler{loaded, read} {
		for _, i := range []int{0, 17, 49, 52} {
			id := fmt.Sprintf("2023140101%06d", i)
			out := handle(t, h, register(id, fmt.Sprintf("c-%d", i), "1000.00"))
			assert.Equal(t, commands.StatusDuplicate, out.Status)
			assert.Equal(t, []ledger.Position{ledger.Position(2*i + 1 + min(i/50, 1))}, out.Positions, "contract %d", i)
			assert.Equal(t, id, out.ContractID)
			_, err := h.HandleJSON(ctx, []byte(register(id, fmt.Sprintf("c-%d", i), "999.00")), registrar)
			assert.Equal(t, commands.CodeConflict, commands.CodeOf(err))
		}
		_, err := h.HandleJSON(ctx, []byte(useGrant("2023140101000002", fmt.Sprintf("u-x-%p", h), "sole", "2024-01-01", "2025-01-01")), registrar)
		assert.Equal(t, commands.CodeConflict, commands.CodeOf(err), "the grant saved with the index blocks an overlapping one")
	}

	// Save again after loading: the same bytes for the same log.
	var again, fromRead bytes.Buffer
	_, err = loaded.SaveIndex(ctx, &again)
	require.NoError(t, err)
	_, err = read.SaveIndex(ctx, &fromRead)
	require.NoError(t, err)
	assert.Equal(t, fromRead.Bytes(), again.Bytes())
}

// TestHandler_LoadIndexRefuses checks that an index of another log, or a damaged one, is
// refused and the handler still works, building its index from the log.
func TestHandler_LoadIndexRefuses(t *testing.T) {
	a, b := memstore.New(), memstore.New()
	ha := newHandler(a)
	fillLog(t, ha, 0, 5)
	fillLog(t, newHandler(b), 100, 5)
	var buf bytes.Buffer
	_, err := ha.SaveIndex(ctx, &buf)
	require.NoError(t, err)

	hb := newHandler(b)
	_, err = hb.LoadIndex(ctx, bytes.NewReader(buf.Bytes()))
	require.ErrorIs(t, err, commands.ErrIndexStale)
	damaged := bytes.Clone(buf.Bytes())
	damaged[60] ^= 1
	_, err = hb.LoadIndex(ctx, bytes.NewReader(damaged))
	require.ErrorContains(t, err, "crc mismatch")
	_, err = hb.LoadIndex(ctx, bytes.NewReader(buf.Bytes()[:20]))
	require.Error(t, err)
	out := handle(t, hb, register("2023140101000100", "c-100", "1000.00"))
	assert.Equal(t, commands.StatusDuplicate, out.Status)
}

// TestHandler_UseSavedIndex: a handler that loaded an index, took more commands and saved
// again, then switches to the new save, answers every command as one that read the whole
// log does and saves the same bytes; an index of another log is refused.
func TestHandler_UseSavedIndex(t *testing.T) {
	l := memstore.New()
	h := newHandler(l)
	fillLog(t, h, 0, 30)
	var first bytes.Buffer
	_, err := h.SaveIndex(ctx, &first)
	require.NoError(t, err)
	loaded := newHandler(l)
	_, err = loaded.LoadIndexBytes(ctx, first.Bytes())
	require.NoError(t, err)
	require.NoError(t, loaded.CatchUp(ctx))
	fillLog(t, loaded, 30, 10)
	var second bytes.Buffer
	pos, err := loaded.SaveIndex(ctx, &second)
	require.NoError(t, err)
	fillLog(t, loaded, 40, 5) // after the second save: stays in memory
	got, err := loaded.UseSavedIndex(ctx, second.Bytes())
	require.NoError(t, err)
	assert.Equal(t, pos, got)

	read := newHandler(l)
	for _, i := range []int{0, 29, 35, 44} {
		id := fmt.Sprintf("2023140101%06d", i)
		for _, h := range []*commands.Handler{loaded, read} {
			out := handle(t, h, register(id, fmt.Sprintf("c-%d", i), "1000.00"))
			assert.Equal(t, commands.StatusDuplicate, out.Status, "contract %d", i)
			_, err := h.HandleJSON(ctx, []byte(register(id, fmt.Sprintf("c-%d", i), "999.00")), registrar)
			assert.Equal(t, commands.CodeConflict, commands.CodeOf(err))
		}
	}
	var a, b bytes.Buffer
	_, err = loaded.SaveIndex(ctx, &a)
	require.NoError(t, err)
	_, err = read.SaveIndex(ctx, &b)
	require.NoError(t, err)
	assert.Equal(t, b.Bytes(), a.Bytes())

	other := memstore.New()
	fillLog(t, newHandler(other), 100, 50)
	_, err = newHandler(other).UseSavedIndex(ctx, second.Bytes())
	require.ErrorIs(t, err, commands.ErrIndexStale)
}
