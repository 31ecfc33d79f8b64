package profile

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"tailor/internal/event"
)

func TestAccessors(t *testing.T) {
	s := stateOf(
		identifyEvent("a", atSec(1), map[string]any{"name": "Ann", "quote": `say "hi"`, "age": 42.5, "vip": true,
			"address": map[string]any{"city": "Paris"}, "gone": "x"}),
		identifyEvent("b", atSec(2), map[string]any{"gone": nil}),
		&event.Event{Type: event.Page, MessageID: "c", Timestamp: atSec(3), Context: event.ContextFromMap(map[string]any{"timezone": "Europe/Paris", "locale": "fr-FR"})},
		trackEvent("d", atSec(4), event.ProductViewed, map[string]any{"product_id": "p1", "category": "Shoes"}),
		trackEvent("e", atSec(5), event.ProductViewed, map[string]any{"product_id": "p2", "category": "Hats"}),
		trackEvent("f", atSec(6), event.ProductAdded, map[string]any{"product_id": "p2", "category": "Hats"}),
		trackEvent("g", atSec(7), event.OrderCompleted, map[string]any{"revenue": 30.0, "products": []any{
			map[string]any{"product_id": "p2", "category": "Hats"}}}),
		trackEvent("h", atSec(8), event.OrderCompleted, map[string]any{"revenue": 15.0}),
	)
	ints := []struct {
		name      string
		got, want int
	}{
		{"EventCount", s.EventCount(), 8},
		{"TypeCount(track)", s.TypeCount(event.Track), 5},
		{"TypeCount(identify)", s.TypeCount(event.Identify), 2},
		{"TypeCount(alias)", s.TypeCount(event.Alias), 0},
		{"TypeCount(unknown)", s.TypeCount("bogus"), 0},
		{"EventNameCount(Product Viewed)", s.EventNameCount(event.ProductViewed), 2},
		{"EventNameCount(absent)", s.EventNameCount("Signed Up"), 0},
		{"Orders", s.Orders(), 2},
		{"CategoryWeight(Hats)", s.CategoryWeight("Hats"), 1 + 2 + 3},
		{"CategoryWeight(Shoes)", s.CategoryWeight("Shoes"), 1},
		{"CategoryWeight(absent)", s.CategoryWeight("Bags"), 0},
	}
	for _, c := range ints {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	if m, ok := s.RevenueMicros(); m != 45_000_000 || !ok || s.Revenue() != 45 || s.AverageOrderValue() != 22.5 {
		t.Errorf("revenue %d %v %v aov %v", m, ok, s.Revenue(), s.AverageOrderValue())
	}
	times := []struct {
		name      string
		got, want time.Time
	}{
		{"FirstSeen", s.FirstSeen(), atSec(1)},
		{"LastSeen", s.LastSeen(), atSec(8)},
		{"LastOrderAt", s.LastOrderAt(), atSec(8)},
	}
	for _, c := range times {
		if !c.got.Equal(c.want) || c.got.Location() != time.UTC {
			t.Errorf("%s = %v, want %v UTC", c.name, c.got, c.want)
		}
	}
	strs := []struct {
		name      string
		got, want string
	}{
		{"FavouriteCategory", s.FavouriteCategory(), "Hats"},
		{"Timezone", s.Timezone(), "Europe/Paris"},
		{"Locale", s.Locale(), "fr-FR"},
		{"RecentlyViewed", seqString(s.RecentlyViewed()), "p2@5 p1@4"},
		{"RecentlyCarted", seqString(s.RecentlyCarted()), "p2@6"},
		{"RecentlyPurchased", seqString(s.RecentlyPurchased()), "p2@7"},
		{"EventNameCounts", countString(s.EventNameCounts()), "Order Completed=2 Product Added=1 Product Viewed=2"},
		{"CategoryWeights", countString(s.CategoryWeights()), "Hats=6 Shoes=1"},
	}
	for _, c := range strs {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}

	traits := []struct {
		key        string
		str        string
		strOK      bool
		num        float64
		numOK      bool
		boolean    bool
		boolOK     bool
		json       string
		anyPresent bool
	}{
		{key: "name", str: "Ann", strOK: true, json: `"Ann"`, anyPresent: true},
		{key: "quote", str: `say "hi"`, strOK: true, json: `"say \"hi\""`, anyPresent: true},
		{key: "age", num: 42.5, numOK: true, json: "42.5", anyPresent: true},
		{key: "vip", boolean: true, boolOK: true, json: "true", anyPresent: true},
		{key: "address", json: `{"city":"Paris"}`, anyPresent: true},
		{key: "gone"}, // removed by a null
		{key: "never"},
	}
	for _, c := range traits {
		str, strOK := s.TraitString(c.key)
		num, numOK := s.TraitNumber(c.key)
		b, bOK := s.TraitBool(c.key)
		j, _ := s.TraitJSON(c.key)
		_, anyOK := s.Trait(c.key)
		if str != c.str || strOK != c.strOK || num != c.num || numOK != c.numOK || b != c.boolean || bOK != c.boolOK ||
			j != c.json || anyOK != c.anyPresent {
			t.Errorf("trait %s: string %q %v number %v %v bool %v %v json %s any %v", c.key, str, strOK, num, numOK, b, bOK, j, anyOK)
		}
	}
	if v, _ := s.Trait("address"); jsonOf(t, v) != `{"city":"Paris"}` {
		t.Errorf("Trait(address) = %v", v)
	}

	var empty State
	if !empty.FirstSeen().IsZero() || !empty.LastSeen().IsZero() || !empty.LastOrderAt().IsZero() ||
		empty.AverageOrderValue() != 0 || empty.FavouriteCategory() != "" || empty.Timezone() != "" ||
		seqString(empty.RecentlyViewed()) != "" {
		t.Error("empty state reads non-zero")
	}
}

// TestAccessorIteratorsStop checks that breaking out of a range over an
// accessor stops it (a yield after false panics).
func TestAccessorIteratorsStop(t *testing.T) {
	var evs []*event.Event
	for i := range 5 {
		p := map[string]any{"product_id": fmt.Sprint("p", i), "category": fmt.Sprint("c", i)}
		evs = append(evs, trackEvent(fmt.Sprint("m", i), atSec(i), event.ProductViewed, p), trackEvent(fmt.Sprint("n", i), atSec(i), fmt.Sprint("E", i), nil))
	}
	s := stateOf(evs...)
	n := 0
	for range s.RecentlyViewed() {
		n++
		break
	}
	for range s.EventNameCounts() {
		n++
		break
	}
	for range s.CategoryWeights() {
		n++
		break
	}
	if n != 3 {
		t.Errorf("%d iterations, want 3", n)
	}
}

func TestAccessorsDoNotAllocate(t *testing.T) {
	s := stateOf(typicalProfile(rand.New(rand.NewPCG(1, 1)), 1)...)
	var sink int
	allocs := testing.AllocsPerRun(100, func() {
		sink += s.Orders() + s.EventCount() + s.EventNameCount(event.ProductViewed) + s.TypeCount(event.Page)
		sink += int(s.Revenue()) + int(s.AverageOrderValue()) + s.CategoryWeight("Hats")
		sink += s.FirstSeen().Second() + s.LastSeen().Second() + s.LastOrderAt().Second()
		for id, at := range s.RecentlyViewed() {
			sink += len(id) + at.Second()
		}
		for name, n := range s.EventNameCounts() {
			sink += len(name) + n
		}
		for name, n := range s.CategoryWeights() {
			sink += len(name) + n
		}
		str, _ := s.TraitString("email")
		num, _ := s.TraitNumber("plan")
		sink += len(str) + int(num) + len(s.FavouriteCategory()) + len(s.Timezone()) + len(s.Locale())
	})
	if allocs != 0 {
		t.Errorf("%v allocations per read, want 0", allocs)
	}
	_ = sink
}

func seqString(seq func(func(string, time.Time) bool)) string {
	var parts []string
	for id, at := range seq {
		parts = append(parts, fmt.Sprintf("%s@%d", id, int(at.Sub(baseTime).Seconds())))
	}
	return strings.Join(parts, " ")
}

func countString(seq func(func(string, int) bool)) string {
	var parts []string
	for k, n := range seq {
		parts = append(parts, fmt.Sprintf("%s=%d", k, n))
	}
	return strings.Join(parts, " ")
}

// BenchmarkRead compares what an engine pays to read orders, revenue and one
// event count: through the accessors, and through View.
func BenchmarkRead(b *testing.B) {
	s := stateOf(typicalProfile(rand.New(rand.NewPCG(1, 1)), 1)...)
	var sink float64
	defer func() { benchSink = sink }()
	b.Run("accessors", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink += float64(s.Orders()) + s.Revenue() + float64(s.EventNameCount(event.ProductViewed))
		}
	})
	b.Run("view", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c := s.View().Computed
			sink += float64(c.Orders) + c.TotalRevenue + float64(c.EventCounts[event.ProductViewed])
		}
	})
}

// benchSink keeps benchmark results alive.
var benchSink float64
