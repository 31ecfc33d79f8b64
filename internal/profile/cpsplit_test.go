package profile

import (
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/store/storetest"
)

// A checkpoint's second part writes the hot states as they were at its
// pause, while the processor goes on changing them in between (each
// change copies the state's slices first); the later changes are not lost
// and the next checkpoint writes them; profiles nothing changed meanwhile
// get the encoding as their record (unmodified, so idle ones can go).
func TestCheckpointSplitWritesThePause(t *testing.T) {
	evs := demoEvents(t, 60, 1<<30)
	half := len(evs) / 2
	s, atPause, all := NewStore(), NewStore(), NewStore()
	for i, e := range evs {
		if i < half {
			s.Apply(e)
			atPause.Apply(e)
		}
		all.Apply(e)
	}
	db := storetest.MemDB(t)
	commit := func(b *pebble.Batch) {
		t.Helper()
		if err := b.Commit(pebble.NoSync); err != nil {
			t.Fatal(err)
		}
	}
	loaded := func() *Store {
		t.Helper()
		l := NewStore()
		if err := l.Load(db); err != nil {
			t.Fatal(err)
		}
		return l
	}

	b := db.NewBatch()
	finish, err := s.CheckpointSplit(b)
	if err != nil {
		t.Fatal(err)
	}
	shared := 0
	for _, h := range s.hot {
		if h.shared != 0 {
			shared++
		}
	}
	if shared == 0 {
		t.Fatal("no hot state left for the second part")
	}
	for _, e := range evs[half:] {
		s.Apply(e) // between the pause and the second part
	}
	if err := finish(); err != nil {
		t.Fatal(err)
	}
	commit(b)
	if d := Diff(loaded(), atPause, 5); len(d) > 0 {
		t.Fatalf("the checkpoint does not hold the state at its pause: %v", d)
	}
	if d := Diff(s, all, 5); len(d) > 0 {
		t.Fatalf("changes made during the second part were lost: %v", d)
	}
	installed := 0
	for _, h := range s.hot {
		if !h.modified {
			installed++
		}
	}
	if installed == 0 {
		t.Error("no profile left unchanged by the second half got its encoding as its record")
	}

	b = db.NewBatch()
	if err := s.Checkpoint(b); err != nil {
		t.Fatal(err)
	}
	commit(b)
	if d := Diff(loaded(), all, 5); len(d) > 0 {
		t.Fatalf("the next checkpoint does not hold the later changes: %v", d)
	}
}
