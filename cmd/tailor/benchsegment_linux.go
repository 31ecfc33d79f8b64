package main

import (
	"syscall"
	"time"
	"unsafe"
)

// clockThreadCPUTime is Linux's CLOCK_THREAD_CPUTIME_ID, which package
// syscall does not name. Unlike getrusage(RUSAGE_THREAD), which counts in
// scheduler ticks, it counts nanoseconds: evaluations take a millisecond.
const clockThreadCPUTime = 3

// threadCPU is the CPU time the calling OS thread has used; ok is false
// when the system cannot tell. The caller locks its goroutine to the thread.
func threadCPU() (d time.Duration, ok bool) {
	var ts syscall.Timespec
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTime, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}

// clockProcessCPUTime is CLOCK_PROCESS_CPUTIME_ID: every thread's CPU time.
const clockProcessCPUTime = 2

// processCPU is the CPU time all the process's threads have used: an
// evaluation may run its leaves on every core.
func processCPU() (d time.Duration, ok bool) {
	var ts syscall.Timespec
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockProcessCPUTime, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}
