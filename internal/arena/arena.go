// Package arena packs many small, long-lived values into a few large
// allocations, so that the garbage collector marks one object where it would
// mark thousands scattered over the heap.
//
// Why: the live heap of a 1 M-customer store is 2.4 GB, and every collection
// marks all of it while ingest goes on; at 40 k events/s a cycle took 0.7 to
// 1.1 s of a quarter of the machine, and requests arriving meanwhile waited
// (ack latency rose with each cycle). The consent state loaded at start-up
// (an id, a fact list and texts per profile, 1.7 M objects) was 40 % of a
// cycle's marking; packed, it is a few hundred chunks.
//
// The cost: a value copied into an arena keeps its whole chunk alive, so a
// value replaced later leaves its old bytes in the chunk until every value of
// the chunk is gone. Use Strings for values that are mostly written
// once and live long: what a store loads at start-up.
//
// Bytes goes further, for values that change: it names each by a Ref, a
// number, so that the structs holding them hold no pointers for the collector
// to follow at all, and it compacts the chunks that replaced values left
// mostly empty.
//
// An arena is not safe for concurrent use.
package arena

import "unsafe"

// chunkSize is the size of a chunk: large enough that the collector sees few
// objects, small enough that a chunk whose values are mostly replaced does not
// pin much.
const chunkSize = 64 << 10

// firstChunk is the size of an arena's first chunk; each next one doubles,
// up to chunkSize, so that an arena that keeps a few values (a small
// table's keys) does not hold a whole chunk.
const firstChunk = 1 << 10

// nextChunk is the size in bytes of the chunk after one of prev bytes.
func nextChunk(prev int) int { return min(chunkSize, max(firstChunk, 2*prev)) }

// Strings copies byte slices into shared chunks and returns them as strings.
// The zero value is ready to use.
type Strings struct {
	buf []byte // the current chunk; bytes before len(buf) are handed out
}

// String returns a string with b's bytes, copied into the arena. Values
// larger than a quarter of a chunk get an allocation of their own.
func (a *Strings) String(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > chunkSize/4 {
		return string(b)
	}
	if cap(a.buf)-len(a.buf) < len(b) {
		a.buf = make([]byte, 0, max(nextChunk(cap(a.buf)), len(b)))
	}
	start := len(a.buf)
	// Appending within the capacity never moves the chunk, and the bytes
	// already handed out are never written again: the strings stay immutable.
	a.buf = append(a.buf, b...)
	return unsafe.String(&a.buf[start], len(b))
}

// Clone returns a copy of s in the arena, like String.
func (a *Strings) Clone(s string) string {
	return a.String(unsafe.Slice(unsafe.StringData(s), len(s)))
}
