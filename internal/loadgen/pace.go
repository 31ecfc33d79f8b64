package loadgen

import (
	"math"
	"sync/atomic"
	"time"
)

// pacer is the schedule of a paced (open-loop) run: request k is due at
// start + k*interval, and the first worker that is free takes the next
// request. A worker that is idle holds the next request and sleeps until it
// is due, so the starts are spread evenly whatever the number of workers.
//
// When every worker is busy at the time a request comes due (the concurrency
// cap is reached), that request starts as soon as one is free, and its
// latency is still measured from when it was due: a slow server cannot hide
// the requests it kept waiting (coordinated omission). The backlog is worked
// off at most one request per worker at a time, never as a burst beyond the
// cap, and what was due but never started when the run ended is counted.
type pacer struct {
	rate     float64       // offered events per second
	interval float64       // nanoseconds between request starts
	length   time.Duration // of the schedule: no request is due at or after start+length
	start    time.Time     // set by begin before any worker runs
	next     atomic.Uint64 // the next request to hand out
}

// newPacer returns the schedule for rate events/s sent batch events per
// request during d; rate must be positive.
func newPacer(rate float64, batch int, d time.Duration) *pacer {
	return &pacer{rate: rate, interval: float64(batch) / rate * 1e9, length: d}
}

// begin starts the schedule: request 0 is due at start.
func (p *pacer) begin(start time.Time) { p.start = start }

// wait hands the calling worker the next request and blocks until it is due.
// It returns the time the request was due, or false when the schedule is over
// or the run stopped before the request came due. idle is when the worker
// finished its previous request (the run's start for its first).
//
// How late the request starts goes into the worker's late histogram when the
// worker was still busy as it came due: no worker took it in time because
// all were busy, the concurrency cap. Otherwise the lateness is the load
// generator's own (its timer or goroutine woke late) and goes into startLag.
// timer belongs to the worker.
func (p *pacer) wait(w *workerStats, stop *stopSignal, timer *time.Timer, idle time.Time) (time.Time, bool) {
	at := float64(p.next.Add(1)-1) * p.interval
	if at >= float64(p.length) {
		return time.Time{}, false
	}
	due := p.start.Add(time.Duration(at))
	lag := time.Since(due)
	switch {
	case lag >= 0 && due.Before(idle):
		w.late.Record(lag)
		return due, true
	case lag >= 0:
		w.startLag.Record(lag)
		return due, true
	}
	timer.Reset(-lag)
	select {
	case <-timer.C:
	case <-stop.done:
		if time.Now().Before(due) {
			return time.Time{}, false
		}
	}
	w.startLag.Record(time.Since(due))
	return due, true
}

// dueBefore returns how many requests came due before t.
func (p *pacer) dueBefore(t time.Time) uint64 {
	el := min(t.Sub(p.start), p.length)
	if el <= 0 {
		return 0
	}
	return uint64(math.Ceil(float64(el) / p.interval))
}
