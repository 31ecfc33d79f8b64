package profile

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/arena"
	"tailor/internal/event"
	"tailor/internal/identity"
	"tailor/internal/rwyield"
	"tailor/internal/store"
)

// Keyspace owned by the Store (prefixes in package store):
//
//	p/<profile id>        -> profile record (encodeProfile)
//	x/<merged profile id> -> surviving profile id
//	mi/<into id>\x00<seq:8><from id> -> Merge JSON (audit trail of identity
//	                        merges, keyed by the surviving profile: merges.go)
//	m/<seq:8>             -> Merge JSON, the format before mi/; MigrateMerges
//	                        moves it to mi/ at start
//
// Invariant: p/, x/ and mi/ are only written by Checkpoint, into the
// processor's checkpoint batch that also carries k/applied, so the stored
// profiles are always exactly the result of applying the log up to it.

// Profile is one person: the identifiers known to name them and their state.
//
// It holds no pointers (see slab.go): its id, identifiers and encoded state
// are in the store's arenas, named by Refs.
type Profile struct {
	// CreatedSeq is the log seq of the event that created the profile; the
	// older profile survives a merge.
	CreatedSeq uint64
	id         arena.Ref // in Store.idStrs; zero for a free slot
	// rec is the profile's record in Store.recs: its identifiers, packed
	// and sorted (idset.go), and its encoded State (hot.go). See recOf.
	rec  arena.Ref
	nids int32  // how many identifiers rec holds
	ord  uint32 // slot in the store's slab (slab.go)
	hot  bool   // Store.hot holds its decoded State
}

// Merge records that identity resolution found two profiles to be one person.
type Merge struct {
	Seq       uint64    `json:"seq"`
	At        time.Time `json:"at"`
	MessageID string    `json:"message_id"`
	// Type is the type of the message that proved the link; Via says how:
	// "alias" (explicit) or "implicit" (a shared identifier).
	Type  event.Type         `json:"type,omitempty"`
	Via   string             `json:"via,omitempty"`
	Into  string             `json:"into"`
	From  string             `json:"from"`
	Moved []event.Identifier `json:"moved_identities"`
}

// Store holds every profile in memory, indexed by id and by identifier, and
// persists them to Pebble at checkpoints.
//
// Ownership: one goroutine (the processor's) applies events through Apply,
// which holds mu for writing; readers hold mu for reading and copy what they
// return.
type Store struct {
	mu   rwyield.RWMutex
	slab slab
	// ids maps a profile id's 64-bit hash to its slot; idOverflow takes ids
	// whose hash slot belongs to another id (slab.go).
	ids        map[uint64]uint32
	idOverflow map[string]uint32
	// byIdent maps an identifier's 64-bit hash to the slot of the profile
	// holding it; overflow takes identifiers whose hash slot belongs to
	// another identifier (see ident.go).
	byIdent  map[uint64]uint32
	overflow map[event.Identifier]uint32
	// The hashes of the two indexes; fields so that tests can force
	// collisions.
	idHash    func(string) uint64
	identHash func(event.Identifier) uint64
	redirect  map[string]string // merged-away id -> surviving id
	dirty     map[string]struct{}
	gone      map[string]string // merged away since the last checkpoint -> into
	merges    []Merge
	events    uint64
	// res collects the current event's Resolution; its Merged slice is
	// reused, so a Resolution is valid only until the next Apply.
	res Resolution

	rules identity.Rules
	stats IdentityStats
	// refused counts what the per-profile limits kept out since start.
	refused Refused

	// idStrs holds the profile ids, never moved nor freed: a profile id
	// handed out (a Resolution, a redirect) may be kept for good, and keeps
	// its chunk alive. recs holds each profile's record, replaced at every
	// change and compacted at checkpoints (compactRecs).
	idStrs arena.Bytes
	recs   arena.Bytes
	// encBuf is where flush encodes a state before it is copied into recs.
	encBuf []byte

	// LRU of decoded profile states (hot.go), and the entries by slot.
	hot              map[uint32]*hotEntry
	hotHead, hotTail *hotEntry
	hotLen, hotMax   int
	// epoch counts checkpoints, for hot entries' idle time; hotIdle is
	// that time in checkpoints (SetCheckpointInterval).
	epoch, hotIdle uint64
	// cpGen numbers checkpoints (under mu); cpDone is the last whose second
	// part has finished reading the hot states it shares (hotEntry.shared).
	cpGen  uint64
	cpDone atomic.Uint64
	// cpBufs are the last checkpoint's buffers, for the next one (taken
	// under mu by CheckpointSplit, given back by its second part): grown
	// by appending afresh each time, the copies of the changed hot states
	// (288 bytes each) were most of the pause's work.
	cpBufs *cpBufs
}

