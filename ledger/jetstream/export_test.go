package jetstream

import "techledger/ledger"

// SetAfterPublish lets tests act right after the feed's publish of a record is
// acknowledged, before its checkpoint is saved.
func SetAfterPublish(f *Feed, fn func(ledger.Position)) { f.afterPublish = fn }
