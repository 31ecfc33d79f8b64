package consent

import (
	"encoding/binary"
	"slices"
	"unsafe"

	"tailor/internal/arena"
)

// factTable holds every profile's facts (its recs) by profile id, with no
// pointer per profile: an arena.StrIndex maps the id to the Ref of a record
// in an arena.Bytes that packs the facts.
//
// Why: as a map from id to []rec, with a text string per fact, a million
// profiles' consent was 2.6 M of the 14.3 M pointers every collection of the
// 1 M-customer server followed (a heap dump, pointers counted by object
// size), though packed into few objects.
//
// A record is
//
//	reach | uvarint count | per fact: kind, ch, pur, granted (a byte each),
//	varint at, uvarint len(text), text
//
// The recs get returns view their record (texts and all): they stay valid,
// the record is never written again, but what is kept beyond the call that
// read them is copied (internStr).
//
// Not safe for concurrent use: Consent.mu guards it (get under the read
// lock, changes under the write lock).
type factTable struct {
	idx  arena.StrIndex[arena.Ref] // profile id → record in vals
	vals arena.Bytes
	buf  []byte // set's encoding, before it is copied into vals
}

func (t *factTable) len() int { return t.idx.Len() }

// get returns id's facts, nil for none.
func (t *factTable) get(id string) []rec { return t.appendFacts(nil, id) }

// appendFacts appends id's facts to dst: a caller that keeps them only for
// the call passes a buffer on its stack, and a look-up allocates nothing.
func (t *factTable) appendFacts(dst []rec, id string) []rec {
	r, ok := t.idx.Get(id)
	if !ok {
		return dst
	}
	return decodeFacts(dst, t.vals.Get(r))
}

// set replaces id's facts with rs; no facts removes id.
func (t *factTable) set(id string, rs []rec) {
	if len(rs) == 0 {
		t.delete(id)
		return
	}
	b := encodeFacts(t.buf[:0], rs)
	r, dst := t.vals.Alloc(len(b))
	copy(dst, b)
	if cap(b) <= 64<<10 {
		t.buf = b[:0]
	}
	if old, ok := t.idx.Get(id); ok {
		t.vals.Free(old)
	}
	t.idx.Set(id, r)
}

func (t *factTable) delete(id string) {
	if r, ok := t.idx.Get(id); ok {
		t.vals.Free(r)
		t.idx.Delete(id)
	}
}

// each calls fn with every id and its facts, in no order, until fn returns
// false. fn may set the facts of the id it is given (refreshReach does).
func (t *factTable) each(fn func(id string, rs []rec) bool) {
	for id, r := range t.idx.All() {
		if !fn(id, decodeFacts(nil, t.vals.Get(r))) {
			return
		}
	}
}

// compact reclaims what replaced records and removed ids leave in their
// arenas (arena.Bytes.Compact).
func (t *factTable) compact() {
	t.vals.Compact(func(move func(arena.Ref) arena.Ref) {
		for id, r := range t.idx.All() {
			t.idx.Set(id, move(r))
		}
	})
	t.idx.Compact()
}

func encodeFacts(b []byte, rs []rec) []byte {
	b = append(b, rs[0].reach)
	b = binary.AppendUvarint(b, uint64(len(rs)))
	for _, r := range rs {
		var granted byte
		if r.granted {
			granted = 1
		}
		b = append(b, r.kind, r.ch, r.pur, granted)
		b = binary.AppendVarint(b, r.at)
		b = binary.AppendUvarint(b, uint64(len(r.text)))
		b = append(b, r.text...)
	}
	return b
}

// decodeFacts appends the facts encodeFacts wrote (only ever into the
// table, so they are trusted) to dst.
func decodeFacts(dst []rec, b []byte) []rec {
	reach := b[0]
	n, k := binary.Uvarint(b[1:])
	b = b[1+k:]
	start := len(dst)
	dst = slices.Grow(dst, int(n))[:start+int(n)]
	for i := range int(n) {
		r := &dst[start+i]
		*r = rec{}
		r.kind, r.ch, r.pur, r.granted = b[0], b[1], b[2], b[3] == 1
		b = b[4:]
		r.at, k = binary.Varint(b)
		b = b[k:]
		l, k := binary.Uvarint(b)
		b = b[k:]
		if l > 0 {
			r.text = unsafe.String(&b[0], int(l))
		}
		b = b[l:]
	}
	dst[start].reach = reach
	return dst
}
