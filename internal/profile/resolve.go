package profile

import (
	"slices"

	"tailor/internal/event"
)

// IdentityStats counts the decisions identity resolution made against a
// link, since start (see package identity for the rules).
type IdentityStats struct {
	// Conflicts: events whose identifiers named profiles of different
	// userIds; nothing merged.
	Conflicts uint64
	// Limited: identifiers not linked because the profile held the most of
	// their kind it may (by kind: user_id, anonymous_id, email, phone).
	Limited map[event.Kind]uint64
	// Untrusted: emails and phones from client sources, not used as
	// identifiers.
	Untrusted uint64
	// MaxIdentities: merges and links not made because the profile would
	// hold more than the rules' MaxIdentities.
	MaxIdentities uint64
	// AliasMerges: profiles merged by an alias.
	AliasMerges uint64
	// AliasRefused: aliases from client sources that would have merged two
	// users.
	AliasRefused uint64
}

// IdentityStats returns a copy of the counters.
func (s *Store) IdentityStats() IdentityStats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := s.stats
	st.Limited = make(map[event.Kind]uint64, len(s.stats.Limited))
	for k, v := range s.stats.Limited {
		st.Limited[k] = v
	}
	return st
}

// Conflicts counts events whose identifiers named different userIds.
func (s *Store) Conflicts() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.stats.Conflicts
}

// resolve returns the profile event e belongs to, creating, merging and
// linking as the identity rules allow. Caller holds mu for writing.
//
// Invariant: the returned profile holds e's primary identifier (its userId,
// else its anonymousId), under which the event is filed in the timeline, so
// a profile's timeline always holds the events applied to it.
func (s *Store) resolve(e *event.Event) *Profile {
	primary := e.PrimaryID()
	if e.Type == event.Alias && e.PreviousID != "" {
		s.alias(e)
	}
	var idBuf [5]event.Identifier
	ids := e.AppendIdentifiers(idBuf[:0])
	if e.Type == event.Alias {
		// previousId was handled by alias; as an implicit link it would
		// bypass the alias rules.
		ids = slices.DeleteFunc(ids, func(id event.Identifier) bool {
			return id.Value == e.PreviousID && id != primary && (id.Kind == event.KindUserID || id.Kind == event.KindAnonymousID)
		})
	}
	ids = slices.DeleteFunc(ids, func(id event.Identifier) bool {
		if s.rules.Links(id.Kind, e.Trust) {
			return false
		}
		if e.Trust == event.TrustClient {
			s.stats.Untrusted++
		}
		return true
	})

	var ownBuf [4]*Profile
	owners := ownBuf[:0]
	for _, id := range ids {
		if o := s.owner(id); o != nil && !slices.Contains(owners, o) {
			owners = append(owners, o)
		}
	}
	var p *Profile
	switch {
	case len(owners) == 0:
	case s.conflictingUsers(owners, e.UserID):
		s.stats.Conflicts++
		p = s.owner(primary)
	default:
		p = owners[0]
		for _, o := range owners[1:] {
			if o.CreatedSeq < p.CreatedSeq || o.CreatedSeq == p.CreatedSeq && s.pid(o) < s.pid(p) {
				p = o
			}
		}
		for _, o := range owners {
			if o == p {
				continue
			}
			if int(p.nids+o.nids) > s.rules.MaxIdentities {
				s.stats.MaxIdentities++
				continue
			}
			s.merge(p, o, e, "implicit")
		}
	}

	// The event goes where its primary identifier is: a merge refused above
	// can leave it with another profile, and a profile at its limit for the
	// primary's kind cannot take it, so it gets a profile of its own.
	switch o := s.owner(primary); {
	case o != nil:
		p = o
	case p == nil || !s.canLink(p, primary):
		p = s.create(primary, e.Seq)
	}
	for _, id := range ids {
		if s.owner(id) != nil {
			continue
		}
		if s.canLink(p, id) {
			s.link(p, id)
		}
	}
	return p
}

// alias applies the explicit link of an alias: the profile of previousId
// merges into the profile of userId, which is created (or the previousId's
// profile adopts the userId) when it does not exist yet.
func (s *Store) alias(e *event.Event) {
	user := event.Identifier{Kind: event.KindUserID, Value: e.UserID}
	prev := s.previous(e.PreviousID)
	if prev == user {
		return // an alias of an id to itself links nothing
	}
	to, from := s.owner(user), s.owner(prev)
	switch {
	case to != nil && from == to:
		// Already one person (also the second alias of a cycle).
	case to != nil && from != nil:
		if e.Trust == event.TrustClient && s.hasUser(to) && s.hasUser(from) {
			s.stats.AliasRefused++
			return
		}
		if int(to.nids+from.nids) > s.rules.MaxIdentities {
			s.stats.MaxIdentities++
			return
		}
		s.merge(to, from, e, "alias")
		s.stats.AliasMerges++
	case to != nil:
		s.linkExplicit(to, prev)
	case from != nil:
		s.linkExplicit(from, user)
	default:
		p := s.create(user, e.Seq)
		s.linkExplicit(p, prev)
	}
}

// previous decides what an alias' previousId names: the userId or the
// anonymousId of that value that a profile already holds, else (for an id
// not seen yet) what its shape says (see event.Event.Identifiers). The
// decision depends on the profiles as of this point in the log, which a
// replay reproduces.
func (s *Store) previous(v string) event.Identifier {
	for _, k := range [...]event.Kind{event.KindUserID, event.KindAnonymousID} {
		if id := (event.Identifier{Kind: k, Value: v}); s.owner(id) != nil {
			return id
		}
	}
	return event.PreviousIdentifier(v)
}

// linkExplicit links id to p on an alias: past the kind's limit (a second
// userId is the point of an alias), not past MaxIdentities.
func (s *Store) linkExplicit(p *Profile, id event.Identifier) {
	if int(p.nids) >= s.rules.MaxIdentities {
		s.stats.MaxIdentities++
		return
	}
	s.link(p, id)
}

// canLink reports whether p may take id through an implicit link, counting
// a refusal.
func (s *Store) canLink(p *Profile, id event.Identifier) bool {
	if int(p.nids) >= s.rules.MaxIdentities {
		s.stats.MaxIdentities++
		return false
	}
	code, _ := kindCode(id.Kind)
	if s.idsOf(p).countKind(code) >= s.rules.Limit(id.Kind) {
		if s.stats.Limited == nil {
			s.stats.Limited = make(map[event.Kind]uint64)
		}
		s.stats.Limited[id.Kind]++
		return false
	}
	return true
}

func (s *Store) link(p *Profile, id event.Identifier) {
	s.addIdentities(p, id)
	s.setOwner(id, p)
}

// conflictingUsers reports whether linking the profiles (and the event's
// userId) would join different users: more than one of them holds userIds,
// or one holds userIds that do not include the event's.
func (s *Store) conflictingUsers(owners []*Profile, userID string) bool {
	withUsers := 0
	for _, o := range owners {
		if !s.hasUser(o) {
			continue
		}
		withUsers++
		if userID != "" && !s.has(o, event.Identifier{Kind: event.KindUserID, Value: userID}) {
			return true
		}
	}
	return withUsers > 1
}

func (s *Store) hasUser(p *Profile) bool { return s.idsOf(p).countKind(codeUserID) > 0 }
