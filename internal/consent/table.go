package consent

import (
	"encoding/binary"
	"hash/maphash"
	"slices"
	"strings"
	"unsafe"

	"tailor/internal/arena"
)

// factTable holds every profile's facts (its recs) by profile id, with no
// pointer per profile: the index maps a hash of the id to a record in an
// arena.Bytes, and the record starts with the id, so that a look-up checks
// it; ids whose hash slot another id holds go to overflow.
//
// Why: as a map from id to []rec, with a text string per fact, a million
// profiles' consent was 2.6 M of the 14.3 M pointers every collection of the
// 1 M-customer server followed (a heap dump, pointers counted by object
// size), though packed into few objects.
//
// A record is
//
//	uvarint len(id) | id | reach | uvarint count | per fact: kind, ch, pur,
//	granted (a byte each), varint at, uvarint len(text), text
//
// The recs get returns view their record (texts and all): they stay valid,
// the record is never written again, but what is kept beyond the call that
// read them is copied (internStr).
//
// Not safe for concurrent use: Consent.mu guards it (get under the read
// lock, changes under the write lock).
type factTable struct {
	seed     maphash.Seed
	byHash   map[uint64]arena.Ref
	overflow map[string]arena.Ref
	vals     arena.Bytes
	buf      []byte // set's encoding, before it is copied into vals
	// hash replaces maphash when set: tests make ids collide.
	hash func(id string) uint64
}

func (t *factTable) key(id string) uint64 {
	if t.hash != nil {
		return t.hash(id)
	}
	return maphash.String(t.seed, id)
}

func newFactTable() factTable {
	return factTable{seed: maphash.MakeSeed(), byHash: map[uint64]arena.Ref{}, overflow: map[string]arena.Ref{}}
}

func (t *factTable) len() int { return len(t.byHash) + len(t.overflow) }

// split returns the id and the facts of record r.
func (t *factTable) split(r arena.Ref) (string, []byte) {
	v := t.vals.Get(r)
	l, n := binary.Uvarint(v)
	id := v[n : n+int(l)]
	return unsafe.String(unsafe.SliceData(id), len(id)), v[n+int(l):]
}

// ref finds id's record.
func (t *factTable) ref(id string) (arena.Ref, bool) {
	if r, ok := t.byHash[t.key(id)]; ok {
		if rid, _ := t.split(r); rid == id {
			return r, true
		}
	}
	if len(t.overflow) == 0 {
		return 0, false
	}
	r, ok := t.overflow[id]
	return r, ok
}

// get returns id's facts, nil for none.
func (t *factTable) get(id string) []rec { return t.appendFacts(nil, id) }

// appendFacts appends id's facts to dst: a caller that keeps them only for
// the call passes a buffer on its stack, and a look-up allocates nothing.
func (t *factTable) appendFacts(dst []rec, id string) []rec {
	r, ok := t.ref(id)
	if !ok {
		return dst
	}
	_, facts := t.split(r)
	return decodeFacts(dst, facts)
}

// set replaces id's facts with rs; no facts removes id.
func (t *factTable) set(id string, rs []rec) {
	if len(rs) == 0 {
		t.delete(id)
		return
	}
	b := binary.AppendUvarint(t.buf[:0], uint64(len(id)))
	b = append(b, id...)
	b = encodeFacts(b, rs)
	r, dst := t.vals.Alloc(len(b))
	copy(dst, b)
	if cap(b) <= 64<<10 {
		t.buf = b[:0]
	}
	if old, ok := t.overflow[id]; ok {
		t.vals.Free(old)
		t.overflow[id] = r
		return
	}
	h := t.key(id)
	if old, ok := t.byHash[h]; ok {
		if oid, _ := t.split(old); oid != id {
			t.overflow[strings.Clone(id)] = r
			return
		}
		t.vals.Free(old)
	}
	t.byHash[h] = r
}

func (t *factTable) delete(id string) {
	h := t.key(id)
	if r, ok := t.byHash[h]; ok {
		if rid, _ := t.split(r); rid == id {
			t.vals.Free(r)
			delete(t.byHash, h)
			return
		}
	}
	if r, ok := t.overflow[id]; ok {
		t.vals.Free(r)
		delete(t.overflow, id)
	}
}

// each calls fn with every id and its facts, in no order, until fn returns
// false. fn may set the facts of the id it is given (refreshReach does).
func (t *factTable) each(fn func(id string, rs []rec) bool) {
	for _, r := range t.byHash {
		id, facts := t.split(r)
		if !fn(id, decodeFacts(nil, facts)) {
			return
		}
	}
	for id, r := range t.overflow {
		_, facts := t.split(r)
		if !fn(id, decodeFacts(nil, facts)) {
			return
		}
	}
}

// compact reclaims what replaced records leave in vals (arena.Bytes.Compact).
func (t *factTable) compact() {
	t.vals.Compact(func(move func(arena.Ref) arena.Ref) {
		for h, r := range t.byHash {
			t.byHash[h] = move(r)
		}
		for id, r := range t.overflow {
			t.overflow[id] = move(r)
		}
	})
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
