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
		ids = append(ids, p.ID)
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
		case pa.ids != pb.ids:
			if !add("profile %s: identities %v vs %v", id, pa.Identities(), pb.Identities()) {
				return out
			}
		case pa.CreatedSeq != pb.CreatedSeq:
			if !add("profile %s: created at seq %d vs %d", id, pa.CreatedSeq, pb.CreatedSeq) {
				return out
			}
		case !decodedState(pa).Equal(decodedState(pb)):
			if !add("profile %s: state differs:\n  %+v\n  %+v", id, decodedState(pa).View().Computed, decodedState(pb).View().Computed) {
				return out
			}
		}
	}
	var second []string
	b.slab.each(func(p *Profile) bool {
		if a.byID(p.ID) == nil {
			second = append(second, p.ID)
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
