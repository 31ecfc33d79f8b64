package segment

import (
	"fmt"
	"math"
	"time"

	"tailor/internal/event"
)

// Explanation is how one node of a rule decided for one profile: the
// node's result and the figures behind it, and, for a node that time alone
// can change, when it next may.
type Explanation struct {
	Path string `json:"path"`
	// Group is "and", "or" or "not" for a group; Rule the condition for a
	// leaf (without children).
	Group  string `json:"group,omitempty"`
	Rule   *Rule  `json:"rule,omitempty"`
	Result bool   `json:"result"`
	// Value is the figure compared: a trait's value, a computed field, an
	// event condition's measure (a time in RFC 3339).
	Value      any            `json:"value"`
	Detail     string         `json:"detail"`
	NextChange *time.Time     `json:"next_change,omitempty"`
	Children   []*Explanation `json:"children,omitempty"`
}

// planCache keeps what single evaluations of saved segments compile: the
// comparisons and the event plans (with their match tables, extended as
// dictionaries grow). Saved rules never change in place (a save replaces
// the tree), so their nodes key it; it is emptied when the saved set
// changes. Only holders of ix.mu for writing use it.
type planCache struct {
	cmps   map[*Rule]*comparison
	events map[*Rule]*eventPlan
	// owned marks the engine's cache, used only under ix.mu held for
	// writing: it keeps compiled leaves in the saved rules' nodes
	// themselves (Rule.leaf), which saves a map look-up per leaf per
	// evaluation. gen tells the current ones from those of an earlier set
	// of saved segments.
	owned bool
	gen   uint64
}

func (pc *planCache) reset() {
	*pc = planCache{owned: pc.owned, gen: pc.gen + 1}
}

// leafPlan is a leaf's compiled form, kept in the node (see planCache).
type leafPlan struct {
	gen  uint64
	cmp  *comparison
	pl   *eventPlan
	memo *countMemos // count leaves: the newest matching rows by profile (countmemo.go)
}

// ownedLeaf returns r's compiled leaf when the cache may keep it in the
// node, creating it; nil otherwise.
func (sg *single) ownedLeaf(r *Rule) *leafPlan {
	if sg.cache == nil || !sg.cache.owned {
		return nil
	}
	if r.leaf == nil || r.leaf.gen != sg.cache.gen {
		r.leaf = &leafPlan{gen: sg.cache.gen}
	}
	return r.leaf
}

// single evaluates a rule for one profile by walking its rows in each
// stream (the prev chains), as the live engine does after each event and
// as explain does with the figures. It must agree with the full
// evaluation; tests compare both with the reference.
type single struct {
	ix      *Index
	now     int64
	ord     uint32
	resolve Resolver
	explain bool
	next    int64 // earliest instant after now the answer may change by time alone
	depth   int
	agg     *aggregates // the profile's aggregates, index 0
	cache   *planCache  // nil: compile every time
	aggNext int64       // the earliest future event counted out of agg
	aggVal  aggregates  // what agg points to
	aggBuf  singleAgg   // its one-profile arrays
	// hoursBuf holds the profile's engagement by hour (sendtime.go) once
	// asked for; hoursNext is the earliest future engagement event.
	hoursBuf  [1]sendHours
	hoursNext int64
	// mergedOrds is ix.merged[ord] once mergedSet.
	mergedOrds []uint32
	mergedSet  bool
}

// singleAgg holds one profile's aggregates for a single evaluation.
type singleAgg struct {
	events, orders, first, last, firstOrder, lastOrder [1]uint32
	spend, trail, trailNext                            [1]int64
}

func newSingle(ix *Index, ord uint32, now time.Time, resolve Resolver, explain bool) *single {
	return &single{ix: ix, now: now.Unix(), ord: ord, resolve: resolve, explain: explain, next: math.MaxInt64}
}

func (sg *single) noteNext(t int64) {
	if t > sg.now && t < sg.next {
		sg.next = t
	}
}

