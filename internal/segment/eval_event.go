package segment

import (
	"fmt"
	"math"
	"strconv"
	"sync"

	"tailor/internal/event"

	"github.com/RoaringBitmap/roaring/v2"
)

// eventPlan is an event condition compiled against one stream: filters as
// match tables over the columns' dictionaries, the window as inclusive
// bounds in unix seconds, and the measure.
type eventPlan struct {
	key      string
	s        *stream // nil: no event has this key
	win      int     // winNone, winLast …
	winA     int64   // Last: seconds; Since: the instant; between: from
	winB     int64   // between: to
	filters  []filterPlan
	lo, hi   int64 // the window, inclusive, already clipped to now
	end      int64 // the window's own end (inclusive), not clipped
	last     int64 // a Last window's length in seconds, 0 for other windows
	measure  string
	of       string  // the aggregated property's path
	ofCol    *column // its column, nil when none or not indexed
	cmp      *comparison
	defaultN bool // "did it": count >= 1
}

type filterPlan struct {
	path  string
	cmp   *comparison
	col   *column // nil: no event has the property
	table []bool
	none  bool // not_exists
	// ttable is table over the tuple ids of tup, when the column is in its
	// stream's tuple table: a row is then decided by one lookup of its
	// tuple, as it was by its value id before tuples. tup is the table it
	// was built for (a rebuilt table is a new one).
	ttable []bool
	tup    *tuples
}

// indexable reports whether the index keeps the values at p: a property,
// a field of an object property, or a field of an array's objects.
func indexable(p Path) bool {
	if p.Array >= 0 {
		return p.Array == 0 && len(p.Keys) == 2
	}
	return len(p.Keys) <= 2
}

func (ev *evaluation) planEvent(r *Rule, path string) (*eventPlan, error) {
	pl, err := compileEvent(ev.ix, r, path)
	if err != nil {
		return nil, err
	}
	pl.at(r, ev.now)
	pl.sync(ev.ix)
	return pl, nil
}

// notIndexed says why property path of event key is not in the index, nil
// when it is (or may appear later).
func notIndexed(ix *Index, key, path string) error {
	s := ix.streams[key]
	if s == nil {
		return nil
	}
	c := s.cols[path]
	switch {
	case c == nil && s.full:
		return fmt.Errorf("property %q of %q is not indexed: the event has more than %d properties", path, key, MaxColumns)
	case c != nil && c.dropped:
		return fmt.Errorf("property %q of %q is not indexed: most of its values are distinct (an identifier, such as an order or cart id), so the index does not keep them", path, key)
	}
	return nil
}

// compileEvent compiles what does not depend on the instant or on the
// index's contents: the comparisons. sync then binds it to the columns, and
// at to an instant; a compiled plan is reused across evaluations (see
// planCache).
func compileEvent(ix *Index, r *Rule, path string) (*eventPlan, error) {
	pl := &eventPlan{key: r.Event, measure: r.Measure, of: r.Of}
	pl.parseWindow(r.Within)
	if ix.streams[r.Event] == nil && ix.streamErr {
		return nil, evalErr(path+"/event", "event %q is not indexed: the index holds %d event names", r.Event, MaxStreams)
	}
	if pl.measure == "" {
		pl.measure = MeasureCount
	}
	for i, f := range r.Where {
		fp := path + "/where/" + strconv.Itoa(i)
		p, err := ParsePath(f.Property)
		if err != nil || !indexable(p) {
			return nil, evalErr(fp+"/property", "property %q is not indexed: use a property, a field of an object (a.b) or of an array's objects (products[].category)", f.Property)
		}
		c, err := compileComparison(f.Op, f.Value, f.CaseSensitive, anyType)
		if err != nil {
			return nil, evalErr(fp, "%v", err)
		}
		if err := notIndexed(ix, r.Event, f.Property); err != nil {
			return nil, evalErr(fp+"/property", "%v", err)
		}
		pl.filters = append(pl.filters, filterPlan{path: f.Property, cmp: c, none: c.op == NotExists})
	}
	if r.Of != "" {
		p, err := ParsePath(r.Of)
		if err != nil || !indexable(p) {
			return nil, evalErr(path+"/of", "property %q is not indexed", r.Of)
		}
		if err := notIndexed(ix, r.Event, r.Of); err != nil {
			return nil, evalErr(path+"/of", "%v", err)
		}
	}
	if r.Op == "" && r.Value == nil && pl.measure == MeasureCount {
		pl.defaultN = true
		pl.cmp, _ = compileComparison(Gte, 1.0, false, typeNumber)
	} else {
		t := typeNumber
		if pl.measure == MeasureFirst || pl.measure == MeasureLast {
			t = typeTime
		}
		c, err := compileComparison(r.Op, r.Value, r.CaseSensitive, t)
		if err != nil {
			return nil, evalErr(path, "%v", err)
		}
		pl.cmp = c
	}
	return pl, nil
}

