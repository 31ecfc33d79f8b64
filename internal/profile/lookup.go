package profile

import (
	"encoding/json"
	"slices"
)

// TraitJSON returns the JSON encoding of trait name, if set.
func (s *State) TraitJSON(name string) (string, bool) {
	i, found := slices.BinarySearchFunc(s.traits, name, compareTraitKey)
	if !found || s.traits[i].val == "" {
		return "", false
	}
	return s.traits[i].val, true
}

// Trait returns the decoded value of trait name, if set.
func (s *State) Trait(name string) (any, bool) {
	j, ok := s.TraitJSON(name)
	if !ok {
		return nil, false
	}
	var v any
	if json.Unmarshal([]byte(j), &v) != nil {
		return nil, false
	}
	return v, true
}
