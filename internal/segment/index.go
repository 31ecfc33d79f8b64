package segment

import (
	"slices"

	"github.com/RoaringBitmap/roaring/v2"

	"tailor/internal/event"
	"tailor/internal/profile"
	"tailor/internal/rwyield"
)

// systemEvents are the events Tailor itself records on profiles. They are
// indexed (rules may ask "did segment_entered") but they are not the
// customer's activity: computed fields (event_count, last_seen …) leave them
// out, or a segment on "seen in the last 7 days" would keep itself alive with
// its own segment_exited event.
var systemEvents = map[string]bool{EventEntered: true, EventExited: true}

// The events a membership change records on the profile.
const (
	EventEntered = "segment_entered"
	EventExited  = "segment_exited"
)

// Index is the in-memory columnar index of profiles and their events that
// rules are evaluated over. Profiles have dense ordinals; events live in one
// stream per event key.
//
// Ownership: the processor goroutine is the only writer (through Engine);
// it holds mu for writing while it changes anything. Evaluations hold mu
// for reading.
type Index struct {
	mu rwyield.RWMutex

	// ids numbers profile ids, merged-away ones too: ord o is entry o+1.
	// A dictionary costs a profile id its bytes plus about 17, where a Go
	// map and a slice of strings cost about 70 more (350 MB at 5 M).
	ids dict
	// savedOrds counts the ordinals the last checkpoint wrote; dirtyOrds
	// holds the blocks of written ordinals whose canon changed since.
	savedOrds int
	dirtyOrds map[int]struct{}
	canon     []uint32 // ord → ord of the profile it now belongs to
	// merged lists, for each surviving ord, the ords merged into it
	// (transitively); their events still carry their own ord.
	merged mergedLists
	// dead lists every merged-away ordinal once, so that a full
	// evaluation folds their rows into the survivors (canon) with one pass
	// over an array instead of over the merged map.
	dead  []uint32
	alive roaring.Bitmap // surviving ords

	streams   map[string]*stream
	streamOrd []*stream // in creation order: a stream's number in the store
	streamErr bool      // MaxStreams reached
	// staleColumns says the persisted columns (si/) are not this index's
	// (another version, unreadable): the next checkpoint deletes them
	// before writing its own, so that no stale page or block is read back.
	staleColumns bool

	// pinned holds the event properties saved segments read
	// (pinKey), which are never dropped as identifier-like.
	pinned map[string]bool

	traits     map[string]*traitColumn
	traitsFull bool // MaxTraitColumns reached: later trait keys are not indexed

	// Aggregates per surviving ord over its customer events (systemEvents
	// left out), for the computed fields. Times are unix seconds + 1 so
	// that 0 means none.
	events, orders        idvec // counts: one or two bytes a profile
	spend                 vec64 // micro-units
	first, last           vec32
	firstOrder, lastOrder vec32
	maxTs                 uint32 // latest event time in the index

	// reach is the reach column: per channel, the ords whose consent
	// allows marketing on it (Engine.SetReachable). reachKnown holds the
	// ords consent has told about; the others are reachable on
	// reachDefault only, the channels that need no opt-in. It is not
	// persisted: consent keeps its own state and feeds it at start.
	reach        map[string]*roaring.Bitmap
	reachKnown   roaring.Bitmap
	reachDefault []string

	// models is the current snapshot of the models' boundaries (nil before
	// the first): every evaluator reads this one, so they agree.
	models *Models
	// pred caches the costly prediction fields per ordinal for models
	// (predictions.go).
	pred predCache
}

// MaxTraitColumns bounds the trait keys the index keeps columns for. Trait
// keys are chosen by whoever holds a write key (each profile may have 500),
// so without a bound the columns could grow without end; rules on a key
// past it are refused with a reason.
const MaxTraitColumns = 4096

// traitColumn is one trait key over the surviving ords.
type traitColumn struct {
	dict dict
	vals idvec // ord → id: one byte per profile for a trait of few values (country, plan)
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{
		merged:  newMergedLists(),
		streams: make(map[string]*stream),
		traits:  make(map[string]*traitColumn),
	}
}

// ord returns the ordinal of profile id, creating it. Caller holds mu.
func (ix *Index) ord(id string) uint32 {
	o, _ := ix.ordKnown(id)
	return o
}

// ordKnown is ord, and whether the profile had an ordinal already: one
// dictionary probe for both.
func (ix *Index) ordKnown(id string) (uint32, bool) {
	n := ix.ids.len()
	o := ix.ids.intern(kindString, id, 0) - 1
	if int(o) < n {
		return ix.canon[o], true
	}
	ix.canon = append(ix.canon, o)
	ix.alive.Add(o)
	return o, false
}