// DefaultHot is how many profiles keep their state decoded.
const DefaultHot = 100_000

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{
		ids:        make(map[uint64]uint32),
		idOverflow: make(map[string]uint32),
		byIdent:    make(map[uint64]uint32),
		overflow:   make(map[event.Identifier]uint32),
		idHash:     hashID,
		identHash:  hashIdentifier,
		redirect:   make(map[string]string),
		dirty:      make(map[string]struct{}),
		gone:       make(map[string]string),
		hot:        make(map[uint32]*hotEntry),
		hotMax:     DefaultHot,
		hotIdle:    idleCheckpoints(DefaultCheckpointInterval),
		rules:      identity.Defaults(),
	}
}

// SetIdentityRules replaces the identity rules (validated by the caller).
// Set them before applying events: replay must see the same rules the live
// processor saw, or it makes other decisions.
func (s *Store) SetIdentityRules(r identity.Rules) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules = r
}

// SetHot sets how many profiles keep their state decoded (at least 1).
func (s *Store) SetHot(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hotMax = max(n, 1)
}

// Len is the number of profiles.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.slab.len()
}

// Refused returns what the per-profile limits (MaxTraits and the others)
// kept out of profiles since start.
func (s *Store) Refused() Refused {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.refused
}

// Resolution says where identity resolution put an event: the profile it
// was applied to and the profiles merged into that one on the way (they no
// longer exist; their ids redirect to Profile).
type Resolution struct {
	Profile string
	Merged  []string
	Created bool
}

// Apply folds one event into the profiles: identity resolution (resolve.go)
// picks the profile, then the event is applied to its state. Only the
// processor calls it, in log order.
func (s *Store) Apply(e *event.Event) Resolution {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.apply(e)
}

// apply is Apply with mu held for writing.
func (s *Store) apply(e *event.Event) Resolution {
	s.res = Resolution{Merged: s.res.Merged[:0]}
	p := s.resolve(e)
	h := s.hotEntry(p)
	s.refused = s.refused.Add(h.st.Apply(e))
	h.modified = true
	pid := s.pid(p)
	s.dirty[pid] = struct{}{}
	s.events++
	s.res.Profile = pid
	return s.res
}

func (s *Store) create(primary event.Identifier, seq uint64) *Profile {
	p := s.slab.alloc()
	s.setID(p, s.newID(primary, seq))
	p.CreatedSeq = seq
	s.indexID(p)
	s.link(p, primary)
	s.res.Created = true
	return p
}

// merge moves everything of from into into. The merged-away state is read
// without caching it: caching could evict into's state (with --hot-profiles
// 1 it always did) between the two look-ups.
func (s *Store) merge(into, from *Profile, e *event.Event, via string) {
	h := s.hotEntry(into)
	s.refused = s.refused.Add(h.st.Merge(s.decodedState(from)))
	h.modified = true
	s.drop(from)
	// Views of from's record: valid after it is freed (rec.go), and kept
	// only until the next checkpoint (merges).
	moved := s.identities(from)
	s.addIdentities(into, moved...)
	for _, id := range moved {
		s.setOwner(id, into)
	}
	s.unindexID(from)
	fromID, intoID := s.pid(from), s.pid(into)
	delete(s.dirty, fromID)
	s.redirect[fromID] = intoID
	s.gone[fromID] = intoID
	s.res.Merged = append(s.res.Merged, fromID)
	s.merges = append(s.merges, Merge{Seq: e.Seq, At: e.Timestamp, MessageID: e.MessageID, Type: e.Type, Via: via,
		Into: intoID, From: fromID, Moved: moved})
	s.release(from)
}

