package recommend

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/arena"
	"tailor/internal/store"
)

// DB is where the engine's checkpoints live: the embedded Pebble database.
type DB interface {
	NewIter(o *pebble.IterOptions) (*pebble.Iterator, error)
	Get(key []byte) ([]byte, io.Closer, error)
	// NewBatch is for Load's one rewrite of records of an older format.
	NewBatch(opts ...pebble.BatchOption) *pebble.Batch
}

// Keys under store.PrefixRecommend, written only by Checkpoint (and g by
// MarkBackfilled, and p/ records of the JSON format by Load, rewritten):
//
//	rc/i/<product id>  -> itemRecord (binary, itemcodec.go: written for every
//	                      changed item at every checkpoint, so JSON was too slow)
//	rc/p/<profile id>  -> profRecord (binary, profcodec.go; JSON before it)
//	rc/c/<category>    -> catRecord (JSON)
//	rc/g               -> globalRecord (JSON)
//
// Records name items by product id, never by the in-memory index, which
// depends on load order. Segment and trait groups are not stored: after a
// restart they are filled again from the profiles on first use.
var (
	itemPrefix   = store.PrefixRecommend + "i/"
	profPrefix   = store.PrefixRecommend + "p/"
	catPrefix    = store.PrefixRecommend + "c/"
	globalKey    = []byte(store.PrefixRecommend + "g")
	recUpper     = store.UpperBound(store.PrefixRecommend)
	errBadRecord = errors.New("recommend: bad stored record")
)

type itemRecord struct {
	Name     string                     `json:"n,omitempty"`
	Category string                     `json:"c,omitempty"`
	Price    float64                    `json:"p,omitempty"`
	URL      string                     `json:"u,omitempty"`
	Image    string                     `json:"im,omitempty"`
	N        [nKinds]float64            `json:"k"`
	Co       [nKinds]map[string]float32 `json:"co"`
	Trend    decayed                    `json:"tr"`
	Sold     decayed                    `json:"so"`
	GapSum   float64                    `json:"gs,omitempty"`
	GapN     float64                    `json:"gn,omitempty"`
}

type touchRecord struct {
	I string `json:"i"`
	T int64  `json:"t"`
}

type boughtRecord struct {
	I     string  `json:"i"`
	N     float64 `json:"n"`
	First int64   `json:"f"`
	Last  int64   `json:"l"`
}

type profRecord struct {
	Views []touchRecord  `json:"v,omitempty"`
	Carts []touchRecord  `json:"c,omitempty"`
	Buys  []touchRecord  `json:"b,omitempty"`
	Freq  []boughtRecord `json:"f,omitempty"`
}

type catRecord struct {
	Baskets float64            `json:"b"`
	With    map[string]float64 `json:"w,omitempty"`
}

type globalRecord struct {
	Latest  int64  `json:"latest"`
	Version uint64 `json:"version"`
}

// Checkpoint writes what changed since the last checkpoint into b: both
// parts of CheckpointSplit at once.
func (e *Engine) Checkpoint(b *pebble.Batch) error {
	finish, err := e.CheckpointSplit(b)
	if err != nil {
		return err
	}
	return finish()
}

// changeSet names what changed between two checkpoints: items, profiles,
// categories, and profiles merged away.
type changeSet struct {
	items   map[int32]struct{}
	profs   map[string]int32
	cats    map[string]struct{}
	deleted []string
}

// cpSnapshot is what one checkpoint writes, copied at its pause.
type cpSnapshot struct {
	items   []item  // copies, with their own neighbour maps
	names   []*item // the engine's items at the pause, to name neighbours
	profs   []profCopy
	deleted []string
	cats    []catCopy
	global  globalRecord
}

type profCopy struct {
	id string
	h  hist // a copy
}

type catCopy struct {
	name string
	rec  catRecord
}

