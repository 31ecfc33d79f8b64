package profile

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"tailor/internal/event"
)

// TestIDSet checks the packed set against a sorted slice of identifiers
// (what it replaced): same members, same order, same counts, whatever the
// insertion order, values of any length (uvarint lengths past one byte).
func TestIDSet(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	kinds := []event.Kind{event.KindUserID, event.KindAnonymousID, event.KindEmail, event.KindPhone}
	for round := range 200 {
		var s idSet
		var ref []event.Identifier
		for range rng.IntN(40) {
			v := strings.Repeat(string(rune('a'+rng.IntN(4))), 1+rng.IntN(3))
			if rng.IntN(10) == 0 {
				v += strings.Repeat("x", 200) // a two-byte length
			}
			id := event.Identifier{Kind: kinds[rng.IntN(len(kinds))], Value: v}
			next, added := s.insert(id)
			i, found := slices.BinarySearchFunc(ref, id, compareIdentifier)
			if added == found {
				t.Fatalf("round %d: insert %v: added %v, but the reference found it %v", round, id, added, found)
			}
			if !found {
				ref = slices.Insert(ref, i, id)
			}
			s = next
		}
		if got := s.identities(); !slices.Equal(got, ref) && len(ref) > 0 {
			t.Fatalf("round %d: set %v, want %v", round, got, ref)
		}
		for _, k := range kinds {
			code, _ := kindCode(k)
			want := 0
			for _, id := range ref {
				if id.Kind == k {
					want++
				}
			}
			if got := s.countKind(code); got != want {
				t.Fatalf("round %d: %d of kind %s, want %d", round, got, k, want)
			}
		}
		for _, id := range ref {
			if !s.has(id) {
				t.Fatalf("round %d: has(%v) = false", round, id)
			}
		}
		if s.has(event.Identifier{Kind: event.KindEmail, Value: "absent"}) || s.has(event.Identifier{Kind: "fax", Value: "a"}) {
			t.Fatalf("round %d: has an absent identifier", round)
		}
	}
}

// all returns every live profile (tests only).
func (s *Store) all() []*Profile {
	var out []*Profile
	s.slab.each(func(p *Profile) bool {
		out = append(out, p)
		return true
	})
	return out
}
