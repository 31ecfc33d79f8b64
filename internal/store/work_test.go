package store

import (
	"context"
	"testing"
	"time"
)

// TestWorkTotals: finished jobs add their time; running ones count up to
// the moment asked, several at once adding up; an end without a begin
// (a job under way when the store opened) is not counted.
func TestWorkTotals(t *testing.T) {
	t0 := time.Unix(1_000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	var w Work
	w.begin(JobFlush, 1, at(0))
	w.begin(JobCompaction, 2, at(100))
	w.begin(JobCompaction, 3, at(200))
	w.end(JobFlush, 1, at(2_500))
	w.end(JobCompaction, 9, at(2_600)) // never began here

	got := w.Totals(at(3_000))
	want := [jobKinds]JobTotals{
		JobFlush:      {Finished: 1, Busy: 2500 * time.Millisecond},
		JobCompaction: {Busy: 2900*time.Millisecond + 2800*time.Millisecond, Running: 2},
	}
	if got != want {
		t.Fatalf("at 3s: %+v, want %+v", got, want)
	}
	w.end(JobCompaction, 2, at(3_100))
	w.end(JobCompaction, 3, at(3_200))
	got = w.Totals(at(10_000))
	want[JobCompaction] = JobTotals{Finished: 2, Busy: 6 * time.Second}
	if got != want {
		t.Fatalf("at 10s: %+v, want %+v", got, want)
	}
}

// TestStoresTimeTheirJobs: a flush and a compaction of the log's store are
// timed in the log's Work, not the state's; and a store whose Stores were
// not opened by OpenStores has none.
func TestStoresTimeTheirJobs(t *testing.T) {
	s, err := OpenStores(t.TempDir(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	before, stateBefore := s.Work(s.Log).Totals(time.Now()), s.Work(s.State).Totals(time.Now())
	put(t, s.Log, logKeys...)
	if err := s.Log.Flush(); err != nil {
		t.Fatal(err)
	}
	put(t, s.Log, logKeys...)
	if err := s.Log.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := s.Log.Compact(context.Background(), []byte{0}, []byte{0xff}, true); err != nil {
		t.Fatal(err)
	}
	log := s.Work(s.Log).Totals(time.Now())
	for _, k := range []int{JobFlush, JobCompaction} {
		if log[k].Finished <= before[k].Finished || log[k].Busy <= before[k].Busy {
			t.Errorf("log %s: %+v after, %+v before", JobNames[k], log[k], before[k])
		}
	}
	if st := s.Work(s.State).Totals(time.Now()); st[JobFlush].Finished != stateBefore[JobFlush].Finished || st[JobCompaction].Finished != stateBefore[JobCompaction].Finished {
		t.Errorf("state: %+v after the log's jobs, %+v before", st, stateBefore)
	}
	if w := (&Stores{State: s.State, Log: s.Log}).Work(s.Log); w != nil {
		t.Errorf("Stores made by hand: Work %v, want nil", w)
	}
}
