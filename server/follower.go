package server

import (
	"fmt"
	"io"
	"time"
)

// writeFollowerMetrics writes a follower's gauges in the Prometheus text format
// (docs/operations.md, "Following a primary").
func writeFollowerMetrics(w io.Writer, f FollowerStatus) {
	primary, local := f.Heads()
	fmt.Fprintln(w, "# HELP techledger_follow_primary_head The primary's head when last asked.")
	fmt.Fprintln(w, "# TYPE techledger_follow_primary_head gauge")
	fmt.Fprintf(w, "techledger_follow_primary_head %d\n", primary)
	fmt.Fprintln(w, "# HELP techledger_follow_local_head The head of the follower's copy.")
	fmt.Fprintln(w, "# TYPE techledger_follow_local_head gauge")
	fmt.Fprintf(w, "techledger_follow_local_head %d\n", local)
	fmt.Fprintln(w, "# HELP techledger_follow_lag_records Records the copy is behind the primary.")
	fmt.Fprintln(w, "# TYPE techledger_follow_lag_records gauge")
	fmt.Fprintf(w, "techledger_follow_lag_records %d\n", f.Records())
	fmt.Fprintln(w, "# HELP techledger_follow_last_contact_seconds Seconds since the primary last answered (-1: never).")
	fmt.Fprintln(w, "# TYPE techledger_follow_last_contact_seconds gauge")
	since := -1.0
	if t := f.Checked(); !t.IsZero() {
		since = time.Since(t).Seconds()
	}
	fmt.Fprintf(w, "techledger_follow_last_contact_seconds %g\n", since)
}
