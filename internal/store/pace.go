package store

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Pacing the background jobs. A flush of the log's 256 MB memtable is
// 1–3 s of a core's work, a compaction beside it another core's, and on a
// machine of two cores the requests waiting behind them are the tail of
// the acknowledgements: at 40 k events/s into a 1 M-customer store ingest
// and the processor need 1.1–1.3 of the two cores, so a second holding a
// flush and a compaction needs more than there is, and the backlog it
// leaves takes seconds to drain. On average the same jobs need a tenth of
// a core. A Pacer spreads them out: it lets the flushes of the stores that
// share it work at most a share (their duty) of the wall clock, and the
// compactions another, by making the job sleep in its file writes once it
// has worked more than its share. The work is the same; its peak is lower.
//
// Work is measured as the time between a job's writes (building,
// compressing and checksumming the next block), so a job descheduled for
// want of a core counts that wait as work too and is paced harder when the
// cores are busy, which is when pacing matters. A store in debt is not
// paced (see watch): a flush behind which memtables queue up, or a level 0
// deep enough to slow reads, is worse than the burst.

// Pacing defaults: flushes may work half of the time, compactions a third.
// Measured with `tailor bench ingest --rate 40000` into the 1 M-customer
// store (docs/ARCHITECTURE.md, "The stores' jobs are paced").
const (
	DefaultFlushDuty      = 0.5
	DefaultCompactionDuty = 1.0 / 3
)

// minPause is the shortest sleep a paced job takes: shorter debts wait in
// the budget for the next write, since a timer sleeps about this long
// anyway.
const minPause = time.Millisecond

// maxPause bounds one sleep: what is left stays owed and is slept at the
// next writes, so a job never stops for long at once.
const maxPause = 50 * time.Millisecond

// Pacer paces the flushes and compactions of the stores opened with it.
// The zero value paces nothing; Stores made by OpenStores carry one
// (Stores.Pacer), off until SetDuty.
type Pacer struct {
	kinds [jobKinds]budget
	held  atomic.Int32 // Hold calls not yet released: nothing is paced
}

// Hold turns pacing off until the returned func is called, for bulk work
// that wants the stores' jobs at full speed (a demo load and its settling
// compaction): nobody waits on its requests' latency, and paced jobs would
// only make it longer. Holds nest.
func (p *Pacer) Hold() (release func()) {
	p.held.Add(1)
	var once sync.Once
	return func() { once.Do(func() { p.held.Add(-1) }) }
}

// budget is one kind of job's share of the clock, shared by every store's
// jobs of that kind: two compactions at once share one budget.
type budget struct {
	duty   atomic.Uint64 // math.Float64bits; 0 or ≥ 1: not paced
	mu     sync.Mutex
	next   time.Time // when the work charged so far is paid for
	paused atomic.Int64
	files  atomic.Int64
}

// SetDuty sets the shares of the clock flushes and compactions may work;
// 0 (or 1 and more) turns pacing of that kind off.
func (p *Pacer) SetDuty(flush, compaction float64) {
	p.kinds[JobFlush].duty.Store(math.Float64bits(flush))
	p.kinds[JobCompaction].duty.Store(math.Float64bits(compaction))
}

// Paused returns how long jobs of each kind (by JobFlush, JobCompaction)
// have slept to keep to their duty.
func (p *Pacer) Paused() [jobKinds]time.Duration {
	var out [jobKinds]time.Duration
	for k := range p.kinds {
		out[k] = time.Duration(p.kinds[k].paused.Load())
	}
	return out
}

// Files returns how many sstables jobs of each kind have begun through the
// pacer, paced or not.
func (p *Pacer) Files() [jobKinds]int64 {
	var out [jobKinds]int64
	for k := range p.kinds {
		out[k] = p.kinds[k].files.Load()
	}
	return out
}