// lookup returns the surviving ordinal of profile id.
func (ix *Index) lookup(id string) (uint32, bool) {
	o, ok := ix.lookupRaw(id)
	if !ok {
		return 0, false
	}
	return ix.canon[o], true
}

// lookupRaw returns the ordinal profile id was given, merged away or not.
func (ix *Index) lookupRaw(id string) (uint32, bool) {
	n := ix.ids.find(kindString, id, 0)
	return n - 1, n != 0
}

// id returns the profile id of ordinal o.
func (ix *Index) id(o uint32) string { return ix.ids.str(o) }

// nords is the number of ordinals given.
func (ix *Index) nords() int { return ix.ids.len() }

// merge folds profile from into into. Caller holds mu.
func (ix *Index) merge(into, from uint32) {
	if into == from {
		return
	}
	for _, k := range ix.merged.merge(into, from) {
		ix.canon[k] = into
		if ix.dirtyOrds == nil {
			ix.dirtyOrds = make(map[int]struct{})
		}
		ix.dirtyOrds[int(k)/ordBlock] = struct{}{}
	}
	ix.dead = append(ix.dead, from)
	ix.alive.Remove(from)

	ix.events.set(int(into), ix.events.get(int(into))+ix.events.get(int(from)))
	ix.orders.set(int(into), ix.orders.get(int(into))+ix.orders.get(int(from)))
	ix.spend.set(int(into), ix.spend.get(int(into))+ix.spend.get(int(from)))
	minTime(&ix.first, into, ix.first.get(int(from)))
	maxTime(&ix.last, into, ix.last.get(int(from)))
	minTime(&ix.firstOrder, into, ix.firstOrder.get(int(from)))
	maxTime(&ix.lastOrder, into, ix.lastOrder.get(int(from)))
	for _, v := range []*vec32{&ix.first, &ix.last, &ix.firstOrder, &ix.lastOrder} {
		v.set(int(from), 0)
	}
	ix.events.set(int(from), 0)
	ix.orders.set(int(from), 0)
	ix.spend.set(int(from), 0)
	ix.updatePrediction(int(into))
	for _, c := range ix.traits {
		c.vals.set(int(from), 0)
	}
	// The survivor's reachability is consent's to say (it merges the two
	// states and tells); a dead ord is in no bitmap.
	ix.reachKnown.Remove(from)
	for _, b := range ix.reach {
		b.Remove(from)
	}
}

// setReach records the channels ord is reachable on. Caller holds mu for
// writing.
func (ix *Index) setReach(ord uint32, channels []string) (changed bool) {
	if ix.reach == nil {
		ix.reach = make(map[string]*roaring.Bitmap, len(Channels))
		for _, ch := range Channels {
			ix.reach[ch] = roaring.New()
		}
	}
	changed = ix.reachKnown.CheckedAdd(ord)
	for ch, b := range ix.reach {
		if slices.Contains(channels, ch) {
			changed = b.CheckedAdd(ord) || changed
		} else {
			changed = b.CheckedRemove(ord) || changed
		}
	}
	return changed
}

// reachable reports whether ord is reachable on channel. Caller holds mu.
func (ix *Index) reachable(ord uint32, channel string) bool {
	if ix.reachKnown.Contains(ord) {
		return ix.reach[channel].Contains(ord)
	}
	return slices.Contains(ix.reachDefault, channel)
}

// reachBitmap returns the surviving ords reachable on channel, a new
// bitmap. Caller holds mu.
func (ix *Index) reachBitmap(channel string) *roaring.Bitmap {
	var out *roaring.Bitmap
	if slices.Contains(ix.reachDefault, channel) {
		out = ix.alive.Clone()
		out.AndNot(&ix.reachKnown)
	} else {
		out = roaring.New()
	}
	if b := ix.reach[channel]; b != nil {
		out.Or(b)
	}
	out.And(&ix.alive)
	return out
}

// resetStreams forgets the event columns and what derives from them, after
// a failed load of the persisted ones. Caller holds mu.
func (ix *Index) resetStreams() {
	ix.streams, ix.streamOrd, ix.streamErr, ix.maxTs = make(map[string]*stream), nil, false, 0
	ix.events, ix.orders, ix.spend, ix.first, ix.last, ix.firstOrder, ix.lastOrder = idvec{}, idvec{}, vec64{}, vec32{}, vec32{}, vec32{}, vec32{}
	ix.pred = predCache{}
}

// minTime lowers v[o] to t (both +1 encoded, 0 = none).
func minTime(v *vec32, o, t uint32) {
	if t == 0 {
		return
	}
	if cur := v.get(int(o)); cur == 0 || t < cur {
		v.set(int(o), t)
	}
}

