package server

import (
	"context"
	"net/http"
	"strings"

	"tailor/internal/decide"
	"tailor/internal/event"
	"tailor/internal/profile"
	"tailor/internal/recommend"
)

// decisions is the decision API's part of a node: placements, their
// figures and the engine that answers /v1/decide.
type decisions struct {
	Placements *decide.Placements
	Decide     *decide.Engine
	decideHTTP *decide.HTTP
	// placementStats counts impressions, clicks and conversions from
	// the log, as an applier of the processor.
	placementStats *decide.Stats
}

// openPlacementStats registers the placements' figures with the
// processor; call it before the log replays, so that the replay counts
// what the last checkpoint had not.
func (s *Server) openPlacementStats() error {
	st, err := decide.OpenStats(s.db)
	if err != nil {
		return err
	}
	s.placementStats = st
	s.Proc.Register(st)
	return nil
}

// openDecide opens the placements and wires the decision engine to the
// profile store, the segment index, the recommendation engine and the
// experiments. Call it after the catalog and ingest exist.
func (s *Server) openDecide() error {
	var err error
	if s.Placements, err = decide.OpenPlacements(s.db); err != nil {
		return err
	}
	s.Placements.SegmentExists = func(id string) bool { _, ok := s.Segments.Get(id); return ok }
	secret, err := decide.Secret(s.db)
	if err != nil {
		return err
	}
	signer, err := decide.NewSigner(secret)
	if err != nil {
		return err
	}
	s.Decide = &decide.Engine{Placements: s.Placements, Profiles: profileFacts{s.Store}, Membership: s.Segments, Predictions: s.Segments,
		Recommender: DecideRecommender(s.Recommend), Signer: signer}
	if s.Experiments != nil {
		s.Decide.Assigner = s.Experiments
	}
	s.decideHTTP = &decide.HTTP{Engine: s.Decide, Stats: s.placementStats,
		WriteKey: func(k string) bool { _, _, ok := s.Sources.Lookup(k); return ok },
		Record:   s.Ingest.AppendInternal,
		Lookup:   s.previewKey,
		// Its own bound, as large as ingest's: together they stay below
		// --max-connections unless that is set under twice this.
		BodyKeyedLimit: s.cfg.MaxBodyKeyedRequests}
	return nil
}

// decideRoutes mounts the decision API (write key) and the placements'
// admin routes (behind guard).
func (s *Server) decideRoutes(mux *http.ServeMux, guard func(http.Handler) http.Handler) {
	pub, admin := s.decideHTTP.Public(), guard(s.decideHTTP.Admin())
	mux.Handle("/v1/decide", pub)
	mux.Handle("/v1/decide/", pub)
	mux.Handle("GET /v1/snippet.js", pub)
	mux.Handle("/api/placements", admin)
	mux.Handle("/api/placements/", admin)
	mux.Handle("/api/decide/", admin)
}

// previewKey resolves the dashboard's identifier for a preview like the
// admin API's profile routes: a profile id or "kind:value", else a userId,
// anonymousId or email.
func (s *Server) previewKey(ident string) (string, bool) {
	keys := []string{ident}
	if !strings.HasPrefix(ident, "p_") {
		if id, err := event.ParseIdentifierKey(ident); err == nil {
			keys = []string{string(id.Kind) + ":" + event.NormalizeIdentifier(id.Kind, id.Value)}
		} else {
			keys = []string{"user_id:" + ident, "anonymous_id:" + ident}
			if e := event.NormalizeIdentifier(event.KindEmail, ident); e != "" {
				keys = append(keys, "email:"+e)
			}
		}
	}
	for _, k := range keys {
		if id, ok := s.lookupProfile(k); ok {
			return id, true
		}
	}
	return "", false
}

// profileFacts reads profiles for decisions: the identifier resolved to
// the current profile, then its state under the store's read lock.
type profileFacts struct{ st *profile.Store }

func (p profileFacts) Read(key string, fn func(id string, f decide.Facts)) bool {
	id, _, _, ok := p.st.IdentityKeys(key, 0)
	if !ok {
		return false
	}
	return p.st.View(id, func(st *profile.State, _ []event.Identifier) { fn(id, st) })
}

// DecideRecommender answers the decision API's recommendation slots with
// the recommendation engine e; `tailor bench decide` measures decisions
// through the same conversion.
func DecideRecommender(e *recommend.Engine) decide.Recommender { return decideRecommender{e} }

// decideRecommender answers the decision API's recommendation slots with
// the recommendation engine; decide declares the same request, filter and
// item field for field, so that it does not import the engine.
type decideRecommender struct{ e *recommend.Engine }

func (r decideRecommender) Recommend(ctx context.Context, q decide.RecRequest) ([]decide.RecItem, error) {
	items, err := r.e.Recommend(ctx, recommend.Request{Strategy: q.Strategy, ProfileID: q.ProfileID, ItemID: q.ItemID,
		Segment: q.Segment, Limit: q.Limit, Filter: recommend.Filter(q.Filter)})
	if err != nil {
		return nil, err
	}
	out := make([]decide.RecItem, len(items))
	for i, it := range items {
		out[i] = decide.RecItem(it)
	}
	return out, nil
}
