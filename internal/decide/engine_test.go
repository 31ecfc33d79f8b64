package decide

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"tailor/internal/store/storetest"
	"testing"
	"time"

	"tailor/internal/apierr"
)

type answer struct {
	Profile *string `json:"profile"`
	Geo     *struct {
		Country  string  `json:"country"`
		Currency string  `json:"currency"`
		Rate     float64 `json:"rate"`
		Store    *struct {
			ID         string   `json:"id"`
			DistanceKm *float64 `json:"distance_km"`
		} `json:"store"`
	} `json:"geo"`
	Placements []struct {
		ID      string `json:"id"`
		Variant struct {
			ID      string          `json:"id"`
			Layout  string          `json:"layout"`
			Content json.RawMessage `json:"content"`
		} `json:"variant"`
		ChosenBy   string `json:"chosen_by"`
		Rule       *int   `json:"rule"`
		Token      string `json:"token"`
		Experiment *struct {
			ID      string  `json:"id"`
			Variant *string `json:"variant"`
		} `json:"experiment"`
		Items []struct {
			ID       string  `json:"id"`
			Price    float64 `json:"price"`
			Currency string  `json:"currency"`
			Token    string  `json:"token"`
		} `json:"items"`
	} `json:"placements"`
}

// testEngine has one exit-offer placement with tiers by spend, a layout
// placement by segment and trait with an experiment, and a recommendations
// placement with geo.
func testEngine(t *testing.T) (*Engine, *fakeProfiles, *fakeRecs) {
	t.Helper()
	db := storetest.MemDB(t)
	ps, err := OpenPlacements(db)
	if err != nil {
		t.Fatal(err)
	}
	put := func(p Placement) {
		if _, err := ps.Put(p, true); err != nil {
			t.Fatal(err)
		}
	}
	put(Placement{ID: "exit", Name: "Exit offer", Default: "free_shipping",
		Variants: []Variant{{ID: "free_shipping", Content: json.RawMessage(`{"headline":"Free shipping"}`)},
			{ID: "ten"}, {ID: "fifteen"}, {ID: "twenty"}},
		Rules: []Rule{{Computed: "revenue", Value: 2000.0, Variant: "twenty"},
			{Computed: "revenue", Value: 500.0, Variant: "fifteen"},
			{Computed: "orders", Value: 1.0, Variant: "ten"}}})
	put(Placement{ID: "layout", Name: "Layout", Default: "novice", Experiment: "exp1",
		Variants: []Variant{{ID: "novice", Layout: "guided"}, {ID: "expert", Layout: "dense"}, {ID: "luxury"}},
		Rules:    []Rule{{Segment: "experts", Variant: "expert"}, {Trait: "budget", Value: "high", Variant: "luxury"}}})
	put(Placement{ID: "recs", Name: "Recs", Default: "row", Geo: true,
		Variants:        []Variant{{ID: "row"}},
		Recommendations: &RecSlot{Strategy: "for_you", Limit: 3, Filter: RecFilter{ExcludePurchased: true, ExcludeCategoryDays: 2}}})
	if err := ps.SetGeo(Geo{BaseCurrency: "USD", Regions: []Region{{Name: "Euro", Countries: []string{"DE", "FR"}, Currency: "EUR", Rate: 0.5}},
		Stores: []Store{{ID: "berlin", Name: "Berlin", Country: "DE", Lat: 52.52, Lon: 13.405}, {ID: "paris", Name: "Paris", Country: "FR", Lat: 48.8566, Lon: 2.3522}}}); err != nil {
		t.Fatal(err)
	}
	profiles := &fakeProfiles{ids: map[string]string{
		"user_id:buyer": "p_buyer", "anonymous_id:anon-buyer": "p_buyer", "user_id:big": "p_big", "user_id:whale": "p_whale", "anonymous_id:seen": "p_seen",
		"user_id:expert": "p_expert", "user_id:rich": "p_rich"},
		facts: map[string]*fakeFacts{
			"p_buyer": {orders: 1, revenue: 80, events: 5}, "p_big": {orders: 4, revenue: 700}, "p_whale": {orders: 9, revenue: 5000},
			"p_seen": {events: 3}, "p_expert": {traits: map[string]any{"budget": "high"}},
			"p_rich": {traits: map[string]any{"budget": "high", "country": "FR", "latitude": 48.86, "longitude": 2.35}}}}
	recs := &fakeRecs{}
	signer, err := NewSigner(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{Placements: ps, Profiles: profiles, Recommender: recs, Signer: signer,
		Membership: fakeMembership{"experts": {"p_expert": true}},
		Assigner:   fakeAssigner{"p_rich": "expert", "anon-exp": "control"},
		Now:        func() time.Time { return time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC) }}
	return e, profiles, recs
}

