package segment

import (
	"cmp"
	"math"
	"slices"
)

// itemvec is an array column's value ids by item. Most fields of a line
// item follow from one of them: a product's sku, name, price, category and
// brand follow from its product_id. Once a chunk of items is full (it never
// changes again), each such column keeps, instead of an id per item, a
// table from the deciding column's id to its own: "products[]" columns
// cost one id per item for the product and one for each field that varies
// (quantity, position), instead of one for every field.
type itemvec struct {
	idvec
	// derived is, by chunk, where the chunk's ids come from instead (nil:
	// the chunk keeps its own).
	derived []*derivedChunk
}

// derivedChunk reads a chunk's ids through another column of the array.
type derivedChunk struct {
	from *itemvec // keeps its own ids in the chunk
	fn   []uint32 // from's id → this column's id
}

func (v *itemvec) get(i int) uint32 {
	if c := i >> vecShift; c < len(v.derived) {
		if d := v.derived[c]; d != nil {
			return d.fn[d.from.idvec.get(i)]
		}
	}
	return v.idvec.get(i)
}

func (v *itemvec) set(i int, x uint32) {
	if c := i >> vecShift; c < len(v.derived) && v.derived[c] != nil {
		v.own(c) // items are appended, so only a rewrite lands here
	}
	v.idvec.set(i, x)
}

// own makes chunk c keep its own ids again.
func (v *itemvec) own(c int) {
	d := v.derived[c]
	v.derived[c] = nil
	for j := range vecChunk {
		if x := d.fn[d.from.idvec.get(c<<vecShift+j)]; x != 0 {
			v.idvec.set(c<<vecShift+j, x)
		}
	}
}

func (v *itemvec) bytes() int {
	n := v.idvec.bytes() + 8*len(v.derived)
	for _, d := range v.derived {
		if d != nil {
			n += 4*len(d.fn) + 32
		}
	}
	return n
}

// compactItems looks at the item chunks of array a that filled up since
// the last look and derives the columns that another column decides.
func (s *stream) compactItems(a *array) {
	for ; a.checked < a.items>>vecShift; a.checked++ {
		var cols []*column
		for _, c := range s.colOrder {
			if c.multi && c.arr == a && !c.dropped {
				cols = append(cols, c)
			}
		}
		deriveChunk(cols, a.checked)
	}
}

// deriveFrom bounds the columns a column is tried against, so that a
// stream of many array fields (a write key's choice) costs a few scans of
// a chunk per field, not one per pair of fields.
const deriveFrom = 4

// deriveChunk derives chunk ci of each of cols from another of cols when
// that one decides it there and its table costs less than the chunk. A
// column is derived only from one that keeps its own ids; the columns with
// the most distinct values are looked at first, since a column decides
// only columns with as few values or fewer.
func deriveChunk(cols []*column, ci int) {
	base := ci << vecShift
	type cand struct {
		c        *column
		own      int    // bytes of its chunk
		hi       uint32 // its largest id in the chunk
		distinct int
	}
	var cs []cand
	for _, c := range cols {
		ch := c.mvals.idvec.chunk(ci)
		if ch == nil {
			continue // no value in the chunk: nothing kept already
		}
		x := cand{c: c, own: len(ch.w8) + 2*len(ch.w16) + 4*len(ch.w32)}
		for j := range vecChunk {
			x.hi = max(x.hi, ch.at(j))
		}
		if x.hi < vecChunk {
			seen := make([]bool, x.hi+1)
			for j := range vecChunk {
				if id := ch.at(j); !seen[id] {
					seen[id] = true
					x.distinct++
				}
			}
		} else {
			// Too many values to decide another column for less than its
			// chunk costs; it keeps its own.
			x.distinct = math.MaxInt
		}
		cs = append(cs, x)
	}
	if len(cs) < 2 {
		return
	}
	slices.SortStableFunc(cs, func(x, y cand) int { return cmp.Compare(y.distinct, x.distinct) })
	var kept []cand
	for _, x := range cs {
		derived := false
		for _, k := range kept {
			if 4*(int(k.hi)+1) >= x.own {
				continue
			}
			if fn := decides(k.c, x.c, base, k.hi); fn != nil {
				c := x.c
				for len(c.mvals.derived) <= ci {
					c.mvals.derived = append(c.mvals.derived, nil)
				}
				c.mvals.derived[ci] = &derivedChunk{from: &k.c.mvals, fn: fn}
				c.mvals.idvec.chunks[ci] = idchunk{}
				derived = true
				break
			}
		}
		if !derived && x.hi < vecChunk && len(kept) < deriveFrom {
			kept = append(kept, x)
		}
	}
}

// decides returns the table from k's ids (at most hi) to c's over the
// chunk at base, nil when some id of k goes with two ids of c there.
func decides(k, c *column, base int, hi uint32) []uint32 {
	const unset = math.MaxUint32
	fn := make([]uint32, hi+1)
	for i := range fn {
		fn[i] = unset
	}
	for j := range vecChunk {
		from, to := k.mvals.idvec.get(base+j), c.mvals.idvec.get(base+j)
		switch fn[from] {
		case unset:
			fn[from] = to
		case to:
		default:
			return nil
		}
	}
	for i, x := range fn {
		if x == unset {
			fn[i] = 0
		}
	}
	return fn
}

// ownItems makes the columns derived from c keep their own ids, before c's
// are dropped.
func (s *stream) ownItems(c *column) {
	for _, k := range s.colOrder {
		if k == c || !k.multi || k.arr != c.arr {
			continue
		}
		for ci, d := range k.mvals.derived {
			if d != nil && d.from == &c.mvals {
				k.mvals.own(ci)
			}
		}
	}
}
