package experiment

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Exposure is one exposure waiting to be logged.
type Exposure struct {
	Experiment string
	Profile    string
	Variant    string
	At         time.Time
}

// Properties are the exposure event's properties.
func (x Exposure) Properties() map[string]any {
	return map[string]any{"experiment_id": x.Experiment, "variant": x.Variant}
}

// Queue tuning.
const (
	DefaultQueueSize = 16384
	// maxBatch bounds the exposures one RecordBatch appends.
	maxBatch = 512
	// inflightTTL is how long an exposure handed to the log keeps later
	// ones of the same profile from being logged again before the
	// processor applies it; one that never arrives (its experiment
	// stopped, its write failed after the claim) frees the profile then.
	inflightTTL = 10 * time.Minute
	// flushTimeout bounds the final flush at shutdown.
	flushTimeout = 10 * time.Second
)

// inflightKey is an exposure logged (or queued) but not yet applied. A
// struct of two strings, not their concatenation: the hot path allocates
// nothing to build it.
type inflightKey struct{ exp, prof string }

// inflight remembers exposures between their logging and their
// application, so that a profile shown a variant many times in a row (a
// campaign's sends, a page's decisions) is logged once.
type inflight struct {
	mu sync.Mutex
	m  map[inflightKey]int64 // claim time, unix seconds
}

// claim marks (exp, prof) in flight; false when it was already.
func (f *inflight) claim(exp, prof string, now int64) bool {
	k := inflightKey{exp, prof}
	f.mu.Lock()
	defer f.mu.Unlock()
	if at, ok := f.m[k]; ok && now-at < int64(inflightTTL/time.Second) {
		return false
	}
	f.m[k] = now
	return true
}

func (f *inflight) settle(exp, prof string) {
	f.mu.Lock()
	delete(f.m, inflightKey{exp, prof})
	f.mu.Unlock()
}

func (f *inflight) prune(now int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, at := range f.m {
		if now-at >= int64(inflightTTL/time.Second) {
			delete(f.m, k)
		}
	}
}

// queueMetrics are the asynchronous exposure queue's counters.
type queueMetrics struct {
	queued, dropped, failed prometheus.Counter
	depth                   prometheus.GaugeFunc
}

func newQueueMetrics(depth func() float64) queueMetrics {
	m := queueMetrics{
		queued: prometheus.NewCounter(prometheus.CounterOpts{Name: "tailor_experiment_exposures_queued_total",
			Help: "Exposures put on the asynchronous queue (ExposeAsync) to be logged in batches."}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "tailor_experiment_exposures_dropped_total",
			Help: "Exposures dropped because the asynchronous queue was full (the unit is logged at its next exposure)."}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{Name: "tailor_experiment_exposures_failed_total",
			Help: "Queued exposures whose batched append to the log failed."}),
	}
	m.depth = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tailor_experiment_exposure_queue_depth",
		Help: "Exposures waiting on the asynchronous queue."}, depth)
	return m
}

// Collectors are the asynchronous exposure queue's metrics, for the
// server's Prometheus registry.
func (e *Engine) Collectors() []prometheus.Collector {
	return []prometheus.Collector{e.metrics.queued, e.metrics.dropped, e.metrics.failed, e.metrics.depth}
}

// assign is Assign that also says whether the profile is an exposed unit
// already (nothing to log then).
func (e *Engine) assign(experimentID, prof string) (variant string, exposed, ok bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	s := e.exps[experimentID]
	if s == nil || s.def.Status != StatusRunning {
		return "", false, false
	}
	if i, ok := s.byProfile.Get(prof); ok {
		return s.def.Variants[s.units[i].variant].ID, true, true
	}
	w := s.alloc
	if w == nil {
		// On the stack, not def.weights(): the decision path allocates
		// nothing to assign.
		var buf [maxVariants]uint32
		w = buf[:len(s.def.Variants)]
		for i, v := range s.def.Variants {
			w[i] = v.Weight
		}
	}
	var i int
	if s.def.Bucketing == BucketProfile {
		i = bucketIndex(ProfileBucket(prof), w)
	} else {
		i = Assign(s.def.Salt, prof, w)
	}
	if i < 0 {
		return "", false, false
	}
	return s.def.Variants[i].ID, false, true
}

