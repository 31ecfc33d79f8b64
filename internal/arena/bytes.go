package arena

import (
	"encoding/binary"
	"fmt"
	"slices"
	"unsafe"
)

// Ref names a value held by a Bytes: a number, not a pointer. The zero Ref
// is the empty value.
//
// Why: Strings packs values into few objects, but every string or
// slice pointing into a chunk is still a pointer that each collection must
// look up and mark. A million profiles holding three such pointers were a
// quarter of the pointers a 1 M-customer store's collections followed
// (a heap dump of the live server, counted by object size). A struct that
// holds Refs instead holds no pointers, so a page of them is never scanned.
type Ref uint64

// A Ref is the chunk's index plus one (high 32 bits) and the offset of the
// value's length prefix in the chunk (low 32 bits).
func makeRef(chunk, off int) Ref { return Ref(uint64(chunk+1)<<32 | uint64(off)) }

func (r Ref) chunk() int { return int(r>>32) - 1 }
func (r Ref) off() int   { return int(uint32(r)) }

// Bytes holds byte strings in shared chunks and names each by a Ref. A value
// is written once, when it is allocated, and never changed: a replacement is
// a new value, the old one freed. Compact reclaims what freed values leave
// in their chunks by moving the values still live out of sparse chunks,
// which is why a holder of Refs must be able to visit every Ref it holds.
//
// A view returned by Get stays valid and unchanged after its value is freed
// or moved: chunks are never written again once a value is in them, and a
// chunk compaction drops is left to the garbage collector, which keeps it
// while a view refers to it. Long-lived copies of a view should still be
// cloned, so that they do not keep a whole chunk alive.
//
// The zero value is ready to use. A Bytes is not safe for concurrent use.
type Bytes struct {
	// CompactAt is how many freed bytes make Compact worth a pass over the
	// holder's values; 0 means compactMin. Tests lower it.
	CompactAt int

	chunks [][]byte // nil: dropped by Compact, its index on free
	live   []int    // bytes of live values (with their length prefix) per chunk
	free   []int    // indexes of dropped chunks, reused first
	cur    int      // the chunk values are appended to, when started
	// held is the bytes of every chunk; freed the bytes of freed values
	// still in them.
	held, freed int
	// started: cur is valid (the zero value has no chunk yet).
	started bool
}

// Alloc returns the Ref of a new value of n bytes and the bytes to write it
// into, before anything reads it. n == 0 gives the zero Ref.
func (b *Bytes) Alloc(n int) (Ref, []byte) {
	if n == 0 {
		return 0, nil
	}
	var hdr [binary.MaxVarintLen64]byte
	h := binary.PutUvarint(hdr[:], uint64(n))
	need := h + n
	if need > chunkSize/4 {
		// A big value gets a chunk of its own, which the first compaction
		// after its free drops (an empty chunk is the sparsest).
		c := b.newChunk(need)
		return b.put(c, hdr[:h], n)
	}
	if !b.started || cap(b.chunks[b.cur])-len(b.chunks[b.cur]) < need {
		// As big as the live bytes (up to chunkSize): a small arena grows by
		// doubling, and one that compaction emptied starts again small.
		size := nextChunk((b.held - b.freed) / 2)
		b.cur, b.started = b.newChunk(max(size, need)), true
	}
	return b.put(b.cur, hdr[:h], n)
}

func (b *Bytes) newChunk(size int) int {
	buf := make([]byte, 0, size)
	b.held += size
	if n := len(b.free); n > 0 {
		i := b.free[n-1]
		b.free = b.free[:n-1]
		b.chunks[i], b.live[i] = buf, 0
		return i
	}
	b.chunks = append(b.chunks, buf)
	b.live = append(b.live, 0)
	return len(b.chunks) - 1
}

func (b *Bytes) put(c int, hdr []byte, n int) (Ref, []byte) {
	buf := b.chunks[c]
	off := len(buf)
	buf = append(buf, hdr...)
	start := len(buf)
	buf = buf[:start+n]
	b.chunks[c] = buf
	b.live[c] += len(hdr) + n
	return makeRef(c, off), buf[start : start+n : start+n]
}

