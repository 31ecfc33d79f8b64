package server

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"tailor/internal/catalog"
	"tailor/internal/decide"
	"tailor/internal/event"
	"tailor/internal/profile"
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
// profile store, the segment index and (until package recommend merges)
// the catalog stand-in below. Call it after the catalog and ingest exist.
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
		Recommender: newCatalogStandIn(s.Catalog), Signer: signer}
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

// catalogStandIn is a STAND-IN for package recommend's engine, replaced at
// merge by an adapter to (*recommend.Engine).Recommend: it offers the first
// products of the catalog (in id order, in stock first), applying the
// price and category filters, whatever the strategy. It keeps the decision
// API's wiring and its tests real until the recommendation engine lands.
type catalogStandIn struct {
	cat      *catalog.Store
	items    atomic.Pointer[[]decide.RecItem]
	loadedAt atomic.Int64
	loading  sync.Mutex
}

// standInSize is how many products the stand-in keeps; standInRefresh how
// often it re-reads them.
const (
	standInSize    = 200
	standInRefresh = 30 * time.Second
)

func newCatalogStandIn(cat *catalog.Store) *catalogStandIn {
	c := &catalogStandIn{cat: cat}
	c.items.Store(&[]decide.RecItem{})
	return c
}

func (c *catalogStandIn) load(ctx context.Context) {
	if !c.loading.TryLock() {
		return
	}
	defer c.loading.Unlock()
	ps, _, err := c.cat.List(ctx, catalog.ListOptions{Limit: standInSize})
	if err != nil {
		return
	}
	in, out := make([]decide.RecItem, 0, len(ps)), []decide.RecItem{}
	for _, p := range ps {
		it := decide.RecItem{ID: p.ID, Name: p.Name, Category: p.Category, URL: p.URL, Image: p.ImageURL, Price: p.Price,
			Score: 1, Reason: "from the catalog (stand-in until recommendations merge)", Strategy: "catalog"}
		if p.Stock != nil && *p.Stock <= 0 {
			out = append(out, it)
		} else {
			in = append(in, it)
		}
	}
	all := append(in, out...)
	c.items.Store(&all)
	c.loadedAt.Store(time.Now().UnixNano())
}

func (c *catalogStandIn) Recommend(ctx context.Context, req decide.RecRequest) ([]decide.RecItem, error) {
	if time.Since(time.Unix(0, c.loadedAt.Load())) > standInRefresh {
		c.load(ctx)
	}
	items := *c.items.Load()
	f := req.Filter
	plain := req.ItemID == "" && f.MinPrice == 0 && f.MaxPrice == 0 && len(f.Categories) == 0 && len(f.ExcludeCategories) == 0
	if plain {
		return items[:min(len(items), req.Limit)], nil
	}
	out := make([]decide.RecItem, 0, req.Limit)
	for _, it := range items {
		if len(out) == req.Limit {
			break
		}
		if it.ID == req.ItemID || it.Price < f.MinPrice || f.MaxPrice > 0 && it.Price > f.MaxPrice ||
			len(f.Categories) > 0 && !hasPrefixAny(it.Category, f.Categories) || hasPrefixAny(it.Category, f.ExcludeCategories) {
			continue
		}
		out = append(out, it)
	}
	return out, nil
}

func hasPrefixAny(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(strings.ToLower(s), strings.ToLower(p)) {
			return true
		}
	}
	return false
}
