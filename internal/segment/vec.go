package segment

// vecShift sets the chunk size of the index's columns: 64 Ki values. Columns
// grow a chunk at a time, so appending never copies what is there (a 100 M
// event column doubling would copy 400 MB and hold both copies at once),
// and scans run over plain slices.
const (
	vecShift = 16
	vecChunk = 1 << vecShift
	vecMask  = vecChunk - 1
)

// vec32 is a column of uint32 values indexed from 0. Values never set read
// as 0; a chunk that holds only zeros is never allocated, which keeps
// sparse columns (a property few events have) small.
type vec32 struct {
	chunks [][]uint32
	n      int // one past the highest index set
}

func (v *vec32) get(i int) uint32 {
	c := i >> vecShift
	if c >= len(v.chunks) || v.chunks[c] == nil {
		return 0
	}
	return v.chunks[c][i&vecMask]
}

func (v *vec32) set(i int, x uint32) {
	c := i >> vecShift
	for c >= len(v.chunks) {
		v.chunks = append(v.chunks, nil)
	}
	if v.chunks[c] == nil {
		if x == 0 {
			if i >= v.n {
				v.n = i + 1
			}
			return
		}
		v.chunks[c] = make([]uint32, vecChunk)
	}
	v.chunks[c][i&vecMask] = x
	if i >= v.n {
		v.n = i + 1
	}
}

// chunk returns chunk c, nil when it holds only zeros.
func (v *vec32) chunk(c int) []uint32 {
	if c >= len(v.chunks) {
		return nil
	}
	return v.chunks[c]
}

// bytes is the memory the column holds.
func (v *vec32) bytes() int {
	n := 0
	for _, c := range v.chunks {
		n += 4 * len(c)
	}
	return n + 24*len(v.chunks)
}

// vec64 is vec32 for int64 values.
type vec64 struct {
	chunks [][]int64
}

func (v *vec64) get(i int) int64 {
	c := i >> vecShift
	if c >= len(v.chunks) || v.chunks[c] == nil {
		return 0
	}
	return v.chunks[c][i&vecMask]
}

func (v *vec64) set(i int, x int64) {
	c := i >> vecShift
	for c >= len(v.chunks) {
		v.chunks = append(v.chunks, nil)
	}
	if v.chunks[c] == nil {
		if x == 0 {
			return
		}
		v.chunks[c] = make([]int64, vecChunk)
	}
	v.chunks[c][i&vecMask] = x
}

func (v *vec64) bytes() int {
	n := 0
	for _, c := range v.chunks {
		n += 8 * len(c)
	}
	return n
}

// idvec is a column of dictionary ids, each chunk as narrow as its largest
// id allows: most property columns have a few hundred distinct values
// (currency, category, brand), so one byte per row instead of four. A chunk
// widens (copying its values) the first time a larger id lands in it.
type idvec struct {
	chunks []idchunk
}

// idchunk holds one chunk at one width; all nil means all zeros.
type idchunk struct {
	w8  []uint8
	w16 []uint16
	w32 []uint32
}

func (v *idvec) get(i int) uint32 {
	c := i >> vecShift
	if c >= len(v.chunks) {
		return 0
	}
	ch := &v.chunks[c]
	switch {
	case ch.w8 != nil:
		return uint32(ch.w8[i&vecMask])
	case ch.w16 != nil:
		return uint32(ch.w16[i&vecMask])
	case ch.w32 != nil:
		return ch.w32[i&vecMask]
	}
	return 0
}

func (v *idvec) set(i int, x uint32) {
	c := i >> vecShift
	for c >= len(v.chunks) {
		v.chunks = append(v.chunks, idchunk{})
	}
	ch := &v.chunks[c]
	j := i & vecMask
	switch {
	case ch.w8 == nil && ch.w16 == nil && ch.w32 == nil:
		if x == 0 {
			return
		}
		ch.w8 = make([]uint8, vecChunk)
		fallthrough
	case ch.w8 != nil:
		if x <= 0xff {
			ch.w8[j] = uint8(x)
			return
		}
		ch.w16 = make([]uint16, vecChunk)
		for k, y := range ch.w8 {
			ch.w16[k] = uint16(y)
		}
		ch.w8 = nil
		fallthrough
	case ch.w16 != nil:
		if x <= 0xffff {
			ch.w16[j] = uint16(x)
			return
		}
		ch.w32 = make([]uint32, vecChunk)
		for k, y := range ch.w16 {
			ch.w32[k] = uint32(y)
		}
		ch.w16 = nil
	}
	ch.w32[j] = x
}

// chunk returns chunk c, nil when it holds only zeros.
func (v *idvec) chunk(c int) *idchunk {
	if c >= len(v.chunks) {
		return nil
	}
	ch := &v.chunks[c]
	if ch.w8 == nil && ch.w16 == nil && ch.w32 == nil {
		return nil
	}
	return ch
}

// matchIDs sets in d the rows base+j whose id matches table.
func matchIDs[T uint8 | uint16 | uint32](ids []T, base int, table []bool, d dense) {
	for j, id := range ids {
		if table[id] {
			d.set(base + j)
		}
	}
}

// match is matchIDs over the first n rows of the chunk, at its width.
func (ch *idchunk) match(n, base int, table []bool, d dense) {
	switch {
	case ch.w8 != nil:
		matchIDs(ch.w8[:n], base, table, d)
	case ch.w16 != nil:
		matchIDs(ch.w16[:n], base, table, d)
	default:
		matchIDs(ch.w32[:n], base, table, d)
	}
}

func (v *idvec) bytes() int {
	n := 0
	for _, c := range v.chunks {
		n += len(c.w8) + 2*len(c.w16) + 4*len(c.w32) + 72
	}
	return n
}