func (sg *single) rule(r *Rule, path string) (bool, *Explanation, error) {
	var ex *Explanation
	if sg.explain {
		ex = &Explanation{Path: path}
	}
	group := func(name string, kids []*Rule, isAnd bool) (bool, *Explanation, error) {
		if ex != nil {
			ex.Group = name
		}
		res := isAnd
		for i, c := range kids {
			cp := path // children's paths are spelled out only for explanations
			if sg.explain {
				cp = fmt.Sprintf("%s/%s/%d", path, name, i)
			}
			ok, cx, err := sg.rule(c, cp)
			if err != nil {
				return false, nil, err
			}
			if ex != nil {
				ex.Children = append(ex.Children, cx)
			}
			if isAnd {
				res = res && ok
			} else {
				res = res || ok
			}
		}
		if ex != nil {
			ex.Result = res
		}
		return res, ex, nil
	}
	switch r.Kind() {
	case KindAnd:
		return group("and", r.And, true)
	case KindOr:
		return group("or", r.Or, false)
	case KindNot:
		ok, cx, err := sg.rule(r.Not, path+"/not")
		if err != nil {
			return false, nil, err
		}
		if ex != nil {
			ex.Group, ex.Result, ex.Children = "not", !ok, []*Explanation{cx}
		}
		return !ok, ex, nil
	case KindSegment:
		if sg.resolve == nil {
			return false, nil, evalErr(path+"/segment", "no saved segments to refer to")
		}
		sub, ok := sg.resolve(r.Segment)
		if !ok {
			return false, nil, evalErr(path+"/segment", "no segment %q", r.Segment)
		}
		if sg.depth >= MaxDepth {
			return false, nil, evalErr(path+"/segment", "segments refer to each other more than %d deep (a cycle?)", MaxDepth)
		}
		sg.depth++
		res, cx, err := sg.rule(sub, path)
		sg.depth--
		if err != nil {
			return false, nil, err
		}
		if ex != nil {
			ex.Rule, ex.Result, ex.Children = &Rule{Segment: r.Segment}, res, []*Explanation{cx}
			ex.Detail = fmt.Sprintf("member of %q: %v", r.Segment, res)
		}
		return res, ex, nil
	}
	// A leaf: its own next change goes into the explanation.
	outer := sg.next
	sg.next = math.MaxInt64
	var (
		res    bool
		val    any
		detail string
		err    error
	)
	switch r.Kind() {
	case KindTrait:
		res, val, detail, err = sg.trait(r, path)
	case KindComputed:
		res, val, detail, err = sg.computed(r, path)
	case KindEvent:
		res, val, detail, err = sg.event(r, path)
	case KindReachable:
		res = sg.ix.reachable(sg.ord, r.Reachable)
		val = res
		if sg.explain {
			detail = fmt.Sprintf("reachable on %s (consent, no suppression, an address) → %v", r.Reachable, res)
		}
	default:
		err = evalErr(path, "invalid node")
	}
	leafNext := sg.next
	sg.next = min(outer, leafNext)
	if err != nil {
		return false, nil, err
	}
	if ex != nil {
		leaf := *r
		ex.Rule, ex.Result, ex.Value, ex.Detail = &leaf, res, val, detail
		if leafNext != math.MaxInt64 {
			t := time.Unix(leafNext, 0).UTC()
			ex.NextChange = &t
		}
	}
	return res, ex, nil
}

// compare returns r's compiled comparison, from the cache when there is one.
func (sg *single) compare(r *Rule, t fieldType, path string) (*comparison, error) {
	lf := sg.ownedLeaf(r)
	if lf != nil && lf.cmp != nil {
		return lf.cmp, nil
	}
	if lf != nil {
		c, err := compileComparison(r.Op, r.Value, r.CaseSensitive, t)
		if err != nil {
			return nil, evalErr(path, "%v", err)
		}
		lf.cmp = c
		return c, nil
	}
	if sg.cache != nil {
		if c, ok := sg.cache.cmps[r]; ok {
			return c, nil
		}
	}
	c, err := compileComparison(r.Op, r.Value, r.CaseSensitive, t)
	if err != nil {
		return nil, evalErr(path, "%v", err)
	}
	if sg.cache != nil {
		if sg.cache.cmps == nil {
			sg.cache.cmps = make(map[*Rule]*comparison)
		}
		sg.cache.cmps[r] = c
	}
	return c, nil
}

func (sg *single) trait(r *Rule, path string) (bool, any, string, error) {
	c, err := sg.compare(r, anyType, path)
	if err != nil {
		return false, nil, "", err
	}
	var v any
	col, err := sg.ix.traitColumn(r.Trait, path)
	if err != nil {
		return false, nil, "", err
	}
	if col != nil {
		v = col.dict.value(col.vals.get(int(sg.ord)))
	}
	res := c.match(v, sg.now)
	if s, ok := v.(string); ok && c.op.relative() {
		if t, err := ParseTime(s); err == nil {
			sg.noteNext(c.nextChange(t.Unix(), sg.now))
		}
	}
	if !sg.explain {
		return res, v, "", nil
	}
	detail := fmt.Sprintf("trait %q is %s; %s %s → %v", r.Trait, show(v), r.Op, showOperand(r.Value), res)
	if v == nil {
		detail = fmt.Sprintf("trait %q is not set → %v", r.Trait, res)
	}
	return res, v, detail, nil
}

