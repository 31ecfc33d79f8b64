package server

import (
	"regexp"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// gcRuntimeMetrics are the runtime/metrics exported besides the Go
// collector's defaults: what a collection may have to scan (/gc/scan/*:
// the pointer-holding part of the heap when the last collection began,
// garbage included, stacks and globals; marking takes time in proportion
// to the live part of it) and the CPU the collector took, by kind
// (/cpu/classes/gc/*: assists are taken from the goroutines that allocate,
// including the ingest handlers an acknowledgement waits for). Together
// with go_gc_duration_seconds_count they say what the collector costs a
// node and why; `tailor bench ingest` reports them for its run.
var gcRuntimeMetrics = collectors.GoRuntimeMetricsRule{
	Matcher: regexp.MustCompile(`^/gc/scan/|^/cpu/classes/gc/`),
}

func newGoCollector() prometheus.Collector {
	return collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(gcRuntimeMetrics))
}
