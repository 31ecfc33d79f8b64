package server

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"tailor/internal/deliver"
	"tailor/internal/event"
	"tailor/internal/outbox"
	"tailor/internal/profile"
)

// delivery is the outbox, the delivery engine and its HTTP routes.
type delivery struct {
	Outbox   *outbox.Store
	Engine   *deliver.Engine
	Inbox    *deliver.Inbox
	basic    *deliver.BasicRenderer
	renderer *swapRenderer
	// templates says whether a template exists for a channel (the
	// template engine's store); POST /api/send refuses others with 404.
	templates func(id, channel string) bool
	close     func()
}

// swapRenderer lets the template engine be set after Open (the wiring of
// package message sets it); until then the built-in BasicRenderer renders.
type swapRenderer struct{ r deliver.Renderer }

func (s *swapRenderer) Render(ctx context.Context, req deliver.RenderRequest) (deliver.Rendered, error) {
	return s.r.Render(ctx, req)
}

// Enqueuer is the outbox as engines enqueue into it (durable on return):
// it wakes the delivery workers once they run.
func (s *Server) Enqueuer() outbox.Enqueuer { return wakingEnqueuer{s} }

type wakingEnqueuer struct{ s *Server }

func (w wakingEnqueuer) Enqueue(ctx context.Context, msgs []outbox.Message) error {
	if err := w.s.Delivery.Outbox.Enqueue(ctx, msgs); err != nil {
		return err
	}
	if e := w.s.Delivery.Engine; e != nil {
		e.Wake()
	}
	return nil
}

// SetRenderer replaces the renderer deliveries use; exists says whether a
// template exists for a channel, so that POST /api/send refuses an unknown
// one with 404 (nil: not checked). Call it before Start.
func (s *Server) SetRenderer(r deliver.Renderer, exists func(id, channel string) bool) {
	s.Delivery.renderer.r, s.Delivery.templates = r, exists
}

// SetConsent sets the consent checker every send passes; call it before
// Start. Without one every send is allowed.
func (s *Server) SetConsent(c deliver.Consent) { s.deliverPolicy.Consent = c }

func (s *Server) openDelivery() error {
	d := &s.Delivery
	cfg := s.cfg.Delivery
	ads, inbox, closeFn, err := cfg.Adapters(s.db, s.cfg.DataDir)
	if err != nil {
		return err
	}
	d.Inbox, d.close = inbox, closeFn
	secret := sha256.Sum256([]byte("tailor links\x00" + s.AdminToken))
	d.basic = &deliver.BasicRenderer{Traits: s.profileTraits, Secret: secret[:], Templates: deliver.BasicTemplates, Record: s.recordDelivery}
	d.renderer = &swapRenderer{r: d.basic}
	s.deliverPolicy = &deliver.Policy{DB: s.db, HoldoutPercent: cfg.HoldoutPercent, Caps: cfg.Caps, Quiet: cfg.Quiet, Timezone: s.profileTimezone}
	d.Engine = deliver.New(deliver.Options{
		Queue: d.Outbox, Policy: s.deliverPolicy, Pacer: &deliver.Pacer{DB: s.db, Rates: cfg.Rates, Warmup: cfg.Warmup},
		Renderer: d.renderer, Adapters: ads, Record: s.recordDelivery, RecordSyncsQueue: true, BaseURL: cfg.BaseURL, Workers: cfg.Workers,
		Metrics: deliver.NewMetrics(s.Registry, func() float64 { return float64(d.Outbox.Depth()) }, cfg.Rates),
	})
	return nil
}

// startDelivery runs the workers until bg ends; url is the listen URL,
// the links' base unless --base-url says otherwise.
func (s *Server) startDelivery(bg context.Context, url string) {
	if s.cfg.Delivery.BaseURL == "" {
		s.Delivery.Engine.SetBaseURL(url)
	}
	s.bgWG.Go(func() {
		s.Delivery.Engine.Run(bg)
		s.Delivery.close()
	})
}