// compareIdentifier orders identifiers as their keys "kind:value" sort.
func compareIdentifier(a, b event.Identifier) int {
	if c := strings.Compare(string(a.Kind), string(b.Kind)); c != 0 {
		// No kind is a prefix of another, so comparing kinds alone orders
		// the keys the same way unless the kinds are equal.
		return c
	}
	return strings.Compare(a.Value, b.Value)
}

// newID derives a profile id from the identifier that created it, so the
// same log always yields the same ids.
func (s *Store) newID(id event.Identifier, seq uint64) string {
	sum := sha256.Sum256([]byte(id.Key()))
	pid := "p_" + hex.EncodeToString(sum[:10])
	if s.byID(pid) != nil {
		pid += "_" + strconv.FormatUint(seq, 10)
	} else if _, taken := s.redirect[pid]; taken {
		pid += "_" + strconv.FormatUint(seq, 10)
	}
	return pid
}

// Snapshot is a read-only copy of a profile for the API.
type Snapshot struct {
	ID         string             `json:"id"`
	Identities []event.Identifier `json:"identities"`
	View
}

// Lookup finds a profile by identifier key ("email:a@b.c"), profile id or
// merged-away profile id.
func (s *Store) Lookup(key string) (Snapshot, bool) { return lookupBy(s, key, s.snapshot) }

// lookupBy finds the profile key names (as Lookup) and reads it with read,
// under the read lock.
func lookupBy[T any](s *Store, key string, read func(*Profile) T) (T, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.find(key)
	if p == nil {
		var zero T
		return zero, false
	}
	return read(p), true
}

// Brief is a profile's id, traits and first userId and anonymousId (in
// the order of Snapshot.Identities): what consent reads to find a
// customer's addresses, on the processor for every event that carries one,
// without the computed fields and identities a Snapshot builds (half of
// consent's CPU in the 1 M store, and allocation for every such event).
type Brief struct {
	ID, UserID, AnonymousID string
	Traits                  map[string]any
}

// LookupBrief is Lookup for a Brief.
func (s *Store) LookupBrief(key string) (Brief, bool) { return lookupBy(s, key, s.brief) }

func (s *Store) brief(p *Profile) Brief {
	st := s.decodedState(p)
	b := Brief{ID: s.pid(p), Traits: make(map[string]any, len(st.traits))}
	for _, t := range st.traits {
		if t.val != "" {
			b.Traits[t.key.Value()] = decodeTraitValue(t.val)
		}
	}
	s.idsOf(p).each(func(code byte, val string) bool {
		switch kindByCode[code] {
		case event.KindUserID:
			if b.UserID == "" {
				b.UserID = val
			}
		case event.KindAnonymousID:
			if b.AnonymousID == "" {
				b.AnonymousID = val
			}
		}
		return true
	})
	return b
}

func (s *Store) find(key string) *Profile {
	if strings.HasPrefix(key, "p_") {
		if p := s.byID(key); p != nil {
			return p
		}
		// Follow the merge chain: a profile merged into one that was later
		// merged itself points at the intermediate id.
		for range 64 {
			to, ok := s.redirect[key]
			if !ok {
				return nil
			}
			if p := s.byID(to); p != nil {
				return p
			}
			key = to
		}
		return nil
	}
	id, err := event.ParseIdentifierKey(key)
	if err != nil {
		return nil
	}
	return s.owner(id)
}

func (s *Store) snapshot(p *Profile) Snapshot {
	return Snapshot{ID: s.pid(p), Identities: s.identities(p), View: s.decodedState(p).View()}
}

