package journey

import (
	"bytes"
	"container/heap"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/store"
)

// Keys:
//
//	jd/<journey>\x00v<version:4>  definition of one version (JSON)
//	jd/<journey>\x00s             figures and schedule state (JSON)
//	jp/<profile>\x00<journey>     one profile's run (runSize bytes)
//	jt/<due:4><profile>\x00<journey>  a pending timer, in due order
//	ju/<journey>\x00<o|c><message key>  the message's first open or click was counted
func versionKey(id string, v int) []byte {
	k := store.Key(store.PrefixJourney, id+"\x00v")
	return binary.BigEndian.AppendUint32(k, uint32(v))
}

func metaKey(id string) []byte { return store.Key(store.PrefixJourney, id+"\x00s") }

func runKeyBytes(k runKey, jid string) []byte {
	return store.Key(store.PrefixJourneyRun, k.prof+"\x00"+jid)
}

func timerKey(due uint32, k runKey, jid string) []byte {
	b := binary.BigEndian.AppendUint32(store.Key(store.PrefixJourneyTimer, ""), due)
	return append(append(append(b, k.prof...), 0), jid...)
}

const runSize = 33

func encodeRun(rn *run) []byte { return encodeRunTo(make([]byte, 0, runSize), rn) }

// encodeRunTo appends the stored form of rn to b.
func encodeRunTo(b []byte, rn *run) []byte {
	b = binary.BigEndian.AppendUint64(b, rn.entry)
	b = binary.BigEndian.AppendUint32(b, rn.sub)
	b = binary.BigEndian.AppendUint32(b, rn.due)
	b = binary.BigEndian.AppendUint32(b, rn.entered)
	b = binary.BigEndian.AppendUint32(b, rn.goalBy)
	b = binary.BigEndian.AppendUint16(b, rn.part)
	b = binary.BigEndian.AppendUint16(b, rn.ver)
	b = binary.BigEndian.AppendUint16(b, rn.step)
	b = binary.BigEndian.AppendUint16(b, rn.lastMsg)
	return append(b, rn.flags&^fFiring)
}

func decodeRun(b []byte) (run, error) {
	if len(b) != runSize {
		return run{}, fmt.Errorf("run record of %d bytes, want %d", len(b), runSize)
	}
	rn := run{
		entry: binary.BigEndian.Uint64(b), sub: binary.BigEndian.Uint32(b[8:]), due: binary.BigEndian.Uint32(b[12:]),
		entered: binary.BigEndian.Uint32(b[16:]), goalBy: binary.BigEndian.Uint32(b[20:]), part: binary.BigEndian.Uint16(b[24:]),
		ver: binary.BigEndian.Uint16(b[26:]), step: binary.BigEndian.Uint16(b[28:]), lastMsg: binary.BigEndian.Uint16(b[30:]), flags: b[32],
	}
	rn.saved = rn.due
	return rn, nil
}

type meta struct {
	Stats     *Stats `json:"stats"`
	LastFired int64  `json:"last_fired,omitempty"`
}