// deliveryRoutes adds the send API, message history, in-app inbox and the
// built-in renderer's links to mux.
func (s *Server) deliveryRoutes(mux *http.ServeMux, guard func(http.Handler) http.Handler) {
	h := &deliver.HTTP{Engine: s.Delivery.Engine, Outbox: s.Delivery.Outbox, Inbox: s.Delivery.Inbox, Lookup: s.lookupProfile,
		WriteKey: func(k string) bool { _, _, ok := s.Sources.Lookup(k); return ok }}
	h.Template = s.Delivery.templates
	h.Experiments = s.Experiments
	if h.Template == nil && s.Delivery.renderer.r == deliver.Renderer(s.Delivery.basic) {
		h.Template = s.Delivery.basic.Has
	}
	admin := guard(h.Admin())
	for _, p := range []string{"POST /api/send", "GET /api/messages", "GET /api/messages/{key}", "GET /api/profiles/{identifier}/inbox"} {
		mux.Handle(p, admin)
	}
	pub := h.Public()
	mux.Handle("GET /v1/inbox", pub)
	mux.Handle("POST /v1/inbox/{id}/read", pub)
	mux.Handle("/t/fc/", s.Delivery.basic.Handler())
	mux.Handle("/t/fu/", s.Delivery.basic.Handler())
}

// profileTimezone is a profile's timezone trait, for quiet hours.
func (s *Server) profileTimezone(id string) string {
	var tz string
	s.Store.View(id, func(st *profile.State, _ []event.Identifier) { tz, _ = st.TraitString("timezone") })
	return tz
}

// profileTraits is a profile's traits, with its email and phone from its
// identifiers when the traits lack them.
func (s *Server) profileTraits(id string) (map[string]any, bool) {
	m := map[string]any{}
	ok := s.Store.View(id, func(st *profile.State, ids []event.Identifier) {
		for k, v := range st.Traits() {
			var x any
			if json.Unmarshal([]byte(v), &x) == nil {
				m[k] = x
			}
		}
		for _, i := range ids {
			if _, has := m[string(i.Kind)]; !has && (i.Kind == event.KindEmail || i.Kind == event.KindPhone) {
				m[string(i.Kind)] = i.Value
			}
		}
	})
	return m, ok
}

// recordDelivery appends delivery events as track events of their
// profiles (userId, else anonymousId), de-duplicated by their message ids.
func (s *Server) recordDelivery(ctx context.Context, evs []deliver.Event) error {
	msgs := make([][]byte, 0, len(evs))
	for _, e := range evs {
		who := s.primaryIdentifier(e.Profile)
		if who.Value == "" {
			continue // merged away meanwhile
		}
		m := map[string]any{"type": "track", "event": e.Name, "messageId": e.MessageID,
			"timestamp": e.At.UTC().Format(time.RFC3339Nano), "properties": e.Properties}
		if who.Kind == event.KindUserID {
			m["userId"] = who.Value
		} else {
			m["anonymousId"] = who.Value
		}
		b, err := json.Marshal(m)
		if err != nil {
			return fmt.Errorf("encode %s: %w", e.Name, err)
		}
		msgs = append(msgs, b)
	}
	if len(msgs) == 0 {
		return nil
	}
	return s.Ingest.AppendInternal(ctx, msgs)
}

// primaryIdentifier is the identifier events of profile id are recorded
// under: its userId, else an anonymousId.
func (s *Server) primaryIdentifier(id string) event.Identifier {
	var who event.Identifier
	s.Store.View(id, func(_ *profile.State, ids []event.Identifier) {
		for _, i := range ids {
			if i.Kind == event.KindUserID {
				who = i
				return
			}
			if i.Kind == event.KindAnonymousID && who.Value == "" {
				who = i
			}
		}
	})
	return who
}
