package segment

import (
	"encoding/binary"
	"unsafe"
)

// headvec is a stream's heads: for each profile ordinal, the row+1 of its
// latest event in the stream (0: none). A plain vector costs four bytes per
// ordinal per stream even where the profile never sent that event (at 5 M
// customers and 14 streams, 370 MB). headvec splits the ordinals into
// blocks of headBlock: a block no profile of which has a row in the stream
// is not allocated, and the others keep each value as an offset from the
// block's smallest, in as few bytes (1 to 4) as the block's spread needs.
// When a customer's history arrives together (an import), the heads of
// neighbouring ordinals are neighbouring rows: one or two bytes each; live
// traffic spreads them over the stream, which three bytes cover up to 16 M
// rows.
//
// The blocks hold no pointers: a block's offsets are a slot in the vector's
// pool (headPool), so that the collector marks a few chunks per stream
// instead of an array per block, which were a sixth of the objects each
// collection of a 1 M-customer store marked while ingest waited.
type headvec struct {
	blocks []headblk
	pool   headPool
}

// headShift sets the block size: small enough that a sparse stream leaves
// most blocks out and that a block's rows stay close together, large
// enough that the block headers cost little per ordinal. On the demo
// shop, blocks of 128 ordinals (with 32-byte headers, before the pool)
// took 4.9 MB of heads at 200 k customers; 256: 5.0, 512: 5.7, 1,024:
// 6.3; a plain vector 14.7.
const (
	headShift = 7
	headBlock = 1 << headShift
	headMask  = headBlock - 1
)

// headblk holds the values of one block as offsets from base: a value x
// (≥ base) is stored as x-base+1, so that 0 still means none. Its offsets
// are slot number slot of the pool's slots of width w.
type headblk struct {
	base uint32
	slot uint32
	w    uint8 // bytes per offset; 0: all values are 0 (no slot)
}

// off is offset j of data, w bytes an offset, as stored (0: none).
func off(data []byte, w uint8, j int) uint32 {
	switch w {
	case 1:
		return uint32(data[j])
	case 2:
		return uint32(binary.LittleEndian.Uint16(data[2*j:]))
	case 3:
		p := data[3*j : 3*j+3]
		return uint32(p[0]) | uint32(p[1])<<8 | uint32(p[2])<<16
	case 4:
		return binary.LittleEndian.Uint32(data[4*j:])
	}
	return 0
}

// put stores offset o at j of data, w bytes an offset; o fits in w.
func put(data []byte, w uint8, j int, o uint32) {
	switch w {
	case 1:
		data[j] = uint8(o)
	case 2:
		binary.LittleEndian.PutUint16(data[2*j:], uint16(o))
	case 3:
		p := data[3*j : 3*j+3]
		p[0], p[1], p[2] = uint8(o), uint8(o>>8), uint8(o>>16)
	default:
		binary.LittleEndian.PutUint32(data[4*j:], o)
	}
}

// headPool hands out the blocks' offset arrays: for each width w, slots
// of w×headBlock bytes in chunks of headSlots slots, and the slots blocks
// gave back (a block that widened or re-based), reused first. A width's
// first chunk grows by doubling, so that a stream few profiles send holds
// a few slots, not a chunk of each width.
type headPool struct {
	chunks [4][][]byte
	free   [4][]uint32
	n      [4]uint32 // slots ever handed out, per width
}

// headSlots is the slots a chunk holds: chunks of 16 to 64 KB.
const headSlots = 128

// alloc returns a zeroed slot of width w.
func (p *headPool) alloc(w uint8) uint32 {
	k := w - 1
	if n := len(p.free[k]); n > 0 {
		s := p.free[k][n-1]
		p.free[k] = p.free[k][:n-1]
		clear(p.data(w, s))
		return s
	}
	s := p.n[k]
	p.n[k]++
	c, size := int(s/headSlots), int(w)*headBlock
	if c == len(p.chunks[k]) {
		slots := headSlots
		if c == 0 {
			slots = 1
		}
		p.chunks[k] = append(p.chunks[k], make([]byte, 0, slots*size))
	}
	ch := p.chunks[k][c]
	if len(ch)+size > cap(ch) { // the first chunk, still growing
		grown := make([]byte, len(ch), min(2*cap(ch), headSlots*size))
		copy(grown, ch)
		ch = grown
	}
	p.chunks[k][c] = ch[:len(ch)+size]
	return s
}

