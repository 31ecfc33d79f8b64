package segment

import (
	"encoding/binary"
	"slices"

	"tailor/internal/arena"
)

// tuples stores a stream's single-valued columns by row as one id into a
// table of the distinct combinations of their values. An event's
// properties mostly go together (a product's id, name, sku, price,
// category and brand; a page's url, path and title), so a stream of
// millions of rows has a few thousand combinations: one or two bytes per
// row instead of one to four per column and row. A column reads its value
// for a row through the row's tuple (column.get).
//
// Identifier-like columns would make every row a combination of its own:
// they are dropped first (idLike) and the table is rebuilt without them;
// when the combinations still grow with the rows, the stream goes back to
// one id per column and row (untuple).
type tuples struct {
	rows  idvec             // row → tuple id; 0 is the tuple of no values
	n     int               // tuples, ids 1..n
	index map[string]uint32 // the packed ids of a tuple → its id
	cols  []*column         // the tuple's columns, by slot
	// keys holds index's keys: a table only grows (or is rebuilt whole), so
	// its keys live as long as it does, and packed they are a few objects
	// for the collector instead of one per combination (package arena).
	keys arena.Strings

	cur []uint32 // the row being appended: id by slot
	key []byte
}

// tupleMin and tupleShare bound the table: past tupleMin combinations, a
// stream where more than one row in tupleShare is a new combination keeps
// its columns apart. tupleMin is above idLikeMin so that an identifier
// column is dropped (and the table rebuilt without it) before its values
// make the stream give up its table. Variables so that tests can lower
// them.
var (
	tupleMin   = 2 * idLikeMin
	tupleShare = 4
)

// join makes single-valued column c a tuple column.
func (t *tuples) join(c *column) {
	c.slot = len(t.cols)
	c.tup = t
	t.cols = append(t.cols, c)
	t.cur = append(t.cur, 0)
}

// id interns the current row's values and clears them.
func (t *tuples) id() uint32 {
	last := -1
	for i, v := range t.cur {
		if v != 0 {
			last = i
		}
	}
	if last < 0 {
		return 0
	}
	t.key = t.key[:0]
	for _, v := range t.cur[:last+1] {
		t.key = binary.AppendUvarint(t.key, uint64(v))
	}
	id, ok := t.index[string(t.key)]
	if !ok {
		t.n++
		id = uint32(t.n)
		if t.index == nil {
			t.index = make(map[string]uint32)
		}
		t.index[t.keys.String(t.key)] = id
		for i, v := range t.cur[:last+1] {
			if v != 0 {
				t.cols[i].tvals.set(int(id), v)
			}
		}
	}
	clear(t.cur)
	return id
}

// endRow stores the current row's tuple, or, when the table has grown
// too big, turns the stream back into a column per value.
func (s *stream) endRow(row int) {
	t := s.tup
	if t.n >= tupleMin && t.n*tupleShare > s.n {
		s.untuple(row)
		return
	}
	t.rows.set(row, t.id())
}

// untuple gives every tuple column its own row → id vector again; the
// current row (not yet stored) takes its values from t.cur.
func (s *stream) untuple(row int) {
	t := s.tup
	for _, c := range t.cols {
		for r := range row {
			if id := c.get(r); id != 0 {
				c.vals.set(r, id)
			}
		}
		if id := t.cur[c.slot]; id != 0 {
			c.vals.set(row, id)
		}
	}
	for _, c := range t.cols {
		c.tup, c.tvals, c.slot = nil, idvec{}, -1
	}
	s.tup = nil
}

// retuple rebuilds the table without column c (dropped), so that its
// distinct values do not keep one combination per row; rows are
// renumbered to the merged combinations.
func (s *stream) retuple(c *column) {
	old := s.tup
	vals := make([]idvec, len(old.cols))
	cur := slices.Clone(old.cur)
	t := &tuples{}
	for i, k := range old.cols {
		vals[i], k.tvals = k.tvals, idvec{}
		if k != c {
			t.join(k)
		}
	}
	c.tup, c.slot = nil, -1
	remap := make([]uint32, old.n+1)
	for id := 1; id <= old.n; id++ {
		for i, k := range old.cols {
			if k != c {
				t.cur[k.slot] = vals[i].get(id)
			}
		}
		remap[id] = t.id()
	}
	for r := range s.n {
		if id := old.rows.get(r); id != 0 {
			t.rows.set(r, remap[id])
		}
	}
	// The row being appended keeps its values, but c's.
	for i, k := range old.cols {
		if k != c {
			t.cur[k.slot] = cur[i]
		}
	}
	s.tup = t
}

// get is single-valued column c's value id at row.
func (c *column) get(row int) uint32 {
	if t := c.tup; t != nil {
		return c.tvals.get(int(t.rows.get(row)))
	}
	return c.vals.get(row)
}

// bytes is the table's memory: row ids, the columns' values per tuple and
// the index (its keys and an estimate of a map entry).
func (t *tuples) bytes() int {
	n := t.rows.bytes()
	for _, c := range t.cols {
		n += c.tvals.bytes()
	}
	for k := range t.index {
		n += len(k) + 40
	}
	return n
}
