package recommend

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/store"
)

// DB is where the engine's checkpoints live: the embedded Pebble database.
type DB interface {
	NewIter(o *pebble.IterOptions) (*pebble.Iterator, error)
	Get(key []byte) ([]byte, io.Closer, error)
}

// Keys under store.PrefixRecommend, written only by Checkpoint:
//
//	rc/i/<product id>  -> itemRecord (binary, itemcodec.go: written for every
//	                      changed item at every checkpoint, so JSON was too slow)
//	rc/p/<profile id>  -> profRecord (JSON)
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

// Checkpoint writes what changed since the last checkpoint into b.
//
// It takes only the read lock: the processor runs no Apply meanwhile, so
// the models do not change, and the dirty sets and deleted it clears are
// touched by Apply and Checkpoint alone (the processor goroutine), never by
// readers. Recommendations are therefore served while a checkpoint encodes.
func (e *Engine) Checkpoint(b *pebble.Batch) error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	var buf []byte
	for ix := range e.dirtyItems {
		it := e.items[ix]
		buf = e.appendItem(buf[:0], it)
		if err := b.Set([]byte(itemPrefix+it.id), buf, nil); err != nil {
			return err
		}
	}
	for id := range e.dirtyProfs {
		p := e.profiles[id]
		if p == nil {
			continue
		}
		r := profRecord{Views: e.touchRecords(p.views), Carts: e.touchRecords(p.carts), Buys: e.touchRecords(p.buys)}
		for _, f := range p.freq {
			r.Freq = append(r.Freq, boughtRecord{e.items[f.Item].id, f.N, f.First, f.Last})
		}
		if err := setJSON(b, profPrefix+id, r); err != nil {
			return err
		}
	}
	for _, id := range e.deleted {
		if err := b.Delete([]byte(profPrefix+id), nil); err != nil {
			return err
		}
	}
	for name := range e.dirtyCats {
		c := e.cats[name]
		if err := setJSON(b, catPrefix+name, catRecord{c.baskets, c.with}); err != nil {
			return err
		}
	}
	if err := setJSON(b, string(globalKey), globalRecord{e.latest, e.version}); err != nil {
		return err
	}
	clear(e.dirtyItems)
	clear(e.dirtyProfs)
	clear(e.dirtyCats)
	e.deleted = e.deleted[:0]
	return nil
}

func (e *Engine) touchRecords(ts []touch) []touchRecord {
	out := make([]touchRecord, len(ts))
	for i, t := range ts {
		out[i] = touchRecord{e.items[t.Item].id, t.T}
	}
	return out
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
			id := key[len(itemPrefix):]
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
			var r profRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("%w %q: %v", errBadRecord, key, err)
			}
			p := &prof{views: e.touches(r.Views), carts: e.touches(r.Carts), buys: e.touches(r.Buys)}
			for _, f := range r.Freq {
				p.freq = append(p.freq, bought{e.index(f.I), f.N, f.First, f.Last})
			}
			e.profiles[key[len(profPrefix):]] = p
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("recommend: load: %w", err)
	}
	for _, id := range order {
		r := items[id]
		ix := e.ids[id]
		x := e.items[ix]
		x.name, x.price, x.url, x.image = r.Name, r.Price, r.URL, r.Image
		if r.Category != "" {
			e.setCategory(ix, r.Category)
		}
		x.n, x.trend, x.sold, x.gapSum, x.gapN = r.N, r.Trend, r.Sold, r.GapSum, r.GapN
		for k := range x.n {
			e.norm[k][ix] = x.n[k]
		}
		for k := range r.Co {
			for o, c := range r.Co[k] {
				x.co[k][e.index(o)] = c
			}
		}
	}
	clear(e.dirtyItems)
	clear(e.dirtyProfs)
	clear(e.dirtyCats)
	e.rescheduleDue()
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
func (e *Engine) MarkBackfilled(b *pebble.Batch) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.present = true
	return setJSON(b, string(globalKey), globalRecord{e.latest, e.version})
}

func (e *Engine) touches(rs []touchRecord) []touch {
	out := make([]touch, len(rs))
	for i, r := range rs {
		out[i] = touch{e.index(r.I), r.T}
	}
	return out
}