// at sets the window for the instant now.
func (pl *eventPlan) at(r *Rule, now int64) {
	pl.lo, pl.hi, pl.end, pl.last = math.MinInt64, now, math.MaxInt64, 0
	switch pl.win {
	case winLast:
		pl.last = pl.winA
		pl.lo = now - pl.last + 1
	case winSince:
		pl.lo = pl.winA
	case winBetween:
		pl.lo, pl.end = pl.winA, pl.winB-1
		pl.hi = min(pl.end, now)
	}
}

// The window forms, parsed once by compileEvent.
const (
	winNone = iota
	winLast
	winSince
	winBetween
)

func (pl *eventPlan) parseWindow(w *Window) {
	switch {
	case w == nil:
	case w.Last != "":
		d, _ := ParseDuration(w.Last)
		pl.win, pl.winA = winLast, int64(d.Seconds())
	case w.Since != "":
		t, _ := ParseTime(w.Since)
		pl.win, pl.winA = winSince, t.Unix()
	default:
		from, _ := ParseTime(w.From)
		to, _ := ParseTime(w.To)
		pl.win, pl.winA, pl.winB = winBetween, from.Unix(), to.Unix()
	}
}

// sync binds the plan to the index's stream and columns, which may have
// appeared since it was compiled, and extends the filters' match tables
// over dictionary values added since (dictionaries only grow, and filters
// compare no relative dates, so a table entry never changes).
func (pl *eventPlan) sync(ix *Index) {
	if pl.s == nil {
		pl.s = ix.streams[pl.key]
	}
	if pl.s == nil {
		for i := range pl.filters {
			f := &pl.filters[i]
			if f.table == nil {
				f.table = []bool{f.cmp.match(nil, 0)}
			}
		}
		return
	}
	for i := range pl.filters {
		f := &pl.filters[i]
		if f.col == nil {
			f.col = pl.s.cols[f.path]
		}
		if f.table == nil {
			f.table = []bool{f.cmp.match(nil, 0)}
		}
		if f.col == nil {
			continue
		}
		for id := len(f.table); id <= f.col.dict.len(); id++ {
			f.table = append(f.table, f.col.dict.match(f.cmp, uint32(id), 0))
		}
		if t := f.col.tup; t != f.tup {
			f.tup, f.ttable = t, f.ttable[:0]
		}
		if f.tup != nil {
			for id := len(f.ttable); id <= f.tup.n; id++ {
				f.ttable = append(f.ttable, f.table[f.col.tvals.get(id)])
			}
		}
	}
	if pl.ofCol == nil && pl.of != "" {
		pl.ofCol = pl.s.cols[pl.of]
	}
}

