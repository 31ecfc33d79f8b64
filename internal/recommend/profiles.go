package recommend

import (
	"hash/maphash"
	"iter"
	"unsafe"

	"tailor/internal/arena"
)

// prof is a profile's recent behaviour, bounded: the last Options.History
// views, cart additions and purchases (oldest first) and up to
// Options.Distinct distinct purchased items with their frequency.
//
// Layout. A store of a million profiles spent a fifth of ingest's CPU in
// the garbage collector, whose marking costs per live object and pointer,
// and a profile here was up to six objects (its id, the struct, four
// slices). Now a profile holds no pointer at all: its id is a Ref into
// its table's ids, and its history one array of its table's touchPool:
//
//	freq | buys | carts | views
//
// freq is two touches per bought (the sizes are asserted below). end[s]
// is where section s ends in the array, end[secViews] its length. The
// views, which most events add, come last, so adding one moves nothing.
//
// A prof is read and changed through its table (see profRef).
type prof struct {
	id   arena.Ref // in profTable.ids
	arr  span      // in profTable.pool
	end  [nSecs]int32
	next int32 // index in its profTable of the next profile whose id has the same hash, -1 for none
	// seq is Engine.profSeq at the profile's latest change: cached answers
	// for it are good while it stays.
	seq     uint64
	removed bool
}

// Sections of a profile's array, in order.
const (
	secFreq = iota
	secBuys
	secCarts
	secViews
	nSecs
)

const touchSize = int(unsafe.Sizeof(touch{}))

// A bought takes exactly two touches, with the same alignment: freq views
// them as one.
var (
	_ [unsafe.Sizeof(bought{}) - 2*unsafe.Sizeof(touch{})]struct{}
	_ [2*unsafe.Sizeof(touch{}) - unsafe.Sizeof(bought{})]struct{}
	_ [unsafe.Alignof(bought{}) - unsafe.Alignof(touch{})]struct{}
	_ [unsafe.Alignof(touch{}) - unsafe.Alignof(bought{})]struct{}
)

// sectionStart is where section s begins in an array whose sections end
// at end.
func sectionStart(end *[nSecs]int32, s int) int {
	if s == 0 {
		return 0
	}
	return int(end[s-1])
}

func (p *prof) start(s int) int { return sectionStart(&p.end, s) }

// empty says the profile has no history.
func (p *prof) empty() bool { return p.end[secViews] == 0 }

// hist is a profile's array with its sections' ends: a view into its
// table's pool (good until the profile changes, see touchPool) or a copy.
type hist struct {
	h   []touch
	end [nSecs]int32
}

// section is section s, capped so that appending to it copies.
func (v hist) section(s int) []touch {
	lo, hi := sectionStart(&v.end, s), int(v.end[s])
	return v.h[lo:hi:hi]
}

func (v hist) views() []touch { return v.section(secViews) }
func (v hist) carts() []touch { return v.section(secCarts) }
func (v hist) buys() []touch  { return v.section(secBuys) }

// freq is the distinct purchases: writes through it change the array.
func (v hist) freq() []bought {
	f := v.section(secFreq)
	if len(f) == 0 {
		return nil
	}
	return unsafe.Slice((*bought)(unsafe.Pointer(&f[0])), len(f)/2)
}

// profRef is a profile of a table, what the engine reads and changes
// profiles through: a prof alone is numbers that only its table can
// resolve. It is good until the profile is removed.
type profRef struct {
	*prof
	t *profTable
}

// hist is the profile's array: a view, good until the profile changes.
func (p profRef) hist() hist {
	return hist{p.t.pool.get(p.arr, int(p.end[secViews])), p.end}
}

func (p profRef) section(s int) []touch { return p.hist().section(s) }
func (p profRef) views() []touch        { return p.hist().views() }
func (p profRef) carts() []touch        { return p.hist().carts() }
func (p profRef) buys() []touch         { return p.hist().buys() }
func (p profRef) freq() []bought        { return p.hist().freq() }

// id is the profile's id, a view of the table's ids that stays valid for
// as long as it is held (see arena.Bytes).
func (p profRef) id() string { return p.t.ids.String(p.prof.id) }

// resize makes section s n touches long, keeping its first min(n, len)
// touches, and moves the sections after it. New touches are garbage until
// the caller writes them. A profile that outgrows its array moves to a new
// one and frees the old.
func (p profRef) resize(s, n int) {
	lo, hi := p.start(s), int(p.end[s])
	d := lo + n - hi
	if d == 0 {
		return
	}
	pool := &p.t.pool
	total := int(p.end[secViews])
	h := pool.get(p.arr, total)
	switch n := total + d; {
	case n > cap(h):
		// A quarter more, not append's double: these arrays are most of the
		// engine's memory, and a history grows a few touches at a time.
		arr := pool.alloc(n + n/4 + 2)
		nh := pool.get(arr, n)
		copy(nh, h)
		pool.release(p.arr)
		p.arr, h = arr, nh
	case d > 0:
		h = h[:n]
	}
	copy(h[hi+d:], h[hi:total])
	for i := s; i < nSecs; i++ {
		p.end[i] += int32(d)
	}
}

