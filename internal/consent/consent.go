// Package consent keeps, per profile, channel and purpose, whether the
// person agreed to hear from us, with the source and time of that choice,
// and the channels suppressed after a hard bounce or a complaint. Its state
// is derived from the log only (Consent Changed, Unsubscribed, Message
// Bounced, Message Complained events and the *_opt_in traits), so a replay
// rebuilds it exactly; every API or page that changes consent records an
// event and lets the applier act.
package consent

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/event"
	"tailor/internal/profile"
	"tailor/internal/store"
	"tailor/internal/track"
)

// Channels and purposes consent is kept for.
var (
	Channels = []string{"email", "sms", "push", "webpush", "inapp", "webhook", "mail"}
	Purposes = []string{"marketing", "transactional"}
)

// Event names this package reads (and, through its handlers, records).
const (
	EventChanged      = "Consent Changed"
	EventUnsubscribed = "Unsubscribed"
	EventBounced      = "Message Bounced"
	EventComplained   = "Message Complained"
)

// Sources of a consent change.
const (
	SourceTrait       = "trait"
	SourceAPI         = "api"
	SourcePreferences = "preference_center"
	SourceUnsubscribe = "unsubscribe"
	SourceDoubleOptIn = "double_opt_in"
	SourceBounce      = "hard_bounce"
	SourceComplaint   = "complaint"
)

// optInTraits are read at a profile's first sight of them.
var optInTraits = map[string]string{"email_opt_in": "email", "sms_opt_in": "sms", "push_opt_in": "push"}

// Entry is one channel's consent for one purpose.
type Entry struct {
	Granted bool      `json:"granted"`
	Source  string    `json:"source"`
	At      time.Time `json:"at"`
}

// Suppression stops every send on a channel (also transactional): the
// address bounced hard or the person complained.
type Suppression struct {
	Reason  string    `json:"reason"`
	Address string    `json:"address,omitempty"` // the address it is about; a new address lifts it
	At      time.Time `json:"at"`
}

// State is one profile's consent.
type State struct {
	Consents   map[string]Entry       `json:"consents,omitempty"`   // "<channel>/<purpose>"
	Suppressed map[string]Suppression `json:"suppressed,omitempty"` // by channel
	Pending    map[string]time.Time   `json:"pending,omitempty"`    // double opt-in asked, by channel
}

func (s *State) clone() State {
	c := State{Consents: map[string]Entry{}, Suppressed: map[string]Suppression{}, Pending: map[string]time.Time{}}
	for k, v := range s.Consents {
		c.Consents[k] = v
	}
	for k, v := range s.Suppressed {
		c.Suppressed[k] = v
	}
	for k, v := range s.Pending {
		c.Pending[k] = v
	}
	return c
}

func (s *State) set(channel, purpose string, e Entry) {
	if s.Consents == nil {
		s.Consents = map[string]Entry{}
	}
	s.Consents[channel+"/"+purpose] = e
}

// Options configure consent.
type Options struct {
	// DoubleOptIn: an email marketing grant waits for the confirmation
	// link (source double_opt_in) before it counts.
	DoubleOptIn bool
	// OptOut lists the channels where marketing is allowed until the
	// person says no (no record means yes). Default: inapp and webhook.
	OptOut []string
}

// Consent is the applier and the Checker.
type Consent struct {
	db       *pebble.DB
	profiles track.Profiles
	opts     Options

	mu     sync.RWMutex // state is written on the processor goroutine, read by senders and the API
	states map[string]*State
	dirty  map[string]bool // profile ids changed (or removed) since the last checkpoint
}

// New returns the consent state stored in db. profiles is read by Allowed
// for the addresses.
func New(db *pebble.DB, profiles track.Profiles, opts Options) *Consent {
	if opts.OptOut == nil {
		opts.OptOut = []string{"inapp", "webhook"}
	}
	return &Consent{db: db, profiles: profiles, opts: opts, states: map[string]*State{}, dirty: map[string]bool{}}
}

