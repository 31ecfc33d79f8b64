package loadgen

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// workerStats is written by one worker only (atomically, so that the progress
// reporter can read it while the run goes on).
type workerStats struct {
	hist     Histogram
	events   atomic.Uint64 // acknowledged events
	requests atomic.Uint64 // acknowledged requests (or commits)
	rejected atomic.Uint64 // events inside acknowledged requests that the server rejected
	errors   atomic.Uint64 // failed requests
	// Paced runs only: how late requests started after their scheduled time.
	late     Histogram // requests that found every worker busy when they came due
	startLag Histogram // the others: how late the worker's timer woke it
	_        [64]byte  // keep the next worker's counters off this cache line
}

// stopSignal tells a run's workers to finish: stopped is cheap enough to check
// before every request, done interrupts a paced worker's wait.
type stopSignal struct {
	flag atomic.Bool
	done chan struct{}
}

func newStopSignal() *stopSignal { return &stopSignal{done: make(chan struct{})} }

func (s *stopSignal) stopped() bool { return s.flag.Load() }

func (s *stopSignal) stop() {
	s.flag.Store(true)
	close(s.done)
}

// errorLog tallies failures by kind and keeps the first few distinct ones.
// Only the failure path takes its lock.
type errorLog struct {
	mu      sync.Mutex
	kinds   map[string]uint64
	samples []string
}

const maxErrorSamples = 5

func (e *errorLog) add(kind, detail string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.kinds == nil {
		e.kinds = make(map[string]uint64)
	}
	e.kinds[kind]++
	if len(e.samples) >= maxErrorSamples {
		return
	}
	s := kind
	if detail != "" {
		s += ": " + detail
	}
	for _, x := range e.samples {
		if x == s {
			return
		}
	}
	e.samples = append(e.samples, s)
}

// Result is what one timed run measured.
type Result struct {
	Name        string
	Concurrency int
	Elapsed     time.Duration // from the start until the last worker finished
	Events      uint64        // acknowledged events
	Requests    uint64        // acknowledged requests (commits for pebble)
	Rejected    uint64        // events the server answered 2xx for but rejected
	Errors      uint64        // failed requests
	ErrorKinds  map[string]uint64
	Samples     []string      // first distinct errors, with their bodies
	Latency     *HistSnapshot // acknowledged requests only
	Stalls      uint64        // times a worker waited for bodies to be rendered
	Interrupted bool          // the context was cancelled before the duration ran out

	// Paced runs only (Rate > 0). Latency is then measured from each
	// request's scheduled start, so it includes LateStarts and StartLag.
	Rate       float64       // offered events per second
	Scheduled  uint64        // requests that came due before the run stopped
	LateStarts *HistSnapshot // how late requests started that found every worker busy
	StartLag   *HistSnapshot // how late the others started: the generator's timer
}

// Unstarted is how many requests came due in a paced run but never started:
// the backlog when the run stopped.
func (r *Result) Unstarted() uint64 {
	started := r.Requests + r.Errors // every started request ends as one of them
	if r.Scheduled <= started {
		return 0
	}
	return r.Scheduled - started
}

// EventsPerSec is the acknowledged event rate over the run.
func (r *Result) EventsPerSec() float64 { return perSec(r.Events, r.Elapsed) }

// RequestsPerSec is the acknowledged request rate over the run.
func (r *Result) RequestsPerSec() float64 { return perSec(r.Requests, r.Elapsed) }

