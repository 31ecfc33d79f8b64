package consent

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"tailor/internal/event"
	"tailor/internal/profile"
	"tailor/internal/track"
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
		c.facts.each(func(id string, rs []rec) bool {
			maps[id] = unpack(rs)
			return true
		})
		c = nil
		asMaps := heap() - before
		b.ReportMetric(float64(packed)/n, "packed_B/profile")
		b.ReportMetric(float64(asMaps)/n, "maps_B/profile")
		runtime.KeepAlive(maps)
	}
}

// mapProfiles finds profiles by id in a map, as cheaply as a profile store.
type mapProfiles map[string]track.Profile

func (m mapProfiles) Profile(k string) (track.Profile, bool) { p, ok := m[k]; return p, ok }

// BenchmarkApplyAddressChange is the cost of an identify that changes an
// address of a profile with consent state: with a Reach hook (the server's)
// consent recomputes the profile's reachable channels; without one (the
// baseline, in the same run) it does not.
func BenchmarkApplyAddressChange(b *testing.B) {
	const n = 10_000
	profiles := mapProfiles{}
	for i := range n {
		id := fmt.Sprintf("p_%d", i)
		profiles[id] = track.Profile{ID: id, Traits: map[string]any{"email": id + "@example.com", "phone": "+1555"}}
	}
	for _, hook := range []bool{false, true} {
		b.Run(fmt.Sprintf("reach=%v", hook), func(b *testing.B) {
			opts := Options{}
			heard := 0
			if hook {
				opts.Reach = func(string, []string, uint64) { heard++ }
			}
			c := New(nil, profiles, opts)
			now := time.Now()
			for i := range n {
				c.Apply(&event.Event{Type: event.Identify, Traits: map[string]any{"email_opt_in": true}, Timestamp: now}, profile.Resolution{Profile: fmt.Sprintf("p_%d", i)})
			}
			evs := make([]*event.Event, n)
			for i := range evs {
				evs[i] = &event.Event{Type: event.Identify, Traits: map[string]any{"email": fmt.Sprintf("new%d@example.com", i)}, Timestamp: now}
			}
			b.ResetTimer()
			i := 0
			for b.Loop() {
				c.Apply(evs[i%n], profile.Resolution{Profile: fmt.Sprintf("p_%d", i%n)})
				i++
			}
		})
	}
}

// BenchmarkAllowed is the check delivery makes before every send, for a
// profile with consent state (read from the fact table) and for one
// without.
func BenchmarkAllowed(b *testing.B) {
	profiles := mapProfiles{
		"p_ann": track.Profile{ID: "p_ann", Traits: map[string]any{"email": "ann@example.org"}},
		"p_bob": track.Profile{ID: "p_bob", Traits: map[string]any{"email": "bob@example.org"}},
	}
	c := New(nil, profiles, Options{})
	c.Apply(&event.Event{Type: event.Identify, Traits: map[string]any{"email_opt_in": true, "sms_opt_in": false}, Timestamp: time.Now()},
		profile.Resolution{Profile: "p_ann"})
	for _, id := range []string{"p_ann", "p_bob"} {
		b.Run(id, func(b *testing.B) {
			for b.Loop() {
				c.Allowed(id, "email", "marketing")
			}
		})
	}
}