// push appends t to section s, dropping the oldest touches beyond limit.
func (p profRef) push(s int, t touch, limit int) {
	if cur := p.section(s); len(cur) >= limit {
		copy(cur, cur[len(cur)-limit+1:])
		p.resize(s, limit-1)
	}
	n := int(p.end[s]) - p.start(s)
	p.resize(s, n+1)
	p.section(s)[n] = t
}

// set replaces section s with ts, which must not be a view of the pool.
func (p profRef) set(s int, ts []touch) {
	p.resize(s, len(ts))
	copy(p.section(s), ts)
}

// addFreq appends b to the distinct purchases.
func (p profRef) addFreq(b bought) {
	n := len(p.freq())
	p.resize(secFreq, 2*(n+1))
	p.freq()[n] = b
}

// removeFreq removes distinct purchase i.
func (p profRef) removeFreq(i int) {
	f := p.freq()
	copy(f[i:], f[i+1:])
	p.resize(secFreq, 2*(len(f)-1))
}

// profTable is the engine's profiles by id. The collector need not look
// into it at all: the profiles are pointer-free values in chunks (see
// prof), and the index maps a hash of the id, a map without pointers, to
// the first of the profiles with that hash (they chain through prof.next).
//
// Chunks of a fixed size, not one growing slice: a profile never moves, so
// a profRef is good until the profile is removed, and making a profile
// never copies the others.
type profTable struct {
	seed   maphash.Seed
	first  map[uint64]int32
	chunks [][]prof // of 1<<profChunkBits each
	n      int32    // slots ever used
	free   []int32  // indexes of removed profiles, reused first
	ids    arena.Bytes
	pool   touchPool
	// hash replaces maphash when set: tests make ids collide.
	hash func(id string) uint64
}

const profChunkBits = 10

func newProfTable() profTable {
	return profTable{seed: maphash.MakeSeed(), first: map[uint64]int32{}, pool: newTouchPool()}
}

// slot is the profile at index ix.
func (t *profTable) slot(ix int32) *prof {
	return &t.chunks[ix>>profChunkBits][ix&(1<<profChunkBits-1)]
}

// at is the profile at index ix.
func (t *profTable) at(ix int32) profRef { return profRef{t.slot(ix), t} }

func (t *profTable) key(id string) uint64 {
	if t.hash != nil {
		return t.hash(id)
	}
	return maphash.String(t.seed, id)
}

func (t *profTable) len() int { return int(t.n) - len(t.free) }

// find returns the index of id, -1 when absent.
func (t *profTable) find(id string) int32 {
	ix, ok := t.first[t.key(id)]
	if !ok {
		return -1
	}
	for ; ix >= 0; ix = t.slot(ix).next {
		if t.ids.String(t.slot(ix).id) == id {
			return ix
		}
	}
	return -1
}

// get returns the profile of id; its prof is nil when absent.
func (t *profTable) get(id string) profRef {
	if ix := t.find(id); ix >= 0 {
		return t.at(ix)
	}
	return profRef{}
}

// add adds an empty profile of id, which must be absent, with room for
// extra touches of history, and returns its index.
func (t *profTable) add(id string, extra int) int32 {
	ref, b := t.ids.Alloc(len(id))
	copy(b, id)
	p := prof{id: ref, arr: t.pool.alloc(extra), next: -1}
	key := t.key(id)
	if ix, ok := t.first[key]; ok {
		p.next = ix
	}
	var ix int32
	if n := len(t.free); n > 0 {
		ix = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		ix = t.n
		if int(ix>>profChunkBits) == len(t.chunks) {
			t.chunks = append(t.chunks, make([]prof, 1<<profChunkBits))
		}
		t.n++
	}
	*t.slot(ix) = p
	t.first[key] = ix
	return ix
}

// remove removes the profile of id and returns it, false when absent. Its
// array stays the caller's to read until it calls release.
func (t *profTable) remove(id string) (profRef, bool) {
	key := t.key(id)
	ix, ok := t.first[key]
	if !ok {
		return profRef{}, false
	}
	prev := int32(-1)
	for ; ix >= 0; prev, ix = ix, t.slot(ix).next {
		if t.ids.String(t.slot(ix).id) != id {
			continue
		}
		p := *t.slot(ix)
		switch {
		case prev >= 0:
			t.slot(prev).next = p.next
		case p.next >= 0:
			t.first[key] = p.next
		default:
			delete(t.first, key)
		}
		*t.slot(ix) = prof{removed: true, next: -1}
		t.free = append(t.free, ix)
		return profRef{&p, t}, true
	}
	return profRef{}, false
}

// release frees the array and the id of p, a profile remove returned.
func (t *profTable) release(p profRef) {
	t.pool.release(p.arr)
	t.ids.Free(p.prof.id)
	p.arr, p.prof.id = span{}, 0
	// Ids of removed profiles are reclaimed in passes, when they are a
	// good part of the ids' chunks (see arena.Bytes.Compact).
	t.ids.Compact(func(move func(arena.Ref) arena.Ref) {
		for i := range t.n {
			if s := t.slot(i); !s.removed {
				s.id = move(s.id)
			}
		}
	})
}

// all yields every profile with its id (a view: see profRef.id).
func (t *profTable) all() iter.Seq2[string, profRef] {
	return func(yield func(string, profRef) bool) {
		for i := range t.n {
			p := t.at(i)
			if p.removed {
				continue
			}
			if !yield(p.id(), p) {
				return
			}
		}
	}
}
