package segment

import (
	"encoding/json"
	"hash/maphash"
	"math"
	"strconv"
	"time"
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
	// kindTime is a string that is a UTC timestamp in the fixed-width form
	// SDKs send ("2025-03-12T10:00:00.123Z", with 0 to 3 fraction digits),
	// kept as its milliseconds and digit count (timeBits) instead of 20 to
	// 24 arena bytes: created_at-like traits have a distinct value per
	// profile. It is still that string to every comparison: it formats
	// back to exactly the input, and a string that would not stays a
	// kindString.
	kindTime
	// kindDigits is a string of 1 to 18 digits without a leading zero,
	// with or without a leading "+" (phone numbers in E.164 form, numeric
	// ids sent as strings), kept as its number (digitBits); a string too.
	kindDigits
)

// packed says whether entries of kind k keep their value in a and b
// (64 bits) rather than in the arena.
func packed(k uint8) bool { return k == kindNumber || k == kindTime || k == kindDigits }

var dictSeed = maphash.MakeSeed()

func (d *dict) len() int { return len(d.kinds) }

// id returns v's id, adding v when new. v is a value decoded from JSON.
func (d *dict) id(v any) uint32 {
	switch x := v.(type) {
	case nil:
		return 0
	case string:
		if bits, ok := timeBits(x); ok {
			return d.intern(kindTime, "", bits)
		}
		if bits, ok := digitBits(x); ok {
			return d.intern(kindDigits, "", bits)
		}
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
	switch kind {
	case kindNumber:
		if bits == 1<<63 { // -0 is 0, as the comparison sees it
			bits = 0
		}
		return maphash.Comparable(dictSeed, bits)
	case kindTime, kindDigits:
		return maphash.Comparable(dictSeed, bits) ^ uint64(kind)
	}
	return maphash.String(dictSeed, s) ^ uint64(kind)
}

func (d *dict) same(id uint32, kind uint8, s string, bits uint64) bool {
	i := id - 1
	if d.kinds[i] != kind {
		return false
	}
	switch kind {
	case kindNumber:
		return math.Float64frombits(uint64(d.a[i])<<32|uint64(d.b[i])) == math.Float64frombits(bits)
	case kindTime, kindDigits:
		return d.bits(i) == bits
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
	if packed(kind) {
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
		if packed(k) {
			bits = d.bits(uint32(i))
		}
		d.place(d.hash(k, d.str2(uint32(i)), bits), uint32(i+1))
	}
}

// str2 is str for strings and JSON, "" for other kinds.
func (d *dict) str2(i uint32) string {
	if k := d.kinds[i]; packed(k) || k == kindBool {
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
	case kindTime:
		return formatTimeBits(d.bits(i))
	case kindDigits:
		return formatDigitBits(d.bits(i))
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
		t[id] = d.match(c, uint32(id), now)
	}
	return t
}

// match is c.match of the value with id (0: absent). A timestamp meets a
// date or duration operand as its seconds, without the string, and a
// packed string exists without being formatted.
func (d *dict) match(c *comparison, id uint32, now int64) bool {
	if id == 0 {
		return c.match(nil, now)
	}
	if k := d.kinds[id-1]; k == kindTime || k == kindDigits {
		switch c.op {
		case Exists:
			return true
		case NotExists:
			return false
		}
		if k == kindTime && (c.kind == operandTime || c.kind == operandDuration) {
			return c.matchTime(timeSecs(d.bits(id-1)), now)
		}
	}
	return c.match(d.value(id), now)
}

// timeAt is the value with id as a time in unix seconds, when it is a
// string that parses as one.
func (d *dict) timeAt(id uint32) (int64, bool) {
	if id == 0 {
		return 0, false
	}
	switch d.kinds[id-1] {
	case kindTime:
		return timeSecs(d.bits(id - 1)), true
	case kindString:
		if t, err := ParseTime(d.str(id - 1)); err == nil {
			return t.Unix(), true
		}
	}
	return 0, false
}

// bits is entry i's 64 bits (numbers and times).
func (d *dict) bits(i uint32) uint64 { return uint64(d.a[i])<<32 | uint64(d.b[i]) }

// timeBits encodes s when it is a UTC timestamp of the fixed-width form
// YYYY-MM-DDTHH:MM:SS[.f|.ff|.fff]Z (years 1970-9999) that formats back to
// exactly s: milliseconds << 2 | fraction digits.
func timeBits(s string) (uint64, bool) {
	n := len(s)
	if n < 20 || n > 24 || n == 21 || s[n-1] != 'Z' || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return 0, false
	}
	num := func(i, w int) (int, bool) {
		v := 0
		for _, c := range []byte(s[i : i+w]) {
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	y, ok1 := num(0, 4)
	mo, ok2 := num(5, 2)
	dd, ok3 := num(8, 2)
	h, ok4 := num(11, 2)
	mi, ok5 := num(14, 2)
	sec, ok6 := num(17, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || y < 1970 {
		return 0, false
	}
	digits, ms := 0, 0
	if n > 20 {
		if s[19] != '.' {
			return 0, false
		}
		digits = n - 21
		f, ok := num(20, digits)
		if !ok {
			return 0, false
		}
		ms = f
		for range 3 - digits {
			ms *= 10
		}
	}
	t := time.Date(y, time.Month(mo), dd, h, mi, sec, ms*1e6, time.UTC)
	if t.Year() != y || int(t.Month()) != mo || t.Day() != dd || t.Hour() != h || t.Minute() != mi || t.Second() != sec {
		return 0, false // out of range: Feb 30, 24:00, a leap second
	}
	return uint64(t.UnixMilli())<<2 | uint64(digits), true
}

// digitBits encodes s when it is 1 to 18 digits, the first not 0 unless
// it is the only one, after an optional "+": the number << 1 | plus.
func digitBits(s string) (uint64, bool) {
	plus := uint64(0)
	if len(s) > 0 && s[0] == '+' {
		s, plus = s[1:], 1
	}
	if len(s) == 0 || len(s) > 18 || s[0] == '0' && len(s) > 1 {
		return 0, false
	}
	var v uint64
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v<<1 | plus, true
}

// formatDigitBits is the string digitBits encoded.
func formatDigitBits(bits uint64) string {
	b := make([]byte, 0, 20)
	if bits&1 == 1 {
		b = append(b, '+')
	}
	return string(strconv.AppendUint(b, bits>>1, 10))
}

// timeSecs is the unix seconds of timeBits' encoding.
func timeSecs(bits uint64) int64 { return int64(bits>>2) / 1000 }

// formatTimeBits is the string timeBits encoded.
func formatTimeBits(bits uint64) string {
	t := time.UnixMilli(int64(bits >> 2)).UTC()
	b := t.AppendFormat(make([]byte, 0, 24), "2006-01-02T15:04:05.000")
	if digits := int(bits & 3); digits == 0 {
		b = b[:19]
	} else {
		b = b[:20+digits]
	}
	return string(append(b, 'Z'))
}

// bytes is the memory the dictionary holds.
func (d *dict) bytes() int {
	return cap(d.kinds) + 4*cap(d.a) + 4*cap(d.b) + cap(d.arena) + 4*cap(d.slots) + cap(d.tags)
}
