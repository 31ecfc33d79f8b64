package recommend

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestFiltersAgainstAScan checks the filters against a separately written
// reference: the unfiltered ranking, scanned in order, keeping what a plain
// reading of each rule keeps.
func TestFiltersAgainstAScan(t *testing.T) {
	now := t0.AddDate(0, 3, 0)
	e, _ := newTestEngine(now, Options{})
	for _, ev := range randomEvents(3000) {
		ev(e)
	}
	// Purchases by u0 close to now: the just-bought rule and the category
	// window both have something to remove.
	buy(e, "u0", now.Add(-time.Hour), prod{"p07", "A > y", 26})
	buy(e, "u0", now.Add(-72*time.Hour), prod{"p12", "A > x", 41})
	cats := []string{"A", "A > x", "A > y", "B > z", "C"}
	r := rand.New(rand.NewPCG(3, 4))
	ctx := context.Background()
	for i := range 300 {
		f := Filter{ExcludePurchased: r.IntN(3) == 0, MaxPerCategory: r.IntN(3)}
		if r.IntN(2) == 0 {
			f.ExcludeCategoryFor = time.Duration(r.IntN(5)) * 24 * time.Hour
		}
		if r.IntN(3) == 0 {
			f.MinPrice = float64(r.IntN(60))
		}
		if r.IntN(3) == 0 {
			f.MaxPrice = f.MinPrice + float64(r.IntN(80))
		}
		if r.IntN(3) == 0 {
			f.Categories = []string{cats[r.IntN(len(cats))]}
		}
		if r.IntN(3) == 0 {
			f.ExcludeCategories = []string{cats[r.IntN(len(cats))]}
		}
		strategy := []string{Bestsellers, Trending, ForYou}[r.IntN(3)]
		who := fmt.Sprintf("u%d", r.IntN(3))
		limit := 1 + r.IntN(15)
		got, err := e.Recommend(ctx, Request{Strategy: strategy, ProfileID: who, Limit: limit, Filter: f})
		if err != nil {
			t.Fatal(err)
		}
		all, _ := e.Recommend(ctx, Request{Strategy: strategy, ProfileID: who, Limit: MaxLimit})
		want := scanFilter(e, who, now, all, f, limit)
		if !slices.Equal(ids(got), want) {
			t.Fatalf("case %d %s for %s, %+v:\n got %v\nwant %v", i, strategy, who, f, ids(got), want)
		}
	}
}

// scanFilter is the reference: every rule read literally.
func scanFilter(e *Engine, who string, now time.Time, ranked []Item, f Filter, limit int) []string {
	p := e.profiles.get(who)
	bought := map[string]time.Time{}
	if p.prof != nil {
		for _, b := range p.buys() {
			id := e.items[b.Item].id
			if t := time.Unix(b.T, 0); t.After(bought[id]) {
				bought[id] = t
			}
		}
		for _, fr := range p.freq() {
			id := e.items[fr.Item].id
			if t := time.Unix(fr.Last, 0); t.After(bought[id]) {
				bought[id] = t
			}
		}
	}
	recentCat := map[string]bool{}
	if f.ExcludeCategoryFor > 0 && p.prof != nil {
		for _, b := range p.buys() {
			if !time.Unix(b.T, 0).Before(now.Add(-f.ExcludeCategoryFor)) {
				recentCat[e.items[b.Item].category] = true
			}
		}
	}
	under := func(cat, want string) bool {
		return cat == want || len(cat) > len(want)+3 && cat[:len(want)+3] == want+" > "
	}
	perCat := map[string]int{}
	var out []string
	for _, it := range ranked {
		if len(out) == limit {
			break
		}
		t, ok := bought[it.ID]
		switch {
		case ok && (f.ExcludePurchased || !t.Before(now.Add(-DefaultJustBought))):
		case recentCat[it.Category]:
		case f.MinPrice > 0 && it.Price < f.MinPrice, f.MaxPrice > 0 && it.Price > f.MaxPrice:
		case len(f.Categories) > 0 && !under(it.Category, f.Categories[0]):
		case len(f.ExcludeCategories) > 0 && under(it.Category, f.ExcludeCategories[0]):
		case f.MaxPerCategory > 0 && perCat[it.Category] >= f.MaxPerCategory:
		default:
			perCat[it.Category]++
			out = append(out, it.ID)
		}
	}
	return out
}