// Options returns the options in effect.
func (c *Consent) Options() Options { return c.opts }

// Load reads the checkpointed state.
func (c *Consent) Load() error {
	it, err := c.db.NewIter(&pebble.IterOptions{LowerBound: []byte(store.PrefixConsent), UpperBound: store.UpperBound(store.PrefixConsent)})
	if err != nil {
		return fmt.Errorf("load consent: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for it.First(); it.Valid(); it.Next() {
		var s State
		if err := json.Unmarshal(it.Value(), &s); err != nil {
			it.Close()
			return fmt.Errorf("load consent of %s: %w", it.Key(), err)
		}
		c.states[strings.TrimPrefix(string(it.Key()), store.PrefixConsent)] = &s
	}
	return it.Close()
}

// Name implements processor.Applier.
func (c *Consent) Name() string { return "consent" }

// Apply implements processor.Applier.
func (c *Consent) Apply(e *event.Event, r profile.Resolution) {
	if r.Profile == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range r.Merged {
		c.merge(r.Profile, m)
	}
	at := e.Timestamp
	if e.Type == event.Identify || len(e.Traits) > 0 {
		c.traits(r.Profile, e.Traits, at)
	}
	if e.Type != event.Track {
		return
	}
	p := e.Properties
	switch e.Event {
	case EventChanged:
		ch, _ := p["channel"].(string)
		if !slices.Contains(Channels, ch) {
			return
		}
		purpose, _ := p["purpose"].(string)
		if purpose == "" {
			purpose = "marketing"
		}
		if !slices.Contains(Purposes, purpose) {
			return
		}
		granted, ok := p["granted"].(bool)
		if !ok {
			return
		}
		src, _ := p["source"].(string)
		if src == "" {
			src = SourceAPI
		}
		s := c.state(r.Profile)
		if granted && c.opts.DoubleOptIn && ch == "email" && purpose == "marketing" && src != SourceDoubleOptIn {
			if cur, ok := s.Consents[ch+"/"+purpose]; !ok || !cur.Granted {
				if s.Pending == nil {
					s.Pending = map[string]time.Time{}
				}
				s.Pending[ch] = at
				return
			}
		}
		delete(s.Pending, ch)
		s.set(ch, purpose, Entry{Granted: granted, Source: src, At: at})
	case EventUnsubscribed:
		ch, _ := p["channel"].(string)
		s := c.state(r.Profile)
		for _, x := range Channels {
			if ch == "" || ch == x {
				delete(s.Pending, x)
				s.set(x, "marketing", Entry{Granted: false, Source: SourceUnsubscribe, At: at})
			}
		}
	case EventBounced, EventComplained:
		if e.Event == EventBounced {
			if hard, _ := p["hard"].(bool); !hard {
				return
			}
		}
		ch, _ := p["channel"].(string)
		if ch == "" {
			ch = "email"
		}
		if !slices.Contains(Channels, ch) {
			return
		}
		reason := SourceBounce
		s := c.state(r.Profile)
		if e.Event == EventComplained {
			reason = SourceComplaint
			s.set(ch, "marketing", Entry{Granted: false, Source: SourceComplaint, At: at})
		}
		if s.Suppressed == nil {
			s.Suppressed = map[string]Suppression{}
		}
		to, _ := p["to"].(string)
		s.Suppressed[ch] = Suppression{Reason: reason, Address: strings.ToLower(strings.TrimSpace(to)), At: at}
	}
}

// traits takes the *_opt_in traits of a channel that has no record yet.
func (c *Consent) traits(id string, traits map[string]any, at time.Time) {
	for t, ch := range optInTraits {
		v, ok := traits[t].(bool)
		if !ok {
			continue
		}
		if s := c.states[id]; s != nil {
			if _, seen := s.Consents[ch+"/marketing"]; seen {
				continue
			}
		}
		c.state(id).set(ch, "marketing", Entry{Granted: v, Source: SourceTrait, At: at})
	}
}

func (c *Consent) state(id string) *State {
	c.dirty[id] = true
	s := c.states[id]
	if s == nil {
		s = &State{}
		c.states[id] = s
	}
	return s
}

// merge folds from's state into into's: per key the later decision wins.
func (c *Consent) merge(into, from string) {
	f := c.states[from]
	if f == nil {
		return
	}
	delete(c.states, from)
	c.dirty[from] = true
	s := c.state(into)
	for k, e := range f.Consents {
		if cur, ok := s.Consents[k]; !ok || e.At.After(cur.At) {
			if s.Consents == nil {
				s.Consents = map[string]Entry{}
			}
			s.Consents[k] = e
		}
	}
	for k, x := range f.Suppressed {
		if cur, ok := s.Suppressed[k]; !ok || x.At.After(cur.At) {
			if s.Suppressed == nil {
				s.Suppressed = map[string]Suppression{}
			}
			s.Suppressed[k] = x
		}
	}
	for k, t := range f.Pending {
		if s.Pending == nil {
			s.Pending = map[string]time.Time{}
		}
		s.Pending[k] = t
	}
}

// Checkpoint implements processor.Applier.
func (c *Consent) Checkpoint(b *pebble.Batch) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id := range c.dirty {
		k := store.Key(store.PrefixConsent, id)
		s := c.states[id]
		if s == nil {
			if err := b.Delete(k, nil); err != nil {
				return err
			}
			continue
		}
		v, err := json.Marshal(s)
		if err != nil {
			return fmt.Errorf("encode consent of %s: %w", id, err)
		}
		if err := b.Set(k, v, nil); err != nil {
			return err
		}
	}
	clear(c.dirty)
	return nil
}

