package segment

import (
	"cmp"
	"math"
	"math/bits"
	"slices"
	"strings"
	"time"

	"tailor/internal/event"
)

// Index limits: what one stream (an event name) may cost. A write key is
// public, so event names and property names are chosen by whoever holds it.
const (
	// MaxColumns is how many property paths one stream indexes; paths
	// first seen after that are not indexed, and rules naming them are
	// refused with a reason.
	MaxColumns = 128
	// MaxStreams is how many event keys the index holds; events of later
	// keys are not indexed (rules naming them are refused).
	MaxStreams = 4096
)

// stream holds every event of one key (a track event name, or $page …) as
// columns: the profile it was applied to, its time, the previous event of
// the same profile in this stream, and one column per property path.
//
// Invariant: events are only appended; an event's row never changes. The
// ord column holds the profile the event was applied to at the time; merges
// do not rewrite it (Index.canon maps it to the surviving profile).
type stream struct {
	ix    *Index
	key   string
	num   int // position in Index.streamOrd
	saved int // rows the last checkpoint wrote
	n     int
	ord   framevec // profile ordinal
	ts    vec32    // unix seconds, saturated to [0, MaxUint32]
	// prev is each row's distance back to the previous row of the same
	// ord (0 = none): a distance rather than the row itself, because a
	// profile's events mostly arrive together (a session, an imported
	// history), so most chunks fit in one or two bytes a row instead of four.
	prev  idvec
	heads headvec // ord → row+1 of its latest event in this stream
	// lag bounds, for each row, how much later than the row's own time
	// the latest event of its chain up to it (it and the rows prev
	// reaches) is, as a lagCode: a walk back from a profile's head stops
	// where the rest of the chain cannot reach a window's start. Rows of a
	// profile mostly arrive in time order, and their lag is 0, which costs
	// no memory; a re-sent or imported history costs two bytes a row.
	lag idvec

	// rev is, for Order Completed, each order's revenue in micro-units as
	// profiles count it (event.OrderRevenue), for total_spend.
	rev vec64

	// byTime holds, for each full chunk, its row offsets in time order, so
	// that a window reads only its own rows: rows arrive in the order they
	// were sent, which for imports and late batches is not time order.
	byTime [][]uint16

	cols     map[string]*column
	colOrder []*column // in creation order, for scans
	full     bool      // MaxColumns reached: new paths are not indexed

	// arrays holds, per array property ("products"), the item offsets its
	// "products[].field" columns share.
	arrays map[string]*array
	// tup holds the single-valued columns by row as combinations (nil:
	// each column keeps its own row → id vector).
	tup *tuples
	// subs finds the columns of "k.f" (subs[0]) and "k[].f" (subs[1]) by
	// k then f, without building the path string for every value.
	subs [2]map[string]map[string]*column
}

// array is one array property of a stream: its items are numbered in row
// order, and each of its columns keeps one value id per item (0 when the
// item has no such scalar field). Sharing the row → items offsets among
// the fields of a line item (sku, name, price, category, brand …) costs
// two to four bytes per row for the array instead of one to four per row
// per field.
type array struct {
	// ends is each row's end offset of its items (cumulative): a frame's
	// rows hold a few hundred items, so mostly two bytes a row.
	ends  framevec
	items int // items so far
	rows  int // rows whose end is set
	// checked counts the full chunks of items whose columns were looked
	// at for derivation (compactItems).
	checked int
}

// catchUp sets the ends of the rows before row that have no items.
func (a *array) catchUp(row int) {
	for a.rows < row {
		a.ends.set(a.rows, uint32(a.items))
		a.rows++
	}
}

// span returns the offsets of row's items.
func (a *array) span(row int) (lo, hi uint32) {
	if row >= a.rows {
		return 0, 0
	}
	hi = a.ends.get(row)
	if row > 0 {
		lo = a.ends.get(row - 1)
	}
	return lo, hi
}

