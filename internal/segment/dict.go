package segment

import (
	"encoding/json"
	"hash/maphash"
	"math"
	"unsafe"
)

// dict gives each distinct value of a column a dense id, from 1; 0 means
// absent. Rules are matched against the dictionary once per distinct value
// (see matchTable), so a scan compares small integers, and a comparison's
// semantics live in one place (comparison.match) for every evaluator.
//
// Layout: dictionaries of ids, emails and urls hold millions of strings,
// so a value costs its bytes plus about 17: an entry (kind and two words)
// and a slot of an open-addressing table, instead of a boxed interface,
// a string header and a Go map entry (about 90 bytes more each).
//
// Invariant: arena is only appended to, so the strings valueAt returns,
// which point into it without copying, never change.
type dict struct {
	kinds []uint8  // id-1 → kind
	a, b  []uint32 // id-1 → string or JSON: offset and length in arena; number: float64 bits (a high, b low)
	arena []byte
	slots []uint32 // open addressing by hash: id, 0 = empty; len is a power of two
	// tags holds 8 bits of each slot's hash: a probe compares the value
	// (a random read of the entry and of the arena) only when they agree,
	// so a probe past another value's slot rarely leaves the table.
	tags  []uint8
	bools [2]uint32
}

const (
	kindString = iota + 1
	kindNumber
	kindBool
	kindJSON // lists and objects, as JSON text
)

var dictSeed = maphash.MakeSeed()

func (d *dict) len() int { return len(d.kinds) }

// id returns v's id, adding v when new. v is a value decoded from JSON.
func (d *dict) id(v any) uint32 {
	switch x := v.(type) {
	case nil:
		return 0
	case string:
		return d.intern(kindString, x, 0)
	case float64:
		return d.intern(kindNumber, "", math.Float64bits(x))
	case bool:
		i := 0
		if x {
			i = 1
		}
		if d.bools[i] == 0 {
			d.kinds = append(d.kinds, kindBool)
			d.a, d.b = append(d.a, uint32(i)), append(d.b, 0)
			d.bools[i] = uint32(len(d.kinds))
		}
		return d.bools[i]
	}
	j, err := json.Marshal(v)
	if err != nil {
		return 0
	}
	return d.intern(kindJSON, string(j), 0)
}

func (d *dict) hash(kind uint8, s string, bits uint64) uint64 {
	if kind == kindNumber {
		if bits == 1<<63 { // -0 is 0, as the comparison sees it
			bits = 0
		}
		return maphash.Comparable(dictSeed, bits)
	}
	return maphash.String(dictSeed, s) ^ uint64(kind)
}

func (d *dict) same(id uint32, kind uint8, s string, bits uint64) bool {
	i := id - 1
	if d.kinds[i] != kind {
		return false
	}
	if kind == kindNumber {
		return math.Float64frombits(uint64(d.a[i])<<32|uint64(d.b[i])) == math.Float64frombits(bits)
	}
	return d.str(i) == s
}

// str is entry i's bytes as a string, without copying.
func (d *dict) str(i uint32) string {
	if d.b[i] == 0 {
		return ""
	}
	return unsafe.String(&d.arena[d.a[i]], int(d.b[i]))
}

func (d *dict) intern(kind uint8, s string, bits uint64) uint32 {
	if len(d.slots) == 0 {
		d.slots, d.tags = make([]uint32, 16), make([]uint8, 16)
	}
	h := d.hash(kind, s, bits)
	mask, tag := uint64(len(d.slots)-1), hashTag(h)
	for p := h & mask; ; p = (p + 1) & mask {
		id := d.slots[p]
		if id == 0 {
			break
		}
		if d.tags[p] == tag && d.same(id, kind, s, bits) {
			return id
		}
	}
	d.kinds = append(d.kinds, kind)
	if kind == kindNumber {
		d.a, d.b = append(d.a, uint32(bits>>32)), append(d.b, uint32(bits))
	} else {
		d.a, d.b = append(d.a, uint32(len(d.arena))), append(d.b, uint32(len(s)))
		d.arena = append(d.arena, s...)
	}
	id := uint32(len(d.kinds))
	if 2*len(d.kinds) > len(d.slots) {
		d.rehash()
	} else {
		d.place(h, id)
	}
	return id
}

// find returns the id of a value, 0 when the dictionary does not hold it.
func (d *dict) find(kind uint8, s string, bits uint64) uint32 {
	if len(d.slots) == 0 {
		return 0
	}
	h := d.hash(kind, s, bits)
	mask, tag := uint64(len(d.slots)-1), hashTag(h)
	for p := h & mask; ; p = (p + 1) & mask {
		id := d.slots[p]
		if id == 0 || d.tags[p] == tag && d.same(id, kind, s, bits) {
			return id
		}
	}
}

// hashTag is the part of a hash kept in dict.tags: its top bits, which
// the slot position (its low bits) does not already decide.
func hashTag(h uint64) uint8 { return uint8(h >> 56) }

func (d *dict) place(h uint64, id uint32) {
	mask := uint64(len(d.slots) - 1)
	p := h & mask
	for d.slots[p] != 0 {
		p = (p + 1) & mask
	}
	d.slots[p] = id
	d.tags[p] = hashTag(h)
}

// rehash doubles the table, keeping it at most half full.
func (d *dict) rehash() {
	d.slots, d.tags = make([]uint32, 2*len(d.slots)), make([]uint8, 2*len(d.slots))
	for i, k := range d.kinds {
		if k == kindBool {
			continue
		}
		var bits uint64
		if k == kindNumber {
			bits = uint64(d.a[i])<<32 | uint64(d.b[i])
		}
		d.place(d.hash(k, d.str2(uint32(i)), bits), uint32(i+1))
	}
}

// str2 is str for strings and JSON, "" for other kinds.
func (d *dict) str2(i uint32) string {
	if d.kinds[i] == kindNumber || d.kinds[i] == kindBool {
		return ""
	}
	return d.str(i)
}

// value is the value with id, nil for 0. Strings point into the arena.
func (d *dict) value(id uint32) any {
	if id == 0 {
		return nil
	}
	i := id - 1
	switch d.kinds[i] {
	case kindString:
		return d.str(i)
	case kindNumber:
		return math.Float64frombits(uint64(d.a[i])<<32 | uint64(d.b[i]))
	case kindBool:
		return d.a[i] == 1
	}
	var v any
	_ = json.Unmarshal([]byte(d.str(i)), &v)
	return v
}

// num is the value with id when it is a number, else NaN.
func (d *dict) num(id uint32) float64 {
	i := id - 1
	if d.kinds[i] != kindNumber {
		return math.NaN()
	}
	return math.Float64frombits(uint64(d.a[i])<<32 | uint64(d.b[i]))
}

// matchTable is a comparison applied to every value of a dictionary:
// table[id] says whether the value with that id matches, table[0] whether
// an absent value does.
func (d *dict) matchTable(c *comparison, now int64) []bool {
	t := make([]bool, d.len()+1)
	t[0] = c.match(nil, now)
	for id := 1; id <= d.len(); id++ {
		t[id] = c.match(d.value(uint32(id)), now)
	}
	return t
}

// bytes is the memory the dictionary holds.
func (d *dict) bytes() int {
	return cap(d.kinds) + 4*cap(d.a) + 4*cap(d.b) + cap(d.arena) + 4*cap(d.slots) + cap(d.tags)
}
