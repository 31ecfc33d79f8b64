package profile

import (
	"fmt"
	"slices"
)

// Diff lists up to max differences between two stores: profiles present in
// one only, different identities, different state, different redirects. An
// empty result means the stores are identical.
func Diff(a, b *Store, max int) []string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	b.mu.RLock()
	defer b.mu.RUnlock()
	var out []string
	add := func(format string, args ...any) bool {
		out = append(out, fmt.Sprintf(format, args...))
		return len(out) < max
	}
	ids := make([]string, 0, a.slab.len())
	a.slab.each(func(p *Profile) bool {
		ids = append(ids, a.pid(p))
		return true
	})
	slices.Sort(ids)
	for _, id := range ids {
		pa, pb := a.byID(id), b.byID(id)
		switch {
		case pb == nil:
			if !add("profile %s: only in the first", id) {
				return out
			}
		case a.idsOf(pa) != b.idsOf(pb):
			if !add("profile %s: identities %v vs %v", id, a.identities(pa), b.identities(pb)) {
				return out
			}
		case pa.CreatedSeq != pb.CreatedSeq:
			if !add("profile %s: created at seq %d vs %d", id, pa.CreatedSeq, pb.CreatedSeq) {
				return out
			}
		case !a.decodedState(pa).Equal(b.decodedState(pb)):
			if !add("profile %s: state differs:\n  %+v\n  %+v", id, a.decodedState(pa).View().Computed, b.decodedState(pb).View().Computed) {
				return out
			}
		}
	}
	var second []string
	b.slab.each(func(p *Profile) bool {
		if id := b.pid(p); a.byID(id) == nil {
			second = append(second, id)
		}
		return true
	})
	slices.Sort(second)
	for _, id := range second {
		if !add("profile %s: only in the second", id) {
			return out
		}
	}
	for from, to := range a.redirect {
		if b.redirect[from] != to && !add("merged profile %s: into %s vs %q", from, to, b.redirect[from]) {
			return out
		}
	}
	if len(a.redirect) != len(b.redirect) {
		add("merged profiles: %d vs %d", len(a.redirect), len(b.redirect))
	}
	return out
}

// Events is the number of events applied since the store was created or loaded.
func (s *Store) Events() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.events
}