// Load reads the definitions, figures, runs and timers from the store.
// Call it before the processor replays the log after its checkpoint.
func (e *Engine) Load() error {
	db := e.opts.DB
	if db == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var defs []*Journey
	var metas = map[string]*meta{}
	err := scan(db, store.PrefixJourney, func(k, v []byte) error {
		id, rest, ok := bytes.Cut(k, []byte{0})
		if !ok || len(rest) == 0 {
			return fmt.Errorf("journey key %q", k)
		}
		switch rest[0] {
		case 'v':
			var j Journey
			if err := json.Unmarshal(v, &j); err != nil {
				return fmt.Errorf("journey %s: %w", id, err)
			}
			if err := j.Validate(nil); err != nil {
				slog.Error("journey: stored definition is invalid; skipped", "journey", string(id), "version", j.Version, "err", err)
				return nil
			}
			defs = append(defs, &j)
		case 's':
			var m meta
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("journey %s figures: %w", id, err)
			}
			metas[string(id)] = &m
		}
		return nil
	})
	if err != nil {
		return err
	}
	slices.SortFunc(defs, func(a, b *Journey) int { return a.Version - b.Version })
	for _, j := range defs {
		e.install(j)
	}
	for id, m := range metas {
		if js := e.journeys[id]; js != nil {
			if m.Stats != nil {
				js.stats = m.Stats
				if js.stats.Steps == nil || js.stats.Days == nil {
					fresh := newStats()
					js.stats.Steps, js.stats.Days = fresh.Steps, fresh.Days
				}
			}
			js.lastFired, js.requested = m.LastFired, m.LastFired
		}
	}
	for _, js := range e.byOrd {
		for _, ss := range js.stats.Steps {
			ss.Waiting = 0
		}
	}
	err = scan(db, store.PrefixJourneyRun, func(k, v []byte) error {
		prof, jid, ok := bytes.Cut(k, []byte{0})
		if !ok {
			return fmt.Errorf("journey run key %q", k)
		}
		js := e.journeys[string(jid)]
		if js == nil {
			return nil
		}
		rn, err := decodeRun(v)
		if err != nil {
			return fmt.Errorf("journey run %q: %w", k, err)
		}
		c := js.versions[int(rn.ver)]
		if c == nil || int(rn.step) >= len(c.def.Steps) {
			return nil
		}
		if rn.flags&fActive != 0 && rn.flags&fHoldout == 0 && rn.due != 0 {
			js.stats.step(c.def.Steps[rn.step].ID).Waiting++
		}
		e.runs[runKey{string(prof), js.ord}] = rn
		return nil
	})
	if err != nil {
		return err
	}
	// jt/ is in due order: appended as read, the slice is already a heap.
	// Only the timers before the horizon come in now; those due already
	// (while the engine was stopped) go to the backlog.
	now := clampSec(e.opts.Now().Unix())
	e.horizon = clampSec(e.opts.Now().Add(e.opts.Horizon).Unix())
	return scanRange(db, timerKey(0, runKey{}, "")[:len(store.PrefixJourneyTimer)], timerKey(e.horizon, runKey{}, "")[:len(store.PrefixJourneyTimer)+4], func(k, _ []byte) error {
		if len(k) < 5 {
			return fmt.Errorf("journey timer key %q", k)
		}
		due := binary.BigEndian.Uint32(k)
		prof, jid, ok := bytes.Cut(k[4:], []byte{0})
		if !ok {
			return fmt.Errorf("journey timer key %q", k)
		}
		js := e.journeys[string(jid)]
		if js == nil {
			return nil
		}
		rk := runKey{string(prof), js.ord}
		if rn, ok := e.runs[rk]; ok && rn.due == due {
			if due < now {
				e.backlog = append(e.backlog, timer{at: due, k: rk})
			} else {
				e.timers = append(e.timers, timer{at: due, k: rk})
			}
		}
		return nil
	})
}

// scan calls fn with every key (without prefix) and value under prefix.
func scan(db *pebble.DB, prefix string, fn func(k, v []byte) error) error {
	return scanRange(db, []byte(prefix), store.UpperBound(prefix), fn)
}

// scanRange calls fn with every key in [lo, hi) (without the prefix of
// lo's keyspace, 3 bytes) and its value.
func scanRange(db *pebble.DB, lo, hi []byte, fn func(k, v []byte) error) error {
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		if err := fn(it.Key()[3:], it.Value()); err != nil {
			return err
		}
	}
	return it.Error()
}

func clampSec(s int64) uint32 { return uint32(min(max(s, 1), math.MaxUint32)) }

