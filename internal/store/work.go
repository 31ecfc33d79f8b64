package store

import (
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Background work. A store's flushes (a full memtable written out as
// sstables) and compactions (sstables merged into the next level) run
// beside the writes, each using a core for much of the time it runs: on a
// machine of two cores, a flush of the log's 256 MB memtable (2–3 s)
// leaves ingest and the processor about one core between them. Work counts
// and times each kind of job, so that a slow second can be laid beside
// what the stores were doing in it (`tailor bench ingest` does) instead of
// guessed at from a few coincidences.
//
// Pebble's own Metrics would do for compactions (Compact.Duration counts
// one under way up to the moment asked) but not for flushes: their
// WriteThroughput counts a flush only once it ends, so a 2–3 s flush would
// land whole in the second it finished. One clock for both kinds keeps
// them comparable.

// Job kinds Work times.
const (
	JobFlush = iota
	JobCompaction
	jobKinds
)

// JobNames are the names of the job kinds, as metrics label them.
var JobNames = [jobKinds]string{"flush", "compaction"}

// Work is what one store's background jobs have done since it opened. The
// zero value is ready.
type Work struct {
	mu    sync.Mutex
	kinds [jobKinds]jobClock
}

// jobClock is the jobs of one kind: those finished, and the start of those
// running, by Pebble's job id.
type jobClock struct {
	n       uint64
	done    time.Duration
	running map[int]time.Time
}

// JobTotals is one kind of job's figures at a moment.
type JobTotals struct {
	// Finished is how many jobs ended (a failed one too).
	Finished uint64
	// Busy is how long jobs have run in all, those still running up to
	// the moment asked; jobs running at once add up, so that Busy grows
	// by up to two seconds a second when two run.
	Busy time.Duration
	// Running is how many jobs are under way.
	Running int
}

// Totals returns the figures of each kind of job (by JobFlush,
// JobCompaction) at now.
func (w *Work) Totals(now time.Time) [jobKinds]JobTotals {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out [jobKinds]JobTotals
	for k := range w.kinds {
		c := &w.kinds[k]
		t := JobTotals{Finished: c.n, Busy: c.done, Running: len(c.running)}
		for _, began := range c.running {
			t.Busy += max(0, now.Sub(began))
		}
		out[k] = t
	}
	return out
}

func (w *Work) begin(kind int, id int, now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := &w.kinds[kind]
	if c.running == nil {
		c.running = make(map[int]time.Time)
	}
	c.running[id] = now
}

func (w *Work) end(kind int, id int, now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := &w.kinds[kind]
	began, ok := c.running[id]
	if !ok {
		return // began before the listener was set: not timed
	}
	delete(c.running, id)
	c.n++
	c.done += max(0, now.Sub(began))
}

// listener returns the event handlers that time w's jobs.
func (w *Work) listener() pebble.EventListener {
	return pebble.EventListener{
		FlushBegin:      func(i pebble.FlushInfo) { w.begin(JobFlush, i.JobID, time.Now()) },
		FlushEnd:        func(i pebble.FlushInfo) { w.end(JobFlush, i.JobID, time.Now()) },
		CompactionBegin: func(i pebble.CompactionInfo) { w.begin(JobCompaction, i.JobID, time.Now()) },
		CompactionEnd:   func(i pebble.CompactionInfo) { w.end(JobCompaction, i.JobID, time.Now()) },
	}
}
