package recommend

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"tailor/internal/store/storetest"
	"testing"
	"time"

	"tailor/internal/catalog"
)

// The caches (decoded products, recent answers) must never show what a
// change made wrong: a purchase, a stock change, a price change.
func TestCachedAnswersFollowEveryChangeAtOnce(t *testing.T) {
	db := storetest.MemDB(t)
	ctx := context.Background()
	cat := catalog.NewStore(db)
	ps := []prod{{"a", "Shoes", 50}, {"b", "Shoes", 60}, {"c", "Bags", 30}}
	put := func(p prod, stock int64, price float64) {
		t.Helper()
		cp := productOf(p)
		cp.Stock, cp.Price = &stock, price
		if err := cat.Put(ctx, []catalog.Product{cp}); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range ps {
		put(p, 10, p.price)
	}
	e, clk := newTestEngine(t0.Add(time.Hour), Options{Catalog: cat})
	for i, p := range ps {
		for range 3 - i {
			buy(e, "x", t0, p) // a sells best, then b, then c
		}
	}
	req := Request{Strategy: Bestsellers, ProfileID: "ann", Limit: 3, Filter: Filter{InStockOnly: true}}
	ask := func() []Item {
		t.Helper()
		items, err := e.Recommend(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return items
	}
	if got := ids(ask()); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("bestsellers %v, want a b c", got)
	}
	steps := []struct {
		name   string
		change func()
		check  func(items []Item) bool
	}{
		{"out of stock", func() { put(ps[0], 0, 50) }, func(items []Item) bool { return !slices.Contains(ids(items), "a") }},
		{"a new price", func() { put(ps[1], 10, 55) }, func(items []Item) bool {
			return len(items) > 0 && items[0].ID == "b" && items[0].Price == 55
		}},
		{"bought a moment ago", func() { buy(e, "ann", clk.now, ps[1]) }, func(items []Item) bool { return !slices.Contains(ids(items), "b") }},
		{"the just-bought window passed", func() { clk.now = clk.now.Add(25 * time.Hour) }, func(items []Item) bool {
			return slices.Contains(ids(items), "b")
		}},
	}
	for _, st := range steps {
		ask() // cached now
		st.change()
		if got := ask(); !st.check(got) {
			t.Fatalf("after %s: %v", st.name, got)
		}
	}
}

// top must pick what a full sort by (score, id) would, ties included.
func TestTopEqualsTheHeadOfAFullSort(t *testing.T) {
	e := New(Options{})
	for i := range 500 {
		e.index(fmt.Sprintf("i%03d", (i*7919)%500))
	}
	r := rand.New(rand.NewPCG(7, 8))
	for _, tc := range []struct {
		name     string
		n, m     int
		distinct int // distinct score values: few means many ties
	}{
		{"many ties", 400, 30, 5},
		{"all tied", 300, 17, 1},
		{"no ties", 500, 50, 1 << 30},
		{"m of one", 200, 1, 3},
		{"m just below n", 120, 119, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for round := range 20 {
				c := make([]cand, tc.n)
				for i := range c {
					c[i] = cand{ix: int32(r.IntN(len(e.items))), score: float64(r.IntN(tc.distinct))}
				}
				want := slices.Clone(c)
				sortCands(want, e.items)
				got := e.top(slices.Clone(c), tc.m)
				for i := range tc.m {
					if got[i].ix != want[i].ix || got[i].score != want[i].score {
						t.Fatalf("round %d: top[%d] = %+v, want %+v", round, i, got[i], want[i])
					}
				}
			}
		})
	}
}

// Two requests that may be answered differently never share a cached answer.
func TestAnswerKeyTellsEveryRequestFieldApart(t *testing.T) {
	base := Request{Strategy: ForYou, ProfileID: "p", Limit: 10}
	variants := map[string]func(r *Request){
		"profile":        func(r *Request) { r.ProfileID = "q" },
		"strategy":       func(r *Request) { r.Strategy = Bestsellers },
		"item":           func(r *Request) { r.ItemID = "i" },
		"segment":        func(r *Request) { r.Segment = "s" },
		"trait":          func(r *Request) { r.Trait = "city=Oslo" },
		"limit":          func(r *Request) { r.Limit = 11 },
		"purchased":      func(r *Request) { r.Filter.ExcludePurchased = true },
		"in stock":       func(r *Request) { r.Filter.InStockOnly = true },
		"category days":  func(r *Request) { r.Filter.ExcludeCategoryFor = time.Hour },
		"min price":      func(r *Request) { r.Filter.MinPrice = 1 },
		"max price":      func(r *Request) { r.Filter.MaxPrice = 1 },
		"per category":   func(r *Request) { r.Filter.MaxPerCategory = 1 },
		"categories":     func(r *Request) { r.Filter.Categories = []string{"A"} },
		"exclude cats":   func(r *Request) { r.Filter.ExcludeCategories = []string{"A"} },
		"shifted fields": func(r *Request) { r.ProfileID, r.Strategy = "p\x00"+ForYou, "" },
	}
	want := string(answerKey(nil, &base))
	for name, change := range variants {
		r := base
		change(&r)
		if got := string(answerKey(nil, &r)); got == want {
			t.Errorf("%s: same key %q as the base request", name, got)
		}
	}
}
