package profile

import (
	"fmt"
	"log/slog"
	"time"
)

// A profile's State lives in one of two forms:
//
//   - its encoding (MarshalBinary), in the profile's record (rec.go), that
//     the garbage collector never sees. Every profile has it (it may be
//     stale while the profile is hot and modified).
//   - a hotEntry, the decoded State of a recently active profile, kept in
//     an LRU list of at most Store.hotMax entries and in Store.hot.
//
// Why: decoded, a profile is a dozen small pointer-holding objects (traits,
// counters, recent lists, strings). With a million profiles the GC spent
// half the CPU scanning them and ingest fell from 89k to 27k events/s.
// Encoded they cost the GC almost nothing; the price is a decode (~2 µs)
// when a cold profile gets an event, and an encode when a modified one is
// evicted or checkpointed.
//
// Ownership: hot entries and records are changed only with Store.mu held for
// writing; readers holding it for reading use the hot entry if present, else
// decode the record's encoding into a private State.
type hotEntry struct {
	st         State
	p          *Profile
	prev, next *hotEntry
	// epoch is Store.epoch when the entry was last used (hotIdle).
	epoch uint64
	// modified: st has events that enc does not have yet.
	modified bool
	// shared is the checkpoint (Store.cpGen) whose second part may still
	// read st's slices (CheckpointSplit), 0 for none.
	shared uint64
}

// hotEntry returns p's decoded state in its hot entry, decoding and caching
// it if needed, for the caller to change (it marks it modified). Caller
// holds mu for writing.
func (s *Store) hotEntry(p *Profile) *hotEntry {
	if h := s.hotOf(p); h != nil {
		h.epoch = s.epoch
		s.hotMoveFront(h)
		if h.shared != 0 {
			if h.shared > s.cpDone.Load() {
				h.st = h.st.clone() // the checkpoint's copy keeps the old slices
			}
			h.shared = 0
		}
		return h
	}
	h := &hotEntry{p: p, epoch: s.epoch}
	if enc := s.encOf(p); len(enc) > 0 {
		if err := h.st.UnmarshalBinary(enc); err != nil {
			// Load validated every record, and the encoding is only written
			// by MarshalBinary: this is memory corruption or a codec bug.
			panic(fmt.Sprintf("profile %s: stored state does not decode: %v", s.pid(p), err))
		}
	}
	p.hot, s.hot[p.ord] = true, h
	s.hotPushFront(h)
	for s.hotLen > s.hotMax && s.hotTail != nil && s.hotTail != h {
		s.evict(s.hotTail)
	}
	return h
}

// hotOf returns p's hot entry, nil when p is not hot.
func (s *Store) hotOf(p *Profile) *hotEntry {
	if !p.hot {
		return nil
	}
	return s.hot[p.ord]
}

// decodedState returns p's state for reading without caching it. Callers may
// hold mu for reading only.
func (s *Store) decodedState(p *Profile) *State {
	if h := s.hotOf(p); h != nil {
		return &h.st
	}
	var st State
	if err := st.UnmarshalBinary(s.encOf(p)); err != nil {
		slog.Error("profile state does not decode", "profile", s.pid(p), "err", err)
	}
	return &st
}

// maxEncBuf bounds the encoding buffer the store keeps between flushes.
const maxEncBuf = 1 << 20

// flush brings p's encoded state up to date with its hot state.
func (s *Store) flush(p *Profile) error {
	h := s.hotOf(p)
	if h == nil || !h.modified {
		return nil
	}
	enc, err := h.st.AppendBinary(s.encBuf[:0])
	if err != nil {
		return err
	}
	s.setRec(p, s.idsOf(p), enc)
	h.modified = false
	if cap(enc) <= maxEncBuf {
		s.encBuf = enc[:0]
	}
	return nil
}

// hotIdleTime is how long a hot entry may go unused before a checkpoint
// lets it go.
//
// Why: a decoded state is a dozen pointer-holding objects, and every
// collection marks every hot entry, used or not. At rest a minute after a
// start, the 1 M-customer server held hot entries nothing used any more:
// with them a forced collection marked 576 k objects and took 226 ms of
// the collector's CPU; with --hot-profiles 1, 226 k objects and 78 ms
// (about 3 µs of marking an entry). Under load a collection runs every
// ten seconds or so: an entry unused for 20 s has cost more marking than
// the decode (~2 µs) that brings it back if its profile gets an event.
// The checkpoint has just brought every modified entry's encoding up to
// date, so letting one go there costs an unlink. A server with no events
// skips its checkpoints, and keeps its entries: it hardly collects.
const hotIdleTime = 20 * time.Second

// DefaultCheckpointInterval is the interval a store assumes between its
// checkpoints until SetCheckpointInterval says otherwise.
const DefaultCheckpointInterval = 4 * time.Second

// idleCheckpoints is hotIdleTime in checkpoints every apart, at least one.
func idleCheckpoints(every time.Duration) uint64 {
	if every <= 0 {
		every = DefaultCheckpointInterval
	}
	return uint64(max(1, (hotIdleTime+every-1)/every))
}

// SetCheckpointInterval tells the store how far apart its checkpoints are,
// so that idle hot entries go after hotIdleTime whatever the interval.
func (s *Store) SetCheckpointInterval(every time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hotIdle = idleCheckpoints(every)
}

// evictIdle lets go of the hot entries unused for s.hotIdle checkpoints,
// from the least recently used. An entry is usually unmodified by then (a
// checkpoint's second part made its encoding the record); one that is not
// (the second part has not run yet, with an interval of 20 s or more) is
// flushed first. Caller holds mu for writing.
func (s *Store) evictIdle() {
	s.epoch++
	for h := s.hotTail; h != nil && h.epoch+s.hotIdle <= s.epoch; {
		prev := h.prev
		s.evict(h)
		h = prev
	}
}

func (s *Store) evict(h *hotEntry) {
	if err := s.flush(h.p); err != nil {
		// Keep it hot rather than lose events; the checkpoint reports it.
		s.hotMoveFront(h)
		return
	}
	s.hotUnlink(h)
	h.p.hot = false
	delete(s.hot, h.p.ord)
}

// drop forgets p's hot state without flushing (p is being merged away).
func (s *Store) drop(p *Profile) {
	if h := s.hotOf(p); h != nil {
		s.hotUnlink(h)
		p.hot = false
		delete(s.hot, p.ord)
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
