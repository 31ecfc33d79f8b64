package processor

import (
	"context"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/event"
	"tailor/internal/eventlog"
	"tailor/internal/profile"
)

// Backfiller is an Applier that can join a store whose log already has
// applied events: an engine added by an upgrade starts with no state of its
// own at a checkpoint that says the whole log is reflected, and Backfill
// brings it up to that checkpoint from the log alone.
type Backfiller interface {
	Applier
	// NeedsBackfill says the applier found no mark of its state at load.
	NeedsBackfill() bool
	// MarkBackfilled writes into b the mark NeedsBackfill looks for, once
	// the backfill has applied the history (the applier may drop what is
	// only for live events, such as timers already past). It is called on a
	// new store too (nothing to backfill), so that an applier that never
	// has anything else to write is not backfilled at every start.
	MarkBackfilled(b *pebble.Batch) error
}

// Resolver names the profile an event belongs to now, read-only: the
// profiles already reflect the events being backfilled, so applying them to
// the profile store again would link and merge twice.
type Resolver func(e *event.Event) (profileID string, ok bool)

// BackfillStats describes one backfill.
type BackfillStats struct {
	Appliers []string // names of the appliers brought up to the checkpoint
	Events   uint64   // log entries read
	Skipped  uint64   // entries whose profile no longer resolves or that did not decode
}

var errBackfillDone = errors.New("backfill reached the checkpoint")

// Backfilling names the registered appliers that need a backfill.
func (p *Processor) Backfilling() []string {
	var names []string
	for _, a := range p.appliers {
		if b, ok := a.(Backfiller); ok && b.NeedsBackfill() {
			names = append(names, a.Name())
		}
	}
	return names
}

// Backfill brings every registered Backfiller that needs it up to the
// applied seq of the last checkpoint: it reads the log up to that seq and
// hands each event to those appliers alone, with the profile resolve names
// for it now and no merges (the merges happened before; the events of a
// merged-away profile reach its survivor directly). Their state is then
// checkpointed, which marks it present, so a restart does not redo it.
//
// Call it after Load and the appliers' own loads, before Replay: the events
// after the checkpoint reach every applier by the ordinary replay. progress
// gets the events read and the number to read, every 100,000.
func (p *Processor) Backfill(ctx context.Context, src Source, st DB, resolve Resolver, progress func(done, total uint64)) (BackfillStats, error) {
	var bs BackfillStats
	var fill []Applier
	for _, a := range p.appliers {
		if b, ok := a.(Backfiller); ok && b.NeedsBackfill() {
			fill = append(fill, a)
			bs.Appliers = append(bs.Appliers, a.Name())
		}
	}
	if len(fill) == 0 {
		return bs, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	upTo := p.applied
	if upTo > 0 {
		err := src.ReplayAll(ctx, 0, func(en eventlog.Entry) error {
			if en.Seq > upTo {
				return errBackfillDone
			}
			bs.Events++
			if progress != nil && bs.Events%100000 == 0 {
				progress(bs.Events, upTo)
			}
			e, ok := entryEvent(&en)
			if !ok {
				bs.Skipped++
				return nil
			}
			id, ok := resolve(e)
			if !ok {
				bs.Skipped++
				return nil
			}
			r := profile.Resolution{Profile: id}
			for _, a := range fill {
				a.Apply(e, r)
			}
			return nil
		})
		if err != nil && !errors.Is(err, errBackfillDone) {
			return bs, fmt.Errorf("backfill %v: %w", bs.Appliers, err)
		}
	}
	// Only the backfilled appliers are written: the others' state and the
	// applied seq are unchanged, and this state is as of that seq.
	b := st.NewBatch()
	defer b.Close()
	for _, a := range fill {
		if err := checkpointOne(a, b); err != nil {
			return bs, err
		}
		if err := a.(Backfiller).MarkBackfilled(b); err != nil {
			return bs, fmt.Errorf("mark %s backfilled: %w", a.Name(), err)
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return bs, fmt.Errorf("backfill %v: commit: %w", bs.Appliers, err)
	}
	return bs, nil
}

// checkpointOne writes a's whole checkpoint into b, both parts of a split one.
func checkpointOne(a Applier, b *pebble.Batch) error {
	if sc, ok := a.(SplitCheckpointer); ok {
		finish, err := sc.CheckpointSplit(b)
		if err == nil {
			err = finish()
		}
		if err != nil {
			return fmt.Errorf("checkpoint %s: %w", a.Name(), err)
		}
		return nil
	}
	if err := a.Checkpoint(b); err != nil {
		return fmt.Errorf("checkpoint %s: %w", a.Name(), err)
	}
	return nil
}
