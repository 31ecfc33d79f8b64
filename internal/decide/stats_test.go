package decide

import (
	"tailor/internal/store/storetest"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/event"
	"tailor/internal/profile"
)

func track(name, placement string, at time.Time, props map[string]any) *event.Event {
	if props == nil {
		props = map[string]any{}
	}
	if placement != "" {
		props["placement_id"] = placement
	}
	return &event.Event{Type: event.Track, Event: name, Properties: props, Timestamp: at}
}

// The figures come from events: impressions, clicks and explicit
// conversions by the event's day; an order within the window after a click
// is the clicked placement's conversion, with its revenue, also after the
// clicking profile merged into another; and all of it survives a
// checkpoint and reopen.
func TestStatsCountEventsAndCreditOrdersAfterClicks(t *testing.T) {
	db := storetest.MemDB(t)
	st, err := OpenStats(db)
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	at := func(p string) profile.Resolution { return profile.Resolution{Profile: p} }
	st.Apply(track(EventViewed, "hero", day, nil), at("p_a"))
	st.Apply(track(EventViewed, "hero", day, nil), at("p_b"))
	st.Apply(track(EventClicked, "hero", day, nil), at("p_a"))
	st.Apply(track(EventViewed, "", day, nil), at("p_a")) // no placement: not counted
	st.Apply(track(EventConverted, "exit", day, nil), at("p_b"))
	// p_a merges into p_c, whose order two days later is hero's.
	st.Apply(&event.Event{Type: event.Identify, Timestamp: day}, profile.Resolution{Profile: "p_c", Merged: []string{"p_a"}})
	st.Apply(track("Order Completed", "", day.Add(48*time.Hour), map[string]any{"revenue": 30.5}), at("p_c"))
	// An order of a profile that never clicked, and one after the window.
	st.Apply(track("Order Completed", "", day, map[string]any{"revenue": 99.0}), at("p_b"))
	st.Apply(track("Order Completed", "", day.Add(AttributionWindow+time.Hour), map[string]any{"revenue": 10.0}), at("p_c"))

	b := db.NewBatch()
	if err := st.Checkpoint(b); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(nil); err != nil {
		t.Fatal(err)
	}
	again, err := OpenStats(db)
	if err != nil {
		t.Fatal(err)
	}
	hero := again.Days("hero", day.Add(48*time.Hour), 4)
	want := []DayCounts{{Day: "2026-02-28"}, {Day: "2026-03-01", Impressions: 2, Clicks: 1}, {Day: "2026-03-02"}, {Day: "2026-03-03", Conversions: 1, Revenue: 30.5}}
	for i := range want {
		if hero[i] != want[i] {
			t.Errorf("hero day %d: %+v, want %+v", i, hero[i], want[i])
		}
	}
	if exit := again.Days("exit", day, 1); exit[0].Conversions != 1 || exit[0].Clicks != 0 {
		t.Errorf("exit: %+v", exit)
	}
	if _, ok := again.clicks["p_a"]; ok {
		t.Error("the merged-away profile's click was kept")
	}
	if c := again.clicks["p_c"]; c.placement != "hero" {
		t.Errorf("survivor's click: %+v", c)
	}
}

// A store without figures asks for a backfill until marked; one with
// figures from before the mark existed (or with the mark) does not.
func TestStatsNeedBackfillOnlyWithoutFiguresOrMark(t *testing.T) {
	day := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		fill func(*Stats, *pebble.Batch) error
		want bool
	}{
		{"empty store", func(*Stats, *pebble.Batch) error { return nil }, true},
		{"figures, no mark", func(st *Stats, b *pebble.Batch) error {
			st.Apply(track(EventViewed, "hero", day, nil), profile.Resolution{Profile: "p_a"})
			return st.Checkpoint(b)
		}, false},
		{"a click only", func(st *Stats, b *pebble.Batch) error {
			st.Apply(track(EventClicked, "hero", day, nil), profile.Resolution{Profile: "p_a"})
			st.mu.Lock()
			clear(st.dirty) // the click's key alone
			st.mu.Unlock()
			return st.Checkpoint(b)
		}, false},
		{"marked, nothing counted", func(st *Stats, b *pebble.Batch) error { return st.MarkBackfilled(b) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := storetest.MemDB(t)
			st, err := OpenStats(db)
			if err != nil {
				t.Fatal(err)
			}
			if !st.NeedsBackfill() {
				t.Fatal("a new store does not ask for a backfill")
			}
			b := db.NewBatch()
			if err := tc.fill(st, b); err != nil {
				t.Fatal(err)
			}
			if err := b.Commit(pebble.Sync); err != nil {
				t.Fatal(err)
			}
			again, err := OpenStats(db)
			if err != nil {
				t.Fatal(err)
			}
			if got := again.NeedsBackfill(); got != tc.want {
				t.Errorf("NeedsBackfill after reopen = %v, want %v", got, tc.want)
			}
		})
	}
}