// CheckpointSplit implements processor.SplitCheckpointer. Under the
// processor's pause it copies what changed since the last checkpoint (the
// changed items with their neighbour maps, the changed profiles' histories,
// the changed categories) and swaps the change sets for empty ones; the
// returned second part encodes the copies into b after applying resumed.
// Copying is a fraction of encoding: the profiles' JSON was most of the
// pause.
//
// What b gets is the state as of the pause. When a second part never runs
// (its batch was abandoned), its change set is kept and the next
// checkpoint writes those keys again, with their state then.
//
// Only the read lock is taken: the processor runs no Apply during the
// first part, and the change sets are touched by the processor goroutine
// alone, so recommendations are served throughout.
func (e *Engine) CheckpointSplit(b *pebble.Batch) (func() error, error) {
	e.cpMu.Lock()
	defer e.cpMu.Unlock()
	e.mu.RLock()
	defer e.mu.RUnlock()
	if f := e.frozen; f != nil {
		for ix := range f.items {
			e.dirtyItems[ix] = struct{}{}
		}
		for id := range f.profs {
			if _, ok := e.dirtyProfs[id]; ok {
				continue
			}
			if ix := e.profiles.find(id); ix >= 0 { // else merged away since, and in deleted
				e.dirtyProfs[id] = ix
			}
		}
		for name := range f.cats {
			e.dirtyCats[name] = struct{}{}
		}
		e.deleted = slices.Concat(f.deleted, e.deleted)
		e.frozen = nil
	}
	s := &cpSnapshot{
		items:   make([]item, 0, len(e.dirtyItems)),
		names:   e.items, // only grows, and an item's id never changes
		profs:   make([]profCopy, 0, len(e.dirtyProfs)),
		deleted: e.deleted,
		cats:    make([]catCopy, 0, len(e.dirtyCats)),
		global:  globalRecord{e.latest, e.version},
	}
	for ix := range e.dirtyItems {
		c := *e.items[ix]
		for k := range c.co {
			c.co[k] = slices.Clone(c.co[k])
		}
		s.items = append(s.items, c)
	}
	// Apply changes the histories in place (profRef.push): they are
	// copied, all into one array.
	nt := 0
	for _, ix := range e.dirtyProfs {
		nt += int(e.profiles.slot(ix).end[secViews])
	}
	touches := make([]touch, 0, nt)
	for id, ix := range e.dirtyProfs {
		c := e.profiles.at(ix).hist()
		touches = append(touches, c.h...)
		c.h = touches[len(touches)-len(c.h) : len(touches) : len(touches)]
		s.profs = append(s.profs, profCopy{id, c})
	}
	for name := range e.dirtyCats {
		c := e.cats[name]
		s.cats = append(s.cats, catCopy{name, catRecord{c.baskets, maps.Clone(c.with)}})
	}
	f := &changeSet{e.dirtyItems, e.dirtyProfs, e.dirtyCats, e.deleted}
	e.frozen = f
	e.dirtyItems = make(map[int32]struct{}, len(f.items))
	e.dirtyProfs = make(map[string]int32, len(f.profs))
	e.dirtyCats = make(map[string]struct{}, len(f.cats))
	e.deleted = nil
	return func() error {
		if err := s.write(b); err != nil {
			return err
		}
		e.cpMu.Lock()
		defer e.cpMu.Unlock()
		if e.frozen == f {
			e.frozen = nil
		}
		return nil
	}, nil
}

// write encodes the snapshot into b. Deletions go first: a profile merged
// away and made again since keeps its new record.
func (s *cpSnapshot) write(b *pebble.Batch) error {
	for _, id := range s.deleted {
		if err := b.Delete([]byte(profPrefix+id), nil); err != nil {
			return err
		}
	}
	var buf []byte
	for i := range s.items {
		it := &s.items[i]
		buf = appendItem(buf[:0], it, s.names)
		if err := b.Set([]byte(itemPrefix+it.id), buf, nil); err != nil {
			return err
		}
	}
	for _, pc := range s.profs {
		buf = appendProf(buf[:0], pc.h, s.names)
		if err := b.Set([]byte(profPrefix+pc.id), buf, nil); err != nil {
			return err
		}
	}
	for _, c := range s.cats {
		if err := setJSON(b, catPrefix+c.name, c.rec); err != nil {
			return err
		}
	}
	return setJSON(b, string(globalKey), s.global)
}

func setJSON(b *pebble.Batch, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("recommend: encode %q: %w", key, err)
	}
	return b.Set([]byte(key), data, nil)
}

