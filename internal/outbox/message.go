// Package outbox owns the durable queue of messages between the engines that
// decide to send (journeys, the transactional send API) and the delivery
// workers that send: each message once by its idempotency key, its state
// changes written durably, claimed by due time.
//
// What must stay true:
//   - A key is enqueued at most once, ever: oi/<key> is written with the
//     message and never deleted, so an engine replaying the log after a
//     crash enqueues nothing twice.
//   - Every message that is not final (queued or sending) has exactly one
//     ob/<due><key> entry; final states (sent, failed, suppressed, dropped)
//     have none. The queue therefore lives on disk, ordered by due time, and
//     memory holds only the claims in flight, so a million queued messages
//     cost disk, not heap.
//   - A message is marked sending, durably, before its adapter is called.
//     After a crash a message found in sending is sent again with the same
//     key: at least once to the adapter, deduplicated by key at the provider.
package outbox

import (
	"context"
	"fmt"
	"time"
)

// Message is one send decided by an engine.
type Message struct {
	Key             string         `json:"key"`                        // idempotency key, e.g. "j:<journey>:<version>:<entry id>:<step>"; Enqueue ignores a key it has seen
	Profile         string         `json:"profile"`                    // profile id
	Channel         string         `json:"channel"`                    // "email", "sms", "push", "webpush", "inapp", "webhook", "mail"
	Purpose         string         `json:"purpose"`                    // "marketing" (default) or "transactional" (skips caps/quiet hours, not consent suppression)
	Template        string         `json:"template"`                   // template id; TemplateVersion 0 = the version current at enqueue
	TemplateVersion int            `json:"template_version,omitempty"` //
	Data            map[string]any `json:"data,omitempty"`             // trigger event properties etc., visible to the template as `event` / `data`
	Journey         string         `json:"journey,omitempty"`          // empty for transactional API sends
	JourneyVersion  int            `json:"journey_version,omitempty"`  //
	Step            string         `json:"step,omitempty"`             //
	NotBefore       time.Time      `json:"not_before,omitzero"`        // earliest send (zero: now)
	OnPolicy        string         `json:"on_policy"`                  // what a frequency cap or quiet hour does: "reschedule" (default) or "drop"
}

// Enqueuer takes messages into the outbox; they are durable when it returns
// nil. Keys seen before are ignored.
type Enqueuer interface {
	Enqueue(ctx context.Context, msgs []Message) error
}

// Purposes and policies.
const (
	PurposeMarketing     = "marketing"
	PurposeTransactional = "transactional"
	PolicyReschedule     = "reschedule"
	PolicyDrop           = "drop"
)

// Channels lists the channels a message may name.
var Channels = []string{"email", "sms", "push", "webpush", "inapp", "webhook", "mail"}

// maxKey bounds a key's length: keys are part of store keys and headers.
const maxKey = 512

// normalize fills defaults and checks m, naming the field at fault.
func (m *Message) normalize() error {
	switch {
	case m.Key == "":
		return fmt.Errorf("message key is empty")
	case len(m.Key) > maxKey:
		return fmt.Errorf("message key is %d bytes, over %d", len(m.Key), maxKey)
	case m.Profile == "":
		return fmt.Errorf("message %q: profile is empty", m.Key)
	case m.Template == "":
		return fmt.Errorf("message %q: template is empty", m.Key)
	}
	known := false
	for _, c := range Channels {
		known = known || c == m.Channel
	}
	if !known {
		return fmt.Errorf("message %q: channel %q is not one of %v", m.Key, m.Channel, Channels)
	}
	switch m.Purpose {
	case "":
		m.Purpose = PurposeMarketing
	case PurposeMarketing, PurposeTransactional:
	default:
		return fmt.Errorf("message %q: purpose %q is not marketing or transactional", m.Key, m.Purpose)
	}
	switch m.OnPolicy {
	case "":
		m.OnPolicy = PolicyReschedule
	case PolicyReschedule, PolicyDrop:
	default:
		return fmt.Errorf("message %q: on_policy %q is not reschedule or drop", m.Key, m.OnPolicy)
	}
	return nil
}

// State is where a message is in its life.
type State string

// The states: queued → sending → sent | failed | suppressed | dropped; a
// queued message may also go straight to a final state (a policy decision
// before sending), and a sending one back to queued (a temporary failure).
const (
	Queued     State = "queued"
	Sending    State = "sending"
	Sent       State = "sent"
	Failed     State = "failed"
	Suppressed State = "suppressed"
	Dropped    State = "dropped"
)

// Final reports whether s is a state a message never leaves.
func (s State) Final() bool { return s != Queued && s != Sending }

// Record is a message with its delivery state.
type Record struct {
	Message
	State    State     `json:"state"`
	Due      time.Time `json:"due"`      // when it is (or was last) due
	Attempts int       `json:"attempts"` // times it was marked sending
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
	Reason   string    `json:"reason,omitempty"` // why it was deferred, suppressed, dropped or failed
	// Resends counts the times it was found in sending after a crash and
	// sent again.
	Resends int `json:"resends,omitempty"`
	// Recovered is set on a claim of a message that was left in sending by
	// a crash: the worker is about to send it again. Not stored.
	Recovered bool `json:"-"`
}
