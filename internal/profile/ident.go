package profile

import (
	"hash/maphash"

	"tailor/internal/event"
)

// The identifier index is keyed by a 64-bit hash of the identifier rather
// than the identifier itself: a slot is 16 bytes with one pointer instead of
// 40 bytes with three, and with millions of identifiers that is what the
// garbage collector traces on every cycle. The profile a slot points to is
// checked to really hold the identifier, so a hash collision can never link
// two people; colliding identifiers go to the overflow map.

// The index is rebuilt at every load and never stored, so its hash need not
// be stable: maphash (AES instructions where the CPU has them) instead of
// FNV-1a's loop of a multiply a byte, which on three identifiers of 10–40
// bytes an event was a quarter of identity resolution's CPU in the 1 M
// store (msgHash, whose values are stored, stays FNV).
func hashIdentifier(id event.Identifier) uint64 {
	h := maphash.String(indexSeed, id.Value)
	code, ok := kindCode(id.Kind)
	if !ok { // a kind the index never holds: any mix will do
		return h ^ maphash.String(indexSeed, string(id.Kind))
	}
	// The kind's code spread over the word (Fibonacci hashing), so that
	// one value under two kinds hashes apart.
	return h ^ (uint64(code)+1)*0x9E3779B97F4A7C15
}

// indexSeed seeds the in-memory indexes' hashes (hashIdentifier, hashID).
var indexSeed = maphash.MakeSeed()

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