func maxTime(v *vec32, o, t uint32) {
	if t > v.get(int(o)) {
		v.set(int(o), t)
	}
}

// add indexes one event applied to profile ord; key is its EventKey.
// Caller holds mu.
func (ix *Index) add(ord uint32, e *event.Event, key string) {
	s := ix.streams[key]
	if s == nil {
		if len(ix.streams) >= MaxStreams {
			ix.streamErr = true
		} else {
			s = &stream{ix: ix, key: key, num: len(ix.streamOrd), tup: &tuples{}}
			ix.streams[key] = s
			ix.streamOrd = append(ix.streamOrd, s)
		}
	}
	ts := secs(e.Timestamp)
	if s != nil {
		s.appendEvent(ord, ts, e.Properties)
	}
	if ts > ix.maxTs {
		ix.maxTs = ts
	}
	if systemEvents[key] && e.Type == event.Track {
		return
	}
	o := int(ord)
	ix.events.set(o, ix.events.get(o)+1)
	minTime(&ix.first, ord, ts+1)
	maxTime(&ix.last, ord, ts+1)
	if e.Type == event.Track && e.Event == event.OrderCompleted {
		ix.orders.set(o, ix.orders.get(o)+1)
		ix.spend.set(o, ix.spend.get(o)+event.OrderRevenue(e.Properties))
		minTime(&ix.firstOrder, ord, ts+1)
		maxTime(&ix.lastOrder, ord, ts+1)
		ix.updatePrediction(o)
	}
}

// setTraits replaces profile ord's trait values with traits (key → JSON).
// Caller holds mu.
func (ix *Index) setTraits(ord uint32, traits func(yield func(string, string) bool)) {
	for k, j := range traits {
		c := ix.traits[k]
		if c == nil {
			if len(ix.traits) >= MaxTraitColumns || len(k) > MaxStringBytes {
				ix.traitsFull = true
				continue
			}
			c = &traitColumn{}
			ix.traits[k] = c
		}
		v := profile.DecodeTrait(j)
		if v == nil {
			continue
		}
		c.vals.set(int(ord), c.dict.id(v))
	}
}

// Stats is what the index holds.
type Stats struct {
	Profiles int `json:"profiles"`
	Events   int `json:"events"`
	Streams  int `json:"streams"`
	Traits   int `json:"traits"`
	Bytes    int `json:"bytes"`
	// The parts of Bytes: event rows (profile, time, chains), property
	// columns, their dictionaries, trait columns, per-profile data.
	RowBytes     int `json:"row_bytes"`
	ColumnBytes  int `json:"column_bytes"`
	DictBytes    int `json:"dict_bytes"`
	TraitBytes   int `json:"trait_bytes"`
	ProfileBytes int `json:"profile_bytes"`
}

// Stats reports the index's size.
func (ix *Index) Stats() Stats {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	st := Stats{Profiles: int(ix.alive.GetCardinality()), Streams: len(ix.streams), Traits: len(ix.traits)}
	for _, s := range ix.streams {
		st.Events += s.n
		st.RowBytes += s.rowBytes()
		st.ColumnBytes += s.columnBytes()
		for _, c := range s.colOrder {
			st.DictBytes += c.dict.bytes()
		}
	}
	for _, c := range ix.traits {
		st.TraitBytes += c.vals.bytes() + c.dict.bytes()
	}
	st.ProfileBytes = 4*len(ix.canon) + ix.ids.bytes() + int(ix.alive.GetSizeInBytes()) +
		ix.events.bytes() + ix.orders.bytes() + ix.spend.bytes() + ix.first.bytes() + ix.last.bytes() +
		ix.firstOrder.bytes() + ix.lastOrder.bytes() + ix.pred.clv.bytes() + ix.pred.orders.bytes() +
		int(ix.reachKnown.GetSizeInBytes())
	for _, b := range ix.reach {
		st.ProfileBytes += int(b.GetSizeInBytes())
	}
	st.Bytes = st.RowBytes + st.ColumnBytes + st.DictBytes + st.TraitBytes + st.ProfileBytes
	return st
}

// traitColumn returns the column of trait key (nil when no profile has
// it), or an error when the key may exist but is not indexed.
func (ix *Index) traitColumn(key, path string) (*traitColumn, error) {
	c := ix.traits[key]
	if c == nil && ix.traitsFull {
		return nil, evalErr(path+"/trait", "trait %q is not indexed: the index holds %d trait keys", key, MaxTraitColumns)
	}
	return c, nil
}
