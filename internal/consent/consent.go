// Package consent keeps, per profile, channel and purpose, whether the
// person agreed to hear from us, with the source and time of that choice,
// and the channels suppressed after a hard bounce or a complaint. Its state
// is derived from the log only (Consent Changed, Unsubscribed, Message
// Bounced, Message Complained events and the *_opt_in traits), so a replay
// rebuilds it exactly; every API or page that changes consent records an
// event and lets the applier act.
package consent

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/event"
	"tailor/internal/outbox"
	"tailor/internal/profile"
	"tailor/internal/rwyield"
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
	// Reach is what Allowed answered for marketing on each channel when
	// the state or the profile's addresses last changed: bit i for
	// Channels[i], and reachKnown once computed. It feeds the segment
	// index's reach column at start without a profile lookup each.
	Reach uint8 `json:"reach,omitempty"`
}

// reachKnown marks State.Reach as computed.
const reachKnown uint8 = 0x80

func init() {
	if len(Channels) > 7 {
		panic("consent: State.Reach holds 7 channels")
	}
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
	// Reach, when set, is told on the processor goroutine, after the event
	// of log seq cause is applied, the channels a profile with consent
	// state may now get marketing on (Allowed's answers), whenever its
	// state or one of its addresses changed; a profile without state is
	// reachable on OptOut alone. The server feeds the segment index's
	// reachability conditions with it.
	Reach func(profile string, channels []string, cause uint64)
	// Outbox, with DoubleOptIn, takes the confirmation message a new email
	// grant sends: template ConfirmTemplate, transactional, keyed by the
	// profile and the grant's time, so that a replay of the grant enqueues
	// nothing twice. Nil: nothing is sent (the confirm link is still in the
	// API's answer).
	Outbox outbox.Enqueuer
	// ConfirmTemplate is the email template of the confirmation; it must
	// use {{ confirm_url }}. Default DefaultConfirmTemplate.
	ConfirmTemplate string
	// ConfirmAgainAfter is how long a pending confirmation waits before a
	// new grant sends the message again. Default a day.
	ConfirmAgainAfter time.Duration
}

// DefaultConfirmTemplate is the confirmation template's id when none is
// configured (package message ships one: message.ConfirmTemplate).
const DefaultConfirmTemplate = "confirm-subscription"

// addressTraits are the traits Address reads: a change of one may change
// what Allowed answers.
var addressTraits = []string{"email", "phone", "push_token", "device_token", "webpush_subscription", "address", "postal_address"}

// Consent is the applier and the Checker.
type Consent struct {
	db       *pebble.DB
	profiles track.Profiles
	opts     Options

	mu    rwyield.RWMutex   // state is written on the processor goroutine, read by senders and the API
	facts factTable         // compact: a profile costs ~100 bytes, not a State's three maps
	work  map[string]*State // the profiles one Apply changes, packed back at its end
	// touched says this Apply changed the state of its profile.
	touched bool
	// confirms are the confirmation messages derived and not yet in the
	// outbox (under mu). confMu is held from taking them to their enqueue
	// being durable, so that a checkpoint cannot pass a batch a flush has
	// taken but not yet written.
	confirms []outbox.Message
	confMu   sync.Mutex
	wake     chan struct{}
	dirty    map[string]bool   // profile ids changed (or removed) since the last checkpoint
	intern   map[string]string // sources, so that a million "trait" strings are one
}

// rec is one fact of a profile's consent, packed.
type rec struct {
	at      int64  // unix nanos
	text    string // consent: source; suppression: reason "\x00" address
	ch, pur uint8  // index in Channels, Purposes
	kind    uint8
	granted bool
	reach   uint8 // State.Reach, kept in a profile's first rec (in its padding)
}

const (
	kindConsent uint8 = iota
	kindSuppressed
	kindPending
)

func (c *Consent) internStr(s string) string {
	if v, ok := c.intern[s]; ok {
		return v
	}
	if len(c.intern) < 1024 {
		s = strings.Clone(s) // s may view a record of the fact table
		c.intern[s] = s
	}
	return s
}

