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

// Checkpoints in a row reuse their buffers: each still holds the state at
// its own pause, with changes made during every second part, and the kept
// buffers hold no copy of a state between checkpoints.
func TestCheckpointSplitRounds(t *testing.T) {
	evs := demoEvents(t, 80, 1<<30)
	s, atPause := NewStore(), NewStore()
	db := storetest.MemDB(t)
	const rounds = 6
	n := len(evs) / rounds
	for r := range rounds {
		chunk := evs[r*n : (r+1)*n]
		during := len(chunk) / 3 // applied between the pause and the second part
		for _, e := range chunk[:len(chunk)-during] {
			s.Apply(e)
			atPause.Apply(e)
		}
		splitCheckpoint(t, s, db, func() {
			for _, e := range chunk[len(chunk)-during:] {
				s.Apply(e)
			}
		})
		l := NewStore()
		if err := l.Load(db); err != nil {
			t.Fatal(err)
		}
		if d := Diff(l, atPause, 5); len(d) > 0 {
			t.Fatalf("round %d: the checkpoint does not hold the state at its pause: %v", r, d)
		}
		for _, e := range chunk[len(chunk)-during:] {
			atPause.Apply(e)
		}
		if s.cpBufs == nil {
			t.Fatalf("round %d: the checkpoint's buffers were not kept", r)
		}
		for _, sn := range s.cpBufs.snaps[:cap(s.cpBufs.snaps)] {
			if sn.p != nil || sn.h != nil || sn.id != "" {
				t.Fatalf("round %d: a kept buffer still holds a copy of %s", r, sn.id)
			}
		}
	}
}

// BenchmarkCheckpointPause times a checkpoint's first part, the
// processor's pause, with a tenth of 20,000 demo customers' profiles
// changed since the last checkpoint (hot, as under load); the second part
// and the commit run outside the timer.
func BenchmarkCheckpointPause(b *testing.B) {
	evs := demoEvents(b, 20000, 1<<30)
	s := NewStore()
	for _, e := range evs {
		s.Apply(e)
	}
	db := storetest.MemDB(b)
	splitCheckpoint(b, s, db, nil)
	// Each round changes the profiles of a window of the events: about a
	// tenth of the customers.
	window := len(evs) / 10
	dirty := 0
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		lo := (i * window) % (len(evs) - window)
		for _, e := range evs[lo : lo+window] {
			e.Seq = 0 // applied again: a new event to the store
			s.Apply(e)
		}
		dirty += len(s.dirty)
		b.StartTimer()
		splitCheckpoint(b, s, db, b.StopTimer) // the first part timed
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(dirty), "ns/changed")
	b.ReportMetric(float64(dirty)/float64(b.N), "changed/op")
}

// splitCheckpoint checkpoints s into db in two parts, calling between (when
// not nil) after the first, as the processor resumes applying there.
func splitCheckpoint(tb testing.TB, s *Store, db *pebble.DB, between func()) {
	tb.Helper()
	bt := db.NewBatch()
	finish, err := s.CheckpointSplit(bt)
	if err == nil {
		if between != nil {
			between()
		}
		err = finish()
	}
	if err == nil {
		err = bt.Commit(pebble.NoSync)
	}
	if err != nil {
		tb.Fatal(err)
	}
}
