package ingest

import "sync"

// Sources maps write keys to source ids. The zero value has no sources.
type Sources struct {
	mu    sync.RWMutex
	byKey map[string]string
}

// Add registers writeKey for sourceID.
func (s *Sources) Add(writeKey, sourceID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byKey == nil {
		s.byKey = make(map[string]string)
	}
	s.byKey[writeKey] = sourceID
}

// Lookup returns the source id of writeKey.
func (s *Sources) Lookup(writeKey string) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.byKey[writeKey]
	return id, ok
}
