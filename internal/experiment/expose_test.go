package experiment

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// recorder is a fake log: it keeps what Record and RecordBatch append.
type recorder struct {
	mu      sync.Mutex
	singles []map[string]any
	batches [][]Exposure
	fail    error
}

func (r *recorder) record(_ context.Context, prof string, props map[string]any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.singles = append(r.singles, props)
	return nil
}

func (r *recorder) batch(_ context.Context, xs []Exposure) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.batches = append(r.batches, append([]Exposure(nil), xs...))
	return nil
}

func (r *recorder) exposures() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(r.singles)
	for _, b := range r.batches {
		n += len(b)
	}
	return n
}

func TestExposeOnceLogsOnePerProfileUntilApplied(t *testing.T) {
	rec := &recorder{}
	e := New(Options{Record: rec.record, Now: func() time.Time { return t0 }})
	running(t, e, def("subj", 0))
	ctx := context.Background()
	for range 3 {
		for _, p := range []string{"p1", "p2"} {
			if _, err := e.ExposeOnce(ctx, "subj", p); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := rec.exposures(); n != 2 {
		t.Fatalf("%d exposures logged for 2 profiles shown 3 times each, want 2", n)
	}
	// Once applied, the unit answers: still nothing more to log.
	v, _ := e.Assign("subj", "p1")
	expose(e, "subj", "p1", v, t0)
	if got, _ := e.ExposeOnce(ctx, "subj", "p1"); got != v || rec.exposures() != 2 {
		t.Errorf("variant %s (want %s), %d exposures after the unit exists, want 2", got, v, rec.exposures())
	}
	// A failed write frees the profile for the next try.
	rec.fail = errors.New("disk full")
	if _, err := e.ExposeOnce(ctx, "subj", "p3"); err == nil {
		t.Fatal("a failed record must be an error")
	}
	rec.fail = nil
	if _, err := e.ExposeOnce(ctx, "subj", "p3"); err != nil || rec.exposures() != 3 {
		t.Errorf("retry after a failed write: err %v, %d exposures, want 3", err, rec.exposures())
	}
	if _, err := e.ExposeOnce(ctx, "nope", "p1"); !errors.Is(err, ErrNotRunning) {
		t.Errorf("unknown experiment: %v, want ErrNotRunning", err)
	}
}

func TestExposeAsyncBatchesDropsWhenFullAndFlushesOnShutdown(t *testing.T) {
	rec := &recorder{}
	e := New(Options{Record: rec.record, RecordBatch: rec.batch, QueueSize: 100})
	running(t, e, def("subj", 0))
	// The queue is not drained yet: 100 fit, the rest are dropped.
	for i := range 150 {
		v, ok := e.ExposeAsync("subj", fmt.Sprint("p", i))
		if want, _ := e.Assign("subj", fmt.Sprint("p", i)); !ok || v != want {
			t.Fatalf("p%d: %s %v, want %s", i, v, ok, want)
		}
	}
	// Shown again while queued: not queued twice.
	e.ExposeAsync("subj", "p0")
	if q, d := count(e.metrics.queued), count(e.metrics.dropped); q != 100 || d != 50 {
		t.Fatalf("queued %v dropped %v, want 100 and 50", q, d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.RunExposures(ctx); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for rec.exposures() < 100 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	// A dropped profile is queued at its next exposure; then shut down:
	// what is queued is flushed before RunExposures returns.
	e.ExposeAsync("subj", "p120")
	cancel()
	<-done
	if n := rec.exposures(); n != 101 {
		t.Errorf("%d exposures logged, want 101", n)
	}
	if len(rec.singles) != 0 {
		t.Errorf("%d exposures logged one by one, want all in batches", len(rec.singles))
	}
	for _, b := range rec.batches {
		if len(b) > maxBatch {
			t.Errorf("a batch of %d, over %d", len(b), maxBatch)
		}
	}
	if _, ok := e.ExposeAsync("nope", "p1"); ok {
		t.Error("an unknown experiment must answer not ok")
	}
}

func TestExposeAsyncCountsFailedBatchesAndRetriesLater(t *testing.T) {
	rec := &recorder{fail: errors.New("log closed")}
	e := New(Options{RecordBatch: rec.batch})
	running(t, e, def("subj", 0))
	e.ExposeAsync("subj", "p1")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	e.RunExposures(ctx)
	if f := count(e.metrics.failed); f != 1 {
		t.Fatalf("failed %v, want 1", f)
	}
	rec.fail = nil
	e.ExposeAsync("subj", "p1") // freed by the failure: queued again
	e.RunExposures(ctx)
	if rec.exposures() != 1 {
		t.Errorf("%d exposures after the retry, want 1", rec.exposures())
	}
}

func TestVariantsNamesControlFirstAndTheStatus(t *testing.T) {
	e := New(Options{})
	if _, err := e.Create(def("subj", 0)); err != nil {
		t.Fatal(err)
	}
	vs, run, err := e.Variants("subj")
	if err != nil || run || len(vs) != 2 || vs[0] != "a" {
		t.Errorf("draft: %v %v %v", vs, run, err)
	}
	e.Start("subj")
	if _, run, _ = e.Variants("subj"); !run {
		t.Error("started experiment not running")
	}
	if _, _, err := e.Variants("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown: %v", err)
	}
}

func count(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}
