package segment

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"tailor/internal/event"
	"tailor/internal/profile"
)

// historyDay0 is the first day of the history tests.
var historyDay0 = time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)

// move changes the membership of profile pid in segment id at at as the
// engine does: live evaluation (evaluateOne) changes the members, then
// records the transition; a full refresh records every transition, then
// replaces the members.
func move(t *testing.T, e *Engine, id, pid string, in, refresh bool, at time.Time) {
	t.Helper()
	e.ix.mu.Lock()
	defer e.ix.mu.Unlock()
	s, o := e.segs[id], e.ix.ord(pid)
	change := func() {
		if in {
			s.members.Add(o)
		} else {
			s.members.Remove(o)
		}
	}
	if refresh {
		e.noteHistory(s, in, at)
		change()
	} else {
		change()
		e.noteHistory(s, in, at)
	}
}

func historyOf(t *testing.T, e *Engine, id string, days int) []DaySize {
	t.Helper()
	h, err := e.History(id, days)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHistoryCountsDaysAndCarriesSizes(t *testing.T) {
	c := &clock{t: historyDay0}
	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e := NewEngine(Options{Now: c.now, DB: db})
	for i := 1; i <= 6; i++ {
		ev, res := track(fmt.Sprintf("p_%d", i), "Page Viewed", historyDay0.Add(-time.Hour), nil)
		e.Apply(ev, res)
	}
	if _, err := e.Save(Definition{ID: "pro", Rule: &Rule{Trait: "plan", Op: Eq, Value: "pro"}}); err != nil {
		t.Fatal(err)
	}
	day := 24 * time.Hour
	// Day 0: three enter through live evaluation.
	for _, p := range []string{"p_1", "p_2", "p_3"} {
		move(t, e, "pro", p, true, false, historyDay0.Add(2*time.Hour))
	}
	// Day 1: nothing. Day 2: a refresh moves one out and two in.
	at := historyDay0.Add(2*day - time.Hour)
	move(t, e, "pro", "p_1", false, true, at)
	move(t, e, "pro", "p_4", true, true, at)
	move(t, e, "pro", "p_5", true, true, at)
	c.t = historyDay0.Add(2 * day)

	want := []DaySize{
		{Day: "2026-11-28", Size: 3, Entered: 3},
		{Day: "2026-11-29", Size: 3},
		{Day: "2026-11-30", Size: 4, Entered: 2, Exited: 1},
	}
	for _, days := range []int{3, 5, DefaultHistoryDays, MaxHistoryDays} {
		if got := historyOf(t, e, "pro", days); !reflect.DeepEqual(got, want) {
			t.Errorf("days=%d: %+v\nwant %+v", days, got, want)
		}
	}
	if got := historyOf(t, e, "pro", 1); !reflect.DeepEqual(got, want[2:]) {
		t.Errorf("days=1: %+v, want %+v", got, want[2:])
	}

	// A member dropped without a transition (a merge) is counted at the
	// next observation.
	e.ix.mu.Lock()
	e.segs["pro"].members.Remove(e.ix.ord("p_5"))
	e.ix.mu.Unlock()
	b := db.NewBatch()
	e.ix.mu.RLock()
	err = e.checkpointHistory(b)
	e.ix.mu.RUnlock()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(nil); err != nil {
		t.Fatal(err)
	}
	want[2].Size = 3

	// A restart reads what the checkpoint wrote.
	c.t = historyDay0.Add(3 * day)
	e2 := NewEngine(Options{Now: c.now, DB: db})
	if err := e2.loadHistory(db); err != nil {
		t.Fatal(err)
	}
	if _, err := e2.Save(Definition{ID: "pro", Rule: &Rule{Trait: "plan", Op: Eq, Value: "pro"}}); err != nil {
		t.Fatal(err)
	}
	want2 := append(want, DaySize{Day: "2026-12-01", Size: 0}) // e2 has no profiles
	if got := historyOf(t, e2, "pro", 10); !reflect.DeepEqual(got, want2) {
		t.Errorf("after a restart: %+v\nwant %+v", got, want2)
	}

	// Deleting the segment deletes its history, in memory and stored.
	if err := e2.Delete("pro"); err != nil {
		t.Fatal(err)
	}
	if _, err := e2.Save(Definition{ID: "pro", Rule: &Rule{Trait: "plan", Op: Eq, Value: "pro"}}); err != nil {
		t.Fatal(err)
	}
	if got := historyOf(t, e2, "pro", 10); len(got) != 1 || got[0].Day != "2026-12-01" {
		t.Errorf("after delete and create: %+v, want today only", got)
	}
	if _, closer, err := db.Get(historyKey("pro", dayOf(historyDay0))); !errors.Is(err, pebble.ErrNotFound) {
		if err == nil {
			closer.Close()
		}
		t.Errorf("stored day after delete: %v, want not found", err)
	}
}

func TestHistoryDropsOldDaysButTheNewest(t *testing.T) {
	c := &clock{t: historyDay0}
	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e := NewEngine(Options{Now: c.now, DB: db})
	ev, res := track("p_1", "Page Viewed", historyDay0.Add(-time.Hour), nil)
	e.Apply(ev, res)
	if _, err := e.Save(Definition{ID: "seen", Rule: &Rule{Computed: "event_count", Op: Gte, Value: 1.0}}); err != nil {
		t.Fatal(err)
	}
	checkpoint := func() {
		t.Helper()
		b := db.NewBatch()
		e.ix.mu.RLock()
		err := e.checkpointHistory(b)
		e.ix.mu.RUnlock()
		if err == nil {
			err = b.Commit(nil)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	checkpoint()
	c.t = historyDay0.Add(24 * time.Hour)
	checkpoint()
	stored := func(d time.Time) bool {
		_, closer, err := db.Get(historyKey("seen", dayOf(d)))
		if err == nil {
			closer.Close()
		}
		return err == nil
	}
	if !stored(historyDay0) || !stored(c.t) {
		t.Fatal("days 0 and 1 not stored by the checkpoints")
	}
	c.t = historyDay0.Add((MaxHistoryDays + 10) * 24 * time.Hour)
	checkpoint()
	if stored(historyDay0) {
		t.Error("a day older than MaxHistoryDays is still stored")
	}
	if !stored(historyDay0.Add(24 * time.Hour)) {
		t.Error("the newest day before the window is dropped; it carries the size into it")
	}
	// Every day of the longest answer has the size carried on.
	got := historyOf(t, e, "seen", MaxHistoryDays)
	if len(got) != MaxHistoryDays || got[0].Size != 1 || got[len(got)-1].Size != 1 {
		t.Errorf("%d days, first %+v, last %+v", len(got), got[0], got[len(got)-1])
	}
}

func TestHTTPHistory(t *testing.T) {
	e := shopEngine(t, 4)
	srv := newSegmentServer(t, e)
	if status, _, got := call(t, srv, "PUT", "/api/segments/buyers", `{"rule":`+anyOrder+`}`); status != 200 {
		t.Fatalf("create: %d %v", status, got)
	}
	// Live evaluation of a new order moves p_2 in; the transition counts.
	ev := event.Event{Type: event.Track, Event: event.OrderCompleted, Timestamp: httpNow.Add(-time.Minute)}
	e.Apply(&ev, profile.Resolution{Profile: "p_2"})

	status, _, got := call(t, srv, "GET", "/api/segments/buyers/history", "")
	checkFields(t, got, `{"segment":"buyers","days":[{"day":"2026-06-01","size":3,"entered":1,"exited":0}]}`)
	if status != 200 {
		t.Errorf("history: %d", status)
	}
	tests := []struct {
		path     string
		status   int
		contains string
	}{
		{"/api/segments/buyers/history?days=0", 400, "days: must be an integer from 1 to 400"},
		{"/api/segments/buyers/history?days=401", 400, "days"},
		{"/api/segments/buyers/history?days=week", 400, `"week"`},
		{"/api/segments/nope/history", 404, `no segment "nope"`},
	}
	for _, tt := range tests {
		status, _, got := call(t, srv, "GET", tt.path, "")
		if msg, _ := got["error"].(string); status != tt.status || !strings.Contains(msg, tt.contains) {
			t.Errorf("%s: %d %v, want %d saying %q", tt.path, status, got, tt.status, tt.contains)
		}
	}
	if status, _, _ := call(t, srv, "POST", "/api/segments/buyers/history", ""); status != 405 {
		t.Errorf("POST history: %d, want 405", status)
	}
}
