package segment

import (
	"cmp"
	"math"
	"slices"
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
	key   string
	num   int // position in Index.streamOrd
	saved int // rows the last checkpoint wrote
	n     int
	ord   vec32 // profile ordinal
	ts    vec32 // unix seconds, saturated to [0, MaxUint32]
	prev  vec32 // row+1 of the previous event of the same ord, 0 = none
	heads vec32 // ord → row+1 of its latest event in this stream

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
}

// column is one property path of a stream. Single-valued paths ("category",
// "page.path") keep one dictionary id per row; paths through an array
// ("products[].category") keep, per row, the end offset of its values in
// mvals (rows without values repeat the previous end).
type column struct {
	path      string
	num       int // position in stream.colOrder
	savedDict int // dictionary entries the last checkpoint wrote
	multi     bool
	dict      dict
	vals      idvec // single: row → id
	ends      vec32 // multi: row → end offset in mvals (cumulative)
	mvals     idvec // multi: the rows' value ids, one after the other
	mlen      int   // multi: values in mvals
	rows      int   // multi: rows whose end is set
}

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

// appendEvent adds one event of profile ord at time ts with props.
func (s *stream) appendEvent(ord uint32, ts uint32, props map[string]any) {
	row := s.n
	s.n++
	s.ord.set(row, ord)
	s.ts.set(row, ts)
	s.prev.set(row, s.heads.get(int(ord)))
	s.heads.set(int(ord), uint32(row+1))
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
					if c := s.column(k+"."+k2, false); c != nil {
						c.vals.set(row, c.dict.id(v2))
					}
				}
			}
		case []any:
			s.appendArray(row, k, x)
		default:
			if scalar(v) {
				if c := s.column(k, false); c != nil {
					c.vals.set(row, c.dict.id(v))
				}
			}
		}
	}
}

// appendArray indexes the scalar fields of an array of objects as
// "key[].field" columns.
func (s *stream) appendArray(row int, k string, arr []any) {
	for _, el := range arr {
		m, ok := el.(map[string]any)
		if !ok {
			continue
		}
		for f, v := range m {
			if !scalar(v) {
				continue
			}
			c := s.column(k+"[]."+f, true)
			if c == nil {
				continue
			}
			c.catchUp(row)
			c.mvals.set(c.mlen, c.dict.id(v))
			c.mlen++
			c.ends.set(row, uint32(c.mlen))
			c.rows = row + 1
		}
	}
}

// catchUp sets the ends of the rows before row that have no values.
func (c *column) catchUp(row int) {
	for c.rows < row {
		c.ends.set(c.rows, uint32(c.mlen))
		c.rows++
	}
}

// span returns the offsets of row's values in mvals.
func (c *column) span(row int) (lo, hi uint32) {
	if row >= c.rows {
		return 0, 0
	}
	hi = c.ends.get(row)
	if row > 0 {
		lo = c.ends.get(row - 1)
	}
	return lo, hi
}

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
	c := &column{path: path, multi: multi, num: len(s.colOrder)}
	s.cols[path] = c
	s.colOrder = append(s.colOrder, c)
	return c
}

// bytes is the memory the stream holds.
func (s *stream) bytes() int {
	n := s.ord.bytes() + s.ts.bytes() + s.prev.bytes() + s.heads.bytes()
	for _, c := range s.colOrder {
		n += c.vals.bytes() + c.ends.bytes() + c.mvals.bytes() + c.dict.bytes()
	}
	return n
}

// sortChunk records the time order of full chunk ci. Sorting (time,
// offset) pairs as plain integers is several times faster than a sort with
// a comparison function, which matters at start-up (hundreds of chunks).
func (s *stream) sortChunk(ci int) {
	for len(s.byTime) <= ci {
		s.byTime = append(s.byTime, nil)
	}
	tss := s.ts.chunk(ci)
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
