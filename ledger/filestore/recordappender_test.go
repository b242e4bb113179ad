package filestore_test

import (
	"testing"

	"techledger/ledger"
	"techledger/ledger/filestore"
	"techledger/ledger/storetest"
)

// TestStore_RecordAppenderSuite runs the RecordAppender conformance suite every backend
// passes (verbatim copies, refusals naming the bad record, appends after a copy), with
// small segments so that copies cross segment files.
func TestStore_RecordAppenderSuite(t *testing.T) {
	storetest.RunRecordAppender(t, func(tb testing.TB) ledger.Store {
		return open(tb, tb.TempDir(), filestore.Options{SegmentBytes: 2048})
	})
}
