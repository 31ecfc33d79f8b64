package recommend

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"tailor/internal/store/storetest"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// randomEvents is a deterministic stream of views, cart additions and
// orders over a small catalog, enough to overflow small neighbour lists.
func randomEvents(n int) []func(*Engine) {
	r := rand.New(rand.NewPCG(7, 7))
	cats := []string{"A > x", "A > y", "B > z", "C"}
	products := make([]prod, 40)
	for i := range products {
		products[i] = prod{fmt.Sprintf("p%02d", i), cats[i%len(cats)], float64(5 + i*3)}
	}
	out := make([]func(*Engine), 0, n)
	at := t0
	for range n {
		at = at.Add(time.Duration(r.IntN(3600)) * time.Second)
		who := fmt.Sprintf("u%d", r.IntN(25))
		p := products[r.IntN(len(products))]
		when := at
		switch r.IntN(4) {
		case 0, 1:
			out = append(out, func(e *Engine) { view(e, who, when, p) })
		case 2:
			out = append(out, func(e *Engine) { cart(e, who, when, p) })
		default:
			q := products[r.IntN(len(products))]
			out = append(out, func(e *Engine) { buy(e, who, when, p, q) })
		}
	}
	return out
}

// answers is every strategy's answer for a few profiles and items.
func answers(t *testing.T, e *Engine) map[string][]Item {
	t.Helper()
	out := map[string][]Item{}
	for _, s := range Strategies {
		for i := range 5 {
			req := Request{Strategy: s, ProfileID: fmt.Sprintf("u%d", i), Limit: 20}
			if IsItemStrategy(s) {
				req.ItemID = fmt.Sprintf("p%02d", i)
			}
			items, err := e.Recommend(context.Background(), req)
			if err != nil {
				t.Fatalf("%+v: %v", req, err)
			}
			out[fmt.Sprintf("%s/%d", s, i)] = items
		}
	}
	return out
}

func TestReplayAfterRestartGivesTheSameAnswers(t *testing.T) {
	events := randomEvents(3000)
	now := t0.AddDate(0, 3, 0)
	opts := Options{Neighbours: 4, History: 8, Distinct: 6}
	whole, _ := newTestEngine(now, opts)
	for _, ev := range events {
		ev(whole)
	}
	want := answers(t, whole)

	db := storetest.MemDB(t)
	opts.DB = db
	// Run with checkpoints at uneven points, restarting after each.
	cuts := []int{0, 400, 1700, 2999, 3000}
	for i := 0; i+1 < len(cuts); i++ {
		e, _ := newTestEngine(now, opts)
		if err := e.Load(); err != nil {
			t.Fatal(err)
		}
		for _, ev := range events[cuts[i]:cuts[i+1]] {
			ev(e)
		}
		b := db.NewBatch()
		if err := e.Checkpoint(b); err != nil {
			t.Fatal(err)
		}
		if err := b.Commit(pebble.Sync); err != nil {
			t.Fatal(err)
		}
		if i == len(cuts)-2 {
			// The last engine was restored and replayed; a fresh one loads
			// only the checkpoint.
			got := answers(t, e)
			restored, _ := newTestEngine(now, opts)
			if err := restored.Load(); err != nil {
				t.Fatal(err)
			}
			for name, list := range [...]map[string][]Item{got, answers(t, restored)} {
				for k, w := range want {
					if !reflect.DeepEqual(list[k], w) {
						t.Errorf("engine %d, %s:\n got %v\nwant %v", name, k, ids(list[k]), ids(w))
					}
				}
			}
		}
	}
}

func TestMergeFoldsHistories(t *testing.T) {
	e, _ := newTestEngine(t0.AddDate(0, 0, 3), Options{})
	view(e, "anon", t0, phone)
	buy(e, "user", t0.Add(time.Hour), milk)
	ev, r := track("Page", "user", t0.Add(2*time.Hour), nil)
	r.Merged = []string{"anon"}
	e.Apply(ev, r)
	if got := recommend(t, e, Request{Strategy: RecentlyViewed, ProfileID: "user"}); len(got) != 1 || got[0] != "phone" {
		t.Errorf("after the merge the user's recently viewed is %v, want [phone]", got)
	}
	if got := recommend(t, e, Request{Strategy: RecentlyViewed, ProfileID: "anon"}); len(got) != 0 {
		t.Errorf("the merged-away profile still has %v", got)
	}
}

func TestAnswersAreNotTrivial(t *testing.T) {
	e, _ := newTestEngine(t0.AddDate(0, 3, 0), Options{Neighbours: 4})
	for _, ev := range randomEvents(3000) {
		ev(e)
	}
	empty := 0
	for k, v := range answers(t, e) {
		if len(v) == 0 {
			empty++
			t.Logf("%s is empty", k)
		}
	}
	if empty > 5 {
		t.Errorf("%d empty answers: the restart test would compare little", empty)
	}
	for _, it := range e.items {
		if len(it.co[kindView]) > 2*4 {
			t.Errorf("item %s keeps %d view neighbours, want at most 8", it.id, len(it.co[kindView]))
		}
	}
}
