package segment

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/store"
)

// Limits of a segment's size history.
const (
	// DefaultHistoryDays is how many days GET …/history answers by default.
	DefaultHistoryDays = 30
	// MaxHistoryDays is the most it answers, and how long the engine keeps
	// a day.
	MaxHistoryDays = 400
)

// DaySize is one UTC day of a segment's history: its size at the end of the
// day (today: now), and the profiles that entered and left it that day.
type DaySize struct {
	Day     string `json:"day"` // YYYY-MM-DD
	Size    int    `json:"size"`
	Entered uint64 `json:"entered"`
	Exited  uint64 `json:"exited"`
}

// history keeps, per segment and UTC day, the size and the day's changes.
//
// Sizes: a transition is noted while its evaluation may be half-way (a full
// refresh notes every transition before it replaces the members), so the
// members' cardinality is not trusted at a note. Instead the engine
// observes the size where it is exact (after a save, at each checkpoint and
// at each read) and a day's size is the last observed one plus the
// entries and minus the exits noted since. A merge drops a member without
// a transition; the next observation corrects for it.
//
// Lock order: ix.mu, then mu.
type history struct {
	mu   sync.Mutex
	segs map[string]map[uint32]*dayRecord // segment id → day → record
}

// dayRecord is one segment's day. base is the size observed last that day
// (or carried from the day before), at which moment the day had counted
// baseIn entries and baseOut exits.
type dayRecord struct {
	base            int
	baseIn, baseOut uint64
	entered, exited uint64
	dirty           bool // not yet written by a checkpoint
}

func (d *dayRecord) size() int {
	return max(d.base+int(d.entered-d.baseIn)-int(d.exited-d.baseOut), 0)
}

// storedDay is a day as checkpoints write it.
type storedDay struct {
	Size    int    `json:"size"`
	Entered uint64 `json:"entered"`
	Exited  uint64 `json:"exited"`
}

// dayOf is t's UTC day, in days since 1970-01-01.
func dayOf(t time.Time) uint32 {
	s := t.Unix()
	if s < 0 {
		return 0
	}
	return uint32(s / 86400)
}

func dayString(d uint32) string {
	return time.Unix(int64(d)*86400, 0).UTC().Format(time.DateOnly)
}

func historyKey(id string, day uint32) []byte {
	k := store.Key(store.PrefixHistory, id+"\x00")
	return binary.BigEndian.AppendUint32(k, day)
}

// record returns segment id's record of day, creating it with the size the
// segment had at the end of its latest earlier day, or guess() when it has
// none. Caller holds h.mu.
func (h *history) record(id string, day uint32, guess func() int) *dayRecord {
	days := h.segs[id]
	if days == nil {
		if h.segs == nil {
			h.segs = make(map[string]map[uint32]*dayRecord)
		}
		days = make(map[uint32]*dayRecord)
		h.segs[id] = days
	}
	if r := days[day]; r != nil {
		return r
	}
	var prev *dayRecord
	var prevDay uint32
	for d, r := range days {
		if d < day && (prev == nil || d > prevDay) {
			prev, prevDay = r, d
		}
	}
	r := &dayRecord{dirty: true}
	if prev != nil {
		r.base = prev.size()
	} else {
		r.base = guess()
	}
	days[day] = r
	return r
}

// noteHistory counts one transition of s at at. Caller holds ix.mu for
// writing (transition does).
func (e *Engine) noteHistory(s *saved, entered bool, at time.Time) {
	h := &e.hist
	h.mu.Lock()
	defer h.mu.Unlock()
	// Only a segment with no history at all falls back on the members,
	// which may be off by this refresh's transitions until the next
	// observation.
	r := h.record(s.def.ID, dayOf(at), func() int { return int(s.members.GetCardinality()) })
	if entered {
		r.entered++
	} else {
		r.exited++
	}
	r.dirty = true
}

// observeHistory records s's exact size at at. Caller holds ix.mu, with no
// evaluation of s half-way.
func (e *Engine) observeHistory(s *saved, at time.Time) {
	n := int(s.members.GetCardinality())
	h := &e.hist
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.record(s.def.ID, dayOf(at), func() int { return n })
	if r.size() != n {
		r.dirty = true
	}
	r.base, r.baseIn, r.baseOut = n, r.entered, r.exited
}

// dropHistory forgets segment id's history (a deleted segment).
func (e *Engine) dropHistory(id string) {
	e.hist.mu.Lock()
	delete(e.hist.segs, id)
	e.hist.mu.Unlock()
}

