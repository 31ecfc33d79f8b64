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
// slices). Now all of a profile is one pointer-free array:
//
//	h = id | freq | buys | carts | views
//
// The id's bytes fill whole touches; freq is two touches per bought (the
// sizes are asserted below). end[s] is where section s ends in h, and
// len(h) == end[secViews]. The views, which most events add, come last, so
// adding one moves nothing. The id section is written once, when the
// profile is made, and resize only moves what follows it, so no array h
// ever was has its id bytes written again: id's string view stays valid
// for as long as it is held.
type prof struct {
	h     []touch
	end   [nSecs]int32
	idLen int32 // -1 when removed from its profTable
	// next is the index in its profTable of the next profile whose id has
	// the same hash, -1 for none.
	next int32
	// seq is Engine.profSeq at the profile's latest change: cached answers
	// for it are good while it stays.
	seq uint64
}

// Sections of prof.h, in order.
const (
	secID = iota
	secFreq
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

func (p *prof) start(s int) int {
	if s == 0 {
		return 0
	}
	return int(p.end[s-1])
}

// section is section s of h, capped so that appending to it copies.
func (p *prof) section(s int) []touch {
	lo, hi := p.start(s), int(p.end[s])
	return p.h[lo:hi:hi]
}

func (p *prof) views() []touch { return p.section(secViews) }
func (p *prof) carts() []touch { return p.section(secCarts) }
func (p *prof) buys() []touch  { return p.section(secBuys) }

// freq is the distinct purchases, in h: writes through it change the profile.
func (p *prof) freq() []bought {
	f := p.section(secFreq)
	if len(f) == 0 {
		return nil
	}
	return unsafe.Slice((*bought)(unsafe.Pointer(&f[0])), len(f)/2)
}

// id is the profile's id, a view of h (see prof).
func (p *prof) id() string {
	if p.idLen == 0 {
		return ""
	}
	return unsafe.String((*byte)(unsafe.Pointer(&p.h[0])), p.idLen)
}

// empty says the profile has no history.
func (p *prof) empty() bool { return int(p.end[secViews]) == p.start(secFreq) }

// resize makes section s n touches long, keeping its first min(n, len)
// touches, and moves the sections after it. New touches are garbage until
// the caller writes them.
func (p *prof) resize(s, n int) {
	lo, hi := p.start(s), int(p.end[s])
	d := lo + n - hi
	if d == 0 {
		return
	}
	total := len(p.h)
	switch n := total + d; {
	case n > cap(p.h):
		// A quarter more, not append's double: these arrays are most of the
		// engine's heap, and a history grows a few touches at a time.
		h := make([]touch, n, n+n/4+2)
		copy(h, p.h)
		p.h = h
	case d > 0:
		p.h = p.h[:n]
	}
	copy(p.h[hi+d:], p.h[hi:total])
	if d < 0 {
		p.h = p.h[:total+d]
	}
	for i := s; i < nSecs; i++ {
		p.end[i] += int32(d)
	}
}

// push appends t to section s, dropping the oldest touches beyond limit.
func (p *prof) push(s int, t touch, limit int) {
	if cur := p.section(s); len(cur) >= limit {
		copy(cur, cur[len(cur)-limit+1:])
		p.resize(s, limit-1)
	}
	n := int(p.end[s]) - p.start(s)
	p.resize(s, n+1)
	p.h[p.end[s]-1] = t
}

// set replaces section s with ts.
func (p *prof) set(s int, ts []touch) {
	p.resize(s, len(ts))
	copy(p.section(s), ts)
}

// addFreq appends b to the distinct purchases.
func (p *prof) addFreq(b bought) {
	n := len(p.freq())
	p.resize(secFreq, 2*(n+1))
	p.freq()[n] = b
}

// removeFreq removes distinct purchase i.
func (p *prof) removeFreq(i int) {
	f := p.freq()
	copy(f[i:], f[i+1:])
	p.resize(secFreq, 2*(len(f)-1))
}

// profTable is the engine's profiles by id. The collector need not look
// into it beyond one array per profile (see prof): the profiles are values
// in chunks, the ids live in the profiles' arrays, and the index maps a
// hash of the id, a map without pointers, to the first of the profiles
// with that hash (they chain through prof.next).
//
// Chunks of a fixed size, not one growing slice: a profile never moves, so
// a *prof is good until the profile is removed, and making a profile never
// copies the others.
type profTable struct {
	seed   maphash.Seed
	first  map[uint64]int32
	chunks [][]prof // of 1<<profChunkBits each
	n      int32    // slots ever used
	free   []int32  // indexes of removed profiles, reused first
	// hash replaces maphash when set: tests make ids collide.
	hash func(id string) uint64
}

const profChunkBits = 10

func newProfTable() profTable {
	return profTable{seed: maphash.MakeSeed(), first: map[uint64]int32{}}
}

// at is the profile at index ix.
func (t *profTable) at(ix int32) *prof {
	return &t.chunks[ix>>profChunkBits][ix&(1<<profChunkBits-1)]
}

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
	for ; ix >= 0; ix = t.at(ix).next {
		if t.at(ix).id() == id {
			return ix
		}
	}
	return -1
}

// get returns the profile of id, nil when absent.
func (t *profTable) get(id string) *prof {
	if ix := t.find(id); ix >= 0 {
		return t.at(ix)
	}
	return nil
}

// add adds an empty profile of id, which must be absent, with room for
// extra touches of history, and returns its index.
func (t *profTable) add(id string, extra int) int32 { return t.addIn(id, extra, nil) }

// addIn is add with the profile's array taken from pack when not nil. A
// load packs its arrays (package arena): the loaded profiles' arrays were a
// million objects for the collector to mark on every cycle, and most of a
// big store's profiles are dormant, so their arrays never change. One that
// grows past its room moves to an array of its own (resize) and leaves its
// packed bytes behind until the rest of their chunk moves too.
func (t *profTable) addIn(id string, extra int, pack *arena.Slab[touch]) int32 {
	idN := (len(id) + touchSize - 1) / touchSize
	var h []touch
	if pack != nil {
		h = pack.Make(idN + extra)[:idN]
	} else {
		h = make([]touch, idN, idN+extra)
	}
	if idN > 0 {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&h[0])), idN*touchSize), id)
	}
	p := prof{h: h, idLen: int32(len(id)), next: -1}
	for s := range p.end {
		p.end[s] = int32(idN)
	}
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
	*t.at(ix) = p
	t.first[key] = ix
	return ix
}

// remove removes the profile of id and returns it, false when absent.
func (t *profTable) remove(id string) (prof, bool) {
	key := t.key(id)
	ix, ok := t.first[key]
	if !ok {
		return prof{}, false
	}
	prev := int32(-1)
	for ; ix >= 0; prev, ix = ix, t.at(ix).next {
		if t.at(ix).id() != id {
			continue
		}
		p := *t.at(ix)
		switch {
		case prev >= 0:
			t.at(prev).next = p.next
		case p.next >= 0:
			t.first[key] = p.next
		default:
			delete(t.first, key)
		}
		*t.at(ix) = prof{idLen: -1, next: -1}
		t.free = append(t.free, ix)
		return p, true
	}
	return prof{}, false
}

// all yields every profile with its id, a view of the profile's array that
// holds the array alive: clone it to keep it.
func (t *profTable) all() iter.Seq2[string, *prof] {
	return func(yield func(string, *prof) bool) {
		for i := range t.n {
			p := t.at(i)
			if p.idLen < 0 {
				continue // removed
			}
			if !yield(p.id(), p) {
				return
			}
		}
	}
}
