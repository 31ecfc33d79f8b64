package recommend

import (
	"container/heap"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"tailor/internal/arena"
)

// EventReplenishmentDue is the event the engine records when a profile's
// typical repurchase interval of an item has passed since its last purchase
// of it; journeys trigger on it like on any event.
const EventReplenishmentDue = "replenishment_due"

// Due is one replenishment due: Profile bought Item Purchases times, last at
// Last, and At = Last + Interval has come.
type Due struct {
	Profile   string
	Item      string
	Name      string
	Category  string
	Purchases float64
	Last      time.Time
	Interval  time.Duration
	At        time.Time
}

// MessageID identifies the event of d: one per profile, item and purchase,
// so that the log's deduplication drops a second recording of it.
func (d Due) MessageID() string {
	return fmt.Sprintf("rep-%s-%s-%d", d.Profile, d.Item, d.Last.Unix())
}

// Properties are the event's properties.
func (d Due) Properties() map[string]any {
	return map[string]any{"product_id": d.Item, "name": d.Name, "category": d.Category, "purchases": d.Purchases,
		"last_purchased_at": d.Last.UTC().Format(time.RFC3339), "interval_days": d.Interval.Hours() / 24}
}

// dueTimer fires at at when the profile's last purchase of ix is still last.
// It holds no pointer: a big store has a timer for most buyers (the heap's
// one array held 270,000 id strings at 1 M customers, for every collection
// to follow), so the profile id is a Ref into Engine.dueIDs.
type dueTimer struct {
	at   int64
	last int64
	pid  arena.Ref
	ix   int32
}

// pushDue adds a timer for profile pid. Caller holds mu for writing.
func (e *Engine) pushDue(at, last int64, ix int32, pid string) {
	r, dst := e.dueIDs.Alloc(len(pid))
	copy(dst, pid)
	heap.Push(&e.dues, dueTimer{at: at, last: last, pid: r, ix: ix})
}

type dueHeap []dueTimer

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(dueTimer)) }
func (h *dueHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// scheduleDue sets the timer of pid's latest purchase of ix, when the item
// has a repurchase interval (across profiles, or the profile's own). Caller
// holds mu for writing.
func (e *Engine) scheduleDue(pid string, p profRef, ix int32) {
	if e.opts.RecordDue == nil {
		return
	}
	for _, f := range p.freq() {
		if f.Item != ix {
			continue
		}
		if interval := e.interval(f); interval > 0 {
			e.pushDue(f.Last+int64(interval), f.Last, ix, pid)
		}
		return
	}
}

// rescheduleDue sets the timers of a restored model: those due after the
// latest event of the checkpoint (earlier ones were recorded before, or
// their moment passed while the engine was down). Caller holds mu for
// writing.
func (e *Engine) rescheduleDue() {
	if e.opts.RecordDue == nil {
		return
	}
	for view, p := range e.profiles.all() {
		for _, f := range p.freq() {
			if interval := e.interval(f); interval > 0 && f.Last+int64(interval) > e.latest {
				e.pushDue(f.Last+int64(interval), f.Last, f.Item, view) // pushDue copies the id
			}
		}
	}
}

// DueAt takes the replenishments due at t: each timer fires once, and only
// when its purchase is still the profile's last of the item (a new purchase
// set a timer of its own).
func (e *Engine) DueAt(t time.Time) []Due {
	now := t.Unix()
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Due
	for len(e.dues) > 0 && e.dues[0].at <= now {
		d := heap.Pop(&e.dues).(dueTimer)
		pid := e.dueIDs.String(d.pid) // a view: Due gets a copy
		e.dueIDs.Free(d.pid)
		p := e.profiles.get(pid)
		if p.prof == nil {
			continue // merged away: the survivor's purchases have timers of their own
		}
		for _, f := range p.freq() {
			if f.Item != d.ix || f.Last != d.last {
				continue
			}
			it := e.items[d.ix]
			out = append(out, Due{Profile: strings.Clone(pid), Item: it.id, Name: it.name, Category: it.category, Purchases: f.N,
				Last: time.Unix(f.Last, 0).UTC(), Interval: time.Duration(d.at-d.last) * time.Second, At: time.Unix(d.at, 0).UTC()})
			break
		}
	}
	e.dueIDs.Compact(func(move func(arena.Ref) arena.Ref) {
		for i := range e.dues {
			e.dues[i].pid = move(e.dues[i].pid)
		}
	})
	return out
}

// Start records the replenishments due, every second, until ctx ends. It
// does nothing without Options.RecordDue.
func (e *Engine) Start(ctx context.Context) {
	if e.opts.RecordDue == nil {
		return
	}
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			ds := e.DueAt(e.opts.Now())
			if len(ds) == 0 {
				continue
			}
			if err := e.opts.RecordDue(ctx, ds); err != nil {
				slog.Warn("recommend: recording replenishments due failed", "n", len(ds), "err", err)
			}
		}
	}()
}
