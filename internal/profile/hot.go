package profile

import (
	"fmt"
	"log/slog"
)

// A profile's State lives in one of two forms:
//
//   - enc, its encoding (MarshalBinary): a pointer-free []byte that the
//     garbage collector never scans. Every profile has it (it may be stale
//     while the profile is hot and modified).
//   - hot, the decoded State of a recently active profile, kept in an LRU
//     list of at most Store.hotMax entries.
//
// Why: decoded, a profile is a dozen small pointer-holding objects (traits,
// counters, recent lists, strings). With a million profiles the GC spent
// half the CPU scanning them and ingest fell from 89k to 27k events/s.
// Encoded they cost the GC almost nothing; the price is a decode (~2 µs)
// when a cold profile gets an event, and an encode when a modified one is
// evicted or checkpointed.
//
// Ownership: hot entries and enc are changed only with Store.mu held for
// writing; readers holding it for reading use hot if present, else decode
// enc into a private State.
type hotEntry struct {
	st         State
	p          *Profile
	prev, next *hotEntry
	// modified: st has events that enc does not have yet.
	modified bool
}

// state returns p's decoded state, decoding and caching it if needed. Caller
// holds mu for writing.
func (s *Store) state(p *Profile) *State {
	if h := p.hot; h != nil {
		s.hotMoveFront(h)
		return &h.st
	}
	h := &hotEntry{p: p}
	if len(p.enc) > 0 {
		if err := h.st.UnmarshalBinary(p.enc); err != nil {
			// Load validated every record, and enc is only written by
			// MarshalBinary: this is memory corruption or a codec bug.
			panic(fmt.Sprintf("profile %s: stored state does not decode: %v", p.ID, err))
		}
	}
	p.hot = h
	s.hotPushFront(h)
	for s.hotLen > s.hotMax && s.hotTail != nil && s.hotTail != h {
		s.evict(s.hotTail)
	}
	return &h.st
}

// decodedState returns p's state for reading without caching it. Callers may
// hold mu for reading only.
func decodedState(p *Profile) *State {
	if p.hot != nil {
		return &p.hot.st
	}
	var st State
	if err := st.UnmarshalBinary(p.enc); err != nil {
		slog.Error("profile state does not decode", "profile", p.ID, "err", err)
	}
	return &st
}

// flush brings p.enc up to date with its hot state.
func (s *Store) flush(p *Profile) error {
	h := p.hot
	if h == nil || !h.modified {
		return nil
	}
	enc, err := h.st.AppendBinary(p.enc[:0:0])
	if err != nil {
		return err
	}
	p.enc, h.modified = enc, false
	return nil
}

func (s *Store) evict(h *hotEntry) {
	if err := s.flush(h.p); err != nil {
		// Keep it hot rather than lose events; the checkpoint reports it.
		s.hotMoveFront(h)
		return
	}
	s.hotUnlink(h)
	h.p.hot = nil
}

// drop forgets p's hot state without flushing (p is being merged away).
func (s *Store) drop(p *Profile) {
	if p.hot != nil {
		s.hotUnlink(p.hot)
		p.hot = nil
	}
}

func (s *Store) hotPushFront(h *hotEntry) {
	h.prev, h.next = nil, s.hotHead
	if s.hotHead != nil {
		s.hotHead.prev = h
	}
	s.hotHead = h
	if s.hotTail == nil {
		s.hotTail = h
	}
	s.hotLen++
}

func (s *Store) hotUnlink(h *hotEntry) {
	if h.prev != nil {
		h.prev.next = h.next
	} else {
		s.hotHead = h.next
	}
	if h.next != nil {
		h.next.prev = h.prev
	} else {
		s.hotTail = h.prev
	}
	h.prev, h.next = nil, nil
	s.hotLen--
}

func (s *Store) hotMoveFront(h *hotEntry) {
	if s.hotHead == h {
		return
	}
	s.hotUnlink(h)
	s.hotPushFront(h)
}