func perSec(n uint64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// errorSummary is "errors 0" or "errors 12 (status 503: 10, transport: 2)".
func (r *Result) errorSummary() string {
	if r.Errors == 0 {
		return "errors 0"
	}
	kinds := make([]string, 0, len(r.ErrorKinds))
	for k := range r.ErrorKinds {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for i, k := range kinds {
		kinds[i] = fmt.Sprintf("%s: %d", k, r.ErrorKinds[k])
	}
	return fmt.Sprintf("errors %d (%s)", r.Errors, strings.Join(kinds, ", "))
}

// latencySummary is "p50 3.1ms p90 5.0ms p99 12.0ms p99.9 20.1ms max 40.0ms".
func (r *Result) latencySummary() string {
	h := r.Latency
	if h.N == 0 {
		return "latency n/a"
	}
	return fmt.Sprintf("p50 %s p90 %s p99 %s p99.9 %s max %s",
		fmtDur(h.Quantile(0.5)), fmtDur(h.Quantile(0.9)), fmtDur(h.Quantile(0.99)),
		fmtDur(h.Quantile(0.999)), fmtDur(time.Duration(h.Max)))
}

func fmtDur(d time.Duration) string {
	switch {
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
}

// runSpec describes one timed run.
type runSpec struct {
	name        string
	duration    time.Duration
	concurrency int
	progress    io.Writer // one line per second; nil for none
	// work is one worker's loop: it must return soon after stop.
	work func(w *workerStats, errs *errorLog, stop *stopSignal)
	// pace, if set, is the schedule work follows; run starts it.
	pace *pacer
	// extra, if set, is given each second's latencies and appends what
	// it returns to the second's progress line.
	extra func(sec *HistSnapshot) string
}

// run starts the workers, reports progress every second, stops them after the
// duration (or when ctx is done), waits for them and merges their statistics.
func run(ctx context.Context, s runSpec) *Result {
	stats := make([]workerStats, s.concurrency)
	var errs errorLog
	stop := newStopSignal()
	var wg sync.WaitGroup
	start := time.Now()
	if s.pace != nil {
		s.pace.begin(start)
	}
	for i := range stats {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.work(&stats[i], &errs, stop)
		}()
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()

	timer := time.NewTimer(s.duration)
	defer timer.Stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	interrupted := false
	lastAt, lastEvents, lastSnap := start, uint64(0), new(HistSnapshot)
	// report prints the progress line of the time since the last one; the
	// last part second's says its time to a tenth.
	report := func(now time.Time, part bool) {
		snap := new(HistSnapshot)
		var events, errors, late uint64
		for i := range stats {
			snap.Add(&stats[i].hist)
			events += stats[i].events.Load()
			errors += stats[i].errors.Load()
			late += stats[i].late.n.Load()
		}
		// The run's p99 so far, and the last second's p99 and max:
		// a stall shows in the second it happened.
		sec := snap.Since(lastSnap)
		at := fmt.Sprintf("%4.0fs", now.Sub(start).Seconds())
		if part {
			at = fmt.Sprintf("%4.1fs", now.Sub(start).Seconds())
		}
		line := fmt.Sprintf("bench %s %s %9.0f events/s  p99 %s  last second p99 %s max %s  errors %d",
			s.name, at, perSec(events-lastEvents, now.Sub(lastAt)),
			fmtDur(snap.Quantile(0.99)), fmtDur(sec.Quantile(0.99)), fmtDur(time.Duration(sec.Max)), errors)
		if s.pace != nil {
			line += fmt.Sprintf("  late starts %d", late)
		}
		if s.extra != nil {
			if x := s.extra(sec); x != "" {
				line += "  " + x
			}
		}
		fmt.Fprintln(s.progress, line)
		lastAt, lastEvents, lastSnap = now, events, snap
	}
	for running := true; running; {
		select {
		case <-timer.C:
			running = false
		case <-ctx.Done():
			interrupted, running = true, false
		case <-tick.C:
			if s.progress != nil {
				report(time.Now(), false)
			}
		}
	}
	stop.stop()
	stoppedAt := time.Now()
	<-finished
	// The run's last part second, with the requests in flight at the stop:
	// a stall there shows too (and is filed by extra like the others).
	if now := time.Now(); s.progress != nil && !interrupted && now.Sub(lastAt) >= 50*time.Millisecond {
		report(now, true)
	}
	r := &Result{
		Name:        s.name,
		Concurrency: s.concurrency,
		Elapsed:     time.Since(start),
		Latency:     new(HistSnapshot),
		Interrupted: interrupted,
	}
	for i := range stats {
		w := &stats[i]
		r.Latency.Add(&w.hist)
		r.Events += w.events.Load()
		r.Requests += w.requests.Load()
		r.Rejected += w.rejected.Load()
		r.Errors += w.errors.Load()
	}
	r.ErrorKinds, r.Samples = errs.kinds, errs.samples
	if s.pace != nil {
		r.Rate = s.pace.rate
		r.Scheduled = s.pace.dueBefore(stoppedAt)
		r.LateStarts, r.StartLag = new(HistSnapshot), new(HistSnapshot)
		for i := range stats {
			r.LateStarts.Add(&stats[i].late)
			r.StartLag.Add(&stats[i].startLag)
		}
	}
	return r
}
