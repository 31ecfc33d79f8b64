package event

import (
	"errors"
	"strings"
)

// Kind names a namespace of identifiers. Identifiers of different kinds never
// collide: the userId "42" and the anonymousId "42" are different people.
type Kind string

// Identifier kinds that link events to one person.
const (
	KindUserID      Kind = "user_id"
	KindAnonymousID Kind = "anonymous_id"
	KindEmail       Kind = "email"
	KindPhone       Kind = "phone"
)

// Identifier is one (kind, value) pair naming a person.
type Identifier struct {
	Kind  Kind   `json:"type"`
	Value string `json:"value"`
}

// Key is the identifier's canonical byte form "kind:value", used as a map and
// store key.
func (id Identifier) Key() string { return string(id.Kind) + ":" + id.Value }

func (id Identifier) String() string { return id.Key() }

// ParseIdentifierKey is the inverse of Identifier.Key.
func ParseIdentifierKey(k string) (Identifier, error) {
	kind, v, ok := strings.Cut(k, ":")
	if !ok || v == "" {
		return Identifier{}, errors.New("identifier must look like kind:value")
	}
	switch Kind(kind) {
	case KindUserID, KindAnonymousID, KindEmail, KindPhone:
		return Identifier{Kind: Kind(kind), Value: v}, nil
	}
	return Identifier{}, errors.New("unknown identifier kind " + kind)
}

// NormalizeIdentifier normalizes a value of kind k the way events are
// normalized (emails lower-cased, phones reduced to digits), so look-ups match.
func NormalizeIdentifier(k Kind, v string) string {
	switch k {
	case KindEmail:
		return normEmail(v)
	case KindPhone:
		return normPhone(v)
	}
	return v
}

// Identifiers lists every identifier the event proves belongs to its person:
// userId, anonymousId, email, phone, and for alias the previousId. The first
// element is PrimaryID. Order is deterministic.
func (e *Event) Identifiers() []Identifier { return e.AppendIdentifiers(nil) }

// AppendIdentifiers appends Identifiers to ids: with room for five (every
// kind), a caller's array on the stack saves an allocation an event.
func (e *Event) AppendIdentifiers(ids []Identifier) []Identifier {
	if e.UserID != "" {
		ids = append(ids, Identifier{KindUserID, e.UserID})
	}
	if e.AnonymousID != "" {
		ids = append(ids, Identifier{KindAnonymousID, e.AnonymousID})
	}
	if e.Type == Alias && e.PreviousID != "" {
		ids = append(ids, PreviousIdentifier(e.PreviousID))
	}
	if em := e.Email(); em != "" {
		ids = append(ids, Identifier{KindEmail, em})
	}
	if ph := e.Phone(); ph != "" {
		ids = append(ids, Identifier{KindPhone, ph})
	}
	return ids
}

// PreviousIdentifier decides what an alias' previousId names when nothing
// else tells. The spec lets it be an anonymousId or an earlier userId;
// deciding by the id's shape (UUIDs are what SDKs generate as anonymous ids)
// keeps the decision a function of the event alone, so replay in any order
// links the same identifiers.
func PreviousIdentifier(prev string) Identifier {
	if looksLikeUUID(prev) {
		return Identifier{KindAnonymousID, prev}
	}
	return Identifier{KindUserID, prev}
}

func looksLikeUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}
