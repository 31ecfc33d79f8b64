package recommend

import (
	"context"
	"slices"
	"testing"
	"time"

	"tailor/internal/catalog"
	"tailor/internal/event"
	"tailor/internal/profile"
)

// t0 is the start of every test's event history.
var t0 = time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)

// prod is a test product: id, category, price.
type prod struct {
	id, cat string
	price   float64
}

func props(p prod) map[string]any {
	return map[string]any{"product_id": p.id, "category": p.cat, "price": p.price, "name": "Name " + p.id}
}

func track(name, who string, at time.Time, pr map[string]any) (*event.Event, profile.Resolution) {
	return &event.Event{Type: event.Track, Event: name, UserID: who, Timestamp: at, Properties: pr}, profile.Resolution{Profile: who}
}

func view(e *Engine, who string, at time.Time, p prod) {
	e.Apply(track(event.ProductViewed, who, at, props(p)))
}

func cart(e *Engine, who string, at time.Time, p prod) {
	e.Apply(track(event.ProductAdded, who, at, props(p)))
}

func buy(e *Engine, who string, at time.Time, ps ...prod) {
	list := make([]any, len(ps))
	for i, p := range ps {
		list[i] = props(p)
	}
	e.Apply(track(event.OrderCompleted, who, at, map[string]any{"products": list}))
}

// clock is a settable Options.Now.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

func newTestEngine(now time.Time, opts Options) (*Engine, *clock) {
	c := &clock{now}
	opts.Now = c.Now
	return New(opts), c
}

func ids(items []Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}

func recommend(t *testing.T, e *Engine, req Request) []string {
	t.Helper()
	items, err := e.Recommend(context.Background(), req)
	if err != nil {
		t.Fatalf("%+v: %v", req, err)
	}
	for _, it := range items {
		if it.Reason == "" || it.Strategy != req.Strategy {
			t.Errorf("%s: item %s has reason %q strategy %q", req.Strategy, it.ID, it.Reason, it.Strategy)
		}
	}
	return ids(items)
}

// fakeCatalog is an in-memory Catalog.
type fakeCatalog map[string]catalog.Product

func (f fakeCatalog) Get(_ context.Context, id string) (catalog.Product, bool, error) {
	p, ok := f[id]
	return p, ok, nil
}

// fakeMembers is a Membership over a fixed set of (segment, profile).
type fakeMembers map[string][]string

func (f fakeMembers) Contains(seg, pid string) (bool, error) {
	return slices.Contains(f[seg], pid), nil
}

// fakeTraits is Traits over fixed values.
type fakeTraits map[string]map[string]string

func (f fakeTraits) Trait(pid, name string) string { return f[pid][name] }

func stock(n int64) *int64 { return &n }

func productOf(p prod) catalog.Product {
	return catalog.Product{ID: p.id, Name: "Name " + p.id, Category: p.cat, Price: p.price}
}
