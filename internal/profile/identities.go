package profile

import (
	"cmp"
	"slices"
	"strings"

	"tailor/internal/event"
)

// IdentityKeys returns the id of the profile named by key and the keys of at
// most limit of its identifiers of the given kinds, taken in the order of kinds
// and then by value, with how many identifiers of those kinds it holds in all.
//
// A profile may hold any number of identifiers. Because Identities is sorted
// by kind and then value, finding each kind's run is a binary search, so the
// read lock is held for O(log n + limit) whatever n is, and the caller does the
// rest of its work (reading timelines) without it: the processor that applies
// events waits on this lock.
func (s *Store) IdentityKeys(key string, limit int, kinds ...event.Kind) (id string, keys []string, total int, ok bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.find(key)
	if p == nil {
		return "", nil, 0, false
	}
	var runs [][]event.Identifier
	size, n := 0, 0
	for _, k := range kinds {
		from, _ := slices.BinarySearchFunc(p.Identities, k, func(id event.Identifier, k event.Kind) int {
			return cmp.Compare(id.Kind, k)
		})
		to, _ := slices.BinarySearchFunc(p.Identities[from:], k, func(id event.Identifier, k event.Kind) int {
			if id.Kind == k {
				return -1 // past every identifier of kind k
			}
			return 1
		})
		total += to
		run := p.Identities[from : from+max(0, min(to, limit-n))]
		for _, ident := range run {
			size += len(ident.Kind) + 1 + len(ident.Value)
		}
		n += len(run)
		runs = append(runs, run)
	}
	// The keys share one string: two allocations instead of one per key.
	var b strings.Builder
	b.Grow(size)
	for _, run := range runs {
		for _, ident := range run {
			b.WriteString(string(ident.Kind))
			b.WriteByte(':')
			b.WriteString(ident.Value)
		}
	}
	all := b.String()
	if n > 0 {
		keys = make([]string, 0, n)
	}
	for _, run := range runs {
		for _, ident := range run {
			l := len(ident.Kind) + 1 + len(ident.Value)
			keys, all = append(keys, all[:l]), all[l:]
		}
	}
	return p.ID, keys, total, true
}
