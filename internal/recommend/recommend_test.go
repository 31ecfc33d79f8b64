package recommend

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"tailor/internal/event"
	"tailor/internal/profile"
)

var (
	phone   = prod{"phone", "Electronics > Phones", 500}
	phone2  = prod{"phone2", "Electronics > Phones", 700}
	phone3  = prod{"phone3", "Electronics > Phones", 2000}
	cheapPh = prod{"phone0", "Electronics > Phones", 300}
	caseA   = prod{"case", "Electronics > Cases", 20}
	charger = prod{"charger", "Electronics > Chargers", 30}
	cable   = prod{"cable", "Electronics > Cables", 10}
	milk    = prod{"milk", "Grocery > Dairy", 2}
	bread   = prod{"bread", "Grocery > Bakery", 3}
	jacket  = prod{"jacket", "Apparel > Jackets", 120}
	hat     = prod{"hat", "Apparel > Hats", 25}
	gloves  = prod{"gloves", "Apparel > Gloves", 30}
)

// playShop plays a small shop: phones bought with cases and chargers, milk
// bought by everyone (popular, but with nothing in particular), jackets
// with hats and gloves.
func playShop(e *Engine) {
	at := t0
	next := func() time.Time { at = at.Add(time.Hour); return at }
	for i := range 6 {
		buy(e, fmt.Sprintf("p%d", i), next(), phone, caseA)
	}
	for i := range 3 {
		buy(e, fmt.Sprintf("c%d", i), next(), phone, charger)
	}
	for i := range 20 {
		buy(e, fmt.Sprintf("m%d", i), next(), milk)
		if i%5 == 0 {
			buy(e, fmt.Sprintf("m%d", i), next(), milk, phone)
		}
	}
	for i := range 4 {
		buy(e, fmt.Sprintf("j%d", i), next(), jacket, hat, gloves)
	}
	for i := range 5 {
		buy(e, fmt.Sprintf("u%d", i), next(), phone2)
	}
	buy(e, "u9", next(), phone3)
	buy(e, "u9", next(), cheapPh)
	for i := range 4 {
		who := fmt.Sprintf("v%d", i)
		view(e, who, next(), phone)
		view(e, who, at.Add(time.Minute), phone2)
	}
}

func TestItemStrategies(t *testing.T) {
	e, _ := newTestEngine(t0.AddDate(0, 1, 0), Options{})
	playShop(e)
	tests := []struct {
		name  string
		req   Request
		first string   // expected top item
		none  []string // never in the answer
	}{
		{"also bought: the case, the most co-bought, before popular milk", Request{Strategy: AlsoBought, ItemID: "phone"}, "case", []string{"phone"}},
		{"also bought is symmetric", Request{Strategy: AlsoBought, ItemID: "case"}, "phone", nil},
		{"also viewed", Request{Strategy: AlsoViewed, ItemID: "phone"}, "phone2", nil},
		{"complements of a jacket are learned hats or gloves", Request{Strategy: Complements, ItemID: "jacket"}, "", []string{"jacket", "milk", "phone"}},
		{"upsell: same category, higher price, popular", Request{Strategy: Upsell, ItemID: "phone"}, "phone2", []string{"phone0", "phone"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := recommend(t, e, tt.req)
			if len(got) == 0 {
				t.Fatalf("no recommendations")
			}
			if tt.first != "" && got[0] != tt.first {
				t.Errorf("got %v, want %s first", got, tt.first)
			}
			for _, n := range tt.none {
				if slices.Contains(got, n) {
					t.Errorf("got %v, holds %s", got, n)
				}
			}
		})
	}
	got := recommend(t, e, Request{Strategy: Complements, ItemID: "jacket"})
	if len(got) < 2 || !slices.Contains(got[:2], "hat") || !slices.Contains(got[:2], "gloves") {
		t.Errorf("complements of a jacket: %v, want hat and gloves first", got)
	}
}

