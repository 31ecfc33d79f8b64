package profile

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"tailor/internal/event"
	"tailor/internal/eventlog"
)

// Processor applies log entries to the Store.
//
// One goroutine applies every entry in log seq order. Identity resolution
// needs a total order to be deterministic (which profile is older, which id a
// new profile gets), and applying is cheap (about a microsecond per event),
// so on one node a single applier keeps up with ingest; the partitioned log
// is what scale-out splits across nodes.
type Processor struct {
	store *Store
	in    chan []eventlog.Entry

	// Lag accounting: pending counts handed-off but unapplied events; batches
	// remembers when each handed-off batch was synced, oldest first.
	pending  atomic.Int64
	lagMu    sync.Mutex
	batches  []lagMark
	corrupt  atomic.Uint64
	appliedN atomic.Uint64
}

type lagMark struct {
	lastSeq uint64
	at      time.Time
}

// NewProcessor returns a processor for store. queue bounds the batches
// waiting to be applied; when full, the log writer (and so ingest) waits.
func NewProcessor(store *Store, queue int) *Processor {
	return &Processor{store: store, in: make(chan []eventlog.Entry, queue)}
}

// Sink is the eventlog.Sink handing live entries to the processor.
func (p *Processor) Sink(entries []eventlog.Entry) {
	p.pending.Add(int64(len(entries)))
	p.lagMu.Lock()
	p.batches = append(p.batches, lagMark{entries[len(entries)-1].Seq, entries[0].AppendedAt})
	p.lagMu.Unlock()
	p.in <- entries
}

// CloseInput tells Run that no more entries come; call after the log is closed.
func (p *Processor) CloseInput() { close(p.in) }

// Run applies entries until the input is closed and drained.
func (p *Processor) Run() {
	for batch := range p.in {
		p.store.mu.Lock()
		for i := range batch {
			p.applyEntry(&batch[i])
		}
		p.store.mu.Unlock()
		last := batch[len(batch)-1].Seq
		p.appliedN.Add(uint64(len(batch)))
		p.pending.Add(-int64(len(batch)))
		p.lagMu.Lock()
		for len(p.batches) > 0 && p.batches[0].lastSeq <= last {
			p.batches = p.batches[1:]
		}
		p.lagMu.Unlock()
	}
}

// applyEntry applies one entry. Caller holds the store's write lock.
func (p *Processor) applyEntry(en *eventlog.Entry) {
	var e *event.Event
	if ev, ok := en.Payload.(*event.Event); ok {
		e = ev
	} else {
		dec, err := event.DecodeStored(en.Value)
		if err != nil {
			// Ingest validated the message before appending; only disk
			// corruption or a decoder change can land here.
			p.corrupt.Add(1)
			slog.Error("processor: skipping undecodable log entry", "seq", en.Seq, "err", err)
			p.store.applied = en.Seq
			return
		}
		e = &dec
	}
	e.Partition, e.Seq = en.Partition, en.Seq
	p.store.apply(e)
}

// Replay applies the log from the store's applied seq to its end. It runs
// before the log accepts appends.
func (p *Processor) Replay(ctx context.Context, log *eventlog.Log, progress func(n uint64)) (uint64, error) {
	var n uint64
	from := p.store.Applied()
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	err := log.ReplayAll(ctx, from, func(en eventlog.Entry) error {
		p.applyEntry(&en)
		n++
		if progress != nil && n%100000 == 0 {
			progress(n)
		}
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("replay after seq %d: %w", from, err)
	}
	return n, nil
}

// LagEvents is the number of acknowledged events not yet applied.
func (p *Processor) LagEvents() int64 { return p.pending.Load() }

// LagSeconds is the age of the oldest acknowledged, unapplied event.
func (p *Processor) LagSeconds() float64 {
	p.lagMu.Lock()
	defer p.lagMu.Unlock()
	if len(p.batches) == 0 {
		return 0
	}
	return time.Since(p.batches[0].at).Seconds()
}

// AppliedEvents counts events applied live since start.
func (p *Processor) AppliedEvents() uint64 { return p.appliedN.Load() }

// Corrupt counts log entries that could not be decoded.
func (p *Processor) Corrupt() uint64 { return p.corrupt.Load() }