// charge adds work done by a job of this budget's kind, ending at now, and
// returns how long the job should sleep before going on.
func (b *budget) charge(work time.Duration, now time.Time) time.Duration {
	d := math.Float64frombits(b.duty.Load())
	if d <= 0 || d >= 1 || work <= 0 {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	// Time no job worked is not credit: a job after an idle minute is
	// paced from its start.
	if start := now.Add(-work); b.next.Before(start) {
		b.next = start
	}
	b.next = b.next.Add(time.Duration(float64(work) / d))
	return b.next.Sub(now)
}

// fs wraps base so that the sstables flushes and compactions of one store
// write through it are paced.
func (p *Pacer) fs(base vfs.FS, name string) *pacedFS {
	return &pacedFS{FS: base, p: p, name: name}
}

// watch keeps each store's debt in view until ctx ends, reading its
// metrics every interval: while a store's flushes fall behind (memtables
// queued) or its level 0 grows deep, its jobs run unpaced.
func watch(ctx context.Context, interval time.Duration, stores map[*pebble.DB]*pacedFS) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for db, fs := range stores {
			m := db.Metrics()
			debt := inDebt(m)
			if fs.urgent.Swap(debt) != debt {
				msg := "store caught up: its jobs are paced again"
				if debt {
					msg = "store behind: its jobs run unpaced"
				}
				slog.Info(msg, "store", fs.name, "memtables", m.MemTable.Count,
					"l0_sublevels", m.Levels[0].Sublevels, "compaction_debt_bytes", m.Compact.EstimatedDebt)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// inDebt says whether a store's jobs must run at full speed: a memtable
// waits for a flush besides the one being flushed (writes stop at
// Pebble's MemTableStopWritesThreshold), or level 0 holds as many
// sublevels as make Pebble compact it at once (its L0CompactionThreshold
// of 4, plus some; writes stop at 12). Those are what stall writes and
// slow reads. Pebble's estimated compaction debt is not: a settled
// 1 M-customer log store under load holds 1.5 GB of it with level 0 at
// two sublevels, and a first version that unpaced above 1 GiB left the
// log's store unpaced for good two minutes into a run.
func inDebt(m *pebble.Metrics) bool {
	return m.MemTable.Count > 2 || m.Levels[0].Sublevels >= 6
}

// pacedFS is a store's file system: sstables written for a flush or a
// compaction are paced files.
type pacedFS struct {
	vfs.FS
	p      *Pacer
	name   string // the store's, for the log
	urgent atomic.Bool
}

// Pebble's categories of the files its flushes and compactions write.
const (
	categoryFlush      vfs.DiskWriteCategory = "pebble-memtable-flush"
	categoryCompaction vfs.DiskWriteCategory = "pebble-compaction"
)

func (fs *pacedFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, category)
	if err != nil {
		return f, err
	}
	kind := -1
	switch category {
	case categoryFlush:
		kind = JobFlush
	case categoryCompaction:
		kind = JobCompaction
	}
	if kind < 0 {
		return f, nil
	}
	b := &fs.p.kinds[kind]
	b.files.Add(1)
	return &pacedFile{File: f, fs: fs, b: b, last: time.Now()}, nil
}

// pacedFile is one sstable being written by a flush or a compaction. Pebble
// writes a file from one goroutine at a time.
type pacedFile struct {
	vfs.File
	fs   *pacedFS
	b    *budget
	last time.Time // when the job last came back from the file
}

func (f *pacedFile) Write(p []byte) (int, error) {
	f.pace()
	n, err := f.File.Write(p)
	f.last = time.Now()
	return n, err
}

func (f *pacedFile) Sync() error {
	err := f.File.Sync()
	f.last = time.Now()
	return err
}

func (f *pacedFile) SyncData() error {
	err := f.File.SyncData()
	f.last = time.Now()
	return err
}

func (f *pacedFile) SyncTo(length int64) (bool, error) {
	full, err := f.File.SyncTo(length)
	f.last = time.Now()
	return full, err
}

// pace charges the work since the job last came back from the file and
// sleeps as its budget says.
func (f *pacedFile) pace() {
	if f.fs.urgent.Load() || f.fs.p.held.Load() > 0 {
		return
	}
	now := time.Now()
	wait := min(f.b.charge(now.Sub(f.last), now), maxPause)
	if wait < minPause {
		return
	}
	time.Sleep(wait)
	f.b.paused.Add(int64(wait))
}
