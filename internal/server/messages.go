package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"tailor/internal/apierr"
	"tailor/internal/catalog"
	"tailor/internal/consent"
	"tailor/internal/coupon"
	"tailor/internal/deliver"
	"tailor/internal/event"
	"tailor/internal/eventlog"
	"tailor/internal/ingest"
	"tailor/internal/message"
	"tailor/internal/outbox"
	"tailor/internal/profile"
	"tailor/internal/segment"
	"tailor/internal/track"
	"tailor/internal/web"
)

// messaging is the message, consent and coupon part of a node.
type messaging struct {
	Consent  *consent.Consent
	Coupons  *coupon.Pools
	Messages *message.Engine // the message.Renderer deliver renders with
	Signer   *track.Signer
}

// DefaultTopics are the preference center's topics when none are configured.
var DefaultTopics = []string{"new_arrivals", "sales", "recommendations", "newsletter"}

// openConsent registers the consent applier; call it before the replay.
func (s *Server) openConsent() error {
	// Every send asks consent: it reads traits only, not the segment view.
	// Its answers feed the segment index's reachability conditions.
	s.Consent = consent.New(s.db, serverProfiles{s: s, traitsOnly: true}, consent.Options{DoubleOptIn: s.cfg.DoubleOptIn,
		Reach: s.Segments.SetReachable, Outbox: s.Enqueuer(), ConfirmTemplate: message.ConfirmTemplateID})
	s.Segments.SetReachableByDefault(s.Consent.Options().OptOut)
	if err := s.Consent.Load(); err != nil {
		return err
	}
	s.Proc.Register(s.Consent)
	return nil
}

// feedReachability hands the segment index consent's answers as the
// checkpoint left them; call it after the segment index loads, before it
// begins (so that nothing is evaluated until Begin).
func (s *Server) feedReachability() {
	s.Consent.EachReachable(func(id string, channels []string) { s.Segments.SetReachable(id, channels, 0) })
}

// openMessages opens templates, coupons and the link signer; call it once
// the catalog is open.
func (s *Server) openMessages() error {
	sec, err := message.Secret(s.db)
	if err != nil {
		return err
	}
	if s.Signer, err = track.NewSigner(sec); err != nil {
		return err
	}
	s.Coupons = coupon.New(s.db)
	var products message.Products
	if s.Catalog != nil {
		products = s.Catalog
	}
	liq := message.NewLiquid(products, s.Coupons)
	s.Messages = message.NewEngine(liq, message.NewStore(s.db, liq), serverProfiles{s: s}, products, s.Coupons, s.Signer)
	if s.cfg.DoubleOptIn {
		// The confirmations consent sends need their template.
		if _, err := s.Messages.Templates.Save(message.ConfirmTemplate(), true); err != nil && !errors.Is(err, message.ErrExists) {
			return fmt.Errorf("double opt-in template: %w", err)
		}
	}
	return nil
}

// startConsent sends double opt-in confirmations until bg ends.
func (s *Server) startConsent(bg context.Context) {
	s.bgWG.Go(func() { s.Consent.Run(bg) })
}

func (s *Server) recordInternal(ctx context.Context, msgs [][]byte) error {
	return s.Ingest.AppendInternal(ctx, msgs)
}

// messagingAPI serves /api/templates…, /api/coupons/… and the consent
// routes behind the admin guard.
func (s *Server) messagingAPI() http.Handler {
	mh := &message.HTTP{Engine: s.Messages, Record: s.recordInternal}
	ch := s.consentHTTP()
	mux := http.NewServeMux()
	mux.Handle("/api/templates", mh.API())
	mux.Handle("/api/templates/", mh.API())
	mux.Handle("/api/coupons/", s.Coupons.Handler())
	mux.Handle("/api/profiles/{identifier}/consent", ch.API())
	return mux
}

func (s *Server) consentHTTP() *consent.HTTP {
	topics := s.cfg.Topics
	if topics == nil {
		topics = DefaultTopics
	}
	return &consent.HTTP{Consent: s.Consent, Profiles: serverProfiles{s: s, traitsOnly: true}, Signer: s.Signer, Record: s.recordInternal, Topics: topics, CSP: web.CSP}
}

// messagingPublic serves the links in messages: tracking, preference
// center, unsubscribe, confirmation. No login: the signed token is the key.
func (s *Server) messagingPublic(mux *http.ServeMux) {
	mh := &message.HTTP{Engine: s.Messages, Record: s.recordInternal}
	pages := s.consentHTTP().Pages()
	mux.Handle("/t/o/", mh.Tracking())
	mux.Handle("/t/c/", mh.Tracking())
	mux.Handle("/t/d/", pages)
	mux.Handle("/p/", pages)
	mux.Handle("/u/", pages)
}

// serverProfiles reads profiles for templates and consent: traits from the
// profile store, computed fields, model scores and segments from the
// segment engine.
type serverProfiles struct {
	s          *Server
	traitsOnly bool // no computed fields or segments
}

