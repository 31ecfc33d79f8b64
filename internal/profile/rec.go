package profile

import (
	"encoding/binary"
	"strings"
	"unsafe"

	"tailor/internal/arena"
	"tailor/internal/event"
)

// A profile's record in Store.recs is its identifiers and its encoded state:
//
//	uvarint len(ids) | ids (idSet) | encoded State (MarshalBinary)
//
// Every change of either writes a new record and frees the old one. Views
// read out of a record (identifier values, the encoding) stay valid after
// that, as arena.Bytes promises, but keep a whole chunk alive: what is kept
// beyond the next checkpoint is cloned (setOwner's overflow).

// pid is p's profile id.
func (s *Store) pid(p *Profile) string { return s.idStrs.String(p.id) }

// setID gives p the id pid.
func (s *Store) setID(p *Profile, pid string) {
	r, dst := s.idStrs.Alloc(len(pid))
	copy(dst, pid)
	p.id = r
}

// recOf returns p's identifiers and encoded state.
func (s *Store) recOf(p *Profile) (idSet, []byte) {
	v := s.recs.Get(p.rec)
	if len(v) == 0 {
		return "", nil
	}
	l, n := binary.Uvarint(v)
	ids := v[n : n+int(l)]
	var set idSet
	if len(ids) > 0 {
		set = idSet(unsafe.String(&ids[0], len(ids)))
	}
	return set, v[n+int(l):]
}

func (s *Store) idsOf(p *Profile) idSet {
	ids, _ := s.recOf(p)
	return ids
}

func (s *Store) encOf(p *Profile) []byte {
	_, enc := s.recOf(p)
	return enc
}

// setRec replaces p's record. ids and enc may be views of the old one.
func (s *Store) setRec(p *Profile, ids idSet, enc []byte) {
	old := p.rec
	var hdr [binary.MaxVarintLen64]byte
	h := binary.PutUvarint(hdr[:], uint64(len(ids)))
	r, dst := s.recs.Alloc(h + len(ids) + len(enc))
	n := copy(dst, hdr[:h])
	n += copy(dst[n:], ids)
	copy(dst[n:], enc)
	p.rec = r
	s.recs.Free(old)
}

// identities returns p's identifiers, sorted by kind and value.
func (s *Store) identities(p *Profile) []event.Identifier { return s.idsOf(p).identities() }

// has reports whether p holds id.
func (s *Store) has(p *Profile, id event.Identifier) bool { return s.idsOf(p).has(id) }

// addIdentities adds ids to p's identifiers.
func (s *Store) addIdentities(p *Profile, ids ...event.Identifier) {
	set, enc := s.recOf(p)
	n := p.nids
	for _, id := range ids {
		if next, added := set.insert(id); added {
			set, n = next, n+1
		}
	}
	if n != p.nids {
		s.setRec(p, set, enc)
		p.nids = n
	}
}

// release frees p's slot and record; its id stays (see idStrs).
func (s *Store) release(p *Profile) {
	s.recs.Free(p.rec)
	s.slab.release(p)
}

// compactRecs reclaims the chunks of recs that replaced records left mostly
// empty (arena.Bytes.Compact): a pass over every profile, with mu held for
// writing, when a quarter of recs' bytes are freed records.
func (s *Store) compactRecs() {
	s.recs.Compact(func(move func(arena.Ref) arena.Ref) {
		s.slab.each(func(p *Profile) bool {
			p.rec = move(p.rec)
			return true
		})
	})
}

// cloneIdentifier copies id's value out of whatever it views.
func cloneIdentifier(id event.Identifier) event.Identifier {
	return event.Identifier{Kind: id.Kind, Value: strings.Clone(id.Value)}
}