// Get returns the value r names, a view into its chunk that must not be
// written. The zero Ref gives nil.
func (b *Bytes) Get(r Ref) []byte {
	if r == 0 {
		return nil
	}
	buf := b.chunks[r.chunk()]
	off := r.off()
	n, h := binary.Uvarint(buf[off:])
	start := off + h
	return buf[start : start+int(n) : start+int(n)]
}

// String is Get as a string, without copying.
func (b *Bytes) String(r Ref) string {
	v := b.Get(r)
	if len(v) == 0 {
		return ""
	}
	return unsafe.String(&v[0], len(v))
}

// Free says the value r names is no longer used; r must not be used after.
func (b *Bytes) Free(r Ref) {
	if r == 0 {
		return
	}
	c := r.chunk()
	n, h := binary.Uvarint(b.chunks[c][r.off():])
	size := h + int(n)
	b.live[c] -= size
	b.freed += size
}

// Stats returns the bytes of the chunks held and of the freed values in them.
func (b *Bytes) Stats() (held, freed int) { return b.held, b.freed }

// compactMin is how many freed bytes make compacting worth a pass over the
// holder's values.
const compactMin = 16 << 20

// compactBudget bounds the live bytes one Compact moves, so that a pass
// (which its holder makes under its lock) takes milliseconds; the sparsest
// chunks go first, a next pass takes the rest.
const compactBudget = 8 << 20

// Compact reclaims the chunks that are mostly freed values, when freed
// values are over a quarter of the chunks held (and over compactMin): it
// moves each live value of such a chunk (up to compactBudget bytes, the
// sparsest chunks first) to a new one. visit must call move with every Ref
// the holder holds and keep what it returns in its place. It returns
// whether it compacted; it calls visit only then.
//
// A chunk whose values visit did not all move (a holder that missed one) is
// kept: a missed Ref stays valid, its chunk is reclaimed by a later pass.
func (b *Bytes) Compact(visit func(move func(Ref) Ref)) bool {
	at := b.CompactAt
	if at == 0 {
		at = compactMin
	}
	if b.freed < at || 4*b.freed < b.held {
		return false
	}
	return b.compact(visit)
}

func (b *Bytes) compact(visit func(move func(Ref) Ref)) bool {
	var cands []int
	for c, buf := range b.chunks {
		size := cap(buf)
		if b.started && c == b.cur {
			size = len(buf) // its free room is no waste
		}
		// Under half live: moving its values frees at least as many bytes
		// as it copies.
		if buf != nil && 2*b.live[c] < size {
			cands = append(cands, c)
		}
	}
	if len(cands) == 0 {
		return false
	}
	slices.SortFunc(cands, func(x, y int) int { return b.live[x] - b.live[y] })
	sparse := make([]bool, len(b.chunks))
	for moved, i := 0, 0; i < len(cands) && (i == 0 || moved+b.live[cands[i]] <= compactBudget); i++ {
		sparse[cands[i]] = true
		moved += b.live[cands[i]]
	}
	if b.started && sparse[b.cur] {
		b.started = false // new values go to a fresh chunk, never a sparse one
	}
	visit(func(r Ref) Ref {
		if r == 0 || r.chunk() >= len(sparse) || !sparse[r.chunk()] {
			return r
		}
		v := b.Get(r)
		nr, dst := b.Alloc(len(v))
		copy(dst, v)
		b.Free(r)
		return nr
	})
	for c, s := range sparse {
		if !s || b.live[c] != 0 {
			continue
		}
		b.held -= cap(b.chunks[c])
		b.freed -= len(b.chunks[c]) // every byte in it was a freed value
		b.chunks[c] = nil
		b.free = append(b.free, c)
	}
	return true
}

// Check verifies the accounting: for tests, here and of holders.
func (b *Bytes) Check() error {
	held, used := 0, 0
	for c, buf := range b.chunks {
		if buf == nil {
			continue
		}
		held += cap(buf)
		used += len(buf)
		if b.live[c] < 0 || b.live[c] > len(buf) {
			return fmt.Errorf("chunk %d: %d live bytes of %d", c, b.live[c], len(buf))
		}
	}
	live := 0
	for _, l := range b.live {
		live += l
	}
	if held != b.held || used-live != b.freed {
		return fmt.Errorf("held %d (counted %d), freed %d (counted %d)", b.held, held, b.freed, used-live)
	}
	return nil
}
