package profile

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"unique"
)

// Binary encoding of a State, version 2. Integers are varints; strings are a
// uvarint length and the bytes; times after first_seen are stored as the
// uvarint distance back from last_seen (wrapping), which is short for recent
// times. Every list is written in the State's canonical order, so equal states
// encode to equal bytes.
//
//	version    byte = 2
//	events     uvarint
//	if events > 0: first varint, last-first uvarint
//	types      6 × uvarint
//	orders     uvarint
//	revenue    low varint, high varint: the 128-bit sum's low 64 bits as an
//	           int64, then its high 64 bits minus the low word's sign (so 0
//	           whenever the sum fits an int64)
//	if orders > 0: last-lastOrder uvarint
//	eventCounts, categories: n uvarint, n × (name string, count uvarint)
//	viewed, carted, purchased: n uvarint, n × (product id string, last-ts uvarint)
//	messages   n uvarint, n × 8-byte little-endian msgHash (in order of first use)
//	traits     n uvarint, n × (key string, value string ("" = removed), last-ts uvarint,
//	           message index << 1 | 1 if a TrustServer write of an identity trait)
//	timezone, locale: value string ("" = unset), if set: last-ts uvarint, message index uvarint
//
// Version 1, still decoded, differs in two fields: revenue is one varint, and
// a trait's last field is the bare message index. Version 1 predates trust
// levels, and so does every event it summarizes (event.TrustServer is the zero
// level for that reason), so its identity traits decode as server writes.
//
// Lists over the current limits (a state stored before a limit existed) are
// cut to them on decoding, exactly as replaying the events would.
const codecVersion = 2

// ErrCorrupt is returned (wrapped) by UnmarshalBinary for bytes that are not
// an encoded State.
var ErrCorrupt = errors.New("profile: corrupt state encoding")

// MarshalBinary encodes s. Equal states give equal bytes.
func (s *State) MarshalBinary() ([]byte, error) {
	return s.AppendBinary(make([]byte, 0, s.sizeHint()))
}

func (s *State) sizeHint() int {
	return 64 + 16*(len(s.eventCounts)+len(s.categories)+len(s.recents)) + 64*len(s.traits)
}

// AppendBinary appends the encoding of s to b (encoding.BinaryAppender).
func (s *State) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, codecVersion)
	b = binary.AppendUvarint(b, uint64(s.events))
	if s.events > 0 {
		b = binary.AppendVarint(b, s.first)
		b = binary.AppendUvarint(b, uint64(s.last-s.first))
	}
	for _, n := range s.types {
		b = binary.AppendUvarint(b, uint64(n))
	}
	b = binary.AppendUvarint(b, uint64(s.orders))
	b = binary.AppendVarint(b, int64(s.revenue.lo))
	b = binary.AppendVarint(b, s.revenue.hi-int64(s.revenue.lo)>>63)
	if s.orders > 0 {
		b = binary.AppendUvarint(b, uint64(s.last-s.lastOrder))
	}
	for _, cs := range [...][]counter{s.eventCounts, s.categories} {
		b = binary.AppendUvarint(b, uint64(len(cs)))
		for _, c := range cs {
			b = appendString(b, c.name.Value())
			b = binary.AppendUvarint(b, uint64(c.n))
		}
	}
	for k := range numRecent {
		l, _ := s.recentList(k)
		b = binary.AppendUvarint(b, uint64(len(l)))
		for _, r := range l {
			b = appendString(b, r.id.Value())
			b = binary.AppendUvarint(b, uint64(s.last-r.ts))
		}
	}

	var buf [8]uint64
	msgs := buf[:0]
	var idx map[uint64]int
	if len(s.traits) > 16 {
		idx = make(map[uint64]int, len(s.traits))
	}
	for _, t := range s.traits {
		msgs, _ = msgIndex(msgs, idx, t.at.msg)
	}
	for _, l := range [...]*latest{&s.timezone, &s.locale} {
		if l.val != (sym{}) {
			msgs, _ = msgIndex(msgs, idx, l.at.msg)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(msgs)))
	for _, m := range msgs {
		b = binary.LittleEndian.AppendUint64(b, m)
	}
	b = binary.AppendUvarint(b, uint64(len(s.traits)))
	for i, t := range s.traits {
		b = appendString(b, t.key.Value())
		b = appendString(b, t.val)
		b = binary.AppendUvarint(b, uint64(s.last-t.at.ts))
		_, m := msgIndex(msgs, idx, t.at.msg)
		server := 0
		if s.traitServer(i) {
			server = 1
		}
		b = binary.AppendUvarint(b, uint64(m)<<1|uint64(server))
	}
	for _, l := range [...]*latest{&s.timezone, &s.locale} {
		if l.val == (sym{}) {
			b = append(b, 0)
			continue
		}
		b = appendString(b, l.val.Value())
		b = binary.AppendUvarint(b, uint64(s.last-l.at.ts))
		_, i := msgIndex(msgs, idx, l.at.msg)
		b = binary.AppendUvarint(b, uint64(i))
	}
	return b, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// msgIndex returns msg's index in the message table list, appending it when