// column is one property path of a stream. Single-valued paths ("category",
// "page.path") keep one dictionary id per row; paths through an array
// ("products[].category") keep one id per item of the array (0 when the
// item has no such field); the array maps rows to items.
type column struct {
	path      string
	num       int // position in stream.colOrder
	savedDict int // dictionary entries the last checkpoint wrote
	multi     bool
	dict      dict
	vals      idvec   // single, not in a tuple table: row → id
	arr       *array  // multi: the array the path goes through
	mvals     itemvec // multi: item → id

	// A single-valued column in its stream's tuple table: its slot there
	// and its value id per tuple (see tuples.go).
	tup   *tuples
	slot  int
	tvals idvec

	// dropped is set when the column turned out to hold identifiers
	// (see idLikeMin): its values are no longer kept.
	dropped     bool
	droppedSeen bool // the last checkpoint knew it was dropped
}

// idLikeMin is how many distinct values a property column may hold before
// it is checked for being an identifier (order, cart, message or session
// ids): when most of its values are distinct, it is dropped from the index
// unless a saved segment filters on it. Such a column costs a dictionary
// entry per event (hundreds of MB at 5 M customers, and a hash-table insert
// on every event) for rules nobody writes; a rule on it later is refused
// with the reason. A variable so that tests can lower it.
var idLikeMin = 1 << 16

// put stores v as the value of row (single) or item (multi) i of c.
func (s *stream) put(c *column, i int, v any) {
	if c.dropped {
		return
	}
	id := c.dict.id(v)
	if int(id) >= idLikeMin && int(id)%idLikeMin == 0 && s.idLike(c) {
		return
	}
	switch {
	case c.multi:
		c.mvals.set(i, id)
	case c.tup != nil:
		c.tup.cur[c.slot] = id
	default:
		c.vals.set(i, id)
	}
}

// idLike drops c when most of its values are distinct and no saved
// segment reads it, and reports whether it did.
func (s *stream) idLike(c *column) bool {
	values := s.n
	if c.multi {
		values = c.arr.items
	}
	if 2*c.dict.len() < values || s.ix != nil && s.ix.pinned[pinKey(s.key, c.path)] {
		return false
	}
	c.dropped = true
	if c.tup != nil {
		s.retuple(c)
	}
	if c.multi {
		s.ownItems(c)
	}
	c.dict, c.vals, c.mvals, c.tvals = dict{}, idvec{}, itemvec{}, idvec{}
	return true
}

// pinKey names a property of an event key in Index.pinned.
func pinKey(event, path string) string { return event + "\x00" + path }

// secs converts an event time to the index's unix seconds.
func secs(t time.Time) uint32 {
	s := t.Unix()
	switch {
	case s < 0:
		return 0
	case s > math.MaxUint32:
		return math.MaxUint32
	}
	return uint32(s)
}

// link chains row to the previous row of ord and makes it ord's head.
func (s *stream) link(row int, ord uint32) {
	if h := s.heads.get(int(ord)); h != 0 {
		s.prev.set(row, uint32(row+1)-h)
		if up, ts := s.upTo(int(h)-1), int64(s.ts.get(row)); up > ts {
			s.lag.set(row, lagCode(uint64(up-ts)))
		}
	}
	s.heads.set(int(ord), uint32(row+1))
}

// upTo is an upper bound of the times of row and of the rows before it in
// its chain (unix seconds; math.MaxInt64 when unknown).
func (s *stream) upTo(row int) int64 {
	c := s.lag.get(row)
	if c == 0 {
		return int64(s.ts.get(row))
	}
	if c == lagUnknown {
		return math.MaxInt64
	}
	return int64(s.ts.get(row)) + int64(lagValue(c))
}

