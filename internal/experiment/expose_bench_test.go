package experiment

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/store/storetest"
)

// diskLog stands in for the server's AppendInternal: each append is one
// JSON-encoded event per exposure, written in one synced Pebble batch on
// disk, the durable write a synchronous exposure waits for.
type diskLog struct {
	db  *pebble.DB
	seq int
}

func openDiskLog(b *testing.B) *diskLog {
	return &diskLog{db: storetest.DiskDB(b)}
}

func (l *diskLog) append(xs []Exposure) error {
	bt := l.db.NewBatch()
	for _, x := range xs {
		v, _ := json.Marshal(map[string]any{"type": "track", "event": ExposureEvent, "userId": x.Profile, "properties": x.Properties()})
		l.seq++
		bt.Set([]byte("e"+strconv.Itoa(l.seq)), v, nil)
	}
	return bt.Commit(pebble.Sync)
}

// BenchmarkExpose compares, in one run, the decision path's cost of
// logging an exposure synchronously (Expose: a durable append per call)
// with the asynchronous queue (ExposeAsync: batched appends by
// RunExposures), for a new profile each call (every call has an exposure
// to log) and for a profile already exposed (nothing to log).
func BenchmarkExpose(b *testing.B) {
	profs := make([]string, 1<<16)
	for i := range profs {
		profs[i] = "p_" + strconv.Itoa(i)
	}
	b.Run("sync-disk", func(b *testing.B) {
		l := openDiskLog(b)
		e := New(Options{Record: func(_ context.Context, prof string, props map[string]any) error {
			return l.append([]Exposure{{Profile: prof, Experiment: "x", Variant: props["variant"].(string)}})
		}})
		running(b, e, def("x", 0))
		ctx := context.Background()
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			if _, err := e.Expose(ctx, "x", profs[i&(len(profs)-1)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("async-disk", func(b *testing.B) {
		l := openDiskLog(b)
		e := New(Options{RecordBatch: func(_ context.Context, xs []Exposure) error { return l.append(xs) }, QueueSize: 1 << 16})
		running(b, e, def("x", 0))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { e.RunExposures(ctx); close(done) }()
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			p := profs[i&(len(profs)-1)]
			if i&(len(profs)-1) == 0 && i > 0 {
				// A new round of the same profiles: let them count as
				// new again (nothing applies the exposures here).
				b.StopTimer()
				e.inflight.prune(1 << 62)
				b.StartTimer()
			}
			if _, ok := e.ExposeAsync("x", p); !ok {
				b.Fatal("not running")
			}
		}
		b.StopTimer()
		cancel()
		<-done
		b.ReportMetric(count(e.metrics.dropped)/float64(b.N), "dropped/op")
	})
	b.Run("async-already-exposed", func(b *testing.B) {
		e := New(Options{RecordBatch: func(context.Context, []Exposure) error { return nil }})
		running(b, e, def("x", 0))
		for _, p := range profs {
			v, _ := e.Assign("x", p)
			expose(e, "x", p, v, t0)
		}
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			e.ExposeAsync("x", profs[i&(len(profs)-1)])
		}
	})
}
