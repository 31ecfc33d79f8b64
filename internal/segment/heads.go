package segment

import "encoding/binary"

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
type headvec struct {
	blocks []headblk
}

// headShift sets the block size: small enough that a sparse stream leaves
// most blocks out and that a block's rows stay close together, large
// enough that the block headers (32 bytes) cost little per ordinal. On
// the demo shop, blocks of 128 ordinals took 4.9 MB of heads at 200 k
// customers; 256: 5.0, 512: 5.7, 1,024: 6.3; a plain vector 14.7.
const (
	headShift = 7
	headBlock = 1 << headShift
	headMask  = headBlock - 1
)

// headblk holds the values of one block as offsets from base: a value x
// (≥ base) is stored as x-base+1, so that 0 still means none.
type headblk struct {
	base uint32
	w    uint8 // bytes per offset; 0: all values are 0 (data nil)
	data []byte
}

// off is offset j as stored (0: none).
func (b *headblk) off(j int) uint32 {
	switch b.w {
	case 1:
		return uint32(b.data[j])
	case 2:
		return uint32(binary.LittleEndian.Uint16(b.data[2*j:]))
	case 3:
		p := b.data[3*j : 3*j+3]
		return uint32(p[0]) | uint32(p[1])<<8 | uint32(p[2])<<16
	case 4:
		return binary.LittleEndian.Uint32(b.data[4*j:])
	}
	return 0
}

// at is value j of the block.
func (b *headblk) at(j int) uint32 {
	if o := b.off(j); o != 0 {
		return b.base + o - 1
	}
	return 0
}

// put stores offset o at j; the block is wide enough.
func (b *headblk) put(j int, o uint32) {
	switch b.w {
	case 1:
		b.data[j] = uint8(o)
	case 2:
		binary.LittleEndian.PutUint16(b.data[2*j:], uint16(o))
	case 3:
		p := b.data[3*j : 3*j+3]
		p[0], p[1], p[2] = uint8(o), uint8(o>>8), uint8(o>>16)
	default:
		binary.LittleEndian.PutUint32(b.data[4*j:], o)
	}
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
	return v.blocks[bi].at(i & headMask)
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
			b.put(j, 0)
		}
		return
	case b.w == 0:
		b.base, b.w = x, 1
		b.data = make([]byte, headBlock)
	case x < b.base:
		b.rebase(x)
	}
	o := x - b.base + 1
	if w := offWidth(o); w > b.w {
		b.widen(w)
	}
	b.put(j, o)
}

// widen re-encodes the block at w bytes an offset.
func (b *headblk) widen(w uint8) {
	old := *b
	b.w, b.data = w, make([]byte, int(w)*headBlock)
	for j := range headBlock {
		b.put(j, old.off(j))
	}
}

// rebase re-encodes the block from base x (below the current base), as
// wide as its largest value then needs.
func (b *headblk) rebase(x uint32) {
	old := *b
	var hi uint32
	for j := range headBlock {
		hi = max(hi, old.at(j))
	}
	b.base = x
	b.w = offWidth(hi - x + 1)
	b.data = make([]byte, int(b.w)*headBlock)
	for j := range headBlock {
		if y := old.at(j); y != 0 {
			b.put(j, y-x+1)
		}
	}
}

// bytes is the memory the heads hold.
func (v *headvec) bytes() int {
	n := 32 * len(v.blocks)
	for _, b := range v.blocks {
		n += len(b.data)
	}
	return n
}
