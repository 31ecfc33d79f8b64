package profile

import "hash/maphash"

// Profiles live in pages of a slab and are named by their ordinal in it.
//
// Why: the indexes from identifier and from profile id to profile are the
// largest maps in the process (a few entries per profile). Holding ordinals
// (uint32) keyed by 64-bit hashes, they contain no pointers, so the garbage
// collector never scans them; and the Profile structs are part of a page,
// not one heap object each. Pages never move, so a *Profile stays valid
// while the store holds it.
//
// Ownership: like the rest of the Store, the slab is changed only with mu
// held for writing. A slot freed by a merge is cleared and reused; nothing
// refers to it by then. Invariant: every entry of the two indexes points at a
// live profile holding its key, because a merge re-points each identifier of
// the merged-away profile and removes its id before its slot is freed.
//
// A Profile holds no pointers (its id and record are arena.Refs, its hot
// state is in Store.hot), so the collector does not scan the pages at all:
// with a string id, an identifier string and an encoding slice each, a
// million profiles were 3.5 M pointers for every collection to follow, a
// quarter of all in a 1 M-customer server (BenchmarkGCAfterLoad).
const pageBits = 12 // 4,096 profiles a page

type slab struct {
	pages [][]Profile
	used  uint32   // slots handed out, free ones included
	free  []uint32 // freed slots
}

func (sl *slab) at(ord uint32) *Profile {
	return &sl.pages[ord>>pageBits][ord&(1<<pageBits-1)]
}

// alloc returns a cleared slot.
func (sl *slab) alloc() *Profile {
	if n := len(sl.free); n > 0 {
		ord := sl.free[n-1]
		sl.free = sl.free[:n-1]
		return sl.at(ord)
	}
	ord := sl.used
	if int(ord>>pageBits) == len(sl.pages) {
		sl.pages = append(sl.pages, make([]Profile, 1<<pageBits))
	}
	sl.used++
	p := sl.at(ord)
	p.ord = ord
	return p
}

// release clears p's slot for reuse.
func (sl *slab) release(p *Profile) {
	ord := p.ord
	*p = Profile{ord: ord}
	sl.free = append(sl.free, ord)
}

// len is the number of live profiles.
func (sl *slab) len() int { return int(sl.used) - len(sl.free) }

// each calls fn for every live profile, in slot order, until fn returns false.
func (sl *slab) each(fn func(*Profile) bool) {
	for o := range sl.used {
		if p := sl.at(o); p.id != 0 && !fn(p) {
			return
		}
	}
}

// byID finds a live profile by id: the index is keyed by a hash of the id
// and checked against the profile, colliding ids go to idOverflow.
func (s *Store) byID(id string) *Profile {
	if o, ok := s.ids[s.idHash(id)]; ok {
		if p := s.slab.at(o); s.pid(p) == id {
			return p
		}
	}
	if len(s.idOverflow) == 0 {
		return nil
	}
	if o, ok := s.idOverflow[id]; ok {
		return s.slab.at(o)
	}
	return nil
}

func (s *Store) indexID(p *Profile) {
	pid := s.pid(p)
	h := s.idHash(pid)
	if _, taken := s.ids[h]; taken {
		s.idOverflow[pid] = p.ord
		return
	}
	s.ids[h] = p.ord
}

func (s *Store) unindexID(p *Profile) {
	pid := s.pid(p)
	if _, ok := s.idOverflow[pid]; ok {
		delete(s.idOverflow, pid)
		return
	}
	delete(s.ids, s.idHash(pid))
}

// hashID is the profile-id index's hash (in memory only, as
// hashIdentifier's).
func hashID(id string) uint64 { return maphash.String(indexSeed, id) }
