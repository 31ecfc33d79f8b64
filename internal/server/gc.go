package server

import (
	"context"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
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

// MemoryLimit is the soft limit on the Go heap that serve sets unless
// GOMEMLIMIT is given: limitPercent of the memory the process may use (the
// cgroup's memory.max when lower than the machine's), less what lives
// outside the Go heap (the store's block cache and memtables, passed as
// offHeap). Profiles live in the heap, so a big store's heap is mostly live
// and TuneGC lets it grow by half again between collections; near the
// machine's memory the limit makes the collector run earlier instead of
// the kernel killing the process. It returns 0 when the memory is unknown.
func MemoryLimit(offHeap int64) int64 { return memoryLimit(machineMemory(), offHeap) }

// memoryLimit is MemoryLimit for total bytes of memory; never under a
// quarter of it, whatever offHeap claims.
func memoryLimit(total, offHeap int64) int64 {
	if total <= 0 {
		return 0
	}
	return max(total*limitPercent/100-offHeap, total/4)
}

// limitPercent leaves room for the page cache that the store's reads
// depend on and for the rest of the process.
const limitPercent = 80

// machineMemory is MemTotal from /proc/meminfo, or the cgroup v2 limit when
// lower; 0 when neither can be read (not Linux).
func machineMemory() int64 {
	var total int64
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil {
					total = kb << 10
				}
				break
			}
		}
	}
	if b, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && v > 0 && (total == 0 || v < total) {
			total = v
		}
	}
	return total
}