// new. Profiles reference a handful of messages, so a linear scan does; idx,
// when not nil, indexes list for profiles with many traits.
func msgIndex(list []uint64, idx map[uint64]int, msg uint64) ([]uint64, int) {
	if idx != nil {
		if i, ok := idx[msg]; ok {
			return list, i
		}
		idx[msg] = len(list)
	} else {
		for i, m := range list {
			if m == msg {
				return list, i
			}
		}
	}
	return append(list, msg), len(list)
}

// UnmarshalBinary replaces s with the state encoded in data, in version 1 or
// 2. It validates the encoding (order, bounds, JSON trait values, trust
// flags) and returns an error wrapping ErrCorrupt instead of accepting
// anything Apply could not have produced the shape of; lists longer than the
// limits are cut to them instead (see the format above). On error s is
// unchanged.
func (s *State) UnmarshalBinary(data []byte) error {
	d := decoder{in: string(data)}
	var n State
	d.decode(&n)
	if d.err == nil && d.off != len(d.in) {
		d.fail("%d trailing bytes", len(d.in)-d.off)
	}
	if d.err != nil {
		return d.err
	}
	*s = n
	return nil
}

// decoder reads from one string copy of the input, so names can be interned
// without further copies; strings kept by the State are copied out of it.
type decoder struct {
	in  string
	off int
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w at byte %d: %s", ErrCorrupt, d.off, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) uvarint() uint64 {
	var x uint64
	for shift := uint(0); ; shift += 7 {
		if d.err != nil {
			return 0
		}
		if d.off >= len(d.in) {
			d.fail("truncated")
			return 0
		}
		c := d.in[d.off]
		d.off++
		if shift == 63 && c > 1 || shift > 63 {
			d.fail("varint overflows 64 bits")
			return 0
		}
		x |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return x
		}
	}
}

func (d *decoder) varint() int64 {
	u := d.uvarint()
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x
}

func (d *decoder) u32() uint32 {
	u := d.uvarint()
	if u > math.MaxUint32 {
		d.fail("count %d overflows 32 bits", u)
		return 0
	}
	return uint32(u)
}

// u64 reads 8 bytes, little-endian.
func (d *decoder) u64() uint64 {
	if d.err != nil {
		return 0
	}
	if len(d.in)-d.off < 8 {
		d.fail("truncated message hash")
		return 0
	}
	var v uint64
	for i := 7; i >= 0; i-- {
		v = v<<8 | uint64(d.in[d.off+i])
	}
	d.off += 8
	return v
}

// count reads a list length; every element takes at least min bytes.
func (d *decoder) count(min int) int {
	u := d.uvarint()
	if d.err == nil && u > uint64((len(d.in)-d.off)/min) {
		d.fail("list of %d exceeds input", u)
		return 0
	}
	return int(u)
}

func (d *decoder) str() string {
	u := d.uvarint()
	if d.err != nil {
		return ""
	}
	if u > uint64(len(d.in)-d.off) {
		d.fail("string of %d bytes exceeds input", u)
		return ""
	}
	s := d.in[d.off : d.off+int(u)]
	d.off += int(u)
	return s
}

// name reads a non-empty interned string.
func (d *decoder) name() sym {
	s := d.str()
	if d.err != nil {
		return sym{}
	}
	if s == "" {
		d.fail("empty name")
		return sym{}
	}
	return unique.Make(s)
}