// A lag is kept in 16 bits as a float rounded up: 4 bits of exponent e
// and 12 of mantissa m stand for m << e seconds, exact below 4096 and
// within 0.05 % above (a year's lag is bounded to within 5 hours), up to
// four years; lagUnknown stands for more.
const lagUnknown = 0xFFFF

// lagCode encodes lag seconds rounded up.
func lagCode(lag uint64) uint32 {
	if lag < 1<<12 {
		return uint32(lag)
	}
	e := bits.Len64(lag) - 12
	m := (lag + 1<<e - 1) >> e
	if m == 1<<12 {
		m, e = 1<<11, e+1
	}
	if e > 15 {
		return lagUnknown
	}
	return uint32(e)<<12 | uint32(m)
}

// lagValue decodes a lagCode other than lagUnknown.
func lagValue(c uint32) uint64 { return uint64(c&(1<<12-1)) << (c >> 12) }

// appendEvent adds one event of profile ord at time ts with props.
func (s *stream) appendEvent(ord uint32, ts uint32, props map[string]any) {
	row := s.n
	s.n++
	s.ord.set(row, ord)
	s.ts.set(row, ts)
	s.link(row, ord)
	if s.n&vecMask == 0 {
		s.sortChunk(row >> vecShift)
	}
	if s.key == event.OrderCompleted {
		s.rev.set(row, event.OrderRevenue(props))
	}
	for k, v := range props {
		switch x := v.(type) {
		case map[string]any:
			for k2, v2 := range x {
				if scalar(v2) {
					if c := s.subColumn(k, k2, false); c != nil {
						s.put(c, row, v2)
					}
				}
			}
		case []any:
			s.appendArray(row, k, x)
		default:
			if scalar(v) {
				if c := s.column(k, false); c != nil {
					s.put(c, row, v)
				}
			}
		}
	}
	if s.tup != nil {
		s.endRow(row)
	}
}

// appendArray indexes the scalar fields of an array of objects as
// "key[].field" columns. Elements that are not objects are not items.
func (s *stream) appendArray(row int, k string, elems []any) {
	var a *array
	for _, el := range elems {
		m, ok := el.(map[string]any)
		if !ok {
			continue
		}
		if a == nil {
			a = s.array(k)
			a.catchUp(row)
		}
		item := a.items
		a.items++
		for f, v := range m {
			if !scalar(v) {
				continue
			}
			if c := s.subColumn(k, f, true); c != nil {
				s.put(c, item, v)
			}
		}
	}
	if a != nil {
		a.ends.set(row, uint32(a.items))
		a.rows = row + 1
		if a.items>>vecShift > a.checked {
			s.compactItems(a)
		}
	}
}

// subColumn is column(k+"."+f) or, for multi, column(k+"[]."+f).
func (s *stream) subColumn(k, f string, multi bool) *column {
	i := 0
	if multi {
		i = 1
	}
	if c := s.subs[i][k][f]; c != nil {
		return c
	}
	sep := "."
	if multi {
		sep = "[]."
	}
	c := s.column(k+sep+f, multi)
	if c == nil {
		return nil // not cached: the keys are the sender's to choose
	}
	if s.subs[i] == nil {
		s.subs[i] = make(map[string]map[string]*column)
	}
	m := s.subs[i][k]
	if m == nil {
		m = make(map[string]*column)
		s.subs[i][k] = m
	}
	m[f] = c
	return c
}

// array returns the array property k, creating it.
func (s *stream) array(k string) *array {
	a := s.arrays[k]
	if a == nil {
		if s.arrays == nil {
			s.arrays = make(map[string]*array)
		}
		a = &array{}
		s.arrays[k] = a
	}
	return a
}

// span returns the offsets of row's items in mvals; some may be 0 (the
// item has no such field).
func (c *column) span(row int) (lo, hi uint32) { return c.arr.span(row) }

func scalar(v any) bool {
	switch v.(type) {
	case string, float64, bool:
		return true
	}
	return false
}