// Get returns a copy of profile id's state.
func (c *Consent) Get(id string) State {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if s := c.states[id]; s != nil {
		return s.clone()
	}
	return (&State{}).clone()
}

// Address returns the address p is reached at on channel; inapp and
// webhook need none beyond the profile itself.
func Address(p track.Profile, channel string) string {
	str := func(k ...string) string {
		for _, n := range k {
			switch v := p.Traits[n].(type) {
			case string:
				if strings.TrimSpace(v) != "" {
					return strings.TrimSpace(v)
				}
			case nil:
			default:
				b, _ := json.Marshal(v)
				return string(b)
			}
		}
		return ""
	}
	switch channel {
	case "email":
		return strings.ToLower(str("email"))
	case "sms":
		return str("phone")
	case "push":
		return str("push_token", "device_token")
	case "webpush":
		return str("webpush_subscription")
	case "mail":
		return str("address", "postal_address")
	case "inapp", "webhook":
		return p.ID
	}
	return ""
}

// Allowed implements the Checker of the delivery contract: whether profile
// may get a message of purpose on channel now, and why not.
func (c *Consent) Allowed(profileID, channel, purpose string) (bool, string) {
	if purpose == "" {
		purpose = "marketing"
	}
	if !slices.Contains(Channels, channel) {
		return false, "unknown_channel"
	}
	p, ok := c.profiles.Profile(profileID)
	if !ok {
		return false, "no_profile"
	}
	addr := Address(p, channel)
	if addr == "" {
		return false, "no_address"
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	s := c.states[p.ID]
	if s == nil {
		s = &State{}
	}
	if x, ok := s.Suppressed[channel]; ok && (x.Address == "" || x.Address == strings.ToLower(addr)) {
		return false, "suppressed_" + x.Reason
	}
	if e, ok := s.Consents[channel+"/"+purpose]; ok {
		if e.Granted {
			return true, ""
		}
		return false, "opted_out"
	}
	if purpose == "transactional" {
		return true, ""
	}
	if _, ok := s.Pending[channel]; ok {
		return false, "pending_confirmation"
	}
	if slices.Contains(c.opts.OptOut, channel) {
		return true, ""
	}
	return false, "no_consent"
}

// Checker is what delivery asks before every send.
type Checker interface {
	Allowed(profile, channel, purpose string) (ok bool, reason string)
}

var _ Checker = (*Consent)(nil)
