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

	"tailor/internal/catalog"
	"tailor/internal/consent"
	"tailor/internal/coupon"
	"tailor/internal/event"
	"tailor/internal/message"
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
	s.Consent = consent.New(s.db, serverProfiles{s: s, traitsOnly: true}, consent.Options{DoubleOptIn: s.cfg.DoubleOptIn})
	if err := s.Consent.Load(); err != nil {
		return err
	}
	s.Proc.Register(s.Consent)
	return nil
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
	return nil
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
	if sp.traitsOnly {
		return p, true
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
		if snap, ok := sp.s.Store.Lookup(k); ok {
			return snap, true
		}
	}
	return profile.Snapshot{}, false
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
