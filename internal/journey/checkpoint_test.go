package journey

import (
	"encoding/binary"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"tailor/internal/event"
	"tailor/internal/profile"
	"tailor/internal/store"
)

// waitJourney enters every "Wait" event and waits a day before a mail.
func waitJourney() Journey {
	return Journey{ID: "wait", Name: "Wait", Status: StatusLive, Trigger: Trigger{Type: TriggerEvent, Event: "Wait"},
		Entry: Entry{Rule: EntryEveryTime}, Start: "w",
		Steps: []*Step{{ID: "w", Type: StepWait, Duration: "1d", Next: "mail"}, {ID: "mail", Type: StepSend, Channel: "email", Template: "t"}}}
}

// enterN makes n profiles enter the wait journey of e.
func enterN(e *Engine, n int, at time.Time) {
	for i := range n {
		id := "p_" + strconv.Itoa(i)
		e.Apply(&event.Event{Type: event.Track, Event: "Wait", UserID: id, SourceID: "web", Timestamp: at, ReceivedAt: at, Seq: uint64(i + 1)},
			profile.Resolution{Profile: id})
	}
}

// BenchmarkCheckpointNewRuns measures the checkpoint (the processor's
// pause) after a burst started 200,000 runs.
func BenchmarkCheckpointNewRuns(b *testing.B) {
	const n = 200_000
	db, err := store.Open(filepath.Join(b.TempDir(), "pebble"), 64<<20)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var rest time.Duration
	for range b.N {
		b.StopTimer()
		e := New(Options{DB: db, Now: func() time.Time { return t0 }})
		if _, err := e.Create(waitJourney()); err != nil {
			b.Fatal(err)
		}
		enterN(e, n, t0)
		bt := db.NewBatch()
		b.StartTimer()
		finish, err := e.CheckpointSplit(bt)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		t := time.Now()
		if err := finish(); err != nil {
			b.Fatal(err)
		}
		rest += time.Since(t)
		bt.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "pause-ns/run")
	b.ReportMetric(float64(rest.Nanoseconds())/float64(b.N)/n, "after-ns/run")
}

// A checkpoint's pause only swaps the changed runs out; its second part,
// while applying goes on, writes them as they were at the pause. A run
// changed in between is written with its new state (and its new timer) by
// the next checkpoint, and a restarted engine loads the runs and timers of
// each checkpoint's log position.
func TestCheckpointWritesRunsAsOfThePause(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "pebble"), 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	clock := func() time.Time { return t0 }
	e := New(Options{DB: db, Now: clock})
	if _, err := e.Create(waitJourney()); err != nil {
		t.Fatal(err)
	}
	const n = 5000
	enterN(e, n, t0)
	b1 := db.NewBatch()
	finish, err := e.CheckpointSplit(b1)
	if err != nil {
		t.Fatal(err)
	}
	if b1.Count() > 10 {
		t.Errorf("the pause wrote %d records, want the figures and definitions only (runs after it)", b1.Count())
	}
	// While the second part has not run, p_0's run moves on: its timer
	// is now an hour later (as a step that waits again would put it).
	later := uint32(t0.Add(25 * time.Hour).Unix())
	e.mu.Lock()
	rn := e.runs[runKey{"p_0", 0}]
	rn.due = later
	e.put(runKey{"p_0", 0}, rn)
	e.mu.Unlock()
	if err := finish(); err != nil {
		t.Fatal(err)
	}
	if b1.Count() < 2*n {
		t.Fatalf("the checkpoint wrote %d records, want a run and a timer for each of %d", b1.Count(), n)
	}
	if err := b1.Commit(nil); err != nil {
		t.Fatal(err)
	}
	timers := func() map[string]uint32 {
		m := map[string]uint32{}
		if err := scan(db, store.PrefixJourneyTimer, func(k, _ []byte) error {
			prof, _, _ := strings.Cut(string(k[4:]), "\x00")
			if _, dup := m[prof]; dup {
				t.Errorf("two timers of %s under jt/", prof)
			}
			m[prof] = binary.BigEndian.Uint32(k)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return m
	}
	day := uint32(t0.Add(24 * time.Hour).Unix())
	if got := timers(); len(got) != n || got["p_0"] != day {
		t.Fatalf("after the first checkpoint: %d timers, p_0's due %d, want %d and the pause's %d", len(got), got["p_0"], n, day)
	}
	b2 := db.NewBatch()
	if err := e.Checkpoint(b2); err != nil {
		t.Fatal(err)
	}
	if err := b2.Commit(nil); err != nil {
		t.Fatal(err)
	}
	if got := timers(); len(got) != n || got["p_0"] != later {
		t.Fatalf("after the second checkpoint: %d timers, p_0's due %d, want %d and the re-entry's %d", len(got), got["p_0"], n, later)
	}
	e2 := New(Options{DB: db, Now: clock})
	if err := e2.Load(); err != nil {
		t.Fatal(err)
	}
	if len(e2.runs) != n || e2.runs[runKey{"p_0", 0}].due != later || len(e2.timers) != 0 && len(e2.timers) != n {
		t.Fatalf("loaded %d runs, p_0 due %d, %d timers in the heap", len(e2.runs), e2.runs[runKey{"p_0", 0}].due, len(e2.timers))
	}
}

// A checkpoint whose second part never ran (the processor gave the batch
// up) loses nothing: the next checkpoint writes those runs too.
func TestCheckpointAfterAnAbandonedOneWritesItsRuns(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "pebble"), 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e := New(Options{DB: db, Now: func() time.Time { return t0 }})
	if _, err := e.Create(waitJourney()); err != nil {
		t.Fatal(err)
	}
	enterN(e, 300, t0)
	abandoned := db.NewBatch()
	if _, err := e.CheckpointSplit(abandoned); err != nil {
		t.Fatal(err)
	}
	abandoned.Close()
	b := db.NewBatch()
	if err := e.Checkpoint(b); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(nil); err != nil {
		t.Fatal(err)
	}
	e2 := New(Options{DB: db, Now: func() time.Time { return t0 }})
	if err := e2.Load(); err != nil {
		t.Fatal(err)
	}
	timers := 0
	if err := scan(db, store.PrefixJourneyTimer, func(_, _ []byte) error { timers++; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(e2.runs) != 300 || timers != 300 {
		t.Fatalf("loaded %d runs, %d timers under jt/, want 300 of each", len(e2.runs), timers)
	}
}
