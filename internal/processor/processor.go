// Package processor applies the event log, in log order, to the engines
// that derive state from it: identity resolution and profiles first, then
// every registered Applier (segments, journeys …) on the same goroutine,
// then those registered to apply behind it (recommendations), on a
// goroutine of their own while Run runs (behind.go).
//
// Ownership: the processor's goroutine (Run, or Replay before it) is the
// only writer of every inline applier's state, and a behind applier's
// goroutine of its own, so appliers need no locks against each other or the
// processor; each defines the read locks or snapshots its own readers (the
// admin API, decide) use.
//
// Checkpoints: every applier writes its changes into one Pebble batch,
// together with the applied seq (k/applied), taken while no event is being
// applied. The stored state of all appliers therefore always reflects the
// same prefix of the log, and a restart replays the log after it. An
// applier that joins a store with no state of its own is first brought up
// to that prefix from the log (Backfill).
package processor

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/event"
	"tailor/internal/eventlog"
	"tailor/internal/profile"
	"tailor/internal/store"
)

// Applier is an engine fed by the processor. Adding an engine is writing an
// Applier and registering it; nothing else writes its state.
type Applier interface {
	// Name names the applier in logs.
	Name() string
	// Apply folds one event into the applier's state, after identity
	// resolution and the profile state have taken it: r says which profile
	// the event belongs to and which profiles merged into it on the way
	// (they no longer exist). It runs on the processor goroutine (a behind
	// applier's on its own: RegisterBehind), must not block, and must not
	// retain e's maps.
	Apply(e *event.Event, r profile.Resolution)
	// Checkpoint writes the applier's changes since its last checkpoint
	// into b, under the applier's own key prefix. No Apply runs meanwhile.
	Checkpoint(b *pebble.Batch) error
}

// SplitCheckpointer is an Applier whose checkpoint is split in two: the
// first part, under the pause, fixes what to write (a cheap swap of its
// change set) and returns the second, which encodes that into b after
// applying has resumed and before b is committed. A burst of a million
// changes then costs the pause a swap instead of a million encodes.
type SplitCheckpointer interface {
	CheckpointSplit(b *pebble.Batch) (finish func() error, err error)
}

// Profiles is what the processor needs of the profile store: identity
// resolution and profile state, which every other applier reads.
type Profiles interface {
	Apply(e *event.Event) profile.Resolution
	Checkpoint(b *pebble.Batch) error
}

// Source is the log as replay reads it: every entry after a seq, in seq
// order. *eventlog.Log implements it; a JetStream stream can.
type Source interface {
	ReplayAll(ctx context.Context, after uint64, fn func(eventlog.Entry) error) error
}

// DB is where checkpoints go: the embedded Pebble database. Implementations
// must be comparable (a pointer): the processor keeps its last batch per
// store.
type DB interface {
	NewBatch(opts ...pebble.BatchOption) *pebble.Batch
	Get(key []byte) ([]byte, io.Closer, error)
}

// appliedKey holds the highest log seq reflected in the checkpointed state.
var appliedKey = store.Key(store.PrefixCheckpoint, "applied")