// aggregates returns the profile's aggregates at now in slot 0.
func (sg *single) aggregates() *aggregates {
	if sg.agg != nil {
		// Reused for another rule: its future events matter to it too.
		sg.noteNext(sg.aggNext)
		return sg.agg
	}
	outer := sg.next
	sg.next = math.MaxInt64
	defer func() {
		sg.aggNext = sg.next
		sg.next = min(outer, sg.next)
	}()
	ix, o := sg.ix, int(sg.ord)
	// One profile's aggregates live in the single itself: no allocation
	// per event.
	b := &sg.aggBuf
	*b = singleAgg{
		events: [1]uint32{ix.events.get(o)}, orders: [1]uint32{ix.orders.get(o)},
		first: [1]uint32{ix.first.get(o)}, last: [1]uint32{ix.last.get(o)},
		firstOrder: [1]uint32{ix.firstOrder.get(o)}, lastOrder: [1]uint32{ix.lastOrder.get(o)},
		spend: [1]int64{ix.spend.get(o)},
	}
	a := &sg.aggVal
	*a = aggregates{events: b.events[:], orders: b.orders[:], first: b.first[:], last: b.last[:],
		firstOrder: b.firstOrder[:], lastOrder: b.lastOrder[:], spend: b.spend[:]}
	if int64(a.last[0])-1 > sg.now {
		// The profile has events after now: count only those before.
		*b = singleAgg{}
		for key, s := range ix.streams {
			if systemEvents[key] {
				continue
			}
			sg.rows(s, func(row int, ts uint32) {
				if int64(ts) > sg.now {
					sg.noteNext(int64(ts))
					return
				}
				a.events[0]++
				t := ts + 1
				if a.first[0] == 0 || t < a.first[0] {
					a.first[0] = t
				}
				a.last[0] = max(a.last[0], t)
				if key == "Order Completed" {
					a.orders[0]++
					a.spend[0] += s.rev.get(row)
					if a.firstOrder[0] == 0 || t < a.firstOrder[0] {
						a.firstOrder[0] = t
					}
					a.lastOrder[0] = max(a.lastOrder[0], t)
				}
			})
		}
	}
	sg.agg = a
	return a
}

// trailingNow fills the profile's trailing spend at now in a (slot 0).
func (sg *single) trailingNow(a *aggregates) {
	if a.trail != nil {
		return
	}
	sg.aggBuf.trail, sg.aggBuf.trailNext = [1]int64{}, [1]int64{}
	a.trail, a.trailNext = sg.aggBuf.trail[:], sg.aggBuf.trailNext[:]
	if s := sg.ix.streams[event.OrderCompleted]; s != nil {
		// Orders a year before now add nothing (addTrailing).
		sg.rowsFrom(s, sg.now-spendWindowSecs+1, func(row int, ts uint32) {
			a.addTrailing(0, ts, s.rev.get(row), sg.now)
		})
	}
}

// rows calls fn for every row of the profile in stream s.
func (sg *single) rows(s *stream, fn func(row int, ts uint32)) {
	sg.rowsFrom(s, math.MinInt64, fn)
}

// rowsFrom calls fn for the profile's rows in stream s, skipping some of
// those before from: a walk back along a chain stops where the rest of it
// (stream.lag) holds no row at from or later. A window's condition needs
// no more, and a profile's years of history cost a week's window nothing.
func (sg *single) rowsFrom(s *stream, from int64, fn func(row int, ts uint32)) {
	walk := func(o uint32) {
		for r := int(s.heads.get(int(o))) - 1; r >= 0; {
			ts := s.ts.get(r)
			if int64(ts) < from && s.upTo(r) < from {
				return
			}
			fn(r, ts)
			d := s.prev.get(r)
			if d == 0 {
				break
			}
			r -= int(d)
		}
	}
	walk(sg.ord)
	for _, o := range sg.merged() {
		walk(o)
	}
}

// merged returns the ordinals merged into the profile, looked up once per
// evaluation, not once per walk.
func (sg *single) merged() []uint32 {
	if !sg.mergedSet {
		sg.mergedOrds, sg.mergedSet = sg.ix.merged.of(sg.ord), true
	}
	return sg.mergedOrds
}

