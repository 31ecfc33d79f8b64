package server

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"tailor/internal/catalog"
	"tailor/internal/event"
	"tailor/internal/journey"
	"tailor/internal/message"
	"tailor/internal/profile"
	"tailor/internal/recommend"
)

// openRecommend makes the recommendation engine and registers it behind
// the processor (processor.RegisterBehind): its models are a tenth of the
// processor's CPU under load, and nothing else reads them while applying.
// What it reads of others (an order's segments and trait values, for the
// per-group bestsellers) it reads in Prepare, in line, after the segment
// engine has updated them. It restores the engine's checkpoint in the
// background: loaded closes when that is done, after an error if it failed.
func (s *Server) openRecommend() (loaded <-chan error) {
	s.Recommend = recommend.New(recommend.Options{
		DB:         s.db,
		Catalog:    catalog.NewStore(s.db), // stateless over the same database
		Membership: s.Segments,
		Traits:     profileTraits{s.Store},

		FallbackSegments: s.cfg.RecommendSegments,
		RecordDue:        s.recordReplenishment,
	})
	s.Proc.RegisterBehind(s.Recommend)
	done := make(chan error, 1)
	go func() {
		if err := s.Recommend.Load(); err != nil {
			done <- fmt.Errorf("load recommendations: %w", err)
		}
		close(done)
	}()
	return done
}

// recordReplenishment records the replenishments due as track events of
// their profiles, through the same path as the journeys' own events.
func (s *Server) recordReplenishment(ctx context.Context, ds []recommend.Due) error {
	rs := make([]journey.Record, len(ds))
	for i, d := range ds {
		rs[i] = journey.Record{Profile: d.Profile, Type: "track", Event: recommend.EventReplenishmentDue,
			MessageID: d.MessageID(), At: d.At, Properties: d.Properties()}
	}
	return s.recordJourney(ctx, rs)
}

// wireRecommendations lets message templates use {% recommend %}; call it
// once the message engine exists.
func (s *Server) wireRecommendations() {
	if s.Messages != nil && s.Recommend != nil {
		s.Messages.Recommender = templateRecommender{s.Recommend}
	}
}

// recommendRoutes adds the admin API of recommendations to mux.
func (s *Server) recommendRoutes(mux *http.ServeMux, guard func(http.Handler) http.Handler) {
	h := guard((&recommend.HTTP{Engine: s.Recommend, Lookup: s.lookupAnyProfile}).Handler())
	for _, p := range []string{"GET /api/recommendations", "GET /api/recommendations/bundle", "GET /api/recommendations/strategies", "GET /api/recommendations/evaluation"} {
		mux.Handle(p, h)
	}
}

// lookupAnyProfile resolves what a person would type: a profile id, an
// identifier key ("email:a@b.c"), or a bare userId, anonymousId, email or
// phone (tried in that order), like the admin API's profile routes.
func (s *Server) lookupAnyProfile(ident string) (string, bool) {
	var keys []string
	switch id, err := event.ParseIdentifierKey(ident); {
	case strings.HasPrefix(ident, "p_"):
		keys = []string{ident}
	case err == nil:
		keys = []string{string(id.Kind) + ":" + event.NormalizeIdentifier(id.Kind, id.Value)}
	default:
		keys = []string{"user_id:" + ident, "anonymous_id:" + ident}
		if e := event.NormalizeIdentifier(event.KindEmail, ident); e != "" {
			keys = append(keys, "email:"+e)
		}
		if p := event.NormalizeIdentifier(event.KindPhone, ident); p != "" && strings.HasPrefix(ident, "+") {
			keys = append(keys, "phone:"+p)
		}
	}
	for _, k := range keys {
		if id, ok := s.lookupProfile(k); ok {
			return id, true
		}
	}
	return "", false
}

// profileTraits reads traits for per-trait bestsellers.
type profileTraits struct{ st *profile.Store }

func (p profileTraits) Trait(id, name string) string {
	var v string
	p.st.View(id, func(st *profile.State, _ []event.Identifier) {
		if s, ok := st.TraitString(name); ok {
			v = s
		} else if f, ok := st.TraitNumber(name); ok {
			v = strconv.FormatFloat(f, 'f', -1, 64)
		}
	})
	return v
}

// templateRecommender answers message templates' {% recommend %} blocks.
type templateRecommender struct{ e *recommend.Engine }

func (t templateRecommender) Recommend(ctx context.Context, req message.RecommendRequest) ([]message.RecommendedItem, error) {
	items, err := t.e.Recommend(ctx, recommend.Request{Strategy: req.Strategy, ProfileID: req.Profile, ItemID: req.Item,
		Segment: req.Segment, Limit: req.Limit, Filter: recommend.Filter{InStockOnly: true}})
	if err != nil {
		return nil, err
	}
	out := make([]message.RecommendedItem, len(items))
	for i, it := range items {
		out[i] = message.RecommendedItem{ID: it.ID, Name: it.Name, Category: it.Category, URL: it.URL, Image: it.Image, Price: it.Price, Reason: it.Reason}
	}
	return out, nil
}
