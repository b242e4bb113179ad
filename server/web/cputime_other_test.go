//go:build !linux

package web

// threadCPU returns 0: a thread's CPU time is read on Linux only.
func threadCPU() int64 { return 0 }

// processCPU returns 0: read on Linux only, as threadCPU.
func processCPU() int64 { return 0 }
