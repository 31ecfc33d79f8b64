package track

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Profile is what messages and consent read of one profile: the server fills
// it from the profile store and the segment engine's ProfileView.
type Profile struct {
	ID          string
	UserID      string // the identifiers events about it are recorded under
	AnonymousID string
	Traits      map[string]any
	// Computed holds the computed fields and model scores (rfm, lifecycle …)
	// and "segments", the ids of the saved segments it is in.
	Computed map[string]any
}

// Profiles finds a profile by profile id (merged-away ids follow their
// merge) or identifier ("email:a@b.c", a userId).
type Profiles interface {
	Profile(key string) (Profile, bool)
}

// Recorder appends internal events durably (ingest.Handler.AppendInternal).
type Recorder func(ctx context.Context, msgs [][]byte) error

// Event returns the Segment-spec track message name with props on p, with
// a messageId derived from id so that recording the same fact twice (a
// retried request) appends it once.
func Event(p Profile, name, id string, at time.Time, props map[string]any) ([]byte, error) {
	m := map[string]any{
		"type": "track", "event": name,
		"messageId":  "tl-" + hashID(name+"\x00"+id),
		"timestamp":  at.UTC().Format(time.RFC3339Nano),
		"properties": props,
	}
	switch {
	case p.UserID != "":
		m["userId"] = p.UserID
	case p.AnonymousID != "":
		m["anonymousId"] = p.AnonymousID
	default:
		return nil, fmt.Errorf("profile %s has no userId or anonymousId to record %q under", p.ID, name)
	}
	return json.Marshal(m)
}

// Identify returns an identify message setting traits on p.
func Identify(p Profile, id string, at time.Time, traits map[string]any) ([]byte, error) {
	m := map[string]any{
		"type": "identify", "messageId": "tl-" + hashID("identify\x00"+id),
		"timestamp": at.UTC().Format(time.RFC3339Nano), "traits": traits,
	}
	switch {
	case p.UserID != "":
		m["userId"] = p.UserID
	case p.AnonymousID != "":
		m["anonymousId"] = p.AnonymousID
	default:
		return nil, fmt.Errorf("profile %s has no userId or anonymousId to identify", p.ID)
	}
	return json.Marshal(m)
}

func hashID(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:16])
}
