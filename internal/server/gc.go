package server

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// GC tuning. A node's heap is mostly long-lived profile state plus a stream
// of short-lived request garbage. Go's default (GOGC=100: collect when the
// heap doubles) is wrong at both ends: with a small store it collects far too
// often (the ingest benchmark spent a quarter of its CPU in the GC at
// GOGC=50), and with a large one it doubles the memory footprint. TuneGC
// keeps the headroom above the live heap at max(minHeadroom, live/2).
const (
	minGCPercent = 50
	maxGCPercent = 2000
)

// gcPercent is the GOGC value giving max(minHeadroom, live/2) of headroom.
func gcPercent(live, minHeadroom uint64) int {
	if live == 0 {
		return maxGCPercent
	}
	p := int(min(100*minHeadroom/live, maxGCPercent))
	return max(p, minGCPercent)
}

// TuneGC adjusts GOGC every few seconds until ctx ends.
func TuneGC(ctx context.Context, minHeadroom uint64) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	set := func() {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			debug.SetGCPercent(gcPercent(sample[0].Value.Uint64(), minHeadroom))
		}
	}
	debug.SetGCPercent(minGCPercent * 2)
	every(ctx, 2*time.Second, set)
}