func decide(t *testing.T, e *Engine, req Request) answer {
	t.Helper()
	var out bytes.Buffer
	if err := e.Decide(context.Background(), &req, &out); err != nil {
		t.Fatal(err)
	}
	var a answer
	if err := json.Unmarshal(out.Bytes(), &a); err != nil {
		t.Fatalf("answer is not JSON: %v\n%s", err, out.Bytes())
	}
	return a
}

func TestExitOfferByVisitorAndSpendTier(t *testing.T) {
	e, _, _ := testEngine(t)
	cases := []struct {
		who  Request
		want string
	}{
		{Request{AnonymousID: "never-seen"}, "free_shipping"},
		{Request{AnonymousID: "seen"}, "free_shipping"}, // seen but never bought
		{Request{UserID: "buyer"}, "ten"},
		{Request{UserID: "big"}, "fifteen"},
		{Request{UserID: "whale"}, "twenty"},
		// A userId not linked yet: the anonymousId names the profile.
		{Request{UserID: "just-logged-in", AnonymousID: "anon-buyer"}, "ten"},
		{Request{UserID: "buyer", AnonymousID: "never-seen"}, "ten"},
	}
	for _, c := range cases {
		c.who.Placements = []string{"exit"}
		a := decide(t, e, c.who)
		if got := a.Placements[0].Variant.ID; got != c.want {
			t.Errorf("%+v: variant %q, want %q", c.who, got, c.want)
		}
	}
	a := decide(t, e, Request{AnonymousID: "never-seen", Placements: []string{"exit"}})
	if a.Profile != nil || a.Placements[0].ChosenBy != "default" || string(a.Placements[0].Variant.Content) != `{"headline":"Free shipping"}` {
		t.Errorf("new visitor: %+v", a)
	}
}

func TestRulesInOrderSegmentBeforeTraitAndExperimentOverrides(t *testing.T) {
	e, _, _ := testEngine(t)
	cases := []struct {
		who     Request
		variant string
		by      string
		expVar  *string
	}{
		// In the segment and with the trait: the first rule wins.
		{Request{UserID: "expert"}, "expert", "rule", nil},
		// Trait only, but the experiment assigns a variant of this placement.
		{Request{UserID: "rich"}, "expert", "experiment", ptr("expert")},
		// An assignment naming no variant keeps the rules' choice.
		{Request{AnonymousID: "anon-exp"}, "novice", "default", ptr("control")},
	}
	for _, c := range cases {
		c.who.Placements = []string{"layout"}
		p := decide(t, e, c.who).Placements[0]
		if p.Variant.ID != c.variant || p.ChosenBy != c.by {
			t.Errorf("%+v: got %s by %s, want %s by %s", c.who, p.Variant.ID, p.ChosenBy, c.variant, c.by)
		}
		if p.Experiment == nil || p.Experiment.ID != "exp1" || (p.Experiment.Variant == nil) != (c.expVar == nil) ||
			c.expVar != nil && *p.Experiment.Variant != *c.expVar {
			t.Errorf("%+v: experiment %+v, want variant %v", c.who, p.Experiment, c.expVar)
		}
	}
}

func ptr(s string) *string { return &s }

