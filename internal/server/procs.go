package server

// Procs is the number of Ps (GOMAXPROCS) serve runs with on cpus CPUs:
// twice as many.
//
// Every acknowledgement waits on two goroutines that must run the moment
// they are woken: the log's writer (after the WAL sync) and the processor
// (when its queue is full). Go's scheduler has no priorities: a goroutine
// woken by another is queued on the waker's P, behind the waker, which
// goes on with its own work (a compaction, a delivery rendering a message)
// until it blocks or is preempted. Goroutine dumps of the 1 M-customer
// store under load showed the writer "runnable", not running, while every
// ingest handler waited for it. With more Ps than CPUs a woken goroutine
// usually finds an idle P at once, and the kernel, which favours threads
// that slept, gives it a CPU. Measured on 2 CPUs, `tailor bench ingest`
// into the 1 M store, same binary and hour: 2 Ps 61,381 events/s, ack p99
// 57.4 ms; 4 Ps 63,309 and 64,251 events/s, p99 48.5 and 46.9 ms; 8 Ps
// 62,542, 51.6 ms. GOMAXPROCS in the environment overrides it.
func Procs(cpus int) int { return 2 * max(cpus, 1) }