// Processor applies log entries to the profiles and the registered appliers.
//
// One goroutine applies every entry in log seq order. Identity resolution
// needs a total order to be deterministic (which profile is older, which id
// a new profile gets). Applying with every engine on costs about 11 µs of
// CPU an event into the 1 M-customer store (more than half of it the
// segment engine), so one goroutine needs about half a core at 40 k events
// a second: on a machine whose cores ingest also fills, it is the stage
// that falls behind first (docs/ARCHITECTURE.md). The partitioned log is
// what scale-out splits across nodes, once identity is partitioned too.
type Processor struct {
	profiles Profiles
	appliers []Applier       // in registration order: checkpoints, backfills
	inline   []Applier       // registered with Register: applied by the processor
	behind   []BehindApplier // registered with RegisterBehind (behind.go)
	in       chan []eventlog.Entry
	// stage applies the behind appliers while Run runs; nil otherwise.
	// Set and cleared under mu.
	stage *stage

	// mu is held while a batch is applied; Checkpoint takes it to see the
	// state of every applier at one log position.
	mu         sync.Mutex
	applied    uint64 // highest seq applied; guarded by mu
	checkpoint uint64 // applied at the last checkpoint; guarded by mu
	// cpBytes is the size of the last checkpoint's batch, the next one's
	// first guess; guarded by mu.
	cpBytes int
	// cpBatch is the last checkpoint's batch, reset, for the next one on
	// the same store (cpDB): one returned to Pebble's pool was lost to
	// the next collection or to another writer, so every checkpoint
	// allocated its size again (9 % of the bytes the server allocated
	// under load). Guarded by cpMu; nil while a checkpoint uses it.
	cpMu    sync.Mutex
	cpBatch *pebble.Batch
	cpDB    DB

	// Lag accounting: pending counts handed-off but unapplied events; batches
	// remembers when each handed-off batch was synced, oldest first.
	pending  atomic.Int64
	lagMu    sync.Mutex
	batches  []lagMark
	corrupt  atomic.Uint64
	appliedN atomic.Uint64

	// The hand-off is bounded in events, not in group commits: at a high
	// rate a group commit holds a few hundred events, so a bound of a few
	// commits let a pause of tens of milliseconds (a checkpoint, a
	// collection, a Pebble flush taking one of two cores) stop every
	// acknowledgement. queued (events in the queue) changes only under
	// roomMu; room is signalled as the processor takes batches off the
	// queue. pending is counted down once every applier, the behind ones
	// included, has applied a batch.
	maxQueued int
	roomMu    sync.Mutex
	room      *sync.Cond
	queued    int
	waits     atomic.Uint64 // hand-offs that waited for room
	waitNanos atomic.Int64  // their total wait

	// Overflow (SetOverflow): when the queue is full, a hand-off returns
	// at once and the entries stay in the log, which a reader goroutine
	// reads back, in order, into the queue as it empties. Guarded by
	// roomMu: overflow says the reader owns the queue's input; handed is
	// the last seq put on the queue, seen the last seq handed to Sink.
	src          Source
	overflow     bool
	handed, seen uint64
	closing      bool
	overflows    atomic.Uint64 // times the queue overflowed to the log
	readBackN    atomic.Uint64 // entries the reader read back from the log
}

type lagMark struct {
	lastSeq uint64
	at      time.Time
}

// New returns a processor feeding profiles. queue bounds the events
// handed off but not yet applied; when a hand-off would pass it, the log
// writer (and so every acknowledgement) waits for room. A batch larger than
// the bound waits only for the queue to empty.
func New(profiles Profiles, queue int) *Processor {
	if queue < 1 {
		queue = 1
	}
	p := &Processor{profiles: profiles, maxQueued: queue,
		// Every queued batch holds at least one event, so the channel never
		// blocks while the event bound has room; the bound is what waits.
		in: make(chan []eventlog.Entry, min(queue, 1<<16))}
	p.room = sync.NewCond(&p.roomMu)
	return p
}

// Register adds an applier after the ones registered before it. Call it
// before Load, Replay and Run.
func (p *Processor) Register(a Applier) {
	p.appliers = append(p.appliers, a)
	p.inline = append(p.inline, a)
}

// Load reads the applied seq of the last checkpoint; the appliers load
// their own state.
func (p *Processor) Load(st DB) error {
	v, closer, err := st.Get(appliedKey)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("read applied seq: %w", err)
	}
	defer closer.Close()
	if len(v) != 8 {
		return fmt.Errorf("read applied seq: %d bytes, want 8", len(v))
	}
	p.mu.Lock()
	p.applied = binary.BigEndian.Uint64(v)
	p.checkpoint = p.applied
	p.mu.Unlock()
	return nil
}

// Applied is the highest log seq applied.
func (p *Processor) Applied() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.applied
}

// SetOverflow makes a full queue overflow to src (the log the entries were
// appended to) instead of holding up the log writer: the hand-off returns
// at once, and a reader goroutine reads the entries back from src, in seq
// order, into the queue as it empties, until it has caught up with the
// hand-offs. Acknowledgements then never wait for the processor; its lag
// grows instead, bounded by the log, not by memory. Call before Run.
func (p *Processor) SetOverflow(src Source) { p.src = src }

// Sink is the eventlog.Sink handing live entries to the processor.
func (p *Processor) Sink(entries []eventlog.Entry) {
	n, last := len(entries), entries[len(entries)-1].Seq
	p.roomMu.Lock()
	p.seen = last
	if !p.overflow && p.full(n) {
		if p.src != nil && !p.closing {
			p.overflow = true // the entries are in the log: the reader queues them
			p.overflows.Add(1)
			go p.readBackLoop()
		} else {
			start := time.Now()
			for p.full(n) {
				p.room.Wait()
			}
			p.waits.Add(1)
			p.waitNanos.Add(int64(time.Since(start)))
		}
	}
	p.pending.Add(int64(n))
	live := !p.overflow
	if live {
		p.queued += n
		p.handed = last
	}
	p.roomMu.Unlock()
	p.mark(entries)
	if live {
		p.in <- entries
	}
}