// Search returns up to limit profiles whose trait name equals value (string
// comparison of the trait's JSON text for non-strings), in id order. It scans
// every profile; the segment index replaces it for large stores.
func (s *Store) Search(name, value string, limit int) []Snapshot {
	qb, _ := json.Marshal(value)
	quoted := string(qb)
	// A cold profile's encoding holds trait values as their JSON text, so a
	// profile whose bytes do not contain the value (ASCII case folded) cannot
	// match and is not decoded. Only safe when JSON writes the value as is.
	prefilter := plainASCII(value)

	// The scan takes the read lock in chunks: holding it for a whole scan of
	// a million profiles (about a second) would stall the processor, and
	// with it ingest, for that long.
	s.mu.RLock()
	all := make([]*Profile, 0, s.slab.len())
	s.slab.each(func(p *Profile) bool {
		all = append(all, p)
		return true
	})
	s.mu.RUnlock()
	const chunk = 4096
	var found []*Profile
	for i := 0; i < len(all); i += chunk {
		s.mu.RLock()
		for _, p := range all[i:min(i+chunk, len(all))] {
			if p.id == 0 || s.byID(s.pid(p)) != p {
				continue // merged away since the list was taken
			}
			if prefilter && !p.hot && !containsFoldASCII(s.encOf(p), value) {
				continue
			}
			if j, ok := s.decodedState(p).TraitJSON(name); ok && (j == value || strings.EqualFold(j, quoted)) {
				found = append(found, p)
			}
		}
		s.mu.RUnlock()
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	slices.SortFunc(found, func(a, b *Profile) int { return strings.Compare(s.pid(a), s.pid(b)) })
	out := make([]Snapshot, 0, min(len(found), limit))
	for _, p := range found {
		if len(out) == limit {
			break
		}
		if p.id != 0 && s.byID(s.pid(p)) == p {
			out = append(out, s.snapshot(p))
		}
	}
	return out
}

// Checkpoint writes every profile changed since the last checkpoint and
// the merges into b: both parts of CheckpointSplit at once.
func (s *Store) Checkpoint(b *pebble.Batch) error {
	finish, err := s.CheckpointSplit(b)
	if err != nil {
		return err
	}
	return finish()
}

// cpSnap is a hot profile a checkpoint writes after its pause: its
// record's header, encoded at the pause, and a copy of its state that
// shares the entry's slices until the processor next changes it.
type cpSnap struct {
	id     string
	p      *Profile
	h      *hotEntry
	hdr    [2]int // in the checkpoint's header buffer
	st     State
	lo, hi int // its encoding, in the second part's buffer
}

// CheckpointSplit implements processor.SplitCheckpointer. Under the
// processor's pause (mu held for writing) it writes the changed profiles
// whose record is current, and the merges, into b, and takes a shallow copy
// of each changed hot state; the returned second part encodes those copies
// into b after applying has resumed, then (mu held briefly) makes each
// encoding the record of a profile nothing changed meanwhile. Encoding the
// hot states was most of the checkpoint's pause (83 of its ~170 ms a
// checkpoint at 40 k events/s into the 1 M store).
//
// Copy on write: an entry the second part still reads is marked shared
// with its checkpoint's number, and hotEntry gives the processor a copy of
// its slices before it changes the state. Checkpoints do not overlap (one
// caller at a time).
func (s *Store) CheckpointSplit(b *pebble.Batch) (func() error, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cpGen++
	gen := s.cpGen
	bufs := s.cpBufs
	if bufs == nil {
		bufs = new(cpBufs)
	}
	s.cpBufs = nil
	// Room for every changed hot state at once, but not for every changed
	// profile: after a big import most of those are cold.
	snaps := slices.Grow(bufs.snaps[:0], min(len(s.dirty), s.hotLen))
	hdrs := bufs.hdrs[:0]
	var buf []byte
	for id := range s.dirty {
		p := s.byID(id)
		if p == nil {
			continue // merged away: gone, with its redirect, is written below
		}
		if h := s.hotOf(p); h != nil && h.modified {
			lo := len(hdrs)
			hdrs = s.appendHeader(hdrs, p, s.idsOf(p))
			h.shared = gen
			snaps = append(snaps, cpSnap{id: id, p: p, h: h, hdr: [2]int{lo, len(hdrs)}, st: h.st})
			continue
		}
		buf = s.encodeProfile(buf[:0], p)
		if err := b.Set(store.Key(store.PrefixProfile, id), buf, nil); err != nil {
			return nil, err
		}
	}
	for from, into := range s.gone {
		if err := b.Delete(store.Key(store.PrefixProfile, from), nil); err != nil {
			return nil, err
		}
		if err := b.Set(store.Key(store.PrefixRedirect, from), []byte(into), nil); err != nil {
			return nil, err
		}
	}
	for _, m := range s.merges {
		v, _ := json.Marshal(m)
		if err := b.Set(mergeKey(m), v, nil); err != nil {
			return nil, err
		}
	}
	clear(s.dirty)
	clear(s.gone)
	s.merges = s.merges[:0]
	s.evictIdle()
	s.compactRecs()
	bufs.snaps, bufs.hdrs = snaps, hdrs
	return func() error { return s.finishCheckpoint(b, gen, bufs) }, nil
}

// cpBufs are a checkpoint's buffers: the copies of the changed hot states,
// their records' headers and their encodings.
type cpBufs struct {
	snaps      []cpSnap
	hdrs, encs []byte
}

// cpKeepSnaps and cpKeepEncs bound the buffers a store keeps for its next
// checkpoint: the copies' array (cleared, but a collection still scans it)
// ~19 MB, the encodings' 64 MB.
const (
	cpKeepSnaps = 1 << 16
	cpKeepEncs  = 64 << 20
)

// finishCheckpoint is CheckpointSplit's second part.
func (s *Store) finishCheckpoint(b *pebble.Batch, gen uint64, bufs *cpBufs) error {
	defer s.cpDone.Store(gen)
	snaps, hdrs := bufs.snaps, bufs.hdrs
	encs := bufs.encs[:0]
	for i := range snaps {
		// The record is the header taken at the pause, then the state
		// encoded right after it: the state's part is the new record's
		// encoding, no copy made.
		sn := &snaps[i]
		rec := len(encs)
		encs = append(encs, hdrs[sn.hdr[0]:sn.hdr[1]]...)
		sn.lo = len(encs)
		var err error
		if encs, err = sn.st.AppendBinary(encs); err != nil {
			return fmt.Errorf("checkpoint profile %s: %w", sn.id, err)
		}
		sn.hi = len(encs)
		if err := b.Set(store.Key(store.PrefixProfile, sn.id), encs[rec:sn.hi], nil); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range snaps {
		sn := &snaps[i]
		// Unchanged since the pause (not copied for a change, still hot,
		// not merged away): the encoding is its state's, as a flush's.
		if sn.h.shared == gen && s.hotOf(sn.p) == sn.h && s.byID(sn.id) == sn.p {
			s.setRec(sn.p, s.idsOf(sn.p), encs[sn.lo:sn.hi])
			sn.h.modified, sn.h.shared = false, 0
		}
	}
	// setRec copied the encodings; the copies of the states go, so that
	// the kept array holds none of them.
	clear(snaps)
	if cap(snaps) <= cpKeepSnaps && cap(encs) <= cpKeepEncs {
		bufs.snaps, bufs.hdrs, bufs.encs = snaps[:0], hdrs[:0], encs[:0]
		s.cpBufs = bufs
	}
	return nil
}

// Load reads the stored profiles, replacing the store's content. The log
// seq they reflect is the processor's (processor.Load).
func (s *Store) Load(db *pebble.DB) error { return s.LoadEach(db, nil) }

// LoadEach is Load that also hands each loaded profile's state to fn (when
// not nil), from the decoding Load does anyway to validate it: an applier
// that builds its state from every profile at start-up (the segment index's
// traits) saves decoding each profile a second time. fn must not retain st
// or call back into the store.
func (s *Store) LoadEach(db *pebble.DB, fn func(id string, st *State)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	fresh := NewStore()
	s.slab, s.ids, s.idOverflow, s.byIdent, s.overflow = fresh.slab, fresh.ids, fresh.idOverflow, fresh.byIdent, fresh.overflow
	s.redirect, s.dirty, s.gone = fresh.redirect, fresh.dirty, fresh.gone
	s.merges, s.events = nil, 0
	s.idStrs, s.recs, s.hot = arena.Bytes{}, arena.Bytes{}, fresh.hot
	s.hotHead, s.hotTail, s.hotLen = nil, nil, 0
	err := decodeAll(db, func(id string, dec *loaded, st *State) {
		p := s.slab.alloc()
		p.CreatedSeq, p.nids = dec.createdSeq, dec.nids
		s.setID(p, id)
		s.setRec(p, dec.ids, dec.enc)
		pid := s.pid(p)
		if fn != nil {
			fn(pid, st)
		}
		s.indexID(p)
		for _, id := range dec.ids.identities() {
			s.setOwner(id, p)
		}
	})
	if err != nil {
		return err
	}
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte(store.PrefixRedirect), UpperBound: store.UpperBound(store.PrefixRedirect)})
	if err != nil {
		return err
	}
	var strs arena.Strings // redirects are never removed
	for it.First(); it.Valid(); it.Next() {
		s.redirect[strs.String(it.Key()[len(store.PrefixRedirect):])] = strs.String(it.Value())
	}
	return it.Close()
}

