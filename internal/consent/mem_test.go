package consent

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"tailor/internal/event"
	"tailor/internal/profile"
)

// BenchmarkConsentMemory reports the heap a profile's consent costs once an
// opt-in trait is seen (bytes/profile, packed as the applier keeps it) and,
// as the baseline from the same run, the same states held as State maps.
func BenchmarkConsentMemory(b *testing.B) {
	const n = 100_000
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("p_%d", i)
	}
	heap := func() int64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return int64(m.HeapAlloc)
	}
	for b.Loop() {
		before := heap()
		c := New(nil, nil, Options{})
		now := time.Now()
		for _, id := range ids {
			c.Apply(&event.Event{Type: event.Identify, Traits: map[string]any{"email_opt_in": true, "sms_opt_in": false}, Timestamp: now}, profile.Resolution{Profile: id})
		}
		clear(c.dirty)
		packed := heap() - before
		maps := make(map[string]*State, n)
		for id, rs := range c.states {
			maps[id] = unpack(rs)
		}
		c = nil
		asMaps := heap() - before
		b.ReportMetric(float64(packed)/n, "packed_B/profile")
		b.ReportMetric(float64(asMaps)/n, "maps_B/profile")
		runtime.KeepAlive(maps)
	}
}