// rowMatches reports whether row passes every filter.
func (pl *eventPlan) rowMatches(row int) bool {
	for i := range pl.filters {
		f := &pl.filters[i]
		if f.col == nil {
			if !f.table[0] {
				return false
			}
			continue
		}
		if !f.col.multi {
			if f.tup != nil {
				if !f.ttable[f.tup.rows.get(row)] {
					return false
				}
			} else if !f.table[f.col.get(row)] {
				return false
			}
			continue
		}
		// Items without the field hold 0, which is no value: neither
		// a match nor, for not_exists, a value.
		lo, hi := f.col.span(row)
		ok := f.none
		for k := lo; k < hi; k++ {
			id := f.col.mvals.get(int(k))
			if id == 0 {
				continue
			}
			if f.none {
				ok = false
				break
			}
			if f.table[id] {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// inWindow reports whether an event at ts counts.
func (pl *eventPlan) inWindow(ts int64) bool { return ts >= pl.lo && ts <= pl.hi }

// nextFor is when an event at ts (that passes the filters) next enters or
// leaves the window as time passes, after now; MaxInt64 for never.
func (pl *eventPlan) nextFor(ts, now int64) int64 {
	next := int64(math.MaxInt64)
	if ts > now && ts >= pl.lo && ts <= pl.end {
		next = ts // a future event starts counting
	}
	if pl.last > 0 && ts+pl.last > now && ts <= now {
		next = min(next, ts+pl.last) // leaves the window
	}
	return next
}

// acc accumulates one profile's measure.
type acc struct {
	count    uint32
	micros   int64
	nvals    uint32
	min, max float64
	first    uint32 // +1 encoded
	last     uint32
}

func (a *acc) addRow(pl *eventPlan, row int, ts uint32) {
	a.count++
	t := ts + 1
	if a.first == 0 || t < a.first {
		a.first = t
	}
	a.last = max(a.last, t)
	if pl.ofCol == nil {
		return
	}
	add := func(id uint32) {
		if id == 0 {
			return
		}
		f := pl.ofCol.dict.num(id)
		if math.IsNaN(f) {
			return
		}
		if a.nvals == 0 || f < a.min {
			a.min = f
		}
		if a.nvals == 0 || f > a.max {
			a.max = f
		}
		a.nvals++
		a.micros += event.Micros(f)
	}
	if !pl.ofCol.multi {
		add(pl.ofCol.get(row))
		return
	}
	lo, hi := pl.ofCol.span(row)
	for k := lo; k < hi; k++ {
		id := pl.ofCol.mvals.get(int(k))
		add(id)
	}
}

func (a *acc) merge(b *acc) {
	if b.count == 0 {
		return
	}
	a.count += b.count
	if a.first == 0 || (b.first != 0 && b.first < a.first) {
		a.first = b.first
	}
	a.last = max(a.last, b.last)
	if b.nvals > 0 {
		if a.nvals == 0 || b.min < a.min {
			a.min = b.min
		}
		if a.nvals == 0 || b.max > a.max {
			a.max = b.max
		}
	}
	a.nvals += b.nvals
	a.micros += b.micros
}

// value is the measure, for the comparison: (number or time, present).
func (a *acc) value(measure string) computedValue {
	switch measure {
	case MeasureCount:
		return computedValue{num: float64(a.count), present: true}
	case MeasureSum:
		return computedValue{num: float64(a.micros) / 1e6, present: true}
	case MeasureAvg:
		if a.nvals == 0 {
			return computedValue{}
		}
		return computedValue{num: float64(a.micros) / float64(a.nvals) / 1e6, present: true}
	case MeasureMin:
		return computedValue{num: a.min, present: a.nvals > 0}
	case MeasureMax:
		return computedValue{num: a.max, present: a.nvals > 0}
	case MeasureFirst:
		return computedValue{secs: int64(a.first) - 1, present: a.first != 0, isTime: true}
	case MeasureLast:
		return computedValue{secs: int64(a.last) - 1, present: a.last != 0, isTime: true}
	}
	return computedValue{}
}

func (ev *evaluation) event(r *Rule, path string) (*roaring.Bitmap, error) {
	pl, err := ev.planEvent(r, path)
	if err != nil {
		return nil, err
	}
	ix := ev.ix
	if pl.measure == MeasureCount && !ev.track {
		return ev.countEvents(pl), nil
	}
	if pl.measure == MeasureSum && !ev.track {
		return ev.sumEvents(pl), nil
	}
	accs := accPool.get(ev.n)
	defer accPool.put(accs)
	visit := func(s *stream, row int, o, ts uint32) {
		t := int64(ts)
		if !pl.inWindow(t) && (!ev.track || t <= ev.now) {
			return
		}
		if !pl.rowMatches(row) {
			return
		}
		if ev.track {
			ev.noteNext(ix.canon[o], pl.nextFor(t, ev.now))
		}
		if pl.inWindow(t) {
			accs[o].addRow(pl, row, ts)
		}
	}
	if s := pl.s; s != nil {
		hi := pl.hi
		if ev.track {
			hi = math.MaxInt64 // rows after now come due later
		}
		buf := getOrdBuf()
		defer putOrdBuf(buf)
		for ci := 0; ci*vecChunk < s.n; ci++ {
			och, tss := s.ord.chunkAt(ci), s.ts.chunk(ci)
			base := ci * vecChunk
			if rows, ok := s.window(ci, pl.lo, hi); ok {
				for _, j := range rows {
					var o uint32
					if och != nil {
						o = och.val(int(j))
					}
					visit(s, base+int(j), o, tss[j])
				}
				continue
			}
			ords := s.ord.decode(ci, min(s.n-base, vecChunk), buf)
			for j := range min(s.n-base, vecChunk) {
				var ts, o uint32
				if tss != nil {
					ts = tss[j]
				}
				if ords != nil {
					o = ords[j]
				}
				visit(s, base+j, o, ts)
			}
		}
	}
	for _, k := range ix.dead {
		accs[ix.canon[k]].merge(&accs[k])
	}
	d := ev.newDense()
	for i := range accs {
		o := uint32(i)
		v := accs[o].value(pl.measure)
		if matchComputed(pl.cmp, v, ev.now) {
			d.set(int(o))
		}
		if ev.track && v.isTime && v.present {
			ev.noteNext(o, pl.cmp.nextChange(v.secs, ev.now))
		}
	}
	return ev.bitmap(d), nil
}

// countEvents is event for the count measure without next changes: four
// bytes per profile instead of a whole acc, and the comparison looked up
// in a table by count. Its row loop repeats event's on purpose: it is the
// hottest loop of a full evaluation, and a callback per row costs more
// than the rows' own work.
//
// Only the profiles the window's rows touch are looked at, and the counts
// come zeroed from a pool and are zeroed again through the same list: the
// evaluation costs the window's rows, not the profiles (at 5 M profiles,
// zeroing and scanning the counts alone took 20 ms). When a count of 0
// matches ("at most 2 times"), every profile starts in and the touched
// ones are decided by their count.
func (ev *evaluation) countEvents(pl *eventPlan) *roaring.Bitmap {
	var table [256]bool
	for i := range table {
		table[i] = matchComputed(pl.cmp, computedValue{num: float64(i), present: true}, ev.now)
	}
	ix := ev.ix
	counts := countPool.get(ev.n)
	var touched []uint32
	if s := pl.s; s != nil {
		buf := getOrdBuf()
		defer putOrdBuf(buf)
		for ci := 0; ci*vecChunk < s.n; ci++ {
			och, tss := s.ord.chunkAt(ci), s.ts.chunk(ci)
			base := ci * vecChunk
			if rows, ok := s.window(ci, pl.lo, pl.hi); ok {
				for _, j := range rows {
					if !pl.rowMatches(base + int(j)) {
						continue
					}
					var o uint32
					if och != nil {
						o = och.val(int(j))
					}
					if counts[o] == 0 {
						touched = append(touched, o)
					}
					counts[o]++
				}
				continue
			}
			end := min(s.n-base, vecChunk)
			ords := s.ord.decode(ci, end, buf)
			for j := range end {
				var t int64
				if tss != nil {
					t = int64(tss[j])
				}
				if t < pl.lo || t > pl.hi || !pl.rowMatches(base+j) {
					continue
				}
				var o uint32
				if ords != nil {
					o = ords[j]
				}
				if counts[o] == 0 {
					touched = append(touched, o)
				}
				counts[o]++
			}
		}
	}
	// Rows of merged-away profiles count for the profile they joined.
	for i, n := 0, len(touched); i < n; i++ {
		o := touched[i]
		c := ix.canon[o]
		if c == o {
			continue
		}
		if counts[c] == 0 {
			touched = append(touched, c)
		}
		counts[c] += counts[o]
		counts[o] = 0
	}
	d := ev.newDense()
	if table[0] {
		d.fill()
	}
	for _, o := range touched {
		c := counts[o]
		counts[o] = 0
		if c == 0 {
			continue // merged away: its rows count for the survivor
		}
		m := false
		if c < uint32(len(table)) {
			m = table[c]
		} else {
			m = matchComputed(pl.cmp, computedValue{num: float64(c), present: true}, ev.now)
		}
		if m {
			d.set(int(o))
		} else if table[0] {
			d.clear(int(o))
		}
	}
	countPool.put(counts)
	return ev.bitmap(d)
}

// arrayPool keeps the arrays of one value a profile that an evaluation
// needs once: at a million profiles each is megabytes (48 MB of accs),
// and made at every evaluation they were about a tenth of what a
// 1 M-customer server allocated in a run at 40 k events/s. get returns
// n zero values. A pool whose users zero what they wrote before put
// (few entries of a large array: the counts and sums) hands arrays out
// as they come back; one with dirty set clears them in get (the accs,
// every entry written).
type arrayPool[T any] struct {
	pool  sync.Pool
	dirty bool
}

func (ap *arrayPool[T]) get(n int) []T {
	if p, ok := ap.pool.Get().(*[]T); ok && cap(*p) >= n {
		a := (*p)[:n]
		if ap.dirty {
			clear(a)
		}
		return a
	}
	return make([]T, n)
}

func (ap *arrayPool[T]) put(a []T) { ap.pool.Put(&a) }

// The per-profile arrays of countEvents (counts), the sum measures (sums)
// and event's general measures (accs).
var (
	countPool arrayPool[uint32]
	sumPool   arrayPool[int64]
	accPool   = arrayPool[acc]{dirty: true}
)

// ordBufs hold a chunk's decoded profile ordinals for the row scans.
var ordBufs = sync.Pool{New: func() any { return new([vecChunk]uint32) }}

func getOrdBuf() []uint32  { return ordBufs.Get().(*[vecChunk]uint32)[:] }
func putOrdBuf(b []uint32) { ordBufs.Put((*[vecChunk]uint32)(b)) }

// sumEvents is event for the sum measure without next changes: eight bytes
// per profile, and each dictionary value converted to micro-units once.
// Like countEvents, it looks only at the profiles the window's rows touch
// when a profile without rows (a sum of 0) does not match.
func (ev *evaluation) sumEvents(pl *eventPlan) *roaring.Bitmap {
	ix := ev.ix
	sparse := !matchComputed(pl.cmp, computedValue{num: 0, present: true}, ev.now)
	var sums []int64
	if sparse {
		sums = sumPool.get(ev.n)
	} else {
		sums = make([]int64, ev.n)
	}
	var touched []uint32
	if s, of := pl.s, pl.ofCol; s != nil && of != nil {
		micros := make([]int64, of.dict.len()+1)
		for id := 1; id <= of.dict.len(); id++ {
			if f := of.dict.num(uint32(id)); !math.IsNaN(f) {
				micros[id] = event.Micros(f)
			}
		}
		// A tuple column's values by tuple: one lookup per row.
		var tmicros []int64
		if t := of.tup; t != nil && !of.multi {
			tmicros = make([]int64, t.n+1)
			for id := range tmicros {
				tmicros[id] = micros[of.tvals.get(id)]
			}
		}
		add := func(row int) {
			if !pl.rowMatches(row) {
				return
			}
			o := s.ord.get(row)
			if sparse {
				// A touched profile may sum to 0 again; the list may
				// then hold it twice, which the last pass allows.
				if sums[o] == 0 {
					touched = append(touched, o)
				}
			}
			if !of.multi {
				if tmicros != nil {
					sums[o] += tmicros[of.tup.rows.get(row)]
				} else {
					sums[o] += micros[of.get(row)]
				}
				return
			}
			lo, hi := of.span(row)
			for k := lo; k < hi; k++ {
				id := of.mvals.get(int(k))
				sums[o] += micros[id]
			}
		}
		for ci := 0; ci*vecChunk < s.n; ci++ {
			base := ci * vecChunk
			if rows, ok := s.window(ci, pl.lo, pl.hi); ok {
				for _, j := range rows {
					add(base + int(j))
				}
				continue
			}
			for row := base; row < min(s.n, base+vecChunk); row++ {
				if t := int64(s.ts.get(row)); t >= pl.lo && t <= pl.hi {
					add(row)
				}
			}
		}
	}
	d := ev.newDense()
	if !sparse {
		for _, k := range ix.dead {
			sums[ix.canon[k]] += sums[k]
		}
		for o, m := range sums {
			if matchComputed(pl.cmp, computedValue{num: float64(m) / 1e6, present: true}, ev.now) {
				d.set(o)
			}
		}
		return ev.bitmap(d)
	}
	for i, n := 0, len(touched); i < n; i++ {
		o := touched[i]
		if c := ix.canon[o]; c != o && sums[o] != 0 {
			touched = append(touched, c)
			sums[c] += sums[o]
			sums[o] = 0
		}
	}
	// A profile listed twice is decided twice alike; its sum is zeroed
	// after the last look.
	for _, o := range touched {
		if m := sums[o]; m != 0 && matchComputed(pl.cmp, computedValue{num: float64(m) / 1e6, present: true}, ev.now) {
			d.set(int(o))
		}
	}
	for _, o := range touched {
		sums[o] = 0
	}
	sumPool.put(sums)
	return ev.bitmap(d)
}