func TestJustBoughtIsNeverRecommended(t *testing.T) {
	e, clk := newTestEngine(t0.AddDate(0, 1, 0), Options{})
	playShop(e)
	// v0 viewed phone and phone2; now buys phone: nothing may offer it the
	// phone, and with a category window no phone at all.
	clk.now = t0.AddDate(0, 1, 0)
	buy(e, "v0", clk.now.Add(-time.Second), phone)
	for _, s := range Strategies {
		req := Request{Strategy: s, ProfileID: "v0", Limit: 50}
		if IsItemStrategy(s) {
			req.ItemID = "case"
		}
		got := recommend(t, e, req)
		if slices.Contains(got, "phone") {
			t.Errorf("%s: %v recommends the phone bought a second ago", s, got)
		}
		req.Filter.ExcludeCategoryFor = 7 * 24 * time.Hour
		got = recommend(t, e, req)
		for _, id := range got {
			if id == "phone" || id == "phone2" || id == "phone3" || id == "phone0" {
				t.Errorf("%s with a category window: %v holds phone %s", s, got, id)
			}
		}
	}
	// Before the purchase for_you offered the phone to this viewer.
	clk.now = t0.AddDate(0, 3, 0) // well past JustBought
	if got := recommend(t, e, Request{Strategy: RecentlyViewed, ProfileID: "v1"}); !slices.Contains(got, "phone") {
		t.Errorf("recently viewed of another viewer %v lacks the phone", got)
	}
}

func TestFilters(t *testing.T) {
	cat := fakeCatalog{}
	for _, p := range []prod{phone, phone2, phone3, cheapPh, caseA, charger, cable, milk, bread, jacket, hat, gloves} {
		cat[p.id] = productOf(p)
	}
	oos := cat["case"]
	oos.Stock = stock(0)
	cat["case"] = oos
	e, _ := newTestEngine(t0.AddDate(0, 1, 0), Options{Catalog: cat})
	playShop(e)
	buy(e, "u9", t0.AddDate(0, 0, 1), milk) // u9 bought phones and milk, long ago
	tests := []struct {
		name string
		req  Request
		ok   func(id string, p prod) bool
	}{
		{"in stock only", Request{Strategy: AlsoBought, ItemID: "phone", Filter: Filter{InStockOnly: true}}, func(id string, _ prod) bool { return id != "case" }},
		{"price band", Request{Strategy: Bestsellers, Filter: Filter{MinPrice: 20, MaxPrice: 600}}, func(_ string, p prod) bool { return p.price >= 20 && p.price <= 600 }},
		{"category include holds sub-categories", Request{Strategy: Bestsellers, Filter: Filter{Categories: []string{"electronics"}}}, func(_ string, p prod) bool { return p.cat[:11] == "Electronics" }},
		{"category exclude", Request{Strategy: Bestsellers, Filter: Filter{ExcludeCategories: []string{"Electronics > Phones", "Grocery"}}}, func(_ string, p prod) bool { return p.cat != phone.cat && p.cat[:7] != "Grocery" }},
		{"exclude purchased", Request{Strategy: Bestsellers, ProfileID: "u9", Filter: Filter{ExcludePurchased: true}}, func(id string, _ prod) bool { return id != "phone3" && id != "phone0" && id != "milk" }},
	}
	all := map[string]prod{}
	for id, p := range cat {
		all[id] = prod{id, p.Category, p.Price}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.Limit = 50
			got := recommend(t, e, tt.req)
			unfiltered := tt.req
			unfiltered.Filter = Filter{}
			if len(got) == 0 || len(got) == len(recommend(t, e, unfiltered)) {
				t.Errorf("filter removed nothing or everything: %v", got)
			}
			for _, id := range got {
				if !tt.ok(id, all[id]) {
					t.Errorf("got %v: %s should have been filtered", got, id)
				}
			}
		})
	}
	t.Run("max per category", func(t *testing.T) {
		items, _ := e.Recommend(context.Background(), Request{Strategy: Bestsellers, Limit: 50, Filter: Filter{MaxPerCategory: 1}})
		seen := map[string]bool{}
		for _, it := range items {
			if seen[it.Category] {
				t.Errorf("two items of %s", it.Category)
			}
			seen[it.Category] = true
		}
		if len(items) < 5 {
			t.Errorf("%d items", len(items))
		}
	})
}

func TestBuyAgainRanksRepeatsAndDueItems(t *testing.T) {
	e, clk := newTestEngine(t0, Options{})
	// Milk every 7 days, bread every 30 days, a cable once.
	for d := 0; d < 63; d += 7 {
		buy(e, "me", t0.AddDate(0, 0, d), milk)
	}
	for d := 0; d < 60; d += 30 {
		buy(e, "me", t0.AddDate(0, 0, d+1), bread)
	}
	buy(e, "me", t0.AddDate(0, 0, 2), cable)
	tests := []struct {
		day   int
		first string
	}{
		{63, "milk"},  // 7 days after the last milk: due
		{59, "bread"}, // 3 days after milk, 28 days after bread: bread due
	}
	for _, tt := range tests {
		clk.now = t0.AddDate(0, 0, tt.day)
		got := recommend(t, e, Request{Strategy: BuyAgain, ProfileID: "me"})
		if len(got) == 0 || got[0] != tt.first {
			t.Errorf("day %d: %v, want %s first", tt.day, got, tt.first)
		}
	}
	if got := recommend(t, e, Request{Strategy: BuyAgain, ProfileID: "nobody"}); len(got) != 0 {
		t.Errorf("a new visitor has something to buy again: %v", got)
	}
}