// Load restores the last checkpoint from Options.DB (nothing when there is
// none). Call it before the processor replays the log after the checkpoint.
func (e *Engine) Load() error {
	db := e.opts.DB
	if db == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte(store.PrefixRecommend), UpperBound: recUpper})
	if err != nil {
		return fmt.Errorf("recommend: load: %w", err)
	}
	defer it.Close()
	items := map[string]itemRecord{}
	var order []string
	var prof profRecord // reused: loadProfile copies what it keeps
	// The items' strings (ids, names, urls, images, categories) are
	// packed: four or five objects an item for the collector to mark on
	// every cycle, and at 20,000 items a tenth of the 1 M server's objects.
	var strs arena.Strings
	var fromJSON []string
	for ok := it.First(); ok; ok = it.Next() {
		key := string(it.Key())
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("recommend: load %q: %w", key, err)
		}
		switch {
		case key == string(globalKey):
			var g globalRecord
			if err := json.Unmarshal(v, &g); err != nil {
				return fmt.Errorf("%w %q: %v", errBadRecord, key, err)
			}
			e.latest, e.version = g.Latest, g.Version
			e.present = true
		case len(key) > len(itemPrefix) && key[:len(itemPrefix)] == itemPrefix:
			r, err := decodeItem(v)
			if err != nil {
				return fmt.Errorf("%w %q: %v", errBadRecord, key, err)
			}
			id := strs.Clone(key[len(itemPrefix):])
			items[id] = r
			order = append(order, id)
			e.index(id)
		case len(key) > len(catPrefix) && key[:len(catPrefix)] == catPrefix:
			var r catRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("%w %q: %v", errBadRecord, key, err)
			}
			c := e.category(key[len(catPrefix):])
			c.baskets = r.Baskets
			e.catBaskets += r.Baskets
			if r.With != nil {
				c.with = r.With
			}
		case len(key) > len(profPrefix) && key[:len(profPrefix)] == profPrefix:
			if err := decodeProf(v, &prof); err != nil {
				return fmt.Errorf("%w %q: %v", errBadRecord, key, err)
			}
			e.loadProfile(key[len(profPrefix):], &prof)
			if v[0] == '{' {
				fromJSON = append(fromJSON, key[len(profPrefix):])
			}
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("recommend: load: %w", err)
	}
	for _, id := range order {
		r := items[id]
		ix := e.ids[id]
		x := e.items[ix]
		x.name, x.price, x.url, x.image = strs.Clone(r.Name), r.Price, strs.Clone(r.URL), strs.Clone(r.Image)
		if r.Category != "" {
			e.setCategory(ix, strs.Clone(r.Category))
		}
		x.n, x.trend, x.sold, x.gapSum, x.gapN = r.N, r.Trend, r.Sold, r.GapSum, r.GapN
		for k := range x.n {
			e.norm[k][ix] = x.n[k]
		}
		for k := range r.Co {
			l := make(coList, 0, len(r.Co[k]))
			for o, c := range r.Co[k] {
				ox, ok := e.ids[o]
				if !ok {
					ox = e.index(strs.Clone(o))
				}
				l = append(l, coEntry{ox, c})
			}
			sortCo(l)
			x.co[k] = l
		}
	}
	clear(e.dirtyItems)
	clear(e.dirtyProfs)
	clear(e.dirtyCats)
	e.rescheduleDue()
	if err := e.rewriteBinary(fromJSON); err != nil {
		return fmt.Errorf("recommend: rewrite profile records: %w", err)
	}
	return nil
}

// rewriteBinary writes the profiles of ids, loaded from JSON records, in
// the binary format, once: else each would be decoded from JSON at every
// start until its next change. The records say the same thing in either
// format, so a crash halfway loses nothing. Caller holds mu.
func (e *Engine) rewriteBinary(ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	start := time.Now()
	var buf []byte
	err := store.SetEach(e.opts.DB, len(ids), func(i int) ([]byte, []byte) {
		buf = appendProf(buf[:0], e.profiles.get(ids[i]).hist(), e.items)
		return []byte(profPrefix + ids[i]), buf
	})
	if err != nil {
		return err
	}
	slog.Info("recommend: rewrote profile records in the binary format", "profiles", len(ids), "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// NeedsBackfill says Load found no checkpoint of the engine (the global
// record every checkpoint writes): the store was made by a version without
// it, or its keys were deleted, and its history is still in the log.
func (e *Engine) NeedsBackfill() bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.opts.DB != nil && !e.present
}

// MarkBackfilled writes the global record, which NeedsBackfill looks for.
// The backfill set a repurchase timer for every purchase of the history;
// like a restored model's, only those due after its latest event stay: an
// engine that had been there would have recorded the others when they
// fell due, and a start-up must not send a year of reminders at once.
func (e *Engine) MarkBackfilled(b *pebble.Batch) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.present = true
	e.dues, e.dueIDs = e.dues[:0], arena.Bytes{}
	e.rescheduleDue()
	return setJSON(b, string(globalKey), globalRecord{e.latest, e.version})
}

// loadProfile restores the profile of id from r into an array of its
// size's class. Caller holds mu for writing.
func (e *Engine) loadProfile(id string, r *profRecord) {
	ix := e.profiles.find(id)
	if ix < 0 {
		ix = e.profiles.add(id, 2*len(r.Freq)+len(r.Buys)+len(r.Carts)+len(r.Views))
	}
	p := e.profiles.at(ix)
	p.resize(secFreq, 2*len(r.Freq))
	for i, f := range r.Freq {
		p.freq()[i] = bought{e.index(f.I), f.N, f.First, f.Last}
	}
	for _, sr := range []struct {
		s  int
		rs []touchRecord
	}{{secBuys, r.Buys}, {secCarts, r.Carts}, {secViews, r.Views}} {
		p.resize(sr.s, len(sr.rs))
		ts := p.section(sr.s)
		for i, tr := range sr.rs {
			ts[i] = touch{e.index(tr.I), tr.T}
		}
	}
}