// release gives slot s of width w back.
func (p *headPool) release(w uint8, s uint32) { p.free[w-1] = append(p.free[w-1], s) }

// data is slot s of width w.
func (p *headPool) data(w uint8, s uint32) []byte {
	size := int(w) * headBlock
	at := int(s%headSlots) * size
	return p.chunks[w-1][s/headSlots][at : at+size : at+size]
}

// bytes is the memory the pool holds.
func (p *headPool) bytes() int {
	n := 0
	for k, cs := range p.chunks {
		for _, c := range cs {
			n += cap(c)
		}
		n += 24*cap(cs) + 4*cap(p.free[k])
	}
	return n
}

// offWidth is the bytes an offset of o needs.
func offWidth(o uint32) uint8 {
	switch {
	case o <= 0xff:
		return 1
	case o <= 0xffff:
		return 2
	case o <= 0xffffff:
		return 3
	}
	return 4
}

func (v *headvec) get(i int) uint32 {
	bi := i >> headShift
	if bi >= len(v.blocks) {
		return 0
	}
	// at, written out: the call cost a read 10 % (BenchmarkHeadvecGet).
	b := &v.blocks[bi]
	if b.w == 0 {
		return 0
	}
	if o := off(v.pool.data(b.w, b.slot), b.w, i&headMask); o != 0 {
		return b.base + o - 1
	}
	return 0
}

// at is value j of block b.
func (v *headvec) at(b *headblk, j int) uint32 {
	if b.w == 0 {
		return 0
	}
	if o := off(v.pool.data(b.w, b.slot), b.w, j); o != 0 {
		return b.base + o - 1
	}
	return 0
}

// set sets value i to x. A stream only ever sets a head to its newest row,
// so values arrive rising and a block widens a few times at most; a lower
// value re-bases the block, which costs a copy of it.
func (v *headvec) set(i int, x uint32) {
	bi := i >> headShift
	if bi >= len(v.blocks) {
		if x == 0 {
			return
		}
		v.blocks = append(v.blocks, make([]headblk, bi+1-len(v.blocks))...)
	}
	b := &v.blocks[bi]
	j := i & headMask
	switch {
	case x == 0:
		if b.w != 0 {
			put(v.pool.data(b.w, b.slot), b.w, j, 0)
		}
		return
	case b.w == 0:
		b.base, b.w, b.slot = x, 1, v.pool.alloc(1)
	case x < b.base:
		v.rebase(b, x)
	}
	o := x - b.base + 1
	if w := offWidth(o); w > b.w {
		v.widen(b, w)
	}
	put(v.pool.data(b.w, b.slot), b.w, j, o)
}

// widen re-encodes block b at w bytes an offset.
func (v *headvec) widen(b *headblk, w uint8) {
	old := *b
	b.w, b.slot = w, v.pool.alloc(w)
	src, dst := v.pool.data(old.w, old.slot), v.pool.data(w, b.slot)
	for j := range headBlock {
		put(dst, w, j, off(src, old.w, j))
	}
	v.pool.release(old.w, old.slot)
}

// rebase re-encodes block b from base x (below the current base), as
// wide as its largest value then needs.
func (v *headvec) rebase(b *headblk, x uint32) {
	old := *b
	var hi uint32
	for j := range headBlock {
		hi = max(hi, v.at(&old, j))
	}
	b.base = x
	b.w = offWidth(hi - x + 1)
	b.slot = v.pool.alloc(b.w)
	dst := v.pool.data(b.w, b.slot)
	for j := range headBlock {
		if y := v.at(&old, j); y != 0 {
			put(dst, b.w, j, y-x+1)
		}
	}
	v.pool.release(old.w, old.slot)
}

// bytes is the memory the heads hold.
func (v *headvec) bytes() int {
	return int(unsafe.Sizeof(headblk{}))*cap(v.blocks) + v.pool.bytes()
}
