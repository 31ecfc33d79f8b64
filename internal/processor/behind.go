package processor

import (
	"context"
	"runtime/pprof"
	"slices"

	"tailor/internal/event"
	"tailor/internal/profile"
)

// BehindApplier is an Applier that can apply behind the processor
// (RegisterBehind). What applying an event needs of other engines' state (a
// segment's membership, a profile's trait) must be read at the event's own
// position in the log, or live state would differ from a replay's: Prepare
// reads it on the processor's goroutine, right after the inline appliers,
// and ApplyPrepared applies the event with it, behind. Prepare must not
// change the applier's state; Apply(e, r) is ApplyPrepared(e, r,
// Prepare(e, r)).
type BehindApplier interface {
	Applier
	Prepare(e *event.Event, r profile.Resolution) any
	ApplyPrepared(e *event.Event, r profile.Resolution, prep any)
}

// RegisterBehind adds an applier that applies on a goroutine of its own,
// behind the processor: while Run runs, the processor hands it each batch's
// events (with their resolutions) once it has applied them, and it applies
// them in log order. Use it for an applier whose state nothing else reads
// while applying, that reads others' state only in Prepare, and whose
// readers accept that it trails the processor by a batch or so. Its cost
// then leaves the processor's goroutine, the stage that falls behind first:
// on two cores, the recommendation models were a tenth of the processor's
// CPU under load.
//
// A checkpoint waits for it to catch up before it writes, so the stored
// state still reflects one log position; Replay and Backfill, before Run,
// apply it inline. LagEvents counts an event until it has applied it too.
// Call before Load, Replay and Run.
func (p *Processor) RegisterBehind(a BehindApplier) {
	p.appliers = append(p.appliers, a)
	p.behind = append(p.behind, a)
}

// behindQueue bounds the batches handed to the behind stage and not yet
// applied. The processor's queue bounds events before the processor; this
// keeps a starved stage from holding more than about as many again.
const behindQueue = 64

// stage runs the behind appliers on a goroutine of its own.
type stage struct {
	appliers []BehindApplier
	cur      []staged // filled by the processor under its mu
	preps    []any    // cur[i]'s preparations are preps[i*len(appliers):]
	in       chan stageBatch
	free     chan stageBatch // used batches' slices
	done     chan struct{}   // closed when the goroutine has returned
	finish   func(n int, last uint64)
}

type staged struct {
	e *event.Event
	r profile.Resolution
}

// stageBatch is one processor batch for the stage: its events, and what to
// account once they are applied (n live events up to seq last, none for a
// fence). fence, when not nil, is closed once everything before it is
// applied.
type stageBatch struct {
	items []staged
	preps []any
	n     int
	last  uint64
	fence chan struct{}
}

func newStage(appliers []BehindApplier, finish func(n int, last uint64)) *stage {
	s := &stage{appliers: appliers, in: make(chan stageBatch, behindQueue),
		free: make(chan stageBatch, behindQueue+2), done: make(chan struct{}), finish: finish}
	go s.run()
	return s
}

func (s *stage) run() {
	defer close(s.done)
	pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels("stage", "processor-behind")))
	for b := range s.in {
		k := len(s.appliers)
		for i := range b.items {
			it := &b.items[i]
			for j, a := range s.appliers {
				a.ApplyPrepared(it.e, it.r, b.preps[i*k+j])
			}
		}
		if b.n > 0 {
			s.finish(b.n, b.last)
		}
		if b.fence != nil {
			close(b.fence)
		}
		// Not to hold the events until the slices are reused.
		clear(b.items)
		clear(b.preps)
		select {
		case s.free <- stageBatch{items: b.items[:0], preps: b.preps[:0]}:
		default:
		}
	}
}

// add queues one event the inline appliers have applied, with what each
// behind applier prepares for it now. The resolution's merged ids are the
// profile store's scratch, reused at its next Apply: the stage keeps a copy.
func (s *stage) add(e *event.Event, r profile.Resolution) {
	if len(r.Merged) > 0 {
		r.Merged = slices.Clone(r.Merged)
	}
	s.cur = append(s.cur, staged{e, r})
	for _, a := range s.appliers {
		s.preps = append(s.preps, a.Prepare(e, r))
	}
}

// send hands the events added since the last send to the goroutine, with
// the accounting of n live events up to seq last (0 and 0 for none).
func (s *stage) send(n int, last uint64, fence chan struct{}) {
	b := stageBatch{items: s.cur, preps: s.preps, n: n, last: last, fence: fence}
	select {
	case f := <-s.free:
		s.cur, s.preps = f.items, f.preps
	default:
		s.cur, s.preps = make([]staged, 0, max(len(b.items), 64)), make([]any, 0, max(len(b.preps), 64))
	}
	s.in <- b
}

// drain waits until the goroutine has applied everything added so far.
func (s *stage) drain() {
	fence := make(chan struct{})
	s.send(0, 0, fence)
	<-fence
}

// stop drains the stage and ends its goroutine.
func (s *stage) stop() {
	if len(s.cur) > 0 {
		s.send(0, 0, nil)
	}
	close(s.in)
	<-s.done
}
