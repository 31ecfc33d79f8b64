package profile

import (
	"strings"

	"tailor/internal/event"
)

// IdentityKeys returns the id of the profile named by key and the keys of at
// most limit of its identifiers of the given kinds, taken in the order of kinds
// and then by value, with how many identifiers of those kinds it holds in all.
//
// The read lock is held for one pass over the profile's packed identifiers,
// which the identity rules bound (MaxIdentities), and the caller does the rest
// of its work (reading timelines) without it: the processor that applies
// events waits on this lock.
func (s *Store) IdentityKeys(key string, limit int, kinds ...event.Kind) (id string, keys []string, total int, ok bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.find(key)
	if p == nil {
		return "", nil, 0, false
	}
	var b strings.Builder
	var lens []int
	for _, k := range kinds {
		code, known := kindCode(k)
		if !known {
			continue
		}
		s.idsOf(p).each(func(c byte, v string) bool {
			if c == code {
				total++
				if len(lens) < limit {
					b.WriteString(string(k))
					b.WriteByte(':')
					b.WriteString(v)
					lens = append(lens, len(k)+1+len(v))
				}
			}
			return c <= code
		})
	}
	// The keys share one string: two allocations instead of one per key.
	all := b.String()
	if len(lens) > 0 {
		keys = make([]string, 0, len(lens))
	}
	for _, l := range lens {
		keys, all = append(keys, all[:l]), all[l:]
	}
	return s.pid(p), keys, total, true
}