// internBytes is internStr for bytes: it copies b only when b is not
// interned yet.
func (c *Consent) internBytes(b []byte) string {
	if v, ok := c.intern[string(b)]; ok { // no allocation: the lookup only
		return v
	}
	return c.internStr(unsafe.String(unsafe.SliceData(b), len(b)))
}

func (c *Consent) pack(s *State) []rec {
	var out []rec
	defer func() {
		if len(out) > 0 {
			out[0].reach = s.Reach
		}
	}()
	for i, ch := range Channels {
		for j, pu := range Purposes {
			if e, ok := s.Consents[ch+"/"+pu]; ok {
				out = append(out, rec{at: nanos(e.At), text: c.internStr(e.Source), ch: uint8(i), pur: uint8(j), kind: kindConsent, granted: e.Granted})
			}
		}
		if x, ok := s.Suppressed[ch]; ok {
			out = append(out, rec{at: nanos(x.At), text: c.internStr(x.Reason) + "\x00" + x.Address, ch: uint8(i), kind: kindSuppressed})
		}
		if t, ok := s.Pending[ch]; ok {
			out = append(out, rec{at: nanos(t), ch: uint8(i), kind: kindPending})
		}
	}
	return slices.Clip(out)
}

// nanos keeps the zero time zero (its UnixNano is out of range).
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func unpack(rs []rec) *State {
	s := &State{Consents: map[string]Entry{}, Suppressed: map[string]Suppression{}, Pending: map[string]time.Time{}}
	if len(rs) > 0 {
		s.Reach = rs[0].reach
	}
	for _, r := range rs {
		ch, at := Channels[r.ch], fromNanos(r.at)
		switch r.kind {
		case kindConsent:
			s.Consents[ch+"/"+Purposes[r.pur]] = Entry{Granted: r.granted, Source: r.text, At: at}
		case kindSuppressed:
			reason, addr, _ := strings.Cut(r.text, "\x00")
			s.Suppressed[ch] = Suppression{Reason: reason, Address: addr, At: at}
		case kindPending:
			s.Pending[ch] = at
		}
	}
	return s
}

func find(rs []rec, kind uint8, ch string, pur string) (rec, bool) {
	ci, pi := slices.Index(Channels, ch), slices.Index(Purposes, pur)
	for _, r := range rs {
		if r.kind == kind && int(r.ch) == ci && (kind != kindConsent || int(r.pur) == pi) {
			return r, true
		}
	}
	return rec{}, false
}

// New returns the consent state stored in db. profiles is read by Allowed
// for the addresses.
func New(db *pebble.DB, profiles track.Profiles, opts Options) *Consent {
	if opts.OptOut == nil {
		opts.OptOut = []string{"inapp", "webhook"}
	}
	if opts.ConfirmTemplate == "" {
		opts.ConfirmTemplate = DefaultConfirmTemplate
	}
	if opts.ConfirmAgainAfter <= 0 {
		opts.ConfirmAgainAfter = 24 * time.Hour
	}
	return &Consent{db: db, profiles: profiles, opts: opts, work: map[string]*State{},
		dirty: map[string]bool{}, intern: map[string]string{}, wake: make(chan struct{}, 1)}
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
	var fromJSON []string
	var rs []rec
	for it.First(); it.Valid(); it.Next() {
		rs, err = c.decodeRecord(rs[:0], it.Value())
		if err != nil {
			it.Close()
			return fmt.Errorf("load consent of %s: %w", it.Key(), err)
		}
		key := it.Key()[len(store.PrefixConsent):]
		c.facts.set(unsafe.String(unsafe.SliceData(key), len(key)), rs) // set copies it
		if it.Value()[0] == '{' {
			fromJSON = append(fromJSON, string(key))
		}
	}
	if err := it.Close(); err != nil {
		return err
	}
	if err := c.rewriteBinary(fromJSON); err != nil {
		return fmt.Errorf("load consent: rewrite records: %w", err)
	}
	// State written before Reach was kept: compute it now, once.
	if c.opts.Reach != nil && c.profiles != nil {
		c.facts.each(func(id string, rs []rec) bool {
			if rs[0].reach&reachKnown == 0 {
				c.refreshReach(id)
			}
			return true
		})
	}
	return nil
}