func TestRecommendationsGeoAndTokens(t *testing.T) {
	e, _, recs := testEngine(t)
	a := decide(t, e, Request{UserID: "rich", Placements: []string{"recs", "exit"}, ItemID: "sku-1"})
	if len(a.Placements) != 2 {
		t.Fatalf("placements: %+v", a.Placements)
	}
	p := a.Placements[0]
	if len(p.Items) != 3 {
		t.Fatalf("items: want the slot's limit 3, got %d", len(p.Items))
	}
	if recs.last.ProfileID != "p_rich" || recs.last.ItemID != "sku-1" || !recs.last.Filter.ExcludePurchased || recs.last.Filter.ExcludeCategoryFor != 48*time.Hour {
		t.Errorf("recommender asked %+v", recs.last)
	}
	// The profile's country trait picks the currency; its lat/lon the store.
	if a.Geo == nil || a.Geo.Currency != "EUR" || a.Geo.Country != "FR" || a.Geo.Store == nil || a.Geo.Store.ID != "paris" {
		t.Fatalf("geo: %+v", a.Geo)
	}
	if p.Items[0].Price != 5 || p.Items[0].Currency != "EUR" { // 10 USD at 0.5
		t.Errorf("price: %+v", p.Items[0])
	}
	for i, it := range p.Items {
		tok, err := e.Signer.Verify(it.Token)
		if err != nil {
			t.Fatal(err)
		}
		if tok.Item != it.ID || tok.Placement != "recs" || tok.UserID != "rich" || tok.Position != i+1 {
			t.Errorf("item %d token: %+v", i, tok)
		}
	}
	tok, err := e.Signer.Verify(a.Placements[1].Token)
	if err != nil || tok.Placement != "exit" || tok.Variant != "free_shipping" || tok.Item != "" || tok.Experiment != "" {
		t.Errorf("placement token: %+v %v", tok, err)
	}
	// An experiment's token names the experiment and the arm assigned.
	a = decide(t, e, Request{UserID: "rich", Placements: []string{"layout"}})
	tok, err = e.Signer.Verify(a.Placements[0].Token)
	if err != nil || tok.Experiment != "exp1" || tok.Arm != "expert" || tok.Variant != "expert" {
		t.Errorf("experiment token: %+v %v", tok, err)
	}

	// An explicit location wins over the profile's; distance is reported.
	a = decide(t, e, Request{UserID: "rich", Placements: []string{"recs"}, HasLoc: true, Lat: 52.4, Lon: 13.1})
	if a.Geo.Store.ID != "berlin" || a.Geo.Store.DistanceKm == nil || *a.Geo.Store.DistanceKm > 30 {
		t.Errorf("explicit location: %+v", a.Geo.Store)
	}
	// A country without a region pays the base currency.
	a = decide(t, e, Request{AnonymousID: "x", Country: "jp", Placements: []string{"recs"}})
	if a.Geo.Currency != "USD" || a.Geo.Country != "JP" || a.Geo.Store != nil || a.Placements[0].Items[0].Price != 10 {
		t.Errorf("base currency: %+v", a.Geo)
	}
}

func TestDecideRefusesBadRequests(t *testing.T) {
	e, _, _ := testEngine(t)
	cases := []struct {
		req  Request
		code apierr.Code
	}{
		{Request{AnonymousID: "a"}, apierr.BadRequest},
		{Request{Placements: []string{"exit"}}, apierr.BadRequest},
		{Request{AnonymousID: "a", Placements: []string{"exit", "nope"}}, apierr.PlacementNotFound},
		{Request{AnonymousID: "a", Placements: make([]string, MaxPlacements+1)}, apierr.BadRequest},
	}
	for _, c := range cases {
		var out bytes.Buffer
		err := e.Decide(context.Background(), &c.req, &out)
		var ae *apierr.Error
		if !errors.As(err, &ae) || ae.Code != c.code {
			t.Errorf("%+v: got %v, want %s", c.req, err, c.code)
		}
	}
}

func TestPlacementsSurviveReopen(t *testing.T) {
	db := storetest.MemDB(t)
	ps, _ := OpenPlacements(db)
	p := validPlacement()
	p.Rules = []Rule{{Trait: "plan", Value: "pro", Variant: "b"}}
	if _, err := ps.Put(p, true); err != nil {
		t.Fatal(err)
	}
	if _, err := ps.Put(p, true); !isCode(err, apierr.PlacementExists) {
		t.Fatalf("second create: %v", err)
	}
	if err := ps.SetGeo(Geo{Regions: []Region{{Countries: []string{"GB"}, Currency: "GBP", Rate: 0.8}}}); err != nil {
		t.Fatal(err)
	}
	again, err := OpenPlacements(db)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := again.Get("hero")
	if !ok || len(got.Rules) != 1 || got.Created.IsZero() {
		t.Fatalf("after reopen: %+v %v", got, ok)
	}
	if c, r := again.load().geo.currency("gb"); c != "GBP" || r != 0.8 {
		t.Errorf("geo after reopen: %s %v", c, r)
	}
	if err := again.Delete("hero"); err != nil {
		t.Fatal(err)
	}
	if err := again.Delete("hero"); !isCode(err, apierr.PlacementNotFound) {
		t.Errorf("second delete: %v", err)
	}
}

