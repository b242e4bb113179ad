package projections

import (
	"context"
	"errors"
	"iter"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/ledger"
	"techledger/ledger/memstore"
)

// gatedLog is a log whose ReadAll does not start until gate is closed, and then fails
// with fail if it is set: a replay that takes as long as the test wants.
type gatedLog struct {
	*memstore.Store
	gate chan struct{}
	fail error
}

func (l *gatedLog) ReadAll(ctx context.Context, from ledger.Position) iter.Seq2[ledger.Record, error] {
	return func(yield func(ledger.Record, error) bool) {
		select {
		case <-l.gate:
		case <-ctx.Done():
			yield(ledger.Record{}, ctx.Err())
			return
		}
		if l.fail != nil {
			yield(ledger.Record{}, l.fail)
			return
		}
		for rec, err := range l.Store.ReadAll(ctx, from) {
			if !yield(rec, err) {
				return
			}
		}
	}
}

// TestRunner_StartBackground: while a runner started in the background replays, Read
// answers ErrCatchingUp once its wait is over (without calling fn), Position is 0, and
// Snapshot writes nothing; a Read that waits long enough gets the caught-up State, the
// same as a fold of the log; a start that fails makes Read return its error, not
// ErrCatchingUp. The SearchRunner behaves alike.
func TestRunner_StartBackground(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := &gatedLog{Store: smallSample(t), gate: make(chan struct{})}
	head, err := log.Head(ctx)
	require.NoError(t, err)
	dir := t.TempDir()

	short := NewRunner(log, RunnerOptions{SnapshotDir: dir, Logger: quiet(), CatchUpWait: time.Millisecond})
	short.StartBackground(ctx)
	called := false
	err = short.Read(func(*State) error { called = true; return nil })
	require.ErrorIs(t, err, ErrCatchingUp)
	assert.False(t, called)
	assert.Zero(t, short.Position())
	require.NoError(t, short.Snapshot())
	_, err = os.Stat(filepath.Join(dir, SnapshotFile))
	assert.ErrorIs(t, err, os.ErrNotExist, "no snapshot of the empty State while loading")

	search := NewSearchRunner(log, SearchRunnerOptions{SnapshotDir: dir, Logger: quiet(), CatchUpWait: time.Millisecond})
	search.StartBackground(ctx)
	_, err = search.Find(SearchQuery{})
	require.ErrorIs(t, err, ErrCatchingUp)
	require.NoError(t, search.Snapshot())
	_, err = os.Stat(filepath.Join(dir, SearchSnapshotFile))
	assert.ErrorIs(t, err, os.ErrNotExist)

	long := NewRunner(log, RunnerOptions{Logger: quiet(), CatchUpWait: time.Hour})
	long.StartBackground(ctx)
	got := make(chan string, 1)
	go func() {
		var s string
		err := long.Read(func(st *State) error { s = reports(t, st); return nil })
		if err != nil {
			s = err.Error()
		}
		got <- s
	}()
	close(log.gate) // the replays may go on
	assert.Equal(t, reports(t, fold(t, log.Store, 0)), <-got, "Read waited for the caught-up State")
	assert.Equal(t, head, long.Position())

	failing := &gatedLog{Store: log.Store, gate: log.gate, fail: errors.New("disk on fire")}
	broken := NewRunner(failing, RunnerOptions{Logger: quiet(), CatchUpWait: time.Hour})
	broken.StartBackground(ctx)
	err = broken.Read(func(*State) error { return nil })
	require.ErrorContains(t, err, "disk on fire")
	assert.NotErrorIs(t, err, ErrCatchingUp)
}
