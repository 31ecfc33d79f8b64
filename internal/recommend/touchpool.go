package recommend

import "math/bits"

// touchPool holds the profiles' arrays of touches in shared chunks and
// names each by a span, a number rather than a slice, so that the
// profiles hold no pointers.
//
// Why: a slice per profile was a pointer per profile in the profile
// table's chunks, and the collector follows every one on every cycle. At
// a million-customer store that was 1.7 M pointers, 24 ms of a core per
// collection for them alone (a third of what a collection marked at
// rest), and under load every collection's marking takes cores from the
// requests. With spans, the table's chunks and the pool's chunks are all
// pointer-free: the collector never looks into them.
//
// An array's capacity is rounded up to its size class (four classes per
// doubling, so at most a quarter is slack), and a freed array goes on its
// class's free list, which the next array of that class takes first: a
// profile that grows moves to a bigger class and its old array is reused
// by another. Arrays larger than an eighth of a chunk get a chunk of their
// own, kept on their class's list when freed too.
//
// A view returned by get is good until its array is freed, or moved by a
// profile's growth: read it under the lock that orders those, and copy
// what must outlive it. Not safe for concurrent use.
type touchPool struct {
	chunks [][]touch
	cur    int        // the chunk small arrays are cut from; -1: none yet
	free   [][]uint64 // by class: chunk<<32 | offset of each freed array
	// held is the touches of every chunk, used those in arrays handed
	// out (at their class's capacity).
	held, used int
}

// span names an array of a touchPool: its chunk (plus one, so that the
// zero span is the empty array), its offset there and its capacity. Its
// length is its holder's to keep.
type span struct {
	chunk, off, cap uint32
}

// maxPoolChunk is the touches of a full chunk (256 kB); an arena's first
// chunk is minPoolChunk and each next one doubles, so that an engine with
// a few profiles (a test's) holds a few kB.
const (
	minPoolChunk = 64
	maxPoolChunk = 1 << 14
)

func newTouchPool() touchPool { return touchPool{cur: -1} }

// sizeClass returns the class of an array of capacity at least n > 0 and
// that class's capacity: n itself up to 8, then four classes per doubling.
func sizeClass(n int) (class, capacity int) {
	if n <= 8 {
		return n - 1, n
	}
	e := bits.Len(uint(n - 1)) // n-1 < 1<<e, e ≥ 4
	step := 1 << (e - 3)
	capacity = (n + step - 1) / step * step
	return 8 + (e-4)*4 + (capacity-1<<(e-1))/step - 1, capacity
}

// alloc returns a span of capacity at least n, its touches garbage.
func (p *touchPool) alloc(n int) span {
	if n <= 0 {
		return span{}
	}
	class, c := sizeClass(n)
	p.used += c
	if class < len(p.free) {
		if l := p.free[class]; len(l) > 0 {
			at := l[len(l)-1]
			p.free[class] = l[:len(l)-1]
			return span{uint32(at >> 32), uint32(at), uint32(c)}
		}
	}
	if c > maxPoolChunk/8 {
		return span{uint32(p.newChunk(c)) + 1, 0, uint32(c)}
	}
	if p.cur < 0 || cap(p.chunks[p.cur])-len(p.chunks[p.cur]) < c {
		// What is left of the current chunk (less than one array of this
		// class) stays unused.
		size := minPoolChunk
		if p.cur >= 0 {
			size = min(maxPoolChunk, 2*cap(p.chunks[p.cur]))
		}
		p.cur = p.newChunk(max(size, c))
	}
	ch := p.chunks[p.cur]
	off := len(ch)
	p.chunks[p.cur] = ch[:off+c]
	return span{uint32(p.cur) + 1, uint32(off), uint32(c)}
}

func (p *touchPool) newChunk(size int) int {
	p.chunks = append(p.chunks, make([]touch, 0, size))
	p.held += size
	return len(p.chunks) - 1
}

// get returns the first n touches of s's array (n at most its capacity),
// with its capacity.
func (p *touchPool) get(s span, n int) []touch {
	if s.chunk == 0 {
		return nil
	}
	ch := p.chunks[s.chunk-1]
	return ch[s.off : int(s.off)+n : s.off+s.cap]
}

// release puts s's array on its class's free list; s must not be used
// after.
func (p *touchPool) release(s span) {
	if s.chunk == 0 {
		return
	}
	class, _ := sizeClass(int(s.cap))
	for len(p.free) <= class {
		p.free = append(p.free, nil)
	}
	p.free[class] = append(p.free[class], uint64(s.chunk)<<32|uint64(s.off))
	p.used -= int(s.cap)
}