func (sp serverProfiles) Profile(key string) (track.Profile, bool) {
	if sp.traitsOnly {
		b, ok := sp.brief(key)
		if !ok {
			return track.Profile{}, false
		}
		return track.Profile{ID: b.ID, UserID: b.UserID, AnonymousID: b.AnonymousID, Traits: b.Traits, Computed: map[string]any{}}, true
	}
	snap, ok := sp.lookup(key)
	if !ok {
		return track.Profile{}, false
	}
	p := track.Profile{ID: snap.ID, Traits: snap.Traits, Computed: map[string]any{}}
	for _, id := range snap.Identities {
		switch id.Kind {
		case event.KindUserID:
			if p.UserID == "" {
				p.UserID = id.Value
			}
		case event.KindAnonymousID:
			if p.AnonymousID == "" {
				p.AnonymousID = id.Value
			}
		}
	}
	if b, err := json.Marshal(snap.Computed); err == nil {
		_ = json.Unmarshal(b, &p.Computed)
	}
	if v, err := sp.s.Segments.ProfileView(snap.ID); err == nil {
		for k, x := range v.Computed {
			p.Computed[k] = x
		}
		ids := make([]any, 0, len(v.Segments))
		for _, sg := range v.Segments {
			ids = append(ids, sg.ID)
		}
		p.Computed["segments"] = ids
	} else if !errors.Is(err, segment.ErrNoProfile) {
		return track.Profile{}, false
	}
	return p, true
}

// lookup resolves a profile id, "kind:value", a userId, anonymousId or
// email, in that order (as the admin API's profile routes do).
func (sp serverProfiles) lookup(key string) (profile.Snapshot, bool) {
	return lookupFirst(key, sp.s.Store.Lookup)
}

// brief is lookup for a profile.Brief.
func (sp serverProfiles) brief(key string) (profile.Brief, bool) {
	return lookupFirst(key, sp.s.Store.LookupBrief)
}

// lookupFirst tries the keys key may stand for, in lookup's order, with
// find.
func lookupFirst[T any](key string, find func(string) (T, bool)) (T, bool) {
	keys := []string{key}
	if !strings.HasPrefix(key, "p_") {
		if id, err := event.ParseIdentifierKey(key); err == nil {
			keys = []string{string(id.Kind) + ":" + event.NormalizeIdentifier(id.Kind, id.Value)}
		} else {
			keys = []string{"user_id:" + key, "anonymous_id:" + key}
			if e := event.NormalizeIdentifier(event.KindEmail, key); e != "" {
				keys = append(keys, "email:"+e)
			}
		}
	}
	for _, k := range keys {
		if v, ok := find(k); ok {
			return v, true
		}
	}
	var zero T
	return zero, false
}

// SaveDemoMessages saves the demo store's templates (those not saved yet)
// and fills its coupon pools with deterministic codes; it returns how many
// templates it saved.
func (s *Server) SaveDemoMessages() (int, error) {
	n := 0
	for _, t := range message.DemoTemplates() {
		if _, err := s.Messages.Templates.Save(t, true); err != nil {
			if errors.Is(err, message.ErrExists) {
				continue
			}
			return n, fmt.Errorf("demo template %s: %w", t.ID, err)
		}
		n++
	}
	for pool, count := range message.DemoCouponPools {
		codes := make([]string, count)
		for i := range codes {
			h := sha256.Sum256([]byte(pool + "\x00" + strconv.Itoa(i)))
			codes[i] = strings.ToUpper(pool) + "-" + strings.ToUpper(hex.EncodeToString(h[:4]))
		}
		if _, err := s.Coupons.Add(pool, codes); err != nil {
			return n, fmt.Errorf("demo coupon pool %s: %w", pool, err)
		}
	}
	return n, nil
}

var (
	_ message.Renderer = (*message.Engine)(nil)
	_ consent.Checker  = (*consent.Consent)(nil)
	_ message.Products = (*catalog.Store)(nil)
)

// historyScan bounds the timeline events GET /api/profiles/{id}/messages
// reads for the tracking of the messages it lists. It reads back from the
// newest event until the oldest listed message's creation, so a profile
// with many events after its messages costs more reads, at most this many;
// past them a message shows no tracking.
const historyScan = 20000

// historyPage is how many timeline entries one read takes (a variable so
// that a test can page through a short timeline).
var historyPage = 1000

// MessageHistory is one message of a profile as the profile page shows it:
// the outbox record (state, the policy's reason) with what tracking
// recorded about it.
type MessageHistory struct {
	*outbox.Record
	Subject      string     `json:"subject,omitempty"` // as sent (from the Message Sent event)
	SentAt       *time.Time `json:"sent_at,omitempty"`
	DeliveredAt  *time.Time `json:"delivered_at,omitempty"`
	OpenedAt     *time.Time `json:"opened_at,omitempty"` // the first open
	Opens        int        `json:"opens"`
	ClickedAt    *time.Time `json:"clicked_at,omitempty"` // the first click
	Clicks       int        `json:"clicks"`
	BouncedAt    *time.Time `json:"bounced_at,omitempty"`
	Unsubscribed *time.Time `json:"unsubscribed_at,omitempty"`
}

