//go:build !unix

package reports_test

import "time"

// cpuTime is not measured on this system: the benchmarks report 0 cpu-ns/op.
func cpuTime() time.Duration { return 0 }
