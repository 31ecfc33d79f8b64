// Package arenatest measures what long-lived state costs the garbage
// collector, for the benchmarks of the stores that keep it (package arena
// is how they cut it). Tests import it; the server does not.
package arenatest

import (
	"runtime"
	"testing"
)

// Collect times full collections while keep is live, so that b's ns/op is
// the time of one collection (marking grows with the live objects and
// pointers), and reports the heap's objects and bytes per unit, keep
// holding n units.
func Collect(b *testing.B, keep any, n int, unit string) {
	b.Helper()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ResetTimer()
	for b.Loop() {
		runtime.GC()
	}
	b.ReportMetric(float64(ms.HeapObjects)/float64(n), "objects/"+unit)
	b.ReportMetric(float64(ms.HeapAlloc)/float64(n), "heap-bytes/"+unit)
	runtime.KeepAlive(keep)
}
