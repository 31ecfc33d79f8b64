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
	if x == 0 && ch.empty() {
		return
	}
	ch.put(i&vecMask, x)
}

func (ch *idchunk) empty() bool { return ch.w8 == nil && ch.w16 == nil && ch.w32 == nil }

// put sets offset j to x, widening the chunk when x needs it.
func (ch *idchunk) put(j int, x uint32) {
	switch {
	case ch.empty():
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

// at is offset j's value (the chunk not empty).
func (ch *idchunk) at(j int) uint32 {
	switch {
	case ch.w8 != nil:
		return uint32(ch.w8[j])
	case ch.w16 != nil:
		return uint32(ch.w16[j])
	}
	return ch.w32[j]
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

// framevec is a column of uint32 values that stores each chunk as offsets
// from a base per frame of frameRows rows, in an idchunk as narrow as the
// widest frame's spread allows: the profile ordinals of a few consecutive
// events are close together when a profile's events arrive together (an
// imported history: the ordinals of a whole chunk span thousands, those of
// a frame a few dozen, so one byte a row instead of two), and so are the
// times of events that arrive live.
type framevec struct {
	chunks []framechunk
}

type framechunk struct {
	bases []uint32 // by frame; nil until the chunk's first value
	next  int      // offsets below next were set
	idchunk
}

// frameShift sets the frame size: a base (four bytes) per 128 rows costs
// 0.03 bytes a row.
const (
	frameShift = 7
	frameRows  = 1 << frameShift
)

// frameSlack is how far below the first value of a frame its base starts,
// so that values a little lower (a late event, an older profile) do not
// re-base it.
const frameSlack = 1 << 4

func (v *framevec) get(i int) uint32 {
	c := i >> vecShift
	if c >= len(v.chunks) || v.chunks[c].bases == nil {
		return 0
	}
	return v.chunks[c].val(i & vecMask)
}

// set sets value i; the values of a chunk are set in order, rows 0 to j
// before j+1 (the columns are append-only), which re-basing relies on.
func (v *framevec) set(i int, x uint32) {
	c := i >> vecShift
	for c >= len(v.chunks) {
		v.chunks = append(v.chunks, framechunk{})
	}
	ch := &v.chunks[c]
	j := i & vecMask
	f := j >> frameShift
	if ch.bases == nil {
		if x == 0 {
			// A chunk of zeros (the item offsets before a stream's
			// first array) is never allocated; its frames keep base 0.
			ch.next = j + 1
			return
		}
		ch.bases = make([]uint32, vecChunk>>frameShift)
	}
	if ch.next <= f<<frameShift {
		ch.bases[f] = x - min(x, frameSlack)
	} else if b := ch.bases[f]; x < b {
		// Re-base with as much room again below, so that a frame re-bases
		// a few times at most, not once per lower value.
		nb := x - min(x, max(b-x, frameSlack))
		for k := f << frameShift; k < min(j, ch.next); k++ {
			ch.put(k, ch.at(k)+b-nb)
		}
		ch.bases[f] = nb
	}
	ch.put(j, x-ch.bases[f])
	ch.next = max(ch.next, j+1)
}

// chunkAt returns chunk c, nil when it was never set.
func (v *framevec) chunkAt(c int) *framechunk {
	if c >= len(v.chunks) || v.chunks[c].bases == nil {
		return nil
	}
	return &v.chunks[c]
}

// val is offset j's value.
func (ch *framechunk) val(j int) uint32 { return ch.bases[j>>frameShift] + ch.at(j) }

// decode writes the first n values of chunk c into buf (len ≥ n) and
// returns buf[:n]; nil when the chunk was never set.
func (v *framevec) decode(c, n int, buf []uint32) []uint32 {
	if c >= len(v.chunks) || v.chunks[c].bases == nil {
		return nil
	}
	ch := &v.chunks[c]
	out := buf[:n]
	switch {
	case ch.w8 != nil:
		decodeFrames8(ch.w8[:n], ch.bases, out)
	case ch.w16 != nil:
		decodeFrames16(ch.w16[:n], ch.bases, out)
	default:
		decodeFrames32(ch.w32[:n], ch.bases, out)
	}
	return out
}

// decodeFrames8 writes bases[j>>frameShift]+offs[j] into out[j] (len(out)
// ≥ len(offs)), a frame at a time. One function per width: a generic one
// ran 1.6 times slower (its loop is not specialised per width). Not
// inlined: inlined into decode, the loop ran 2.5 times slower (45 against
// 25 µs a chunk of one-byte offsets).
//
//go:noinline
func decodeFrames8(offs []uint8, bases []uint32, out []uint32) {
	for f := 0; len(offs) > 0; f++ {
		k := min(len(offs), frameRows)
		src, dst, b := offs[:k], out[:k], bases[f]
		for j, d := range src {
			dst[j] = b + uint32(d)
		}
		offs, out = offs[k:], out[k:]
	}
}

// decodeFrames16 is decodeFrames8 for two-byte offsets.
//
//go:noinline
func decodeFrames16(offs []uint16, bases []uint32, out []uint32) {
	for f := 0; len(offs) > 0; f++ {
		k := min(len(offs), frameRows)
		src, dst, b := offs[:k], out[:k], bases[f]
		for j, d := range src {
			dst[j] = b + uint32(d)
		}
		offs, out = offs[k:], out[k:]
	}
}

// decodeFrames32 is decodeFrames8 for four-byte offsets.
//
//go:noinline
func decodeFrames32(offs []uint32, bases []uint32, out []uint32) {
	for f := 0; len(offs) > 0; f++ {
		k := min(len(offs), frameRows)
		src, dst, b := offs[:k], out[:k], bases[f]
		for j, d := range src {
			dst[j] = b + d
		}
		offs, out = offs[k:], out[k:]
	}
}

func (v *framevec) bytes() int {
	n := 0
	for _, c := range v.chunks {
		n += len(c.w8) + 2*len(c.w16) + 4*len(c.w32) + 4*len(c.bases) + 104
	}
	return n
}