func TestRecentlyViewed(t *testing.T) {
	e, _ := newTestEngine(t0.AddDate(0, 0, 1), Options{})
	view(e, "me", t0, phone)
	view(e, "me", t0.Add(time.Minute), jacket)
	cart(e, "me", t0.Add(2*time.Minute), hat)
	view(e, "me", t0.Add(3*time.Minute), cable)
	buy(e, "me", t0.Add(4*time.Minute), cable)
	got := recommend(t, e, Request{Strategy: RecentlyViewed, ProfileID: "me"})
	if want := []string{"hat", "jacket", "phone"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v (most recent first, the bought cable gone)", got, want)
	}
}

func TestTrendingAndBestsellersPerGroup(t *testing.T) {
	members := fakeMembers{"runners": {"r1", "r2", "r3"}}
	traits := fakeTraits{"r1": {"city": "Oslo"}, "r2": {"city": "Oslo"}, "x": {"city": "Rome"}}
	e, _ := newTestEngine(t0.AddDate(0, 1, 0), Options{Membership: members, Traits: traits})
	playShop(e)
	buy(e, "r1", t0.AddDate(0, 0, 2), gloves)
	// Asking for a group starts counting it (filled from what members bought).
	if got := recommend(t, e, Request{Strategy: Bestsellers, Segment: "runners"}); !slices.Equal(got, []string{"gloves"}) {
		t.Errorf("runners' bestsellers %v, want [gloves]", got)
	}
	buy(e, "r2", t0.AddDate(0, 0, 3), hat)
	buy(e, "r3", t0.AddDate(0, 0, 3), hat)
	if got := recommend(t, e, Request{Strategy: Trending, Segment: "runners"}); len(got) != 2 || got[0] != "hat" {
		t.Errorf("runners' trending %v, want hat first, then gloves", got)
	}
	if got := recommend(t, e, Request{Strategy: Bestsellers, Trait: "city=Oslo"}); len(got) != 2 {
		t.Errorf("Oslo bestsellers %v, want hat and gloves", got)
	}
	if got := recommend(t, e, Request{Strategy: Bestsellers}); got[0] != "milk" {
		t.Errorf("global bestsellers %v, want milk first", got)
	}
}

func TestForYou(t *testing.T) {
	e, clk := newTestEngine(t0.AddDate(0, 1, 0), Options{})
	playShop(e)
	// A new visitor gets the bestsellers.
	best := recommend(t, e, Request{Strategy: Bestsellers, Limit: 5})
	if got := recommend(t, e, Request{Strategy: ForYou, ProfileID: "new", Limit: 5}); !slices.Equal(got, best) {
		t.Errorf("new visitor: %v, want the bestsellers %v", got, best)
	}
	// Someone who just viewed a jacket gets hats and gloves.
	view(e, "me", clk.now.Add(-time.Hour), jacket)
	cart(e, "me", clk.now.Add(-time.Minute), jacket)
	// Hats and gloves join the top bestseller (milk) at the top.
	got := recommend(t, e, Request{Strategy: ForYou, ProfileID: "me", Limit: 3})
	if !slices.Contains(got, "hat") || !slices.Contains(got, "gloves") {
		t.Errorf("for you after a jacket in the cart: %v, want hat and gloves", got)
	}
}

