package segment

import (
	"cmp"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"tailor/internal/event"
)

// Resolver finds the rule of a saved segment, for membership conditions.
type Resolver func(id string) (*Rule, bool)

// evaluation is one full evaluation of a rule over every profile of the
// index, at one instant. Caller holds ix.mu for reading.
//
// Each leaf scans one column (a trait, an aggregate, or one stream's rows)
// into a dense bitset over ordinals; groups combine bitmaps. With track set,
// it also finds for each profile the earliest instant after now at which
// the rule's answer may change by the passing of time alone (an event
// leaving or entering a window, a relative date crossing its bound): the
// engine schedules a re-evaluation then. The instant is conservative (the
// answer may not change), never late.
type evaluation struct {
	ix       *Index
	now      int64
	n        int
	resolve  Resolver
	depth    int
	track    bool
	next     []uint32 // ord → instant (unix s) of the next possible change, 0 = none
	aggFresh *aggregates
	aggMu    sync.Mutex // guards aggFresh while leaves run concurrently
}

func newEvaluation(ix *Index, now time.Time, resolve Resolver, track bool) *evaluation {
	ev := &evaluation{ix: ix, now: now.Unix(), n: ix.nords(), resolve: resolve, track: track}
	if track {
		ev.next = make([]uint32, ev.n)
	}
	return ev
}