// refill moves the horizon on when now comes within half of it: the
// timers of jt/ and the far lists that fall before the new horizon join
// the heap. The store is read without the lock; a scan that two
// checkpoints overtook (a far timer may have left the lists before the
// scan could see it in the store) is done again.
func (e *Engine) refill(now time.Time) error {
	db := e.opts.DB
	for {
		e.mu.Lock()
		from, gen := e.horizon, e.cpGen
		e.mu.Unlock()
		if from == 0 || db == nil || now.Add(e.opts.Horizon/2).Unix() < int64(from) {
			return nil
		}
		to := clampSec(now.Add(e.opts.Horizon).Unix())
		type found struct {
			due       uint32
			prof, jid string
		}
		var got []found
		lo := timerKey(from, runKey{}, "")[:len(store.PrefixJourneyTimer)+4]
		hi := timerKey(to, runKey{}, "")[:len(store.PrefixJourneyTimer)+4]
		err := scanRange(db, lo, hi, func(k, _ []byte) error {
			prof, jid, ok := bytes.Cut(k[4:], []byte{0})
			if !ok {
				return fmt.Errorf("journey timer key %q", k)
			}
			got = append(got, found{binary.BigEndian.Uint32(k), string(prof), string(jid)})
			return nil
		})
		if err != nil {
			return fmt.Errorf("journey timers from the store: %w", err)
		}
		e.mu.Lock()
		if e.cpGen-gen >= 2 || e.horizon != from {
			e.mu.Unlock()
			continue
		}
		for _, f := range got {
			js := e.journeys[f.jid]
			if js == nil {
				continue
			}
			k := runKey{f.prof, js.ord}
			if rn, ok := e.runs[k]; ok && rn.due == f.due {
				heap.Push(&e.timers, timer{at: f.due, k: k})
			}
		}
		keep := func(l []timer) []timer {
			out := l[:0]
			for _, t := range l {
				if t.at < to {
					heap.Push(&e.timers, t)
				} else {
					out = append(out, t)
				}
			}
			return out
		}
		e.farNew, e.farOld = keep(e.farNew), keep(e.farOld)
		e.horizon = to
		e.mu.Unlock()
		return nil
	}
}

// Checkpoint implements processor.Applier: both parts of CheckpointSplit
// at once.
func (e *Engine) Checkpoint(b *pebble.Batch) error {
	finish, err := e.CheckpointSplit(b)
	if err != nil {
		return err
	}
	return finish()
}

// CheckpointSplit implements processor.SplitCheckpointer. Under the
// processor's pause, the sends derived so far go to the outbox first (so
// that state never records a send the outbox lacks), then the deleted
// runs and the figures are written and the changed runs' set is swapped
// for an empty one: each change was put in it as a copy of the run, so the
// set is the runs as of the pause. The returned second part writes them
// and their timers into b after applying resumed: a burst of a million new
// runs cost the pause a second or more of encoding.
func (e *Engine) CheckpointSplit(b *pebble.Batch) (func() error, error) {
	e.cpMu.Lock()
	defer e.cpMu.Unlock()
	e.sending.Lock()
	defer e.sending.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.frozen != nil {
		// The last checkpoint's second part did not run (its batch was
		// never committed): its runs are written with these.
		for k := range e.frozen {
			if _, ok := e.dirty[k]; !ok {
				if cur, live := e.runs[k]; live {
					e.dirty[k] = cur
				}
			}
		}
		e.frozen = nil
	}
	// The previous checkpoint's batch is committed by now (the processor
	// commits one before it takes the next): the far timers it wrote are
	// in the store. This one writes those set since.
	e.cpGen++
	e.farOld, e.farNew = e.farNew, e.farOld[:0]
	if len(e.sends) > 0 && e.opts.Outbox != nil {
		if err := e.opts.Outbox.Enqueue(context.Background(), e.sends); err != nil {
			return nil, fmt.Errorf("enqueue journey sends: %w", err)
		}
		e.sends = e.sends[:0]
	}
	for k, saved := range e.gone {
		jid := e.byOrd[k.j].id
		if err := b.Delete(runKeyBytes(k, jid), nil); err != nil {
			return nil, err
		}
		if saved != 0 {
			if err := b.Delete(timerKey(saved, k, jid), nil); err != nil {
				return nil, err
			}
		}
	}
	clear(e.gone)
	// The marks of counted opens and clicks go with the figures that
	// counted them, at the same log position.
	if err := e.writeFirsts(b); err != nil {
		return nil, err
	}
	for _, js := range e.byOrd {
		if !js.dirty {
			continue
		}
		v, err := json.Marshal(meta{Stats: js.stats, LastFired: js.lastFired})
		if err != nil {
			return nil, err
		}
		if err := b.Set(metaKey(js.id), v, nil); err != nil {
			return nil, err
		}
		js.dirty = false
	}
	frozen := e.dirty
	e.frozen, e.dirty = frozen, make(map[runKey]run)
	e.frozenGen++
	gen := e.frozenGen
	ids := make([]string, len(e.byOrd)) // byOrd only grows
	for i, js := range e.byOrd {
		ids[i] = js.id
	}
	return func() error {
		e.cpMu.Lock()
		defer e.cpMu.Unlock()
		// Written also when a later checkpoint took the set back (it
		// began before this part ran): this batch holds this pause's
		// applied seq and so must hold its runs.
		if err := e.writeRuns(b, frozen, ids); err != nil {
			return err
		}
		if e.frozenGen == gen {
			e.frozen = nil
		}
		return nil
	}, nil
}

