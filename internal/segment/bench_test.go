package segment

import (
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"tailor/internal/demo"
	"tailor/internal/event"
	"tailor/internal/profile"
)

var (
	demoOnce sync.Once
	demoEng  *Engine
)

// demoEngine indexes a demo shop of 20,000 customers (about 420,000
// events; TAILOR_BENCH_CUSTOMERS sets another size), once per test binary.
func demoEngine(b *testing.B) *Engine {
	demoOnce.Do(func() {
		n := 20000
		if v, err := strconv.Atoi(os.Getenv("TAILOR_BENCH_CUSTOMERS")); err == nil && v > 0 {
			n = v
		}
		g := demo.New(demo.Config{Customers: n})
		st := profile.NewStore()
		e := NewEngine(Options{Profiles: st})
		meta := event.Meta{ReceivedAt: g.Config().End}
		err := g.Messages(func(msg []byte) error {
			ev, err := event.Decode(msg, meta)
			if err != nil {
				return err
			}
			e.Apply(&ev, st.Apply(&ev))
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		demoEng = e
	})
	return demoEng
}

// BenchmarkFullEvaluation times the rules of `tailor bench segment` on the
// demo shop; `tailor bench segment` runs them at scale against a plain loop.
func BenchmarkFullEvaluation(b *testing.B) {
	e := demoEngine(b)
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct{ name, text string }{
		{"R1-trait", `country in ("GB", "DE", "FR")`},
		{"R2-count", `did "Product Added" where category contains "accessories" at least 2 times in last 90d`},
		{"R3-sum", `did "Order Completed" sum(revenue) > 200 in last 365d`},
		// A measure of the general path (an accumulator a profile).
		{"avg", `did "Order Completed" avg(revenue) > 50 in last 365d`},
		{"computed", `total_spend > 100`},
		{"R4-and", `country in ("US", "CA") and did "Product Added" where category contains "accessories" at least 2 times in last 90d and total_spend > 100 and not did "Order Completed" in last 7d`},
	} {
		r, err := ParseText(tc.text)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Count(r, at); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkIndexApply is the index's share of applying an event (no saved
// segments): demo-shaped events, decoded once, appended to a fresh index.
func BenchmarkIndexApply(b *testing.B) {
	g := demo.New(demo.Config{Customers: 2000})
	meta := event.Meta{ReceivedAt: g.Config().End}
	var evs []event.Event
	if err := g.Messages(func(msg []byte) error {
		ev, err := event.Decode(msg, meta)
		evs = append(evs, ev)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	st := profile.NewStore()
	res := make([]profile.Resolution, len(evs))
	for i := range evs {
		res[i] = st.Apply(&evs[i])
		res[i].Merged = append([]string(nil), res[i].Merged...)
	}
	b.ResetTimer()
	var e *Engine
	for i := 0; b.Loop(); i++ {
		if i%len(evs) == 0 {
			e = NewEngine(Options{})
		}
		j := i % len(evs)
		e.Apply(&evs[j], res[j])
	}
}