const profileVersion = 1

// encodeProfile appends p's stored record (the caller flushed p, so its
// encoded state is current).
func (s *Store) encodeProfile(dst []byte, p *Profile) []byte {
	ids, enc := s.recOf(p)
	return append(s.appendHeader(dst, p, ids), enc...)
}

// appendHeader appends the part of p's stored record before its state; ids
// are p's (idsOf).
func (s *Store) appendHeader(dst []byte, p *Profile, ids idSet) []byte {
	dst = append(dst, profileVersion)
	dst = binary.AppendUvarint(dst, p.CreatedSeq)
	dst = binary.AppendUvarint(dst, uint64(p.nids))
	ids.each(func(code byte, val string) bool {
		kind := kindByCode[code]
		dst = binary.AppendUvarint(dst, uint64(len(kind)))
		dst = append(dst, kind...)
		dst = binary.AppendUvarint(dst, uint64(len(val)))
		dst = append(dst, val...)
		return true
	})
	return dst
}

var errCorruptProfile = errors.New("corrupt profile record")

// loaded is a decoded profile record. ids and enc may view the record.
type loaded struct {
	createdSeq uint64
	ids        idSet
	nids       int32
	enc        []byte
}

// decodeProfile decodes and validates a profile record.
func decodeProfile(b []byte) (*loaded, *State, error) {
	if len(b) == 0 || b[0] != profileVersion {
		return nil, nil, errCorruptProfile
	}
	b = b[1:]
	p := &loaded{}
	var n int
	if p.createdSeq, n = binary.Uvarint(b); n <= 0 {
		return nil, nil, errCorruptProfile
	}
	b = b[n:]
	cnt, n := binary.Uvarint(b)
	if n <= 0 || cnt > uint64(len(b)) {
		return nil, nil, errCorruptProfile
	}
	b = b[n:]
	for range cnt {
		var kind, val string
		var ok bool
		if kind, b, ok = readStr(b); !ok {
			return nil, nil, errCorruptProfile
		}
		if val, b, ok = readStr(b); !ok {
			return nil, nil, errCorruptProfile
		}
		if _, known := kindCode(event.Kind(kind)); !known {
			return nil, nil, errCorruptProfile
		}
		if ids, added := p.ids.insert(event.Identifier{Kind: event.Kind(kind), Value: val}); added {
			p.ids, p.nids = ids, p.nids+1
		}
	}
	// Decode once to validate, then keep only the encoding.
	st := new(State)
	if err := st.UnmarshalBinary(b); err != nil {
		return nil, nil, err
	}
	p.enc = b
	return p, st, nil
}

func readStr(b []byte) (string, []byte, bool) {
	l, n := binary.Uvarint(b)
	if n <= 0 || uint64(len(b)-n) < l {
		return "", nil, false
	}
	return string(b[n : n+int(l)]), b[n+int(l):], true
}

// plainASCII reports whether json.Marshal writes s's bytes unchanged: ASCII
// without control characters, quotes, backslashes or the HTML-escaped <>&.
func plainASCII(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// containsFoldASCII reports whether needle occurs in hay, ignoring ASCII case.
func containsFoldASCII(hay []byte, needle string) bool {
	n := len(needle)
	first := lowerASCII(needle[0])
	for i := 0; i+n <= len(hay); i++ {
		if lowerASCII(hay[i]) != first {
			continue
		}
		j := 1
		for j < n && lowerASCII(hay[i+j]) == lowerASCII(needle[j]) {
			j++
		}
		if j == n {
			return true
		}
	}
	return false
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// LockWaited reports how often writers of the profile store (the processor, an
// admin write) found its lock held, and how long they waited in all.
func (s *Store) LockWaited() (uint64, time.Duration) { return s.mu.Waited() }
