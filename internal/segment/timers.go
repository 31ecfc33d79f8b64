package segment

import (
	"container/heap"
	"context"
	"log/slog"
	"math"
	"strconv"
	"time"
)

// timer is a pending re-evaluation of one profile in one segment, at the
// instant its answer may change because time passed.
//
// A timer names its segment by number (saved.num, Engine.numbered), not by
// pointer: a million-customer store holds timers by the million, and
// without pointers the heap of them is one object the garbage collector
// never scans. A number also lets a replaced or deleted segment go while
// its timers wait: they find no segment and are dropped.
type timer struct {
	at  uint32 // unix seconds
	ord uint32
	seg uint32 // saved.num
}

// timerHeap orders timers by instant. Invariant: for each (segment,
// profile) with a pending instant seg.due[ord] != 0 there is a timer at or
// before it; timers whose instant no longer matches are stale and skipped
// (or moved later) when they come up, so one profile's many events never
// pile up timers.
type timerHeap []timer

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h timerHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)        { *h = append(*h, x.(timer)) }
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}

// schedule asks for s to be re-evaluated for ord at instant at. Caller
// holds ix.mu for writing.
func (e *Engine) schedule(s *saved, ord uint32, at int64) {
	if at <= 0 || at >= math.MaxUint32 {
		return
	}
	t := uint32(at)
	cur := s.due.get(int(ord))
	if cur == t {
		return
	}
	s.due.set(int(ord), t)
	if cur == 0 || t < cur {
		heap.Push(&e.timers, timer{at: t, ord: ord, seg: s.num})
	}
	// Later than the pending timer: that one moves here when it comes up.
}

// fire re-evaluates every timer due at or before now. Caller holds ix.mu
// for writing.
func (e *Engine) fire(now time.Time) int {
	n := 0
	sec := now.Unix()
	for len(e.timers) > 0 && int64(e.timers[0].at) <= sec {
		t := heap.Pop(&e.timers).(timer)
		s := e.numbered[t.seg]
		if s == nil || !e.ix.alive.Contains(t.ord) {
			continue // deleted or replaced segment, merged-away profile
		}
		due := s.due.get(int(t.ord))
		switch {
		case due == 0 || due < t.at:
			continue // stale: an earlier timer replaced it
		case due > t.at:
			heap.Push(&e.timers, timer{at: due, ord: t.ord, seg: t.seg})
			continue
		}
		s.due.set(int(t.ord), 0)
		e.evaluateOne(s, t.ord, now, "t"+strconv.FormatUint(uint64(t.at), 10))
		n++
	}
	e.fired = max(e.fired, sec)
	return n
}

// nextTimer is the instant of the earliest timer, zero when none.
func (e *Engine) nextTimer() time.Time {
	if len(e.timers) == 0 {
		return time.Time{}
	}
	return time.Unix(int64(e.timers[0].at), 0)
}

// timerLoop fires timers when they are due: windows expire within a second
// of their instant, without any event.
func (e *Engine) timerLoop(ctx context.Context) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		e.ix.mu.Lock()
		if len(e.timers) > 0 && int64(e.timers[0].at) <= e.opts.Now().Unix() {
			e.fire(e.opts.Now())
		}
		e.ix.mu.Unlock()
	}
}

// Tick fires the timers due at the engine's clock now; tests with a fake
// clock call it instead of waiting for the loop.
func (e *Engine) Tick() int {
	e.ix.mu.Lock()
	defer e.ix.mu.Unlock()
	return e.fire(e.opts.Now())
}

// recordLoop hands membership changes to Options.Record, in batches.
func (e *Engine) recordLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			e.flushTransitions(context.Background())
			return
		case <-e.wake:
		}
		e.flushTransitions(ctx)
	}
}

// flushTransitions records the pending transitions.
func (e *Engine) flushTransitions(ctx context.Context) {
	for {
		e.pendMu.Lock()
		ts := e.pending
		if len(ts) > 1000 {
			ts = ts[:1000]
		}
		e.pending = e.pending[len(ts):]
		e.pendMu.Unlock()
		if len(ts) == 0 {
			return
		}
		if e.opts.Record == nil {
			continue
		}
		if err := e.opts.Record(ctx, ts); err != nil {
			slog.Warn("segment: recording membership changes failed", "n", len(ts), "err", err)
			return
		}
	}
}

// Transitions returns and forgets the pending transitions (tests without a
// recorder).
func (e *Engine) Transitions() []Transition {
	e.pendMu.Lock()
	defer e.pendMu.Unlock()
	ts := e.pending
	e.pending = nil
	return ts
}
