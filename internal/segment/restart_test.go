package segment

import (
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// A window that expires between a checkpoint and a crash is recorded with
// the same message id after the restart as before it (so the log keeps
// it once), and a segment saved after the checkpoint enters nobody at the
// restart, as it entered nobody when it was saved.
func TestRestartRecordsTimeDrivenChangesOnce(t *testing.T) {
	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c := &clock{t: t0}
	e := NewEngine(Options{DB: db, Now: c.now})
	e.Begin()
	if _, err := e.Save(Definition{ID: "recent", Rule: mustRule(t, `{"event":"Order Completed","within":{"last":"7d"}}`)}); err != nil {
		t.Fatal(err)
	}
	e.Apply(track("p_1", "Order Completed", t0.Add(-time.Hour), map[string]any{"revenue": 20.0}))
	e.Apply(track("p_2", "Order Completed", t0.Add(-2*time.Hour), map[string]any{"revenue": 20.0}))
	e.Transitions()
	b := db.NewBatch()
	if err := e.Checkpoint(b); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	// After the checkpoint: p_2's and p_1's orders leave the window (the
	// timers record both exits), and a new segment is saved.
	c.t = t0.Add(7*24*time.Hour - time.Hour)
	if n := e.Tick(); n != 2 {
		t.Fatalf("timers fired %d, want 2", n)
	}
	before := map[string]bool{}
	for _, tr := range e.Transitions() {
		before[tr.MessageID()] = true
	}
	if len(before) != 2 {
		t.Fatalf("exits before the crash = %v, want 2", before)
	}
	if _, err := e.Save(Definition{ID: "buyers", Rule: mustRule(t, `{"event":"Order Completed"}`)}); err != nil {
		t.Fatal(err)
	}

	// The crash: a new engine from the checkpoint, an hour later.
	c.t = c.t.Add(time.Hour)
	back := NewEngine(Options{DB: db, Profiles: idsOnly{"p_1", "p_2"}, Now: c.now})
	if err := back.Load(t.Context(), nil, 0, nil); err != nil {
		t.Fatal(err)
	}
	back.Begin()
	back.Tick()
	after := map[string]bool{}
	for _, tr := range back.Transitions() {
		if tr.Segment == "buyers" {
			t.Errorf("segment saved before the crash recorded %+v at the restart", tr)
		}
		after[tr.MessageID()] = true
	}
	for id := range after {
		if !before[id] {
			t.Errorf("restart recorded %s, which the log does not have: a duplicate of %v", id, before)
		}
	}
	for _, p := range []string{"p_1", "p_2"} {
		if in, _ := back.Contains("recent", p); in {
			t.Errorf("%s is still in recent after the restart", p)
		}
		if in, _ := back.Contains("buyers", p); !in {
			t.Errorf("%s is not in buyers after the restart", p)
		}
	}
}
