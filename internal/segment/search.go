package segment

import (
	"encoding/json"
	"fmt"
	"strings"
)

// The operators of a trait search. Every one compares case-insensitively:
// a string trait as it is, any other value as its JSON text (42, true).
const (
	SearchEq       = "eq"
	SearchPrefix   = "prefix"
	SearchContains = "contains"
)

// SearchOps lists the operators SearchTrait takes.
var SearchOps = []string{SearchEq, SearchPrefix, SearchContains}

// SearchTrait returns up to limit profile ids whose trait key matches value
// under op (SearchOps), in ordinal order (about the order profiles were
// first seen). It matches the trait column's dictionary once, then scans
// the column's ordinals, so its cost is the distinct values plus one pass
// over the profiles, not a decoding of each profile as the profile store's
// scan does.
func (e *Engine) SearchTrait(key, op, value string, limit int) ([]string, error) {
	var match func(s string) bool
	lv := strings.ToLower(value)
	switch op {
	case SearchEq, "":
		match = func(s string) bool { return strings.EqualFold(s, value) }
	case SearchPrefix:
		match = func(s string) bool { return strings.HasPrefix(strings.ToLower(s), lv) }
	case SearchContains:
		match = func(s string) bool { return strings.Contains(strings.ToLower(s), lv) }
	default:
		return nil, fmt.Errorf("op: %s, got %q", strings.Join(SearchOps, ", "), op)
	}
	if limit <= 0 {
		return []string{}, nil
	}
	ix := e.ix
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	out := []string{}
	col, err := ix.traitColumn(key, "")
	if err != nil {
		return nil, err
	}
	if col == nil {
		return out, nil
	}
	table := make([]bool, col.dict.len()+1) // table[0], absent, never matches
	some := false
	for i := range col.dict.len() {
		v := col.dict.value(uint32(i + 1))
		s, ok := v.(string)
		if !ok {
			b, err := json.Marshal(v)
			if err != nil {
				continue
			}
			s = string(b)
		}
		table[i+1] = match(s)
		some = some || table[i+1]
	}
	if !some {
		return out, nil
	}
	n := ix.nords()
	for ci := 0; ci*vecChunk < n; ci++ {
		if col.vals.chunk(ci) == nil {
			continue
		}
		base := ci * vecChunk
		for j := range min(n-base, vecChunk) {
			if id := col.vals.get(base + j); id == 0 || !table[id] {
				continue
			}
			// Merged-away ordinals have their traits cleared; the check
			// keeps that invariant from being load-bearing here.
			if o := uint32(base + j); ix.alive.Contains(o) {
				out = append(out, ix.id(o))
				if len(out) == limit {
					return out, nil
				}
			}
		}
	}
	return out, nil
}