// checkpointHistory observes every segment's size and writes the days that
// changed since the last checkpoint into b. Days before the longest answer
// (MaxHistoryDays back) are dropped, but the newest of them, which carries
// its size into the answer. Caller holds ix.mu for reading.
func (e *Engine) checkpointHistory(b *pebble.Batch) error {
	now := e.opts.Now()
	for _, s := range e.order {
		e.observeHistory(s, now)
	}
	var cutoff uint32 // the first day an answer can show
	if today := dayOf(now); today >= MaxHistoryDays {
		cutoff = today - MaxHistoryDays + 1
	}
	h := &e.hist
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, days := range h.segs {
		carrier, old := uint32(0), false
		for d := range days {
			if d < cutoff && (!old || d > carrier) {
				carrier, old = d, true
			}
		}
		for d, r := range days {
			if d < cutoff && d != carrier {
				delete(days, d)
				if err := b.Delete(historyKey(id, d), nil); err != nil {
					return fmt.Errorf("segment %q history: %w", id, err)
				}
				continue
			}
			if !r.dirty {
				continue
			}
			v, err := json.Marshal(storedDay{Size: r.size(), Entered: r.entered, Exited: r.exited})
			if err != nil {
				return fmt.Errorf("segment %q history: %w", id, err)
			}
			if err := b.Set(historyKey(id, d), v, nil); err != nil {
				return fmt.Errorf("segment %q history: %w", id, err)
			}
			r.dirty = false
		}
	}
	return nil
}

// loadHistory reads the days checkpoints wrote. Caller holds ix.mu for
// writing.
func (e *Engine) loadHistory(db pebble.Reader) error {
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte(store.PrefixHistory), UpperBound: store.UpperBound(store.PrefixHistory)})
	if err != nil {
		return fmt.Errorf("segment history: %w", err)
	}
	defer it.Close()
	h := &e.hist
	h.mu.Lock()
	defer h.mu.Unlock()
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()[len(store.PrefixHistory):]
		if len(k) < 6 || k[len(k)-5] != 0 {
			return fmt.Errorf("segment history: malformed key %q", it.Key())
		}
		id, day := string(k[:len(k)-5]), binary.BigEndian.Uint32(k[len(k)-4:])
		var sd storedDay
		if err := json.Unmarshal(it.Value(), &sd); err != nil {
			return fmt.Errorf("segment %q history of %s: %w", id, dayString(day), err)
		}
		if h.segs == nil {
			h.segs = make(map[string]map[uint32]*dayRecord)
		}
		if h.segs[id] == nil {
			h.segs[id] = make(map[uint32]*dayRecord)
		}
		h.segs[id][day] = &dayRecord{base: sd.Size, baseIn: sd.Entered, baseOut: sd.Exited, entered: sd.Entered, exited: sd.Exited}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("segment history: %w", err)
	}
	return nil
}

// History returns segment id's last days UTC days up to today, oldest
// first, from the first day the engine knows the segment (its creation,
// or the day history began for it). A day without changes carries the
// size of the day before.
func (e *Engine) History(id string, days int) ([]DaySize, error) {
	if days < 1 || days > MaxHistoryDays {
		return nil, fmt.Errorf("days: must be from 1 to %d, got %d", MaxHistoryDays, days)
	}
	e.ix.mu.RLock()
	defer e.ix.mu.RUnlock()
	s, ok := e.segs[id]
	if !ok {
		return nil, ErrNotFound
	}
	now := e.opts.Now()
	e.observeHistory(s, now) // today's size is now's
	today := dayOf(now)
	h := &e.hist
	h.mu.Lock()
	defer h.mu.Unlock()
	recs := h.segs[id]
	known := make([]uint32, 0, len(recs))
	for d := range recs {
		known = append(known, d)
	}
	slices.Sort(known)
	from := uint32(0)
	if today >= uint32(days) {
		from = today - uint32(days) + 1
	}
	// observeHistory made today's record, so known is not empty; a clock
	// set back may have left records after today.
	from = min(max(from, known[0]), today)
	size := 0
	for _, d := range known {
		if d >= from {
			break
		}
		size = recs[d].size()
	}
	out := make([]DaySize, 0, today-from+1)
	for d := from; d <= today; d++ {
		day := DaySize{Day: dayString(d), Size: size}
		if r := recs[d]; r != nil {
			day.Size, day.Entered, day.Exited = r.size(), r.entered, r.exited
		}
		size = day.Size
		out = append(out, day)
	}
	return out, nil
}