func (sg *single) computed(r *Rule, path string) (bool, any, string, error) {
	var c *comparison
	if lf := sg.ownedLeaf(r); lf != nil && lf.cmp != nil {
		c = lf.cmp
	}
	var err error
	if c == nil {
		t, ok := computedFields[r.Computed]
		if !ok {
			return false, nil, "", evalErr(path+"/computed", "unknown computed field %q", r.Computed)
		}
		c, err = sg.compare(r, t, path)
	}
	if err != nil {
		return false, nil, "", err
	}
	a := sg.aggregates()
	if r.Computed == FieldSpendTier {
		sg.trailingNow(a)
	}
	if r.Computed == FieldBestSendHour {
		sg.sendHoursNow(a)
	}
	m := sg.ix.models
	v := computeField(r.Computed, a, 0, sg.now, m)
	res := matchComputed(c, v, sg.now)
	sg.noteNext(nextComputedAt(r.Computed, c, v, a, 0, sg.now, m))
	if !sg.explain {
		return res, nil, "", nil
	}
	val := v.figure()
	detail := fmt.Sprintf("%s is %s; %s %s → %v", r.Computed, show(val), r.Op, showOperand(r.Value), res)
	if !v.present {
		detail = fmt.Sprintf("%s has no value → %v", r.Computed, res)
	}
	if sg.explain {
		if why := modelWhy(r.Computed, a, m); why != "" {
			detail += " (" + why + ")"
		}
	}
	return res, val, detail, nil
}

// figure is the value as an explanation shows it.
func (v computedValue) figure() any {
	switch {
	case !v.present:
		return nil
	case v.isTime:
		return time.Unix(v.secs, 0).UTC().Format(time.RFC3339)
	case v.isStr:
		return v.str
	}
	return v.num
}

func (sg *single) event(r *Rule, path string) (bool, any, string, error) {
	pl, err := sg.eventPlan(r, path)
	if err != nil {
		return false, nil, "", err
	}
	var a acc
	if pl.s != nil && !sg.countFromMemo(r, pl, &a) {
		// A row before the window and not after now counts nowhere.
		sg.rowsFrom(pl.s, min(pl.lo, sg.now+1), func(row int, ts uint32) {
			t := int64(ts)
			if !pl.inWindow(t) && t <= sg.now {
				return
			}
			if !pl.rowMatches(row) {
				return
			}
			sg.noteNext(pl.nextFor(t, sg.now))
			if pl.inWindow(t) {
				a.addRow(pl, row, ts)
			}
		})
	}
	v := a.value(pl.measure)
	res := matchComputed(pl.cmp, v, sg.now)
	if v.isTime && v.present {
		sg.noteNext(pl.cmp.nextChange(v.secs, sg.now))
	}
	if !sg.explain {
		return res, nil, "", nil
	}
	val := v.figure()
	what := pl.measure
	if r.Of != "" {
		what += "(" + r.Of + ")"
	}
	need := fmt.Sprintf("needs %s %s", pl.cmp.op, showOperand(r.Value))
	if pl.defaultN {
		need = "needs at least 1"
	}
	detail := fmt.Sprintf("%q: %d matching in the window; %s %s, %s → %v", r.Event, a.count, what, show(val), need, res)
	return res, val, detail, nil
}

// eventPlan returns r's plan at sg.now, from the cache when there is one.
func (sg *single) eventPlan(r *Rule, path string) (*eventPlan, error) {
	if sg.cache == nil {
		ev := &evaluation{ix: sg.ix, now: sg.now}
		return ev.planEvent(r, path)
	}
	if lf := sg.ownedLeaf(r); lf != nil {
		if lf.pl == nil {
			pl, err := compileEvent(sg.ix, r, path)
			if err != nil {
				return nil, err
			}
			lf.pl = pl
		}
		lf.pl.at(r, sg.now)
		lf.pl.sync(sg.ix)
		return lf.pl, nil
	}
	pl, ok := sg.cache.events[r]
	if !ok {
		var err error
		if pl, err = compileEvent(sg.ix, r, path); err != nil {
			return nil, err
		}
		if sg.cache.events == nil {
			sg.cache.events = make(map[*Rule]*eventPlan)
		}
		sg.cache.events[r] = pl
	}
	pl.at(r, sg.now)
	pl.sync(sg.ix)
	return pl, nil
}

func show(v any) string {
	switch x := v.(type) {
	case nil:
		return "none"
	case string:
		return fmt.Sprintf("%q", x)
	}
	return fmt.Sprint(v)
}

func showOperand(v any) string {
	if v == nil {
		return ""
	}
	return show(v)
}
