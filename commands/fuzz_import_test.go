package commands_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"techledger/commands"
	"techledger/ledger/memstore"
)

// FuzzImport imports one line through a handler whose log holds one registered contract.
// Whatever the line, Import never panics and never fails with anything but a rejection; a
// rejected line leaves the log as it was, an applied one appends and reports its last
// position, and importing the same line again appends nothing (docs/reliability.md).
func FuzzImport(f *testing.F) {
	f.Add(compact(f, payment("2023140101000123", "P-1", "10.00")))
	f.Add(compact(f, payment("2023140101000123", "P-2", "1000000.00")))
	f.Add(compact(f, register("2023140101000124", "c-2", "100.00")))
	f.Add(compact(f, register("2023140101000123", "c-1", "100.00")))
	f.Add("\ufeff" + compact(f, payment("2023140101000123", "P-3", "1.00")))
	f.Add(`{"command":"revoke_contract"}`)
	f.Add(`   `)
	f.Add(`{`)
	f.Fuzz(func(t *testing.T, line string) {
		if strings.ContainsAny(line, "\n") {
			t.Skip("one line per input")
		}
		s := memstore.New()
		h := newHandler(s)
		_, err := commands.Import(ctx, strings.NewReader(compact(t, register("2023140101000123", "c-1", "100.00"))), h, registrar, nil)
		require.NoError(t, err)
		before := head(t, s)

		sum, err := commands.Import(ctx, bytes.NewReader([]byte(line)), h, registrar, nil)
		require.NoError(t, err, "a line is applied, a duplicate or rejected: %q", line)
		require.LessOrEqual(t, sum.Applied+sum.Duplicates+sum.Rejected, 1)
		after := head(t, s)
		switch {
		case sum.Rejected == 1:
			require.Len(t, sum.Errors, 1)
			require.Equal(t, before, after, "a rejected line appended: %q", line)
		case sum.Applied == 1:
			require.Greater(t, after, before)
			require.Equal(t, after, sum.LastPosition)
		default:
			require.Equal(t, before, after)
		}

		again, err := commands.Import(ctx, bytes.NewReader([]byte(line)), h, registrar, nil)
		require.NoError(t, err)
		// A line without a command_id that was applied is refused the second time (its
		// payment or contract is already recorded) rather than answered as a duplicate.
		require.Equal(t, 0, again.Applied, "importing %q again applied it again", line)
		require.Equal(t, sum.Applied+sum.Duplicates+sum.Rejected, again.Duplicates+again.Rejected)
		if sum.Rejected == 1 {
			require.Equal(t, 1, again.Rejected)
		}
		require.Equal(t, after, head(t, s))
	})
}