// column returns the column for path, creating it unless the stream is
// full; nil when it cannot be indexed.
func (s *stream) column(path string, multi bool) *column {
	if c, ok := s.cols[path]; ok {
		return c
	}
	if len(s.cols) >= MaxColumns || len(path) > MaxStringBytes {
		s.full = true
		return nil
	}
	if s.cols == nil {
		s.cols = make(map[string]*column)
	}
	c := &column{path: path, multi: multi, num: len(s.colOrder), slot: -1}
	if multi {
		k, _, ok := strings.Cut(path, "[].")
		if !ok {
			return nil
		}
		c.arr = s.array(k)
	} else if s.tup != nil {
		s.tup.join(c)
	}
	s.cols[path] = c
	s.colOrder = append(s.colOrder, c)
	return c
}

// rowBytes is the memory of the stream's rows: profile, time, chains,
// revenue and time order.
func (s *stream) rowBytes() int {
	n := s.ord.bytes() + s.ts.bytes() + s.prev.bytes() + s.lag.bytes() + s.heads.bytes() + s.rev.bytes()
	for _, p := range s.byTime {
		n += 24
		if len(p) > 0 && &p[0] != &inOrder[0] {
			n += 2 * len(p)
		}
	}
	return n
}

// columnBytes is the memory of the stream's property columns, without
// their dictionaries.
func (s *stream) columnBytes() int {
	n := 0
	for _, c := range s.colOrder {
		n += c.vals.bytes() + c.mvals.bytes()
	}
	for _, a := range s.arrays {
		n += a.ends.bytes()
	}
	if s.tup != nil {
		n += s.tup.bytes()
	}
	return n
}

// inOrder is the time order of a chunk whose rows are in time order.
var inOrder = func() []uint16 {
	p := make([]uint16, vecChunk)
	for i := range p {
		p[i] = uint16(i)
	}
	return p
}()

// sortChunk records the time order of full chunk ci. Sorting (time,
// offset) pairs as plain integers is several times faster than a sort with
// a comparison function, which matters at start-up (hundreds of chunks).
func (s *stream) sortChunk(ci int) {
	for len(s.byTime) <= ci {
		s.byTime = append(s.byTime, nil)
	}
	tss := s.ts.chunk(ci)
	if tss == nil || slices.IsSorted(tss) {
		// Live events arrive in time order: the chunk is its own time
		// order, which all such chunks share instead of two bytes a row.
		s.byTime[ci] = inOrder
		return
	}
	keys := make([]uint64, vecChunk)
	for i := range keys {
		var t uint64
		if tss != nil {
			t = uint64(tss[i])
		}
		keys[i] = t<<vecShift | uint64(i)
	}
	slices.Sort(keys)
	perm := make([]uint16, vecChunk)
	for i, k := range keys {
		perm[i] = uint16(k & vecMask)
	}
	s.byTime[ci] = perm
}

// window returns, for chunk ci, its row offsets with times in [lo, hi] (in
// time order), and false when the chunk has no time order yet (the last,
// partial one) or the window covers all of it, so that a plain scan is
// cheaper.
func (s *stream) window(ci int, lo, hi int64) ([]uint16, bool) {
	if ci >= len(s.byTime) || s.byTime[ci] == nil {
		return nil, false
	}
	perm, tss := s.byTime[ci], s.ts.chunk(ci)
	if tss == nil {
		return nil, false
	}
	a, _ := slices.BinarySearchFunc(perm, lo, func(r uint16, t int64) int { return cmp.Compare(int64(tss[r]), t) })
	b := len(perm)
	if hi < math.MaxUint32 {
		b, _ = slices.BinarySearchFunc(perm, hi+1, func(r uint16, t int64) int { return cmp.Compare(int64(tss[r]), t) })
	}
	if a >= b {
		return perm[:0], true
	}
	if a == 0 && b == len(perm) {
		return nil, false
	}
	return perm[a:b], true
}
