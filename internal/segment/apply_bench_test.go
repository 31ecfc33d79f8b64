package segment

import (
	"strconv"
	"testing"
	"time"

	"tailor/internal/demo"
	"tailor/internal/event"
	"tailor/internal/profile"
)

// demoApplyInput is a demo shop's events decoded once, with the
// resolutions a profile store gave them and that store (for the traits
// identify events make the engine reload).
type demoApplyInput struct {
	evs []event.Event
	res []profile.Resolution
	st  *profile.Store
	end time.Time
}

func newDemoApplyInput(b *testing.B, customers int) *demoApplyInput {
	g := demo.New(demo.Config{Customers: customers})
	in := &demoApplyInput{st: profile.NewStore(), end: g.Config().End}
	meta := event.Meta{ReceivedAt: in.end}
	if err := g.Messages(func(msg []byte) error {
		ev, err := event.Decode(msg, meta)
		in.evs = append(in.evs, ev)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	in.res = make([]profile.Resolution, len(in.evs))
	for i := range in.evs {
		in.res[i] = in.st.Apply(&in.evs[i])
		in.res[i].Merged = append([]string(nil), in.res[i].Merged...)
	}
	return in
}

// engine returns an engine with the demo segments saved, its clock at the
// demo's end, that has applied the events copies times over (late re-sends
// of the same histories, as `tailor bench ingest` makes).
func (in *demoApplyInput) engine(b *testing.B, copies int) *Engine {
	e := NewEngine(Options{Profiles: in.st, Now: func() time.Time { return in.end }})
	for range copies {
		for j := range in.evs {
			e.Apply(&in.evs[j], in.res[j])
		}
	}
	for _, def := range DemoSegments() {
		if _, err := e.Save(def); err != nil {
			b.Fatal(err)
		}
	}
	return e
}

// BenchmarkApplyDemoSegments is the live path of one event with the demo's
// saved segments evaluated: the index's share and the re-evaluation of the
// segments the event affects. history=N applies the Nth copy of each
// customer's events onto N-1 copies already indexed, so ns/op grows with
// what a profile's history costs each event.
func BenchmarkApplyDemoSegments(b *testing.B) {
	for _, tc := range []struct{ customers, history int }{{2000, 1}, {100, 1}, {100, 10}, {100, 50}} {
		b.Run("customers="+strconv.Itoa(tc.customers)+"/history="+strconv.Itoa(tc.history), func(b *testing.B) {
			in := newDemoApplyInput(b, tc.customers)
			var e *Engine
			for i := 0; b.Loop(); i++ {
				j := i % len(in.evs)
				if j == 0 {
					// A fresh engine every pass keeps the history at its
					// size; building it is not what is timed.
					b.StopTimer()
					e = in.engine(b, tc.history-1)
					b.StartTimer()
				}
				e.Apply(&in.evs[j], in.res[j])
			}
		})
	}
}
