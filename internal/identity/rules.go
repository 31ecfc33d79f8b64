// Package identity owns the rules of identity resolution: which identifier
// kinds link events to one person, how many of each a profile may hold, and
// how far a source's claims are believed. The profile store applies them in
// log order, so a replay makes the same decisions.
//
// The rules, as a user sees them:
//
//   - Explicit links: an alias merges the profile of its previousId into the
//     profile of its userId, also when both hold a userId (a customer who
//     changed their id). An identify with a userId and an anonymousId links
//     the device to the user.
//   - Implicit links: an identifier an event carries (anonymousId, email,
//     phone) that already belongs to another profile merges the two, unless
//     that would put two userIds in one profile without an alias (a shared
//     browser, a mistyped email): then nothing merges, and the conflict is
//     counted.
//   - Limits: a profile holds at most Limits[kind] identifiers of a kind
//     through implicit links (userId 1: more only through alias) and at most
//     MaxIdentities in all; an identifier past a limit is not linked, and a
//     merge past MaxIdentities does not happen. Both are counted.
//   - Trust: from a client source (a browser or app, whose write key is
//     public), email and phone are not identifiers at all: they can neither
//     pull an existing profile onto the sender's device nor be attached to a
//     profile for a later server event to pull. And an alias from a client
//     source may merge an anonymous profile into a user, never two users.
package identity

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"tailor/internal/event"
)

// Rules configure identity resolution. The zero value is not valid; start
// from Defaults.
type Rules struct {
	// Link lists the identifier kinds that link events to profiles, in
	// addition to user_id and anonymous_id, which always do (they file the
	// timeline). Default: email, phone.
	Link []event.Kind
	// Limits is the most identifiers of each kind a profile takes through
	// implicit links. Default: user_id 1, anonymous_id 100, email 5, phone 5.
	Limits map[event.Kind]int
	// MaxIdentities bounds all identifiers of one profile, aliases and
	// merges included. Default 500.
	MaxIdentities int
}

// Defaults are the rules Tailor runs with unless configured otherwise.
func Defaults() Rules {
	return Rules{
		Link: []event.Kind{event.KindEmail, event.KindPhone},
		Limits: map[event.Kind]int{
			event.KindUserID:      1,
			event.KindAnonymousID: 100,
			event.KindEmail:       5,
			event.KindPhone:       5,
		},
		MaxIdentities: 500,
	}
}

var kinds = []event.Kind{event.KindUserID, event.KindAnonymousID, event.KindEmail, event.KindPhone}

// Validate reports mistakes in words a newcomer understands.
func (r *Rules) Validate() error {
	var errs []error
	for _, k := range r.Link {
		if !slices.Contains(kinds, k) {
			errs = append(errs, fmt.Errorf("identity link kind %q is unknown; use email or phone", k))
		}
	}
	for _, k := range kinds {
		n, ok := r.Limits[k]
		if !ok || n < 1 {
			errs = append(errs, fmt.Errorf("identity limit (--identity-limits) for %s must be at least 1, got %d", k, n))
		}
	}
	for k := range r.Limits {
		if !slices.Contains(kinds, k) {
			errs = append(errs, fmt.Errorf("identity limit for unknown kind %q; kinds are user_id, anonymous_id, email, phone", k))
		}
	}
	if r.MaxIdentities < 2 {
		errs = append(errs, fmt.Errorf("--max-identities (identifiers per profile) must be at least 2, got %d", r.MaxIdentities))
	}
	return errors.Join(errs...)
}

// Links reports whether identifiers of kind k, from a source of trust t,
// link events to profiles.
func (r *Rules) Links(k event.Kind, t event.Trust) bool {
	switch k {
	case event.KindUserID, event.KindAnonymousID:
		return true
	}
	return t == event.TrustServer && slices.Contains(r.Link, k)
}

// Limit is the most identifiers of kind k a profile takes through implicit
// links.
func (r *Rules) Limit(k event.Kind) int { return r.Limits[k] }

// ParseLimits reads "user_id=1,anonymous_id=100,email=5" into r.Limits,
// keeping the kinds it does not name.
func (r *Rules) ParseLimits(s string) error {
	lim := make(map[event.Kind]int, len(kinds))
	for k, v := range r.Limits {
		lim[k] = v
	}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if !ok || err != nil {
			return fmt.Errorf("identity limit %q: want kind=number, e.g. email=5", part)
		}
		lim[event.Kind(strings.TrimSpace(k))] = n
	}
	r.Limits = lim
	return nil
}

// ParseLink reads "email,phone" (or "" or "none" for neither) into r.Link.
func (r *Rules) ParseLink(s string) error {
	r.Link = nil
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" || part == "none" {
			continue
		}
		k := event.Kind(part)
		if k != event.KindEmail && k != event.KindPhone {
			return fmt.Errorf("identity link kind %q: use email and/or phone (user_id and anonymous_id always link)", part)
		}
		r.Link = append(r.Link, k)
	}
	return nil
}
