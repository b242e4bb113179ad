//go:build unix

package projections

import "syscall"

// processCPU returns the CPU time the process has used (user and system), or 0 if it
// cannot be read.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
