package journey

import (
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/store"
)

// Stats are a journey's figures since it was created, over all versions.
type Stats struct {
	Entered uint64 `json:"entered"`
	// HeldOut counts entrants kept out of the steps (journey and global
	// holdout); their conversions are counted apart, as the control group.
	HeldOut          uint64                `json:"held_out"`
	Exited           uint64                `json:"exited"`
	Converted        uint64                `json:"converted"`
	Revenue          float64               `json:"revenue"`
	HeldOutConverted uint64                `json:"held_out_converted"`
	HeldOutRevenue   float64               `json:"held_out_revenue"`
	Steps            map[string]*StepStats `json:"steps"`
	Days             map[string]*DayStats  `json:"days"`
}

// StepStats are one step's figures. Waiting is how many runs wait at the
// step now; Converted and Revenue are the conversions whose last message
// this step sent.
type StepStats struct {
	Entered   uint64  `json:"entered"`
	Waiting   int64   `json:"waiting"`
	Sent      uint64  `json:"sent"`
	Converted uint64  `json:"converted"`
	Revenue   float64 `json:"revenue"`
	Tracked
}

// DayStats are one UTC day's figures.
type DayStats struct {
	Entered   uint64  `json:"entered"`
	Sent      uint64  `json:"sent"`
	Converted uint64  `json:"converted"`
	Revenue   float64 `json:"revenue"`
	Tracked
}

// Tracked counts what delivery and the tracking links recorded of the
// journey's messages, by the step that sent them and the day it was
// recorded. Opened and Clicked count distinct messages (unique opens and
// clicks): a message opened five times and clicked twice counts one of
// each, on the day of its first open and of its first click, so that the
// days add up to the step's figures. The others count events, one a
// message as delivery records them. Sent above is the step handing the
// message to the outbox; Delivered is the provider's (or the in-app
// inbox's) acceptance.
type Tracked struct {
	Delivered    uint64 `json:"delivered"`
	Bounced      uint64 `json:"bounced"`
	Opened       uint64 `json:"opened"`
	Clicked      uint64 `json:"clicked"`
	Unsubscribed uint64 `json:"unsubscribed"`
}

// trackedEvents are the internal events Tracked counts, with the counter
// each one moves.
var trackedEvents = map[string]func(*Tracked) *uint64{
	"Message Delivered": func(t *Tracked) *uint64 { return &t.Delivered },
	"Message Bounced":   func(t *Tracked) *uint64 { return &t.Bounced },
	"Message Opened":    func(t *Tracked) *uint64 { return &t.Opened },
	"Message Clicked":   func(t *Tracked) *uint64 { return &t.Clicked },
	"Unsubscribed":      func(t *Tracked) *uint64 { return &t.Unsubscribed },
}

// firstOnly are the tracked events counted once a message, with the byte
// that tells their marks apart (firstKey).
var firstOnly = map[string]byte{"Message Opened": 'o', "Message Clicked": 'c'}

// firstKey names a message's first open or click among the marks: the
// journey, kind ('o' or 'c') and the message key; stored under ju/.
func firstKey(journey string, kind byte, messageKey string) string {
	return journey + "\x00" + string(kind) + messageKey
}

// countsOnce reports whether the mark k is new, and sets it. The marks are
// derived from the log like the figures, and written with them at each
// checkpoint: after a restart the store holds those of the checkpoint the
// log is replayed from, so a replayed open counts exactly when it did the
// first time. Caller holds mu.
func (e *Engine) countsOnce(k string) bool {
	if _, ok := e.firstNew[k]; ok {
		return false
	}
	if _, ok := e.firstOld[k]; ok {
		return false
	}
	if db := e.opts.DB; db != nil {
		_, closer, err := db.Get(store.Key(store.PrefixJourneyFirst, k))
		switch {
		case err == nil:
			closer.Close()
			return false
		case !errors.Is(err, pebble.ErrNotFound):
			// Counted: a figure one too high beats a stopped applier.
			slog.Error("journey: reading an open or click mark", "err", err)
		}
	}
	e.firstNew[k] = struct{}{}
	return true
}

// writeFirsts writes the marks of the last two checkpoints into b (those
// of the one before may be in a batch that was given up) and moves the
// newer ones to firstOld. Without a store they all stay in memory. Caller
// holds mu.
func (e *Engine) writeFirsts(b *pebble.Batch) error {
	for _, m := range []map[string]struct{}{e.firstOld, e.firstNew} {
		for k := range m {
			if err := b.Set(store.Key(store.PrefixJourneyFirst, k), nil, nil); err != nil {
				return err
			}
		}
	}
	if e.opts.DB == nil {
		return nil
	}
	clear(e.firstOld)
	e.firstOld, e.firstNew = e.firstNew, e.firstOld
	return nil
}

// maxDays bounds the days kept per journey.
const maxDays = 400

func newStats() *Stats {
	return &Stats{Steps: make(map[string]*StepStats), Days: make(map[string]*DayStats)}
}

func (s *Stats) step(id string) *StepStats {
	ss := s.Steps[id]
	if ss == nil {
		ss = &StepStats{}
		s.Steps[id] = ss
	}
	return ss
}

func (s *Stats) day(t time.Time) *DayStats {
	k := t.UTC().Format(time.DateOnly)
	d := s.Days[k]
	if d == nil {
		if len(s.Days) >= maxDays {
			keys := make([]string, 0, len(s.Days))
			for k := range s.Days {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			delete(s.Days, keys[0])
		}
		d = &DayStats{}
		s.Days[k] = d
	}
	return d
}

// clone copies s for a reader outside the engine's lock.
func (s *Stats) clone() *Stats {
	c := *s
	c.Steps = make(map[string]*StepStats, len(s.Steps))
	for k, v := range s.Steps {
		x := *v
		c.Steps[k] = &x
	}
	c.Days = make(map[string]*DayStats, len(s.Days))
	for k, v := range s.Days {
		x := *v
		c.Days[k] = &x
	}
	return &c
}