// ExposeOnce is Expose for places that show a variant again and again (a
// message experiment's sends): it logs the exposure only when the profile
// is not an exposed unit yet and no exposure of it is on its way to the
// log, so the log holds one exposure per profile, not one per send.
func (e *Engine) ExposeOnce(ctx context.Context, experimentID, profileID string) (string, error) {
	v, exposed, ok := e.assign(experimentID, profileID)
	if !ok {
		return "", fmt.Errorf("expose %s: %w", experimentID, ErrNotRunning)
	}
	now := e.opts.Now()
	if exposed || e.opts.Record == nil || !e.inflight.claim(experimentID, profileID, now.Unix()) {
		return v, nil
	}
	x := Exposure{Experiment: experimentID, Profile: profileID, Variant: v, At: now}
	if err := e.opts.Record(ctx, profileID, x.Properties()); err != nil {
		e.inflight.settle(experimentID, profileID)
		return "", fmt.Errorf("expose %s: record exposure: %w", experimentID, err)
	}
	return v, nil
}

// ExposeAsync assigns profileID a variant of a running experiment and
// queues its exposure to be logged in a batch by RunExposures, without
// waiting for the log: for hot read paths (the decision API), where a
// synchronous append would cost a durable write per request. Like
// ExposeOnce, a profile already exposed or on its way is not queued again.
// When the queue is full the exposure is dropped and counted
// (tailor_experiment_exposures_dropped_total); the profile still gets its
// variant, and is logged at its next exposure. ok is false for an unknown
// or not running experiment.
func (e *Engine) ExposeAsync(experimentID, profileID string) (variant string, ok bool) {
	v, exposed, ok := e.assign(experimentID, profileID)
	if !ok || exposed {
		return v, ok
	}
	now := e.opts.Now()
	if !e.inflight.claim(experimentID, profileID, now.Unix()) {
		return v, true
	}
	select {
	case e.queue <- Exposure{Experiment: experimentID, Profile: profileID, Variant: v, At: now}:
		e.metrics.queued.Inc()
	default:
		e.inflight.settle(experimentID, profileID)
		e.metrics.dropped.Inc()
	}
	return v, true
}

// RunExposures logs queued exposures in batches of up to maxBatch until
// ctx ends, then flushes what is left (within flushTimeout): run it before
// the log closes and stop it (cancel ctx and wait) before closing the log.
func (e *Engine) RunExposures(ctx context.Context) {
	batch := make([]Exposure, 0, maxBatch)
	for {
		select {
		case x := <-e.queue:
			batch = e.fill(append(batch[:0], x))
			e.flush(ctx, batch)
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
			defer cancel()
			for {
				batch = e.fill(batch[:0])
				if len(batch) == 0 {
					return
				}
				e.flush(fctx, batch)
			}
		}
	}
}

// fill adds what the queue holds, without waiting, up to maxBatch.
func (e *Engine) fill(batch []Exposure) []Exposure {
	for len(batch) < maxBatch {
		select {
		case x := <-e.queue:
			batch = append(batch, x)
		default:
			return batch
		}
	}
	return batch
}

func (e *Engine) flush(ctx context.Context, batch []Exposure) {
	var err error
	switch {
	case e.opts.RecordBatch != nil:
		err = e.opts.RecordBatch(ctx, batch)
	case e.opts.Record != nil:
		for _, x := range batch {
			if err = e.opts.Record(ctx, x.Profile, x.Properties()); err != nil {
				break
			}
		}
	}
	if err == nil {
		return
	}
	slog.Error("experiment: logging queued exposures", "n", len(batch), "err", err)
	e.metrics.failed.Add(float64(len(batch)))
	for _, x := range batch {
		e.inflight.settle(x.Experiment, x.Profile)
	}
}

// Variants returns the variant ids of an experiment, control first, and
// whether it is running: what a place showing variants checks when it is
// configured (a template per variant).
func (e *Engine) Variants(experimentID string) (ids []string, running bool, err error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	s := e.exps[experimentID]
	if s == nil {
		return nil, false, fmt.Errorf("experiment %q: %w", experimentID, ErrNotFound)
	}
	ids = make([]string, len(s.def.Variants))
	for i, v := range s.def.Variants {
		ids[i] = v.ID
	}
	return ids, s.def.Status == StatusRunning, nil
}

// bucketIndex is the variant whose range of weights holds point.
func bucketIndex(point uint64, weights []uint32) int {
	var acc uint64
	for i, w := range weights {
		acc += uint64(w)
		if point < acc {
			return i
		}
	}
	return -1
}
