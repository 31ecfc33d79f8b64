// Package event owns the Event type every part of Tailor speaks, and the decoding,
// validation and normalization of Segment-spec messages into it.
//
// Invariant: an Event is a pure function of (stored message bytes, receive
// metadata). Replaying the log therefore rebuilds exactly the events that were
// applied live, which is what makes derived state reproducible.
package event

import (
	"strings"
	"time"
)

// Type is the Segment call type of a message.
type Type string

// The Segment spec call types.
const (
	Identify Type = "identify"
	Track    Type = "track"
	Page     Type = "page"
	Screen   Type = "screen"
	Group    Type = "group"
	Alias    Type = "alias"
)

// ParseType maps a type name (also analytics.js' one-letter path form) to a Type.
func ParseType(s string) (Type, bool) {
	switch strings.ToLower(s) {
	case "identify", "i":
		return Identify, true
	case "track", "t":
		return Track, true
	case "page", "p":
		return Page, true
	case "screen", "s":
		return Screen, true
	case "group", "g":
		return Group, true
	case "alias", "a":
		return Alias, true
	}
	return "", false
}

// Trust is how far a source's claims about identity are believed.
//
// A server source (a backend with a secret key) is trusted: an email or phone
// it sends may link the event to the profile that holds that identifier. A
// client source (a browser or app, whose write key is public) is not: anyone
// can send anything with its key, so its email or phone never pulls an
// existing profile onto the sender, and never overwrites an email or phone a
// server source set.
type Trust uint8

// The trust levels. The zero value is TrustServer because every message
// logged before trust levels existed came from a source that was trusted.
const (
	TrustServer Trust = iota
	TrustClient
)

// String is the level's name in configuration and the API.
func (t Trust) String() string {
	if t == TrustClient {
		return "client"
	}
	return "server"
}

// ParseTrust is the inverse of String; "" is TrustServer.
func ParseTrust(s string) (Trust, bool) {
	switch s {
	case "", "server":
		return TrustServer, true
	case "client":
		return TrustClient, true
	}
	return 0, false
}

// Event is one validated, normalized message.
//
// Properties and Traits hold decoded JSON (map[string]any, []any, string,
// float64, bool, nil); Context holds the same, decoded on demand (see
// Context). They are shared, read-only after decoding.
type Event struct {
	Type        Type
	MessageID   string
	SourceID    string
	UserID      string
	AnonymousID string
	PreviousID  string // alias only
	GroupID     string // group only
	Event       string // track only: the event name
	Name        string // page/screen name
	Properties  map[string]any
	Traits      map[string]any
	Context     Context

	// Timestamp is when the event happened, corrected for client clock skew
	// (see Decode), in UTC. Time windows use it, never ReceivedAt.
	Timestamp time.Time
	// ReceivedAt is when the server accepted the message, in UTC.
	ReceivedAt time.Time

	// Trust is how far the event's source is trusted (see Trust); recorded
	// in the log with the message, so replay makes the same decisions.
	Trust Trust

	// Partition and Seq are the event's place in the log; zero until appended.
	Partition int
	Seq       uint64
}

// Email returns the event's email identifier: traits.email, else
// context.traits.email, lower-cased and trimmed; "" when absent or not a string.
func (e *Event) Email() string {
	return normEmail(firstString("email", e.Traits, e.Context.traits))
}

// Phone returns the event's phone identifier (digits and a leading +), or "".
func (e *Event) Phone() string {
	return normPhone(firstString("phone", e.Traits, e.Context.traits))
}

// PrimaryID is the identifier the event is filed under in timelines and routed
// by to a partition: the userId when present, else the anonymousId.
func (e *Event) PrimaryID() Identifier {
	if e.UserID != "" {
		return Identifier{Kind: KindUserID, Value: e.UserID}
	}
	return Identifier{Kind: KindAnonymousID, Value: e.AnonymousID}
}

func firstString(key string, maps ...map[string]any) string {
	for _, m := range maps {
		if s, ok := m[key].(string); ok && strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}

func normEmail(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if !strings.Contains(s, "@") || len(s) > maxIDBytes || !validText(s) {
		return ""
	}
	return s
}

func normPhone(s string) string {
	var b strings.Builder
	for i, r := range strings.TrimSpace(s) {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
			b.WriteRune(r)
		}
	}
	if b.Len() < 5 {
		return ""
	}
	return b.String()
}