// full says whether n more events would pass the queue's bound; a batch
// larger than the bound waits only for the queue to empty. Caller holds
// roomMu.
func (p *Processor) full(n int) bool { return p.queued > 0 && p.queued+n > p.maxQueued }

// endOverflow gives the queue's input back to Sink. Caller holds roomMu.
func (p *Processor) endOverflow() {
	p.overflow = false
	p.room.Broadcast() // CloseInput may be waiting for the reader
}

// mark records when a handed-off batch was synced, for LagSeconds.
func (p *Processor) mark(entries []eventlog.Entry) {
	p.lagMu.Lock()
	p.batches = append(p.batches, lagMark{entries[len(entries)-1].Seq, entries[0].AppendedAt})
	p.lagMu.Unlock()
}

// readBackBatch is how many entries the reader puts on the queue at once,
// and readBackPass how many it reads with one set of log iterators: they
// pin the memtables and tables they read while the reader waits for room,
// so a pass is kept to seconds of the processor's work. Variables so that
// tests can lower them.
var (
	readBackBatch = 512
	readBackPass  = 64 * readBackBatch
)

// errPassDone stops a read-back pass at the last seq handed to Sink or
// after readBackPass entries.
var errPassDone = errors.New("read-back pass done")

// readBackLoop reads the entries that overflowed from the log onto the
// queue, in passes up to the last seq handed to Sink, until a pass finds
// nothing left; then hand-offs go to the queue again. Entries appended
// but not yet handed to Sink are left to it, so none reaches the queue
// twice.
func (p *Processor) readBackLoop() {
	var logged time.Time // a read error that persists is logged every 10 s, not every retry
	for {
		p.roomMu.Lock()
		from, to := p.handed, p.seen
		if from >= to {
			p.endOverflow()
			p.roomMu.Unlock()
			return
		}
		p.roomMu.Unlock()
		if err := p.readBack(from, to); err != nil {
			// The entries are in the log and unapplied: a restart replays
			// them from the last checkpoint. So on the way down, rather
			// than retry for ever, the reader leaves them there.
			if time.Since(logged) >= 10*time.Second {
				slog.Error("processor: reading overflowed entries back from the log", "after_seq", from, "err", err)
				logged = time.Now()
			}
			p.roomMu.Lock()
			if p.closing {
				p.endOverflow()
				p.roomMu.Unlock()
				return
			}
			p.roomMu.Unlock()
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// readBack puts the log's entries after seq from, up to seq to (or the
// first readBackPass of them), on the queue, decoded, waiting for room as
// the processor empties it.
func (p *Processor) readBack(from, to uint64) error {
	batch := make([]eventlog.Entry, 0, readBackBatch)
	push := func() {
		if len(batch) == 0 {
			return
		}
		n := len(batch)
		p.roomMu.Lock()
		for p.full(n) {
			p.room.Wait()
		}
		p.queued += n
		p.handed = batch[n-1].Seq
		p.roomMu.Unlock()
		p.readBackN.Add(uint64(n))
		p.in <- batch
		batch = make([]eventlog.Entry, 0, readBackBatch)
	}
	read := 0
	err := p.src.ReplayAll(context.Background(), from, func(en eventlog.Entry) error {
		if en.Seq > to || read == readBackPass {
			return errPassDone
		}
		read++
		// Decoded here, beside the processor, not on it. An entry that does
		// not decode keeps a copy of its bytes: applyEntry logs and skips
		// it as a replay does.
		if dec, err := event.DecodeStored(en.Value); err == nil {
			en.Payload, en.Value = &dec, nil
		} else {
			en.Value = bytes.Clone(en.Value) // valid only during the callback
		}
		batch = append(batch, en)
		if len(batch) == readBackBatch {
			push()
		}
		return nil
	})
	push()
	if errors.Is(err, errPassDone) {
		return nil
	}
	return err
}

// HandoffWaits reports how many hand-offs waited for room in the queue and
// for how long in total: each such wait held up every acknowledgement.
func (p *Processor) HandoffWaits() (n uint64, total time.Duration) {
	return p.waits.Load(), time.Duration(p.waitNanos.Load())
}

// Overflows reports how many times the queue overflowed to the log and
// how many entries were read back from it (SetOverflow).
func (p *Processor) Overflows() (times, entries uint64) {
	return p.overflows.Load(), p.readBackN.Load()
}

// CloseInput tells Run that no more entries come; call after the log is
// closed. Entries that overflowed are read back first.
func (p *Processor) CloseInput() {
	p.roomMu.Lock()
	p.closing = true
	for p.overflow {
		p.room.Wait()
	}
	p.roomMu.Unlock()
	close(p.in)
}

// Run applies entries until the input is closed and drained.
func (p *Processor) Run() {
	// A CPU profile (serve --debug-addr) can then be cut to the processor's
	// own work: go tool pprof -tagfocus='stage=^processor$' (the tag is a
	// pattern: without the anchors it also takes the behind stage's).
	pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels("stage", "processor")))
	if len(p.behind) > 0 {
		p.mu.Lock()
		p.stage = newStage(p.behind, p.finish)
		p.mu.Unlock()
		defer func() {
			// Stopped under mu: a checkpoint must not find the stage gone
			// while it still applies.
			p.mu.Lock()
			p.stage.stop()
			p.stage = nil
			p.mu.Unlock()
		}()
	}
	for batch := range p.in {
		last := batch[len(batch)-1].Seq
		p.mu.Lock()
		for i := range batch {
			p.applyEntry(&batch[i])
		}
		st := p.stage
		if st != nil {
			st.send(len(batch), last, nil)
		}
		p.mu.Unlock()
		p.roomMu.Lock()
		p.queued -= len(batch)
		p.room.Broadcast()
		p.roomMu.Unlock()
		if st == nil {
			p.finish(len(batch), last)
		}
	}
}

// finish accounts n live events up to seq last as applied by every
// applier: the processor's goroutine calls it, or the behind stage's.
func (p *Processor) finish(n int, last uint64) {
	p.appliedN.Add(uint64(n))
	p.pending.Add(-int64(n))
	p.lagMu.Lock()
	for len(p.batches) > 0 && p.batches[0].lastSeq <= last {
		p.batches = p.batches[1:]
	}
	p.lagMu.Unlock()
}

// applyEntry applies one entry. Caller holds mu.
func (p *Processor) applyEntry(en *eventlog.Entry) {
	if en.Seq <= p.applied {
		return // already reflected (replay overlap)
	}
	p.applied = en.Seq
	e, ok := entryEvent(en)
	if !ok {
		p.corrupt.Add(1)
		return
	}
	r := p.profiles.Apply(e)
	for _, a := range p.inline {
		a.Apply(e, r)
	}
	if p.stage != nil {
		p.stage.add(e, r)
		return
	}
	for _, a := range p.behind {
		a.ApplyPrepared(e, r, a.Prepare(e, r))
	}
}

// entryEvent returns the event of a log entry, decoding it when the entry
// comes from disk.
func entryEvent(en *eventlog.Entry) (*event.Event, bool) {
	var e *event.Event
	if ev, ok := en.Payload.(*event.Event); ok {
		e = ev
	} else {
		dec, err := event.DecodeStored(en.Value)
		if err != nil {
			// Ingest validated the message before appending; only disk
			// corruption or a decoder change can land here.
			slog.Error("processor: skipping undecodable log entry", "seq", en.Seq, "err", err)
			return nil, false
		}
		e = &dec
	}
	e.Partition, e.Seq = en.Partition, en.Seq
	return e, true
}

// Replay applies the log after the applied seq to its end. It runs before
// the log accepts appends.
func (p *Processor) Replay(ctx context.Context, src Source, progress func(n uint64)) (uint64, error) {
	var n uint64
	p.mu.Lock()
	defer p.mu.Unlock()
	from := p.applied
	err := src.ReplayAll(ctx, from, func(en eventlog.Entry) error {
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

// CheckpointStats describes one checkpoint.
type CheckpointStats struct {
	// Pause is how long applying stopped while the appliers wrote their
	// changes into the batch; acknowledged events wait that long (in the
	// processor's queue) to reach the profiles.
	Pause time.Duration
	// Total includes the commit.
	Total time.Duration
	// Bytes is the size of the batch.
	Bytes int
	// Parts says where the pause went: waiting for the batch being
	// applied ("wait"), the behind appliers catching up ("behind", while
	// Run runs), the profiles, then each applier in order (a split
	// applier's first part only).
	Parts []Part
}

// Part is one writer's share of a checkpoint's pause.
type Part struct {
	Name string
	Took time.Duration
}

// Checkpoint persists the state of the profiles and every applier, with the
// applied seq, in one batch. Applying pauses while the appliers write their
// changes into the batch (encoding only; the commit happens after).
func (p *Processor) Checkpoint(st DB) error {
	_, err := p.CheckpointStats(st)
	return err
}

// CheckpointStats is Checkpoint, also saying what it cost.
func (p *Processor) CheckpointStats(st DB) (CheckpointStats, error) {
	var cs CheckpointStats
	start := time.Now()
	p.mu.Lock()
	if p.applied == p.checkpoint {
		p.mu.Unlock()
		return cs, nil
	}
	// Sized like the last one: grown from Pebble's default by doubling, a
	// checkpoint's batch allocated about twice its size and copied it as
	// often (6 % of the bytes the server allocated under load).
	b := p.takeBatch(st)
	if b == nil {
		b = st.NewBatch(pebble.WithInitialSizeBytes(min(p.cpBytes, maxBatchHint)), pebble.WithMaxRetainedSizeBytes(maxBatchHint))
	}
	committed := false
	defer func() {
		if committed {
			p.keepBatch(st, b)
		} else {
			b.Close()
		}
	}()
	cs.Parts = make([]Part, 0, 3+len(p.appliers))
	t := start
	took := func(name string) {
		now := time.Now()
		cs.Parts = append(cs.Parts, Part{name, now.Sub(t)})
		t = now
	}
	took("wait")
	if p.stage != nil {
		// The behind appliers catch up to the applied seq first.
		p.stage.drain()
		took("behind")
	}
	var finish []func() error
	var finishers []string
	if sc, ok := p.profiles.(SplitCheckpointer); ok {
		f, err := sc.CheckpointSplit(b)
		if err != nil {
			p.mu.Unlock()
			return cs, fmt.Errorf("checkpoint profiles: %w", err)
		}
		finish, finishers = append(finish, f), append(finishers, "profiles")
	} else if err := p.profiles.Checkpoint(b); err != nil {
		p.mu.Unlock()
		return cs, fmt.Errorf("checkpoint profiles: %w", err)
	}
	took("profiles")
	for _, a := range p.appliers {
		if sc, ok := a.(SplitCheckpointer); ok {
			f, err := sc.CheckpointSplit(b)
			if err != nil {
				p.mu.Unlock()
				return cs, fmt.Errorf("checkpoint %s: %w", a.Name(), err)
			}
			finish, finishers = append(finish, f), append(finishers, a.Name())
			took(a.Name())
			continue
		}
		if err := a.Checkpoint(b); err != nil {
			p.mu.Unlock()
			return cs, fmt.Errorf("checkpoint %s: %w", a.Name(), err)
		}
		took(a.Name())
	}
	if err := b.Set(appliedKey, binary.BigEndian.AppendUint64(nil, p.applied), nil); err != nil {
		p.mu.Unlock()
		return cs, err
	}
	applied := p.applied
	p.mu.Unlock()
	cs.Pause = time.Since(start)
	for i, f := range finish {
		if err := f(); err != nil {
			return cs, fmt.Errorf("checkpoint %s: %w", finishers[i], err)
		}
	}
	cs.Bytes = b.Len()
	// Not synced: a process killed keeps what it wrote (the kernel has
	// it), and a machine that dies before the WAL reaches disk loses the
	// whole batch together, so the previous checkpoint still matches its
	// applied seq and the restart replays more of the log (synced in a
	// store of its own: store.Stores).
	if err := b.Commit(pebble.NoSync); err != nil {
		return cs, fmt.Errorf("checkpoint: %w", err)
	}
	committed = true
	p.mu.Lock()
	p.checkpoint = max(p.checkpoint, applied)
	p.cpBytes = cs.Bytes
	p.mu.Unlock()
	cs.Total = time.Since(start)
	return cs, nil
}

// takeBatch returns the kept checkpoint batch for st, nil when there is
// none (the first checkpoint, another one running, another store).
func (p *Processor) takeBatch(st DB) *pebble.Batch {
	p.cpMu.Lock()
	defer p.cpMu.Unlock()
	b := p.cpBatch
	if b == nil || p.cpDB != st {
		return nil
	}
	p.cpBatch = nil
	return b
}

// keepBatch resets committed batch b of st and keeps it for the next
// checkpoint. Reset keeps its buffer up to maxBatchHint (a bigger one, or
// one Pebble took as a memtable of its own, starts again from nothing).
func (p *Processor) keepBatch(st DB, b *pebble.Batch) {
	b.Reset()
	p.cpMu.Lock()
	defer p.cpMu.Unlock()
	if p.cpBatch != nil {
		b.Close() // another checkpoint kept its own meanwhile
		return
	}
	p.cpBatch, p.cpDB = b, st
}

// maxBatchHint bounds the first size of a checkpoint's batch: after a
// burst (a backfill, a replay) the next checkpoints are small again, and a
// batch only grows.
const maxBatchHint = 64 << 20

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
