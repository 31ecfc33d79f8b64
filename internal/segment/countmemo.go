package segment

import "math"

// A count condition ("did Product Viewed where category contains
// accessor at least 2 times in last 90d") is re-evaluated for a profile
// after each of its events, and walking the profile's rows in the stream
// made that cost grow with the profile's history: the window's early stop
// (stream.lag) only helps while rows arrive in time order, and a re-sent
// history, an import or a load generator replaying its customers arrives
// in any order. In the 1 M-customer store, after four 40 s runs of
// `tailor bench ingest`, those walks were 23 % of the processor.
//
// A count compared with numbers below k needs only the k newest matching
// rows: past k the comparisons cannot tell counts apart, and rows older
// than the k-th newest leave the window before it, so they change neither
// the answer nor when it next changes. So the live engine keeps, per leaf
// and profile, those k times and the chain head they were read up to, and
// each evaluation reads only the rows added since. Rows never change once
// added and a chain only grows at its head, so the memo stays true; a
// matching event dated after now and a clock that went back fall back to
// the walk.

// maxCountMemoK is the largest k kept: comparisons with larger counts
// ("at least 10 times") walk as before.
const maxCountMemoK = 8

// maxCountMemos bounds the profiles one leaf keeps memos for (about 60
// bytes each); a full table is emptied and refills with the profiles
// evaluated next.
const maxCountMemos = 1 << 16

// countMemos are one count leaf's memos, by profile ordinal.
// A leaf's plan binds its stream once and keeps it, and a new plan gets new
// memos, so they are always of one stream.
type countMemos struct {
	k int // times kept per profile; 0: the comparison cannot use memos
	m map[uint32]countMemo
}

// countMemo is one profile's: the newest matching row times (unix
// seconds, newest first), the chain head (row+1) they were read up to, the
// instant they were last brought up to date and how many profiles had
// been merged into it then.
type countMemo struct {
	head   uint32
	at     uint32
	merged uint32 // profiles merged into this one when it was read
	n      uint8
	times  [maxCountMemoK]uint32
}

// memoK is how many of the newest matching rows decide count comparison
// c: one more than its largest operand. 0 when that is more than
// maxCountMemoK, or the comparison is not on numbers.
func memoK(c *comparison) int {
	switch c.op {
	case Exists, NotExists:
		return 1
	}
	if c.kind != operandNumber && c.kind != operandList || len(c.strs) > 0 {
		return 0
	}
	top := 0.0
	for _, v := range c.nums {
		if !(v < maxCountMemoK) { // NaN too
			return 0
		}
		top = max(top, v)
	}
	return int(math.Floor(top)) + 1
}

// add keeps t if it is among the k newest.
func (m *countMemo) add(t uint32, k int) {
	n := int(m.n)
	if n == k {
		if t <= m.times[n-1] {
			return
		}
	} else {
		n++
		m.n++
	}
	i := n - 1
	for ; i > 0 && m.times[i-1] < t; i-- {
		m.times[i] = m.times[i-1]
	}
	m.times[i] = t
}

// probeRows is how many rows a count leaf walks before it turns to its
// memo: a profile with a short history in the stream (or whose rows are
// all before the window) is counted without a look-up in the memos, which
// would cost it more than the walk.
const probeRows = 8

// countFromMemo counts the profile's rows for count leaf r, from its memo
// brought up to date with the rows added since when the profile's rows
// are many, and notes when the answer may next change. It reports false,
// having counted nothing, when the leaf or the profile cannot use a memo;
// the caller then walks the rows.
//
// The rows of profiles merged into this one stay in their own chains, and
// those never grow again (later events carry the survivor's ordinal): a
// memo reads them once, and is read again from scratch when another merge
// lengthens the list.
func (sg *single) countFromMemo(r *Rule, pl *eventPlan, a *acc) bool {
	if sg.explain || pl.measure != MeasureCount || pl.win == winBetween || pl.s == nil {
		return false
	}
	lf := sg.ownedLeaf(r)
	if lf == nil {
		return false
	}
	if lf.memo == nil {
		lf.memo = &countMemos{k: memoK(pl.cmp)}
	}
	cm := lf.memo
	if cm.k == 0 || sg.now < 0 || sg.now >= math.MaxUint32 {
		return false
	}
	s, now, merged := pl.s, sg.now, sg.merged()
	// A walk stops early where the rest of the chain is all before the
	// window: the window's start only moves forward, so those rows never
	// count.
	from := min(pl.lo, now+1)
	var m countMemo
	// walk adds to m the matching rows of the chain from row down to (not
	// below) stop, at most limit of them, and returns the row it stopped
	// at (-1: the chain's end, or its rest all before the window); false
	// when a matching row is dated after now.
	walk := func(row, stop, limit int, early bool) (int, bool) {
		for ; row >= stop && limit > 0; limit-- {
			ts := s.ts.get(row)
			if early && int64(ts) < from && s.upTo(row) < from {
				return -1, true
			}
			if pl.rowMatches(row) {
				if int64(ts) > now {
					return row, false
				}
				m.add(ts, cm.k)
			}
			d := s.prev.get(row)
			if d == 0 {
				return -1, true
			}
			row -= int(d)
		}
		return row, true
	}
	head := s.heads.get(int(sg.ord))
	row, ok := int(head)-1, true
	if len(merged) == 0 {
		if row, ok = walk(row, 0, probeRows, true); !ok {
			return false
		}
	}
	if row >= 0 || len(merged) > 0 {
		// Many rows: the memo, and the rows added since it was read (the
		// probe's few are read again, from the cache).
		if cm.m == nil {
			cm.m = make(map[uint32]countMemo)
		}
		old, known := cm.m[sg.ord]
		known = known && int64(old.at) <= now && int(old.merged) == len(merged)
		m = countMemo{}
		if known {
			m = old
		}
		_, ok = walk(int(head)-1, int(m.head), math.MaxInt, !known)
		for _, o := range merged {
			if !ok || known {
				break
			}
			_, ok = walk(int(s.heads.get(int(o)))-1, 0, math.MaxInt, true)
		}
		if !ok {
			delete(cm.m, sg.ord)
			return false
		}
		m.head, m.at, m.merged = head, uint32(now), uint32(len(merged))
		if !known && len(cm.m) >= maxCountMemos {
			clear(cm.m)
		}
		cm.m[sg.ord] = m
	}
	for _, t := range m.times[:m.n] {
		if pl.inWindow(int64(t)) {
			a.count++
			sg.noteNext(pl.nextFor(int64(t), now))
		}
	}
	return true
}
