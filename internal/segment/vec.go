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