// rewriteBinary writes the states of ids, loaded from JSON records, in the
// binary format, once: else each would be decoded from JSON at every start
// until its next change. Either format says the same, so a crash halfway
// loses nothing. Caller holds mu.
func (c *Consent) rewriteBinary(ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	start := time.Now()
	var buf []byte
	err := store.SetEach(c.db, len(ids), func(i int) ([]byte, []byte) {
		buf = appendRecord(buf[:0], c.facts.get(ids[i]))
		return store.Key(store.PrefixConsent, ids[i]), buf
	})
	if err != nil {
		return err
	}
	slog.Info("consent: rewrote records in the binary format", "profiles", len(ids), "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// EachReachable calls fn with every profile that has consent state and
// the channels it may get marketing on (State.Reach), for the segment
// index at start. Profiles without state are reachable on OptOut.
func (c *Consent) EachReachable(fn func(profile string, channels []string)) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	c.facts.each(func(id string, rs []rec) bool {
		if m := rs[0].reach; m&reachKnown != 0 {
			fn(id, reachChannels(m))
		}
		return true
	})
}

func reachChannels(m uint8) []string {
	var out []string
	for i, ch := range Channels {
		if m&(1<<i) != 0 {
			out = append(out, ch)
		}
	}
	return out
}

// refreshReach recomputes profile id's Reach and reports whether it
// changed. Caller holds mu for writing.
func (c *Consent) refreshReach(id string) (uint8, bool) {
	var buf [8]rec
	rs := c.facts.appendFacts(buf[:0], id)
	if len(rs) == 0 {
		return 0, false
	}
	m := reachKnown
	if p, ok := c.profiles.Profile(id); ok {
		for i, ch := range Channels {
			if ok, _ := c.decide(p, rs, ch, "marketing"); ok {
				m |= 1 << i
			}
		}
	}
	if rs[0].reach == m {
		return m, false
	}
	rs[0].reach = m
	c.facts.set(id, rs)
	c.dirty[id] = true
	return m, true
}

// Name implements processor.Applier.
func (c *Consent) Name() string { return "consent" }

// Apply implements processor.Applier.
func (c *Consent) Apply(e *event.Event, r profile.Resolution) {
	if r.Profile == "" {
		return
	}
	c.mu.Lock()
	c.touched = false
	c.apply(e, r)
	c.flush()
	var m uint8
	changed := false
	if c.opts.Reach != nil && c.profiles != nil && (c.touched || len(r.Merged) > 0 || hasAddress(e)) {
		m, changed = c.refreshReach(r.Profile)
	}
	c.mu.Unlock()
	if changed {
		c.opts.Reach(r.Profile, reachChannels(m), e.Seq)
	}
}

func hasAddress(e *event.Event) bool {
	for _, k := range addressTraits {
		if _, ok := e.Traits[k]; ok {
			return true
		}
	}
	return false
}

// apply folds e into the working states. Caller holds mu and flushes.
func (c *Consent) apply(e *event.Event, r profile.Resolution) {
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
				if was, ok := s.Pending[ch]; !ok || at.Sub(was) >= c.opts.ConfirmAgainAfter {
					s.Pending[ch] = at
					c.askConfirmation(r.Profile, ch, at)
				}
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

// askConfirmation queues the double opt-in message of a grant on channel
// at at. Caller holds mu.
func (c *Consent) askConfirmation(id, channel string, at time.Time) {
	if c.opts.Outbox == nil {
		return
	}
	c.confirms = append(c.confirms, outbox.Message{
		Key:     "optin:" + id + ":" + channel + ":" + strconv.FormatInt(at.UnixNano(), 10),
		Profile: id, Channel: channel, Purpose: outbox.PurposeTransactional, Template: c.opts.ConfirmTemplate,
		Data: map[string]any{"reason": SourceDoubleOptIn, "channel": channel}})
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Flush hands the queued confirmation messages to the outbox.
func (c *Consent) Flush(ctx context.Context) error {
	c.confMu.Lock()
	defer c.confMu.Unlock()
	c.mu.Lock()
	msgs := c.confirms
	c.confirms = nil
	c.mu.Unlock()
	if len(msgs) == 0 {
		return nil
	}
	if err := c.opts.Outbox.Enqueue(ctx, msgs); err != nil {
		c.mu.Lock()
		c.confirms = append(msgs, c.confirms...)
		c.mu.Unlock()
		return fmt.Errorf("enqueue %d double opt-in confirmations: %w", len(msgs), err)
	}
	return nil
}

// Run sends the confirmation messages soon after they are derived, until
// ctx ends.
func (c *Consent) Run(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := c.Flush(context.Background()); err != nil {
				slog.Warn("consent: confirmations", "err", err)
			}
			return
		case <-c.wake:
		case <-tick.C:
		}
		if err := c.Flush(ctx); err != nil {
			slog.Warn("consent: confirmations", "err", err)
		}
	}
}

// traits takes the *_opt_in traits of a channel that has no record yet.
func (c *Consent) traits(id string, traits map[string]any, at time.Time) {
	var buf [8]rec
	for t, ch := range optInTraits {
		v, ok := traits[t].(bool)
		if !ok {
			continue
		}
		if s := c.work[id]; s != nil {
			if _, seen := s.Consents[ch+"/marketing"]; seen {
				continue
			}
		} else if _, seen := find(c.facts.appendFacts(buf[:0], id), kindConsent, ch, "marketing"); seen {
			continue
		}
		c.state(id).set(ch, "marketing", Entry{Granted: v, Source: SourceTrait, At: at})
	}
}

// state returns the working state of id for this Apply.
func (c *Consent) state(id string) *State {
	c.dirty[id] = true
	c.touched = true
	s := c.work[id]
	if s == nil {
		s = unpack(c.facts.get(id))
		c.work[id] = s
	}
	return s
}

// flush packs the states this Apply changed.
func (c *Consent) flush() {
	for id, s := range c.work {
		c.facts.set(id, c.pack(s)) // none: removed
	}
	clear(c.work)
}

// merge folds from's state into into's: per key the later decision wins.
func (c *Consent) merge(into, from string) {
	var f *State
	if w := c.work[from]; w != nil {
		f = w
	} else if rs := c.facts.get(from); rs != nil {
		f = unpack(rs)
	} else {
		return
	}
	delete(c.work, from)
	c.facts.delete(from)
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

// Checkpoint implements processor.Applier. The confirmations derived so
// far go to the outbox first: state that says a confirmation is pending
// is never durable without its message.
func (c *Consent) Checkpoint(b *pebble.Batch) error {
	if err := c.Flush(context.Background()); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var buf []byte
	for id := range c.dirty {
		k := store.Key(store.PrefixConsent, id)
		rs := c.facts.get(id)
		if rs == nil {
			if err := b.Delete(k, nil); err != nil {
				return err
			}
			continue
		}
		buf = appendRecord(buf[:0], rs) // Set copies it
		if err := b.Set(k, buf, nil); err != nil {
			return err
		}
	}
	clear(c.dirty)
	c.facts.compact()
	return nil
}

// Get returns a copy of profile id's state.
func (c *Consent) Get(id string) State {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return *unpack(c.facts.get(id))
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
	c.mu.RLock()
	defer c.mu.RUnlock()
	var buf [8]rec // a profile's facts: at most a few a channel
	return c.decide(p, c.facts.appendFacts(buf[:0], p.ID), channel, purpose)
}

// decide is Allowed over p's recs rs. Caller holds mu.
func (c *Consent) decide(p track.Profile, rs []rec, channel, purpose string) (bool, string) {
	addr := Address(p, channel)
	if addr == "" {
		return false, "no_address"
	}
	if x, ok := find(rs, kindSuppressed, channel, ""); ok {
		reason, a, _ := strings.Cut(x.text, "\x00")
		if a == "" || a == strings.ToLower(addr) {
			return false, "suppressed_" + reason
		}
	}
	if e, ok := find(rs, kindConsent, channel, purpose); ok {
		if e.granted {
			return true, ""
		}
		return false, "opted_out"
	}
	if purpose == "transactional" {
		return true, ""
	}
	if _, ok := find(rs, kindPending, channel, ""); ok {
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

// LockWaited reports how often writers of consent state (the processor, an
// admin write) found its lock held, and how long they waited in all.
func (c *Consent) LockWaited() (uint64, time.Duration) { return c.mu.Waited() }
