package store

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

func TestBudgetCharge(t *testing.T) {
	ms := time.Millisecond
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	type charge struct {
		work time.Duration
		at   time.Duration // since t0
		want time.Duration
	}
	tests := []struct {
		name    string
		duty    float64
		charges []charge
	}{
		{"half: as long a pause as the work", 0.5, []charge{{10 * ms, 10 * ms, 10 * ms}}},
		{"a third: twice the work", 1.0 / 3, []charge{{10 * ms, 10 * ms, 20 * ms}}},
		{"paid for: the next work starts fresh", 0.5, []charge{{10 * ms, 10 * ms, 10 * ms}, {10 * ms, 30 * ms, 10 * ms}}},
		{"an unpaid pause stays owed", 0.5, []charge{{10 * ms, 10 * ms, 10 * ms}, {10 * ms, 20 * ms, 20 * ms}}},
		{"two jobs at once share the budget", 0.5, []charge{{10 * ms, 10 * ms, 10 * ms}, {10 * ms, 10 * ms, 30 * ms}}},
		{"idle time is no credit", 0.5, []charge{{10 * ms, 10 * ms, 10 * ms}, {10 * ms, time.Hour, 10 * ms}}},
		{"off", 0, []charge{{10 * ms, 10 * ms, 0}}},
		{"full duty is off", 1, []charge{{10 * ms, 10 * ms, 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b budget
			b.duty.Store(math.Float64bits(tt.duty))
			for i, c := range tt.charges {
				if got := b.charge(c.work, t0.Add(c.at)); got != c.want {
					t.Errorf("charge %d: pause %v, want %v", i, got, c.want)
				}
			}
		})
	}
}

// work writes n chunks to f, each after d of "work" (a sleep: the pacer
// counts wall time between writes).
func work(t *testing.T, f vfs.File, n int, d time.Duration) {
	t.Helper()
	for range n {
		time.Sleep(d)
		if _, err := f.Write([]byte("0123456789")); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPacedFiles(t *testing.T) {
	tests := []struct {
		name       string
		category   vfs.DiskWriteCategory
		urgent     bool
		held       bool
		kind       int
		wantPaused bool
	}{
		{"flush", categoryFlush, false, false, JobFlush, true},
		{"compaction", categoryCompaction, false, false, JobCompaction, true},
		{"the WAL is not paced", "pebble-wal", false, false, -1, false},
		{"a store in debt is not paced", categoryFlush, true, false, JobFlush, false},
		{"held: not paced", categoryCompaction, false, true, JobCompaction, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Pacer
			p.SetDuty(0.5, 0.5)
			fs := p.fs(vfs.Default, "test")
			fs.urgent.Store(tt.urgent)
			if tt.held {
				release := p.Hold()
				defer release()
			}
			name := filepath.Join(t.TempDir(), "000001.sst")
			f, err := fs.Create(name, tt.category)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			work(t, f, 10, 5*time.Millisecond)
			took := time.Since(start)
			if err := f.Sync(); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			var paused time.Duration
			for _, d := range p.Paused() {
				paused += d
			}
			// Ten writes after 5 ms of work each at half duty owe 50 ms
			// of pauses; the last write's may still be owed.
			if tt.wantPaused && (paused < 40*time.Millisecond || took < 90*time.Millisecond) {
				t.Errorf("paused %v (took %v), want about 50 ms (100 ms)", paused, took)
			}
			if !tt.wantPaused && paused != 0 {
				t.Errorf("paused %v, want none", paused)
			}
			files := p.Files()
			for k := range files {
				if want := int64(0); k == tt.kind {
					want = 1
					if files[k] != want {
						t.Errorf("%s files %d, want %d", JobNames[k], files[k], want)
					}
				} else if files[k] != want {
					t.Errorf("%s files %d, want %d", JobNames[k], files[k], want)
				}
			}
			b, err := os.ReadFile(name)
			if err != nil || len(b) != 100 {
				t.Errorf("file holds %d bytes (%v), want the 100 written", len(b), err)
			}
		})
	}
}

// TestStoresPaceTheirJobs checks that Pebble's flushes and compactions
// write through the pacer (the categories it names its files by are what
// pacedFS looks for) and that the stores keep working paced.
func TestStoresPaceTheirJobs(t *testing.T) {
	s, err := OpenStores(t.TempDir(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.Pace(ctx, DefaultFlushDuty, DefaultCompactionDuty)
	for _, db := range []*pebble.DB{s.Log, s.State} {
		for range 2 {
			put(t, db, append(logKeys, stateKeys...)...)
			if err := db.Flush(); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Compact(ctx, []byte{0}, []byte{0xff}, true); err != nil {
			t.Fatal(err)
		}
		if n := has(t, db, append(logKeys, stateKeys...)...); n != len(logKeys)+len(stateKeys) {
			t.Errorf("store holds %d of the %d keys", n, len(logKeys)+len(stateKeys))
		}
	}
	files := s.Pacer().Files()
	if files[JobFlush] < 4 || files[JobCompaction] < 2 {
		t.Errorf("files through the pacer: %v, want at least 4 flushed and 2 compacted", files)
	}
	if p := (&Stores{State: s.State, Log: s.Log}).Pacer(); p != nil {
		t.Errorf("Stores made by hand: Pacer %v, want nil", p)
	}
}

// discardFS makes files whose writes go nowhere, so that a benchmark sees
// the cost of what wraps them.
type discardFS struct{ vfs.FS }

type discardFile struct{ vfs.File }

func (d discardFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := d.FS.Create(name, c)
	return discardFile{f}, err
}

func (discardFile) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkPacedWrite is what pacing adds to each write of a flush or a
// compaction when it does not sleep: "plain" is a write that goes nowhere,
// "off" the same through a pacer with no duty, "charged" through one whose
// budget is charged at every write (a duty so near 1 that no write owes
// minPause).
func BenchmarkPacedWrite(b *testing.B) {
	buf := make([]byte, 4096)
	for _, bc := range []struct {
		name string
		duty float64
		raw  bool
	}{{"plain", 0, true}, {"off", 0, false}, {"charged", 0.999, false}} {
		b.Run(bc.name, func(b *testing.B) {
			var p Pacer
			p.SetDuty(bc.duty, bc.duty)
			var fs vfs.FS = discardFS{vfs.NewMem()}
			if !bc.raw {
				fs = p.fs(fs, "bench")
			}
			f, err := fs.Create("000001.sst", categoryFlush)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			for b.Loop() {
				if _, err := f.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
			if p.Paused()[JobFlush] > 0 {
				b.Fatalf("paused %v: the benchmark measures writes that do not sleep", p.Paused())
			}
		})
	}
}