func isCode(err error, code apierr.Code) bool {
	var ae *apierr.Error
	return errors.As(err, &ae) && ae.Code == code
}

func TestHaversine(t *testing.T) {
	// Berlin to Paris is about 878 km.
	if d := haversineKm(52.52, 13.405, 48.8566, 2.3522); math.Abs(d-878) > 5 {
		t.Errorf("Berlin-Paris %v km", d)
	}
	if d := haversineKm(10, 20, 10, 20); d != 0 {
		t.Errorf("same point %v", d)
	}
}

func TestGeoValidate(t *testing.T) {
	cases := []struct {
		g    Geo
		want string
	}{
		{Geo{BaseCurrency: "dollars"}, "base_currency"},
		{Geo{Regions: []Region{{Countries: []string{"DE"}, Currency: "EUR", Rate: 0}}}, "regions[0].rate"},
		{Geo{Regions: []Region{{Countries: []string{"DEU"}, Currency: "EUR", Rate: 1}}}, "regions[0].countries[0]"},
		{Geo{Regions: []Region{{Countries: []string{"DE"}, Currency: "EUR", Rate: 1}, {Countries: []string{"de"}, Currency: "CHF", Rate: 1}}}, "already in regions[0]"},
		{Geo{Stores: []Store{{ID: "a", Lat: 91}}}, "stores[0]: lat"},
		{Geo{Stores: []Store{{ID: "a"}, {ID: "a"}}}, "stores[1].id"},
	}
	for _, c := range cases {
		err := c.g.Validate()
		if err == nil || !isCode(err, apierr.InvalidPlacement) || !bytes.Contains([]byte(err.Error()), []byte(c.want)) {
			t.Errorf("%+v: %v, want it to name %s", c.g, err, c.want)
		}
	}
}

func TestTokenRejectsTamperingAndOtherSecrets(t *testing.T) {
	s, _ := NewSigner(bytes.Repeat([]byte{1}, 32))
	other, _ := NewSigner(bytes.Repeat([]byte{2}, 32))
	tok := s.Token(Token{Issued: time.Unix(1700000000, 0), AnonymousID: "anon", Placement: "exit", Variant: "ten", Item: "sku", Position: 3})
	got, err := s.Verify(tok)
	if err != nil || got.AnonymousID != "anon" || got.Item != "sku" || got.Position != 3 || got.Issued.Unix() != 1700000000 {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	if _, err := other.Verify(tok); !isCode(err, apierr.BadToken) {
		t.Errorf("another server's secret: %v", err)
	}
	b := []byte(tok)
	b[10] ^= 1
	if b[10] == '-' || b[10] == '_' || b[10] > 'z' {
		b[10] = 'A'
	}
	for _, bad := range []string{string(b), tok[:len(tok)-3], "", "!!!", tok + "AAAA"} {
		if _, err := s.Verify(bad); !isCode(err, apierr.BadToken) {
			t.Errorf("Verify(%q) = %v, want bad_token", bad, err)
		}
	}
}

type staticRecs []RecItem

func (s staticRecs) Recommend(context.Context, RecRequest) ([]RecItem, error) { return s, nil }

func BenchmarkDecide(b *testing.B) {
	t := &testing.T{}
	e, _, _ := testEngine(t)
	e.Recommender = staticRecs(make([]RecItem, 10))
	req := Request{UserID: "rich", Placements: []string{"recs", "exit"}}
	var out bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		out.Reset()
		if err := e.Decide(context.Background(), &req, &out); err != nil {
			b.Fatal(err)
		}
	}
}
