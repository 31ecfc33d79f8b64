//go:build !linux

package main

import "time"

// threadCPU reports that the system cannot tell a thread's CPU time (only
// Linux's is read).
func threadCPU() (time.Duration, bool) { return 0, false }

// processCPU reports that the system cannot tell.
func processCPU() (time.Duration, bool) { return 0, false }