// writeRuns writes the runs of a checkpoint's frozen set and moves their
// timers under jt/, then notes the timers as saved, a slice at a time
// under mu so that applying goes on meanwhile. Caller holds cpMu.
func (e *Engine) writeRuns(b *pebble.Batch, frozen map[runKey]run, ids []string) error {
	type moved struct {
		k   runKey
		due uint32
	}
	var saved []moved
	var key []byte
	var val [runSize]byte
	for k, rn := range frozen {
		jid := ids[k.j]
		key = append(append(append(append(key[:0], store.PrefixJourneyRun...), k.prof...), 0), jid...)
		if err := b.Set(key, encodeRunTo(val[:0], &rn), nil); err != nil {
			return err
		}
		if rn.saved == rn.due {
			continue
		}
		if rn.saved != 0 {
			if err := b.Delete(timerKey(rn.saved, k, jid), nil); err != nil {
				return err
			}
		}
		if rn.due != 0 {
			if err := b.Set(timerKey(rn.due, k, jid), nil, nil); err != nil {
				return err
			}
		}
		saved = append(saved, moved{k, rn.due})
	}
	const slice = 4096
	for i := 0; i < len(saved); i += slice {
		e.mu.Lock()
		for _, m := range saved[i:min(i+slice, len(saved))] {
			// A run changed since the pause keeps its changes; only what
			// is under jt/ for it is news.
			if rn, ok := e.runs[m.k]; ok {
				rn.saved = m.due
				e.runs[m.k] = rn
			}
			if len(e.dirty) > 0 {
				if rn, ok := e.dirty[m.k]; ok {
					rn.saved = m.due
					e.dirty[m.k] = rn
				}
			}
			if len(e.gone) > 0 {
				if _, ok := e.gone[m.k]; ok {
					e.gone[m.k] = m.due
				}
			}
		}
		e.mu.Unlock()
	}
	return nil
}

// Start runs the timer loop and the sender until ctx ends.
func (e *Engine) Start(ctx context.Context) {
	go e.timerLoop(ctx)
	go e.sendLoop(ctx)
}

// timerLoop appends the Journey Step events of due timers and schedule
// firings to the log; the engine acts on them when they are applied.
func (e *Engine) timerLoop(ctx context.Context) {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for e.Tick(ctx) >= maxFire && ctx.Err() == nil {
		}
	}
}