func TestBundle(t *testing.T) {
	cat := fakeCatalog{}
	for _, p := range []prod{phone, caseA, charger, cable, jacket, hat, gloves, milk} {
		cat[p.id] = productOf(p)
	}
	rule := cat["jacket"]
	rule.Attrs = map[string]any{"bundle_items": []any{"hat", "gloves"}, "bundle_price": 150.0}
	cat["jacket"] = rule
	e, _ := newTestEngine(t0.AddDate(0, 1, 0), Options{Catalog: cat})
	playShop(e)
	b, err := e.Bundle(context.Background(), "phone")
	if err != nil {
		t.Fatal(err)
	}
	if b.Rule != "learned" || len(b.Items) < 2 || b.Total <= phone.price {
		t.Fatalf("learned bundle %+v", b)
	}
	if want := b.Total * DefaultBundleDiscount; b.Saving < want-0.01 || b.Saving > want+0.01 || b.Price+b.Saving < b.Total-0.01 {
		t.Errorf("bundle total %v price %v saving %v, want %.0f %% off", b.Total, b.Price, b.Saving, 100*DefaultBundleDiscount)
	}
	b, err = e.Bundle(context.Background(), "jacket")
	if err != nil {
		t.Fatal(err)
	}
	if b.Rule != "catalog" || b.Price != 150 || b.Total != 175 || b.Saving != 25 || len(b.Items) != 2 {
		t.Errorf("catalog bundle %+v", b)
	}
	if _, err := e.Bundle(context.Background(), "nothing"); !errors.Is(err, ErrUnknownItem) {
		t.Errorf("bundle of an unknown item: %v", err)
	}
}

func TestBadRequests(t *testing.T) {
	e, _ := newTestEngine(t0, Options{})
	playShop(e)
	tests := []struct {
		req  Request
		want error
	}{
		{Request{Strategy: "magic"}, ErrUnknownStrategy},
		{Request{Strategy: AlsoBought}, ErrNeedItem},
		{Request{Strategy: AlsoBought, ItemID: "nope"}, ErrUnknownItem},
		{Request{Strategy: Trending, Limit: 1000}, ErrBadRequest},
		{Request{Strategy: Trending, Filter: Filter{MinPrice: 10, MaxPrice: 5}}, ErrBadRequest},
		{Request{Strategy: Trending, Trait: "city"}, ErrBadRequest},
	}
	for _, tt := range tests {
		if _, err := e.Recommend(context.Background(), tt.req); !errors.Is(err, tt.want) {
			t.Errorf("%+v: got %v, want %v", tt.req, err, tt.want)
		}
	}
}

// Applied behind the processor (processor.RegisterBehind), an order counts
// toward the groups its profile belonged to when Prepare ran, at the
// order's position in the log, not when it is applied: by then the segment
// engine and the profiles may have moved on.
func TestGroupsAreReadAtTheOrdersPosition(t *testing.T) {
	members := fakeMembers{"runners": {"r1"}}
	traits := fakeTraits{"r1": {"city": "Oslo"}, "r2": {"city": "Rome"}}
	e, clk := newTestEngine(t0.AddDate(0, 1, 0), Options{Membership: members, Traits: traits})
	playShop(e)
	for _, req := range []Request{{Strategy: Bestsellers, Segment: "runners"}, {Strategy: Bestsellers, Trait: "city=Oslo"}} {
		if got := recommend(t, e, req); len(got) != 0 {
			t.Fatalf("%+v before any order: %v", req, got)
		}
	}
	order := func(who string, p prod) (*event.Event, profile.Resolution) {
		ev, r := track(event.OrderCompleted, who, t0.AddDate(0, 0, 2), map[string]any{"products": []any{props(p)}})
		return ev, r
	}
	e1, r1 := order("r1", gloves)
	p1 := e.Prepare(e1, r1)
	e2, r2 := order("r2", hat)
	p2 := e.Prepare(e2, r2)
	// Then r1 leaves the segment and moves to Rome, r2 joins it and moves
	// to Oslo, before the orders are applied.
	members["runners"] = []string{"r2"}
	traits["r1"]["city"], traits["r2"]["city"] = "Rome", "Oslo"
	e.ApplyPrepared(e1, r1, p1)
	e.ApplyPrepared(e2, r2, p2)
	clk.now = clk.now.Add(time.Hour) // past the answers cached above
	if got := recommend(t, e, Request{Strategy: Bestsellers, Segment: "runners"}); !slices.Equal(got, []string{"gloves"}) {
		t.Errorf("runners' bestsellers %v, want [gloves] (r1's order, a member's then)", got)
	}
	if got := recommend(t, e, Request{Strategy: Bestsellers, Trait: "city=Oslo"}); !slices.Equal(got, []string{"gloves"}) {
		t.Errorf("Oslo's bestsellers %v, want [gloves]", got)
	}
	if p := e.Prepare(track(event.ProductViewed, "r1", t0, props(hat))); p != nil {
		t.Errorf("Prepare of a view = %v, want nil", p)
	}
}
