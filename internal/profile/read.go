package profile

import "tailor/internal/event"

// View calls fn with the state and identifiers of profile id (a current
// profile id, not a merged-away one) under the store's read lock, and
// reports whether the profile exists. fn must not retain st or call back
// into the store. The processor's appliers call it on the applier
// goroutine, between two Applies, to read what Apply just changed.
func (s *Store) View(id string, fn func(st *State, ids []event.Identifier)) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.byID(id)
	if p == nil {
		return false
	}
	fn(s.decodedState(p), s.identities(p))
	return true
}

// Each calls fn for every current profile, in no particular order, under the
// store's read lock, until fn returns false. Appliers use it to build their
// state at start-up; fn must not call back into the store.
func (s *Store) Each(fn func(id string, st *State) bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	s.slab.each(func(p *Profile) bool { return fn(s.pid(p), s.decodedState(p)) })
}

// Owner returns the id of the profile that holds e's primary identifier
// (its userId, else its anonymousId): the profile e belongs to now. Appliers
// that rebuild their state from the log at start-up use it to attribute
// logged events.
func (s *Store) Owner(e *event.Event) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if p := s.owner(e.PrimaryID()); p != nil {
		return s.pid(p), true
	}
	return "", false
}