// Tick records the Journey Step events of the timers and schedules due at
// the engine's clock now, and returns how many; tests with a fake clock
// call it instead of waiting for the loop.
func (e *Engine) Tick(ctx context.Context) int {
	if e.opts.Record == nil {
		return 0
	}
	now := e.opts.Now()
	if err := e.refill(now); err != nil {
		slog.Error("journey: timers", "err", err)
	}
	e.mu.Lock()
	var recs []Record
	e.due(now, func(js *jstate, k runKey, rn *run, c *compiled) {
		rn.flags |= fFiring
		recs = append(recs, timerRecord(js, k, rn, c))
	})
	var fired []*jstate
	for _, js := range e.byOrd {
		if js.cur == nil || js.status != StatusLive || js.cur.def.Trigger.Type != TriggerSchedule {
			continue
		}
		t := js.cur.def.Trigger
		f, ok := firing(t, now)
		if !ok || f <= js.lastFired || f <= js.requested {
			continue
		}
		js.requested = f
		fired = append(fired, js)
		recs = append(recs, Record{AnonymousID: SchedulerID, Type: "track", Event: EventStep, At: time.Unix(f, 0),
			MessageID:  fmt.Sprintf("jb-%s-%d", js.id, f),
			Properties: map[string]any{"journey": js.id, "version": js.cur.def.Version, "kind": kindSchedule, "at": f}})
	}
	e.mu.Unlock()
	if len(recs) == 0 {
		return 0
	}
	if err := e.opts.Record(ctx, recs); err != nil {
		slog.Warn("journey: recording due timers failed; retrying", "n", len(recs), "err", err)
		e.mu.Lock()
		for _, r := range recs {
			if r.Profile == "" {
				continue
			}
			js := e.journeys[r.Properties["journey"].(string)]
			k := runKey{r.Profile, js.ord}
			if rn, ok := e.runs[k]; ok && rn.flags&fFiring != 0 {
				rn.flags &^= fFiring
				e.runs[k] = rn
				heap.Push(&e.timers, timer{at: rn.due, k: k})
			}
		}
		for _, js := range fired {
			js.requested = js.lastFired
		}
		e.mu.Unlock()
		return 0
	}
	return len(recs)
}

// firing is the latest firing of schedule t at or before now.
func firing(t Trigger, now time.Time) (int64, bool) {
	at, err := time.Parse(time.RFC3339, t.At)
	if err != nil || at.After(now) {
		return 0, false
	}
	if t.Every == "" {
		return at.Unix(), true
	}
	d, err := duration(t.Every)
	if err != nil {
		return 0, false
	}
	n := now.Sub(at) / d
	return at.Add(n * d).Unix(), true
}

// sendLoop hands derived sends to the outbox soon after they are derived
// (poked by each; the tick is a fallback), and has a second goroutine
// record the informational events: a send then never waits behind the log
// append of an entered or exited event.
func (e *Engine) sendLoop(ctx context.Context) {
	recWake := make(chan struct{}, 1)
	recDone := make(chan struct{})
	go func() {
		defer close(recDone)
		for {
			select {
			case <-ctx.Done():
				return
			case <-recWake:
			}
			e.flushRecords(ctx)
		}
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			<-recDone
			e.Flush(context.Background())
			return
		case <-e.wake:
		case <-tick.C:
		}
		e.flushSends(ctx)
		e.mu.Lock()
		recs := len(e.records)
		e.mu.Unlock()
		if recs > 0 {
			select {
			case recWake <- struct{}{}:
			default:
			}
		}
	}
}

// Flush enqueues the pending sends and records the pending events.
func (e *Engine) Flush(ctx context.Context) error {
	return errors.Join(e.flushSends(ctx), e.flushRecords(ctx))
}

// flushSends enqueues the pending sends.
func (e *Engine) flushSends(ctx context.Context) error {
	e.sending.Lock()
	defer e.sending.Unlock()
	e.mu.Lock()
	sends := e.sends
	e.sends = nil
	e.mu.Unlock()
	if len(sends) == 0 || e.opts.Outbox == nil {
		return nil
	}
	if err := e.opts.Outbox.Enqueue(ctx, sends); err != nil {
		e.mu.Lock()
		e.sends = append(sends, e.sends...)
		e.mu.Unlock()
		err = fmt.Errorf("enqueue %d journey sends: %w", len(sends), err)
		slog.Warn("journey: flush", "err", err)
		return err
	}
	return nil
}

// flushRecords records the pending events.
func (e *Engine) flushRecords(ctx context.Context) error {
	e.mu.Lock()
	recs := e.records
	e.records = nil
	e.mu.Unlock()
	if len(recs) == 0 || e.opts.Record == nil {
		return nil
	}
	if err := e.opts.Record(ctx, recs); err != nil {
		// Informational events (entered, exited, converted, a trait
		// update): kept for the next try.
		e.mu.Lock()
		e.records = append(recs, e.records...)
		e.mu.Unlock()
		err = fmt.Errorf("record %d journey events: %w", len(recs), err)
		slog.Warn("journey: flush", "err", err)
		return err
	}
	return nil
}
