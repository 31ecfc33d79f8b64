package recommend

import (
	"reflect"
	"tailor/internal/store/storetest"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// mergeInto folds profile from into profile into, as an identify does.
func mergeInto(from, into string, at time.Time) func(*Engine) {
	return func(e *Engine) {
		ev, r := track("Page", into, at, nil)
		r.Merged = []string{from}
		e.Apply(ev, r)
	}
}

// checkpointEvents is randomEvents with merges: one early, one between the
// two cuts the tests checkpoint at (of a visitor who viewed a product
// early and sends nothing else), one late.
func checkpointEvents() []func(*Engine) {
	events := randomEvents(3000)
	out := append([]func(*Engine){}, events[:500]...)
	out = append(out, mergeInto("u1", "u2", t0.AddDate(0, 0, 10)))
	out = append(out, func(e *Engine) { view(e, "visitor", t0.AddDate(0, 0, 11), prod{"p07", "A > y", 26}) })
	out = append(out, events[500:1200]...)
	out = append(out, mergeInto("visitor", "u4", t0.AddDate(0, 0, 20)))
	out = append(out, events[1200:2500]...)
	out = append(out, mergeInto("u4", "u5", t0.AddDate(0, 0, 40)))
	return append(out, events[2500:]...)
}

// checkpointOpts keeps the lists short so that neighbour lists overflow
// and get pruned between checkpoints.
var checkpointOpts = Options{Neighbours: 4, History: 8, Distinct: 6}

// reference is the answers of an engine that applied events and nothing else.
func reference(t *testing.T, events []func(*Engine)) map[string][]Item {
	t.Helper()
	e, _ := newTestEngine(t0.AddDate(0, 3, 0), checkpointOpts)
	for _, ev := range events {
		ev(e)
	}
	return answers(t, e)
}

// restored is the answers of an engine loaded from db.
func restored(t *testing.T, db *pebble.DB) map[string][]Item {
	t.Helper()
	opts := checkpointOpts
	opts.DB = db
	e, _ := newTestEngine(t0.AddDate(0, 3, 0), opts)
	if err := e.Load(); err != nil {
		t.Fatal(err)
	}
	return answers(t, e)
}

func sameAnswers(t *testing.T, what string, got, want map[string][]Item) {
	t.Helper()
	for k, w := range want {
		if !reflect.DeepEqual(got[k], w) {
			t.Errorf("%s, %s:\n got %v\nwant %v", what, k, ids(got[k]), ids(w))
		}
	}
}

func commit(t *testing.T, b *pebble.Batch) {
	t.Helper()
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
}

// A checkpoint's pause only copies what changed; its second part, while
// applying goes on (and merges more profiles), writes the state as it was
// at the pause. What changed in between is written by the next checkpoint,
// and an engine loaded after each checkpoint answers like one that applied
// the log up to that checkpoint's pause.
func TestCheckpointWritesTheStateAsOfThePause(t *testing.T) {
	events := checkpointEvents()
	pause, next := 1000, 2000 // the visitor's merge comes between them
	db := storetest.MemDB(t)
	opts := checkpointOpts
	opts.DB = db
	e, _ := newTestEngine(t0.AddDate(0, 3, 0), opts)
	for _, ev := range events[:pause] {
		ev(e)
	}
	b := db.NewBatch()
	finish, err := e.CheckpointSplit(b)
	if err != nil {
		t.Fatal(err)
	}
	// The second part runs while the processor applies again.
	done := make(chan error, 1)
	go func() { done <- finish() }()
	for _, ev := range events[pause:next] {
		ev(e)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	commit(t, b)
	sameAnswers(t, "loaded after the first checkpoint", restored(t, db), reference(t, events[:pause]))

	b = db.NewBatch()
	if err := e.Checkpoint(b); err != nil {
		t.Fatal(err)
	}
	commit(t, b)
	sameAnswers(t, "loaded after the second checkpoint", restored(t, db), reference(t, events[:next]))
}

// A checkpoint whose second part never ran (the processor gave the batch
// up) loses nothing: the next checkpoint writes its changes too, with
// their state then, and deletes the profiles merged away before it.
func TestCheckpointAfterAnAbandonedOneWritesItsChanges(t *testing.T) {
	events := checkpointEvents()
	db := storetest.MemDB(t)
	opts := checkpointOpts
	opts.DB = db
	e, _ := newTestEngine(t0.AddDate(0, 3, 0), opts)
	for _, ev := range events[:1000] {
		ev(e)
	}
	b := db.NewBatch()
	if err := e.Checkpoint(b); err != nil {
		t.Fatal(err)
	}
	commit(t, b)
	if _, closer, err := db.Get([]byte(profPrefix + "visitor")); err != nil {
		t.Fatalf("the visitor was not checkpointed before its merge: %v", err)
	} else {
		closer.Close()
	}
	for _, ev := range events[1000:1300] { // past the visitor's merge
		ev(e)
	}
	abandoned := db.NewBatch()
	if _, err := e.CheckpointSplit(abandoned); err != nil {
		t.Fatal(err)
	}
	abandoned.Close()
	for _, ev := range events[1300:1400] {
		ev(e)
	}
	b = db.NewBatch()
	if err := e.Checkpoint(b); err != nil {
		t.Fatal(err)
	}
	commit(t, b)
	sameAnswers(t, "loaded after the checkpoint that followed an abandoned one", restored(t, db), reference(t, events[:1400]))
	if _, closer, err := db.Get([]byte(profPrefix + "visitor")); err == nil {
		closer.Close()
		t.Error("the profile merged away before the abandoned checkpoint is still stored")
	}
}
