package recommend

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"tailor/internal/store/storetest"
)

func TestReplenishmentDueFiresOncePerItemAndPurchase(t *testing.T) {
	coffee := prod{"coffee", "Grocery > Coffee", 9}
	day := 24 * time.Hour
	newEngine := func() *Engine {
		e, _ := newTestEngine(t0, Options{RecordDue: func(context.Context, []Due) error { return nil }})
		// Two purchases ten days apart: the profile's own interval is ten days.
		buy(e, "ann", t0, coffee)
		buy(e, "ann", t0.Add(10*day), coffee)
		return e
	}
	for _, tc := range []struct {
		name string
		then func(e *Engine) // more purchases before the checks
		at   []time.Duration // moments DueAt is asked, from t0
		want []int           // replenishments each answer holds
	}{
		{"not before the interval has passed", nil, []time.Duration{19 * day, 19*day + 23*time.Hour}, []int{0, 0}},
		{"once when it has, not again", nil, []time.Duration{20 * day, 21 * day, 40 * day}, []int{1, 0, 0}},
		{"a purchase before the moment replaces its timer", func(e *Engine) { buy(e, "ann", t0.Add(15*day), coffee) },
			// gaps 10 and 5 days: due 7.5 days after day 15
			[]time.Duration{20 * day, 22 * day, 23 * day, 30 * day}, []int{0, 0, 1, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine()
			if tc.then != nil {
				tc.then(e)
			}
			for i, at := range tc.at {
				ds := e.DueAt(t0.Add(at))
				if len(ds) != tc.want[i] {
					t.Fatalf("DueAt(t0+%s) = %+v, want %d", at, ds, tc.want[i])
				}
				for _, d := range ds {
					if d.Profile != "ann" || d.Item != "coffee" || !d.At.After(d.Last) || d.At.After(t0.Add(at)) {
						t.Fatalf("due %+v is not ann's coffee, due by t0+%s", d, at)
					}
				}
			}
		})
	}
}

func TestReplenishmentDueNeedsARecorderAndAnInterval(t *testing.T) {
	tea := prod{"tea", "Grocery > Tea", 5}
	e, _ := newTestEngine(t0, Options{})
	buy(e, "bob", t0, tea)
	buy(e, "bob", t0.Add(5*24*time.Hour), tea)
	if ds := e.DueAt(t0.Add(100 * 24 * time.Hour)); len(ds) != 0 {
		t.Fatalf("without RecordDue the engine kept timers: %+v", ds)
	}
	e, _ = newTestEngine(t0, Options{RecordDue: func(context.Context, []Due) error { return nil }})
	buy(e, "bob", t0, tea) // once: no interval known
	if ds := e.DueAt(t0.Add(100 * 24 * time.Hour)); len(ds) != 0 {
		t.Fatalf("a single purchase nobody repeats fired: %+v", ds)
	}
}

func TestReplenishmentDueIDIsOnePerPurchase(t *testing.T) {
	a := Due{Profile: "p", Item: "i", Last: t0}
	b := a
	b.At = t0.Add(time.Hour)
	c := a
	c.Last = t0.Add(time.Second)
	if a.MessageID() != b.MessageID() || a.MessageID() == c.MessageID() {
		t.Fatalf("message ids %q %q %q: want the same per purchase, another for another purchase", a.MessageID(), b.MessageID(), c.MessageID())
	}
}

// A backfill applies a history whose replenishments fell due long ago:
// once it is marked done, only the timers after its latest event remain.
func TestBackfillKeepsOnlyTimersAfterItsHistory(t *testing.T) {
	coffee, tea := prod{"coffee", "Grocery > Coffee", 9}, prod{"tea", "Grocery > Tea", 5}
	day := 24 * time.Hour
	e, _ := newTestEngine(t0, Options{RecordDue: func(context.Context, []Due) error { return nil }})
	buy(e, "ann", t0, coffee)
	buy(e, "ann", t0.Add(10*day), coffee) // due at day 20, before the latest event
	buy(e, "bob", t0.Add(20*day), tea)
	buy(e, "bob", t0.Add(30*day), tea) // due at day 40, after it
	if len(e.dues) < 2 {
		t.Fatalf("%d timers before the mark; the test needs both", len(e.dues))
	}
	db := storetest.MemDB(t)
	batch := db.NewBatch()
	defer batch.Close()
	if err := e.MarkBackfilled(batch); err != nil {
		t.Fatal(err)
	}
	ds := e.DueAt(t0.Add(100 * day))
	if len(ds) != 1 || ds[0].Profile != "bob" {
		t.Fatalf("after the backfill's mark: %+v, want bob's tea alone", ds)
	}
}

// TestDueTimersSurviveCompaction: timers fire in turns, and the arena of
// their profile ids compacts between turns (its threshold lowered): every
// profile's replenishment still fires once, under its own id.
func TestDueTimersSurviveCompaction(t *testing.T) {
	coffee := prod{"coffee", "Grocery > Coffee", 9}
	day := 24 * time.Hour
	e, _ := newTestEngine(t0, Options{RecordDue: func(context.Context, []Due) error { return nil }})
	e.dueIDs.CompactAt = 1
	const n = 300
	for i := range n {
		p := "customer-with-a-long-id-" + strconv.Itoa(i)
		// Gaps of 1 to 30 days: the timers fall due on different days.
		buy(e, p, t0, coffee)
		buy(e, p, t0.Add(time.Duration(1+i%30)*day), coffee)
	}
	fired := map[string]int{}
	compacted := false
	for d := range 61 {
		_, before := e.dueIDs.Stats()
		for _, due := range e.DueAt(t0.Add(time.Duration(d) * day)) {
			fired[due.Profile]++
		}
		if _, after := e.dueIDs.Stats(); after < before {
			compacted = true // only a compaction makes freed bytes fewer
		}
		if err := e.dueIDs.Check(); err != nil {
			t.Fatal(err)
		}
	}
	if len(fired) != n {
		t.Fatalf("%d profiles' replenishments fired, want %d", len(fired), n)
	}
	for p, k := range fired {
		if k != 1 || !strings.HasPrefix(p, "customer-with-a-long-id-") {
			t.Fatalf("%q fired %d times", p, k)
		}
	}
	if !compacted {
		t.Fatal("the ids' arena never compacted")
	}
}