// messageHistoryRoutes adds GET /api/profiles/{identifier}/messages.
func (s *Server) messageHistoryRoutes(mux *http.ServeMux, guard func(http.Handler) http.Handler) {
	mux.Handle("GET /api/profiles/{identifier}/messages", guard(http.HandlerFunc(s.profileMessages)))
}

func (s *Server) profileMessages(w http.ResponseWriter, r *http.Request) {
	ident := r.PathValue("identifier")
	limit := deliver.DefaultListLimit
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > deliver.MaxListLimit {
			apierr.WriteError(w, r, apierr.Plain, apierr.Errorf(apierr.BadRequest, "limit must be an integer from 1 to %d, got %q", deliver.MaxListLimit, v))
			return
		}
		limit = n
	}
	snap, ok := serverProfiles{s: s}.lookup(ident)
	if !ok {
		apierr.WriteError(w, r, apierr.Plain, apierr.Errorf(apierr.ProfileNotFound, "no profile %q (give a profile id, userId, email or kind:value)", ident))
		return
	}
	recs, err := s.Delivery.Outbox.History(snap.ID, limit)
	if err != nil {
		apierr.WriteError(w, r, apierr.Plain, err)
		return
	}
	out := make([]*MessageHistory, len(recs))
	byKey := make(map[string]*MessageHistory, len(recs))
	for i, rec := range recs {
		out[i] = &MessageHistory{Record: rec}
		byKey[rec.Key] = out[i]
	}
	if len(recs) > 0 {
		if err := s.trackingOf(snap.ID, byKey, recs[len(recs)-1].Created); err != nil {
			apierr.WriteError(w, r, apierr.Plain, err)
			return
		}
	}
	apierr.WriteJSON(w, http.StatusOK, map[string]any{"profile": snap.ID, "messages": out})
}

// trackingOf fills the messages of byKey with the delivery and tracking
// events on profile id's timeline since since (the oldest message's
// creation), newest first, reading at most historyScan events.
func (s *Server) trackingOf(id string, byKey map[string]*MessageHistory, since time.Time) error {
	_, keys, _, ok := s.Store.IdentityKeys(id, eventlog.MaxTimelineIdentifiers, event.KindUserID, event.KindAnonymousID)
	if !ok {
		return nil
	}
	first := func(p **time.Time, t time.Time) {
		if *p == nil || t.Before(**p) {
			*p = &t
		}
	}
	// A message's events come after its creation; a minute of slack for
	// clocks.
	stop := since.Add(-time.Minute).UnixNano()
	cursor := eventlog.Cursor{}
	for read := 0; read < historyScan; {
		ptrs, err := s.Log.Timeline(keys, cursor, min(historyPage, historyScan-read))
		if err != nil {
			return fmt.Errorf("timeline of %s: %w", id, err)
		}
		read += len(ptrs)
		if len(ptrs) == 0 {
			return nil
		}
		cursor = ptrs[len(ptrs)-1].Cursor()
		for _, p := range ptrs {
			if p.TsNanos < stop {
				return nil
			}
			if err := s.trackEvent(p, byKey, first); err != nil {
				return err
			}
		}
	}
	return nil
}

// trackEvent folds the timeline entry p into its message of byKey, if it
// is one of Tailor's delivery or tracking events.
func (s *Server) trackEvent(p eventlog.Pointer, byKey map[string]*MessageHistory, first func(**time.Time, time.Time)) error {
	v, err := s.Log.Get(p.Partition, p.Seq)
	if err != nil {
		return fmt.Errorf("timeline entry %d: %w", p.Seq, err)
	}
	e, err := event.DecodeStored(v)
	// Only Tailor's own events: a client could send a "Message Opened".
	if err != nil || e.Type != event.Track || e.SourceID != ingest.InternalSource ||
		!strings.HasPrefix(e.Event, "Message ") && e.Event != consent.EventUnsubscribed {
		return nil
	}
	key, _ := e.Properties["message_key"].(string)
	m := byKey[key]
	if m == nil {
		return nil
	}
	switch e.Event {
	case deliver.EventSent:
		first(&m.SentAt, e.Timestamp)
		if sub, ok := e.Properties["subject"].(string); ok {
			m.Subject = sub
		}
	case deliver.EventDelivered:
		first(&m.DeliveredAt, e.Timestamp)
	case deliver.EventBounced:
		first(&m.BouncedAt, e.Timestamp)
	case message.EventOpened:
		m.Opens++
		first(&m.OpenedAt, e.Timestamp)
	case message.EventClicked:
		m.Clicks++
		first(&m.ClickedAt, e.Timestamp)
	case consent.EventUnsubscribed:
		first(&m.Unsubscribed, e.Timestamp)
	}
	return nil
}
