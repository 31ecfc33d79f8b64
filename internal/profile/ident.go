package profile

import (
	"tailor/internal/event"
)

// The identifier index is keyed by a 64-bit hash of the identifier rather
// than the identifier itself: a slot is 16 bytes with one pointer instead of
// 40 bytes with three, and with millions of identifiers that is what the
// garbage collector traces on every cycle. The profile a slot points to is
// checked to really hold the identifier, so a hash collision can never link
// two people; colliding identifiers go to the overflow map.

func fnvIdentifier(id event.Identifier) uint64 {
	// The kind, a zero byte, the value: no two identifiers share a stream.
	return fnv64(fnv64(fnvOffset64, string(id.Kind))*fnvPrime64, id.Value)
}

// owner returns the profile holding id, or nil.
func (s *Store) owner(id event.Identifier) *Profile {
	if o, ok := s.byIdent[s.identHash(id)]; ok {
		if p := s.slab.at(o); s.has(p, id) {
			return p
		}
	}
	if len(s.overflow) == 0 {
		return nil
	}
	if o, ok := s.overflow[id]; ok {
		return s.slab.at(o)
	}
	return nil
}

// setOwner records that p holds id (p's identifiers must already contain it).
func (s *Store) setOwner(id event.Identifier, p *Profile) {
	h := s.identHash(id)
	if o, ok := s.byIdent[h]; !ok || o == p.ord || s.has(s.slab.at(o), id) {
		s.byIdent[h] = p.ord
		delete(s.overflow, id)
		return
	}
	// id may view a record (a merge's moved identifiers): a key kept for
	// good gets its own copy.
	s.overflow[cloneIdentifier(id)] = p.ord
}