// evalError is a rule the index cannot evaluate (a property it does not
// index, a segment cycle); Path names the node.
func evalErr(path, format string, args ...any) error {
	return &Error{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// noteNext lowers ord's next-change instant to t when t is after now.
func (ev *evaluation) noteNext(ord uint32, t int64) {
	if !ev.track || t <= ev.now || t >= math.MaxUint32 {
		return
	}
	if cur := ev.next[ord]; cur == 0 || uint32(t) < cur {
		ev.next[ord] = uint32(t)
	}
}

func (ev *evaluation) rule(r *Rule, path string) (*roaring.Bitmap, error) {
	switch r.Kind() {
	case KindAnd:
		// Cheap children first; once few candidates remain, the rest are
		// evaluated for those profiles only, by walking their own rows (as
		// the live engine does) instead of scanning every row of a stream.
		kids := make([]int, len(r.And))
		for i := range kids {
			kids[i] = i
		}
		// An event condition that only profiles with rows in its window
		// can meet reads those rows alone (countEvents): when one reads
		// fewer rows than half the profiles, it goes first and usually
		// leaves few enough candidates for the rest to be checked per
		// profile. Otherwise every leaf scans anyway, all at once.
		est := make([]int, len(r.And))
		for i, k := range r.And {
			est[i] = ev.estimate(k)
		}
		slices.SortStableFunc(kids, func(a, b int) int {
			return cmp.Or(cmp.Compare(est[a], est[b]), cmp.Compare(cost(r.And[a]), cost(r.And[b])))
		})
		if est[kids[0]] >= ev.n/2 {
			done, err := ev.leavesConcurrently(r.And, path)
			if err != nil {
				return nil, err
			}
			if done != nil {
				// Every leaf ran at once; intersect them, smallest first.
				slices.SortFunc(done, func(a, b *roaring.Bitmap) int {
					return cmp.Compare(a.GetCardinality(), b.GetCardinality())
				})
				acc := done[0]
				for _, b := range done[1:] {
					acc.And(b)
				}
				return acc, nil
			}
		}
		var acc *roaring.Bitmap
		for k, i := range kids {
			if acc != nil && acc.GetCardinality()*candidateRatio < uint64(ev.n) {
				rest := make([]*Rule, 0, len(kids)-k)
				for _, j := range kids[k:] {
					rest = append(rest, r.And[j])
				}
				return ev.perCandidate(acc, rest)
			}
			b, err := ev.rule(r.And[i], fmt.Sprintf("%s/and/%d", path, i))
			if err != nil {
				return nil, err
			}
			if acc == nil {
				acc = b
			} else {
				acc.And(b)
			}
		}
		return acc, nil
	case KindOr:
		acc := roaring.New()
		for i, c := range r.Or {
			b, err := ev.rule(c, fmt.Sprintf("%s/or/%d", path, i))
			if err != nil {
				return nil, err
			}
			acc.Or(b)
		}
		return acc, nil
	case KindNot:
		b, err := ev.rule(r.Not, path+"/not")
		if err != nil {
			return nil, err
		}
		out := ev.ix.alive.Clone()
		out.AndNot(b)
		return out, nil
	case KindTrait:
		return ev.trait(r, path)
	case KindComputed:
		return ev.computed(r, path)
	case KindEvent:
		return ev.event(r, path)
	case KindReachable:
		return ev.ix.reachBitmap(r.Reachable), nil
	case KindSegment:
		if ev.resolve == nil {
			return nil, evalErr(path+"/segment", "no saved segments to refer to")
		}
		sub, ok := ev.resolve(r.Segment)
		if !ok {
			return nil, evalErr(path+"/segment", "no segment %q", r.Segment)
		}
		if ev.depth >= MaxDepth {
			return nil, evalErr(path+"/segment", "segments refer to each other more than %d deep (a cycle?)", MaxDepth)
		}
		ev.depth++
		defer func() { ev.depth-- }()
		return ev.rule(sub, path)
	}
	return nil, evalErr(path, "invalid node")
}

// parallelMin is the index size from which an and-group of leaves runs its
// leaves on every core: below it, starting goroutines costs more than the
// scans.
var parallelMin = 1 << 17

// leavesConcurrently evaluates the children of an and-group at once, one
// per core, when they are all leaves, the index is large and no next
// changes are tracked (noteNext is not safe for concurrent use); nil when it
// does not apply.
func (ev *evaluation) leavesConcurrently(kids []*Rule, path string) ([]*roaring.Bitmap, error) {
	if ev.track || ev.n < parallelMin || len(kids) < 2 || runtime.GOMAXPROCS(0) < 2 {
		return nil, nil
	}
	for _, k := range kids {
		if c := k.Kind(); c != KindTrait && c != KindComputed && c != KindEvent && c != KindNot && c != KindReachable {
			return nil, nil
		}
		if k.Kind() == KindNot {
			if c := k.Not.Kind(); c != KindTrait && c != KindComputed && c != KindEvent && c != KindReachable {
				return nil, nil
			}
		}
	}
	out := make([]*roaring.Bitmap, len(kids))
	errs := make([]error, len(kids))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, k := range kids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			out[i], errs[i] = ev.rule(k, fmt.Sprintf("%s/and/%d", path, i))
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// candidateRatio: an and-group evaluates its remaining children per
// candidate once fewer than one profile in candidateRatio is left. (A
// variable so that tests can force either path.)
var candidateRatio uint64 = 64

// estimate is how many values a full evaluation of r reads: one per
// profile for a trait, a computed field or anything but an event
// condition; for an event condition that profiles without rows fail (count
// or sum, without next changes), the rows of its window.
func (ev *evaluation) estimate(r *Rule) int {
	if r.Kind() != KindEvent || ev.track {
		return ev.n
	}
	m := cmp.Or(r.Measure, MeasureCount)
	if m != MeasureCount && m != MeasureSum {
		return ev.n
	}
	if r.Op != "" || r.Value != nil {
		c, err := compileComparison(r.Op, r.Value, r.CaseSensitive, typeNumber)
		if err != nil || matchComputed(c, computedValue{num: 0, present: true}, ev.now) {
			return ev.n
		}
	}
	s := ev.ix.streams[r.Event]
	if s == nil {
		return 0
	}
	var pl eventPlan
	pl.parseWindow(r.Within)
	pl.at(r, ev.now)
	n := 0
	for ci := 0; ci*vecChunk < s.n; ci++ {
		if rows, ok := s.window(ci, pl.lo, pl.hi); ok {
			n += len(rows)
		} else {
			n += min(s.n-ci*vecChunk, vecChunk)
		}
	}
	return n
}

// cost orders an and-group's children: traits and computed fields scan one
// value per profile, event conditions a stream's rows.
func cost(r *Rule) int {
	switch r.Kind() {
	case KindTrait, KindReachable:
		return 0
	case KindComputed:
		return 1
	case KindEvent:
		return 3
	}
	return 2
}

// perCandidate keeps the candidates for which every rule holds, evaluating
// each profile on its own rows.
func (ev *evaluation) perCandidate(cands *roaring.Bitmap, rules []*Rule) (*roaring.Bitmap, error) {
	out := roaring.New()
	var cache planCache
	t := time.Unix(ev.now, 0)
	for it := cands.Iterator(); it.HasNext(); {
		o := it.Next()
		sg := newSingle(ev.ix, o, t, ev.resolve, false)
		sg.cache = &cache
		sg.depth = ev.depth
		in := true
		for _, r := range rules {
			ok, _, err := sg.rule(r, "")
			if err != nil {
				return nil, err
			}
			if !ok {
				// The group stays false until this child changes, and
				// its next change is noted.
				in = false
				break
			}
		}
		if in {
			out.Add(o)
		}
		if ev.track && sg.next != math.MaxInt64 {
			ev.noteNext(o, sg.next)
		}
	}
	return out, nil
}

// dense is a bitset over ordinals, turned into a bitmap of surviving
// profiles at the end.
type dense []uint64

func (ev *evaluation) newDense() dense { return make(dense, (ev.n+63)/64) }

func (d dense) set(o int) { d[o>>6] |= 1 << (o & 63) }

func (d dense) clear(o int) { d[o>>6] &^= 1 << (o & 63) }

// fill sets every bit (bitmap keeps the surviving profiles of them).
func (d dense) fill() {
	for i := range d {
		d[i] = ^uint64(0)
	}
}

func (ev *evaluation) bitmap(d dense) *roaring.Bitmap {
	b := roaring.FromDense(d, false)
	b.And(&ev.ix.alive)
	return b
}

func (ev *evaluation) compile(op Op, value any, cs bool, t fieldType, path string) (*comparison, error) {
	c, err := compileComparison(op, value, cs, t)
	if err != nil {
		return nil, evalErr(path, "%v", err)
	}
	return c, nil
}

func (ev *evaluation) trait(r *Rule, path string) (*roaring.Bitmap, error) {
	c, err := ev.compile(r.Op, r.Value, r.CaseSensitive, anyType, path)
	if err != nil {
		return nil, err
	}
	col, err := ev.ix.traitColumn(r.Trait, path)
	if err != nil {
		return nil, err
	}
	if col == nil {
		if c.match(nil, ev.now) {
			return ev.ix.alive.Clone(), nil
		}
		return roaring.New(), nil
	}
	table := col.dict.matchTable(c, ev.now)
	var nextOf []int64 // dictionary id → next change, for relative dates
	if ev.track && c.op.relative() {
		nextOf = make([]int64, col.dict.len()+1)
		for i := range col.dict.len() {
			if t, ok := col.dict.timeAt(uint32(i + 1)); ok {
				nextOf[i+1] = c.nextChange(t, ev.now)
			}
		}
	}
	d := ev.newDense()
	for ci := 0; ci*vecChunk < ev.n; ci++ {
		base := ci * vecChunk
		end := min(ev.n-base, vecChunk)
		ch := col.vals.chunk(ci)
		if ch == nil {
			if table[0] {
				for j := range end {
					d.set(base + j)
				}
			}
			continue
		}
		ch.match(end, base, table, d)
		if nextOf != nil {
			for j := range end {
				if id := col.vals.get(base + j); id != 0 {
					ev.noteNext(uint32(base+j), nextOf[id])
				}
			}
		}
	}
	return ev.bitmap(d), nil
}

// aggregates are the computed fields' inputs per ordinal, +1-encoded times:
// the index's running ones (live) or arrays computed for an instant.
type aggregates struct {
	live                                               *Index
	events, orders, first, last, firstOrder, lastOrder []uint32
	spend                                              []int64
	// trail is the spend over SpendWindow up to now, in micro-units, and
	// trailNext the next instant it changes by time alone (an order
	// leaving the window or a future one entering it; 0 = never). Nil
	// until a rule asks for spend_tier (trailingNow).
	trail     []int64
	trailNext []int64
	// hours are the engagement counts by local hour (sendtime.go); nil
	// until a rule asks for best_send_hour (sendHoursNow).
	hours []sendHours
}

// addTrailing folds one Order Completed row (time ts, revenue rev) of
// slot o into the trailing spend at now.
func (a *aggregates) addTrailing(o int, ts uint32, rev, now int64) {
	t := int64(ts)
	next := t // a future order enters at its time
	switch {
	case t <= now-spendWindowSecs:
		return // out for good
	case t <= now:
		a.trail[o] += rev
		next = t + spendWindowSecs // leaves when now-window reaches it
	}
	if a.trailNext[o] == 0 || next < a.trailNext[o] {
		a.trailNext[o] = next
	}
}

// trailingNow fills a's trailing spend at now from the Order Completed
// stream (a.trail stays as is when filled).
func (ev *evaluation) trailingNow(a *aggregates) {
	if a.trail != nil {
		return
	}
	a.trail, a.trailNext = make([]int64, ev.n), make([]int64, ev.n)
	s := ev.ix.streams[event.OrderCompleted]
	if s == nil {
		return
	}
	for row := range s.n {
		a.addTrailing(int(ev.ix.canon[s.ord.get(row)]), s.ts.get(row), s.rev.get(row), ev.now)
	}
}

// aggregatesNow returns the aggregates over events at or before now: the
// index's running ones when no event is later than now (the usual case),
// else computed from the streams.
func (ev *evaluation) aggregatesNow() *aggregates {
	if ev.aggFresh != nil {
		return ev.aggFresh
	}
	ix, n := ev.ix, ev.n
	if int64(ix.maxTs) <= ev.now {
		// No event is later than now: the running aggregates are exact.
		ev.aggFresh = &aggregates{live: ix}
		return ev.aggFresh
	}
	a := &aggregates{
		events: make([]uint32, n), orders: make([]uint32, n), first: make([]uint32, n),
		last: make([]uint32, n), firstOrder: make([]uint32, n), lastOrder: make([]uint32, n),
		spend: make([]int64, n),
	}
	for key, s := range ix.streams {
		if systemEvents[key] {
			continue
		}
		order := key == "Order Completed"
		for row := range s.n {
			ts := s.ts.get(row)
			if int64(ts) > ev.now {
				ev.noteNext(ix.canon[s.ord.get(row)], int64(ts))
				continue
			}
			o := ix.canon[s.ord.get(row)]
			a.events[o]++
			t := ts + 1
			if a.first[o] == 0 || t < a.first[o] {
				a.first[o] = t
			}
			a.last[o] = max(a.last[o], t)
			if order {
				a.orders[o]++
				a.spend[o] += s.rev.get(row)
				if a.firstOrder[o] == 0 || t < a.firstOrder[o] {
					a.firstOrder[o] = t
				}
				a.lastOrder[o] = max(a.lastOrder[o], t)
			}
		}
	}
	ev.aggFresh = a
	return a
}

// computedValue is a computed field of one profile: a number, a time, a
// string, or absent.
type computedValue struct {
	num     float64
	secs    int64
	str     string
	present bool
	isTime  bool
	isStr   bool
}

// computeField is the value of a computed field of profile o at now, from
// its aggregates (a.trail filled for spend_tier) and the models snapshot m.
func computeField(field string, a *aggregates, o int, now int64, m *Models) computedValue {
	if v, ok := modelField(field, a, o, now, m); ok {
		return v
	}
	if v, ok := predictionField(field, a, o, m); ok {
		return v
	}
	if field == FieldReplenishmentDue {
		return replenishmentDue(a.ordersAt(o), a.firstOrderAt(o), a.lastOrderAt(o))
	}
	if field == FieldBestSendHour {
		if a.hours == nil {
			return computedValue{} // not filled: the caller did not ask
		}
		return bestSendHour(&a.hours[o], m)
	}
	num := func(f float64) computedValue { return computedValue{num: f, present: true} }
	tm := func(t uint32) computedValue {
		if t == 0 {
			return computedValue{isTime: true}
		}
		return computedValue{secs: int64(t) - 1, present: true, isTime: true}
	}
	days := func(t uint32) computedValue {
		if t == 0 {
			return computedValue{}
		}
		return num(math.Floor(float64(now-(int64(t)-1)) / 86400))
	}
	switch field {
	case "event_count":
		return num(float64(a.eventsAt(o)))
	case "orders":
		return num(float64(a.ordersAt(o)))
	case "total_spend":
		return num(float64(a.spendAt(o)) / 1e6)
	case "average_order_value":
		if a.ordersAt(o) == 0 {
			return computedValue{}
		}
		return num(float64(a.spendAt(o)) / float64(a.ordersAt(o)) / 1e6)
	case "first_seen":
		return tm(a.firstAt(o))
	case "last_seen":
		return tm(a.lastAt(o))
	case "first_order":
		return tm(a.firstOrderAt(o))
	case "last_order":
		return tm(a.lastOrderAt(o))
	case "days_since_last_order":
		return days(a.lastOrderAt(o))
	case "days_since_last_seen":
		return days(a.lastAt(o))
	}
	return computedValue{}
}

// matchComputed applies c to a computed value.
func matchComputed(c *comparison, v computedValue, now int64) bool {
	switch {
	case !v.present:
		return c.op == NotExists
	case c.op == Exists:
		return true
	case c.op == NotExists:
		return false
	case v.isTime:
		return c.matchTime(v.secs, now)
	case v.isStr:
		return c.matchString(v.str, now)
	}
	return c.matchNumber(v.num)
}

func (ev *evaluation) computed(r *Rule, path string) (*roaring.Bitmap, error) {
	t, ok := computedFields[r.Computed]
	if !ok {
		return nil, evalErr(path+"/computed", "unknown computed field %q", r.Computed)
	}
	c, err := ev.compile(r.Op, r.Value, r.CaseSensitive, t, path)
	if err != nil {
		return nil, err
	}
	ev.aggMu.Lock() // and-groups evaluate leaves concurrently
	a := ev.aggregatesNow()
	if r.Computed == FieldSpendTier {
		ev.trailingNow(a)
	}
	if r.Computed == FieldBestSendHour {
		ev.sendHoursNow(a)
	}
	ev.aggMu.Unlock()
	m := ev.ix.models
	if a.live != nil && !ev.track {
		if d, ok := ev.computedColumn(r.Computed, c); ok {
			return ev.bitmap(d), nil
		}
	}
	if r.Computed == FieldSpendTier && !ev.track {
		return ev.bitmap(ev.spendTiers(a, c, m)), nil
	}
	d := ev.newDense()
	// Every ordinal, not just the surviving ones: a linear pass is cheaper
	// than the bitmap's iterator, and bitmap() drops the others.
	for o := range ev.n {
		v := computeField(r.Computed, a, o, ev.now, m)
		if matchComputed(c, v, ev.now) {
			d.set(o)
		}
		if ev.track {
			ev.noteNext(uint32(o), nextComputedAt(r.Computed, c, v, a, o, ev.now, m))
		}
	}
	return ev.bitmap(d), nil
}

// spendTiers is computed for spend_tier without next changes: the
// comparison is decided once per tier (and for no tier), then each profile
// costs its trailing spend's rank, not a computeField call (the builder's
// preview of a tier rule at 1 M profiles spent most of its time there).
func (ev *evaluation) spendTiers(a *aggregates, c *comparison, m *Models) dense {
	tiers := []string{TierLow, TierMid, TierHigh}
	var match [3]bool
	for i, t := range tiers {
		match[i] = matchComputed(c, computedValue{str: t, present: true, isStr: true}, ev.now)
	}
	absent := matchComputed(c, computedValue{}, ev.now)
	d := ev.newDense()
	for o, spend := range a.trail[:ev.n] {
		var in bool
		if m == nil || m.Spenders == 0 || spend <= 0 {
			in = absent
		} else {
			in = match[rankBelow(m.Spend, spend)]
		}
		if in {
			d.set(o)
		}
	}
	return d
}

// matchCounts sets in d the rows base+j whose count matches: table up to
// 255, big past it.
func matchCounts[T uint8 | uint16 | uint32](xs []T, base int, table *[256]bool, big func(uint32) bool, d dense) {
	for j, x := range xs {
		m := false
		if uint32(x) < uint32(len(table)) {
			m = table[x]
		} else {
			m = big(uint32(x))
		}
		if m {
			d.set(base + j)
		}
	}
}

// computedColumn evaluates the plain numeric fields straight from the
// running aggregates' chunks, with a table by value for counts; ok is false
// for the other fields.
func (ev *evaluation) computedColumn(field string, c *comparison) (dense, bool) {
	ix := ev.ix
	d := ev.newDense()
	switch field {
	case "event_count", "orders":
		v := &ix.events
		if field == "orders" {
			v = &ix.orders
		}
		var table [256]bool
		for i := range table {
			table[i] = matchComputed(c, computedValue{num: float64(i), present: true}, ev.now)
		}
		big := func(x uint32) bool {
			return matchComputed(c, computedValue{num: float64(x), present: true}, ev.now)
		}
		for ci := 0; ci*vecChunk < ev.n; ci++ {
			base, ch := ci*vecChunk, v.chunk(ci)
			end := min(ev.n-base, vecChunk)
			switch {
			case ch == nil:
				if table[0] {
					for j := range end {
						d.set(base + j)
					}
				}
			case ch.w8 != nil:
				matchCounts(ch.w8[:end], base, &table, big, d)
			case ch.w16 != nil:
				matchCounts(ch.w16[:end], base, &table, big, d)
			default:
				matchCounts(ch.w32[:end], base, &table, big, d)
			}
		}
		return d, true
	case "total_spend":
		zero := matchComputed(c, computedValue{num: 0, present: true}, ev.now)
		for ci := 0; ci*vecChunk < ev.n; ci++ {
			base := ci * vecChunk
			end := min(ev.n-base, vecChunk)
			var ch []int64
			if ci < len(ix.spend.chunks) {
				ch = ix.spend.chunks[ci]
			}
			for j := range end {
				if ch == nil || ch[j] == 0 {
					if zero {
						d.set(base + j)
					}
					continue
				}
				if matchComputed(c, computedValue{num: float64(ch[j]) / 1e6, present: true}, ev.now) {
					d.set(base + j)
				}
			}
		}
		return d, true
	}
	return nil, false
}

// nextComputedAt is when profile o's computed field may next change its
// comparison by time alone.
func nextComputedAt(field string, c *comparison, v computedValue, a *aggregates, o int, now int64, m *Models) int64 {
	switch field {
	case FieldSpendTier:
		// Even when absent: an order leaving the window can make a
		// non-positive sum positive.
		if t := a.trailNext[o]; t != 0 {
			return t
		}
		return math.MaxInt64
	case FieldLifecycle:
		return lifecycleNext(a.firstOrderAt(o), a.lastOrderAt(o), now, m.options())
	}
	if !v.present {
		return math.MaxInt64
	}
	switch field {
	case "days_since_last_order", "days_since_last_seen":
		t := a.lastAt(o)
		if field == "days_since_last_order" {
			t = a.lastOrderAt(o)
		}
		at := int64(t) - 1
		return at + (int64(v.num)+1)*86400
	}
	if v.isTime {
		return c.nextChange(v.secs, now)
	}
	return math.MaxInt64
}

func (a *aggregates) eventsAt(o int) uint32 {
	if a.live != nil {
		return a.live.events.get(o)
	}
	return a.events[o]
}

func (a *aggregates) ordersAt(o int) uint32 {
	if a.live != nil {
		return a.live.orders.get(o)
	}
	return a.orders[o]
}

func (a *aggregates) spendAt(o int) int64 {
	if a.live != nil {
		return a.live.spend.get(o)
	}
	return a.spend[o]
}

func (a *aggregates) firstAt(o int) uint32 {
	if a.live != nil {
		return a.live.first.get(o)
	}
	return a.first[o]
}

func (a *aggregates) lastAt(o int) uint32 {
	if a.live != nil {
		return a.live.last.get(o)
	}
	return a.last[o]
}

func (a *aggregates) firstOrderAt(o int) uint32 {
	if a.live != nil {
		return a.live.firstOrder.get(o)
	}
	return a.firstOrder[o]
}

func (a *aggregates) lastOrderAt(o int) uint32 {
	if a.live != nil {
		return a.live.lastOrder.get(o)
	}
	return a.lastOrder[o]
}