func (d *decoder) decode(s *State) {
	version := d.uvarint()
	if d.err == nil && version != 1 && version != codecVersion {
		d.fail("unknown version %d", version)
	}
	s.events = d.u32()
	if s.events > 0 {
		s.first = d.varint()
		s.last = s.first + int64(d.uvarint())
	}
	for i := range s.types {
		s.types[i] = d.u32()
	}
	s.orders = d.u32()
	lo := d.varint()
	s.revenue = int128Of(lo)
	if version >= 2 {
		s.revenue.hi += d.varint()
	}
	if s.orders > 0 {
		s.lastOrder = s.last - int64(d.uvarint())
	}
	s.eventCounts, _ = capCounters(d.counters(), MaxEventNames)
	s.categories, _ = capCounters(d.counters(), MaxCategories)
	var buf [numRecent * RecentMax]recent
	all := buf[:0]
	for k := range s.nrecent {
		n := len(all)
		all = d.recents(all, s.last)
		s.nrecent[k] = uint8(len(all) - n)
	}
	if len(all) > 0 && d.err == nil {
		s.recents = slices.Clone(all)
	}

	msgs := make([]uint64, d.count(8))
	for i := range msgs {
		msgs[i] = d.u64()
	}
	msgAt := func(i uint64) uint64 {
		if d.err == nil && i >= uint64(len(msgs)) {
			d.fail("message index %d out of range", i)
		}
		if d.err != nil {
			return 0
		}
		return msgs[i]
	}
	if n := d.count(4); n > 0 {
		s.traits = make([]trait, n)
		for i := range s.traits {
			t := &s.traits[i]
			key := d.str()
			if d.err == nil && i > 0 && key <= s.traits[i-1].key.Value() {
				d.fail("trait %q out of order", key)
			}
			val := d.str()
			if d.err == nil && val != "" && !json.Valid([]byte(val)) {
				d.fail("trait %q is not JSON", key)
			}
			ts := s.last - int64(d.uvarint())
			ref, bit := d.uvarint(), identityBit(key)
			server := bit != 0 // version 1: every write came from a trusted source
			if version >= 2 {
				server, ref = ref&1 != 0, ref>>1
				if server && bit == 0 && d.err == nil {
					d.fail("trait %q marked as a server write, but only identity traits are", key)
				}
			}
			msg := msgAt(ref)
			if d.err != nil {
				return
			}
			*t = trait{key: unique.Make(key), val: val, at: stamp{ts, msg}}
			if server {
				s.serverIDs |= bit
			}
		}
		s.traits, _ = capTraits(s.traits)
		// Copy the values out of the input into one allocation.
		size := 0
		for _, t := range s.traits {
			size += len(t.val)
		}
		var sb strings.Builder
		sb.Grow(size)
		for _, t := range s.traits {
			sb.WriteString(t.val)
		}
		arena, off := sb.String(), 0
		for i := range s.traits {
			t := &s.traits[i]
			t.val = arena[off : off+len(t.val)]
			off += len(t.val)
		}
	}
	for _, l := range [...]*latest{&s.timezone, &s.locale} {
		v := d.str()
		if d.err != nil || v == "" {
			continue
		}
		ts := s.last - int64(d.uvarint())
		msg := msgAt(d.uvarint())
		*l = latest{val: unique.Make(v), at: stamp{ts, msg}}
	}
}

func (d *decoder) counters() []counter {
	n := d.count(2)
	if n == 0 || d.err != nil {
		return nil
	}
	cs := make([]counter, n)
	for i := range cs {
		cs[i] = counter{name: d.name(), n: d.u32()}
		if d.err != nil {
			return nil
		}
		if i > 0 && cs[i].name.Value() <= cs[i-1].name.Value() {
			d.fail("name %q out of order", cs[i].name.Value())
			return nil
		}
	}
	return cs
}

// recents appends one recent list to all.
func (d *decoder) recents(all []recent, last int64) []recent {
	n := d.count(3)
	if n == 0 || d.err != nil {
		return all
	}
	if n > RecentMax {
		d.fail("recent list of %d exceeds %d", n, RecentMax)
		return all
	}
	start := len(all)
	for i := range n {
		r := recent{id: d.name(), ts: last - int64(d.uvarint())}
		if d.err != nil {
			return all
		}
		l := all[start:]
		for j := range l {
			if l[j].id == r.id {
				d.fail("product %q listed twice", r.id.Value())
				return all
			}
		}
		if i > 0 && !ranksBefore(l[i-1].ts, l[i-1].id.Value(), r) {
			d.fail("product %q out of order", r.id.Value())
			return all
		}
		all = append(all, r)
	}
	return all
}
