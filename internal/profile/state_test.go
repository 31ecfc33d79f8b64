package profile

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/big"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"tailor/internal/event"
)

var baseTime = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// at is baseTime plus sec seconds.
func atSec(sec int) time.Time { return baseTime.Add(time.Duration(sec) * time.Second) }

func identifyEvent(msg string, ts time.Time, traits map[string]any) *event.Event {
	return &event.Event{Type: event.Identify, MessageID: msg, UserID: "u1", Timestamp: ts, Traits: traits}
}

func trackEvent(msg string, ts time.Time, name string, props map[string]any) *event.Event {
	return &event.Event{Type: event.Track, MessageID: msg, UserID: "u1", Timestamp: ts, Event: name, Properties: props}
}

func reversed(evs []*event.Event) []*event.Event {
	r := slices.Clone(evs)
	slices.Reverse(r)
	return r
}

func stateOf(evs ...*event.Event) *State {
	var s State
	for _, e := range evs {
		s.Apply(e)
	}
	return &s
}

func TestRevenue(t *testing.T) {
	tests := []struct {
		name  string
		props []map[string]any // one Order Completed each
		want  float64
		aov   float64
	}{
		{"revenue", []map[string]any{{"revenue": 19.99, "total": 25.0}}, 19.99, 19.99},
		{"zero revenue wins over total", []map[string]any{{"revenue": 0.0, "total": 25.0}}, 0, 0},
		{"string revenue falls back to total", []map[string]any{{"revenue": "19.99", "total": 25.0}}, 25, 25},
		{"total", []map[string]any{{"total": 30.5}}, 30.5, 30.5},
		{"products", []map[string]any{{"products": []any{
			map[string]any{"price": 10.0, "quantity": 2.0},
			map[string]any{"price": 5.5},
			map[string]any{"price": "7", "quantity": 3.0},
			map[string]any{"quantity": 3.0},
			"junk",
		}}}, 25.5, 25.5},
		{"no amounts", []map[string]any{{"order_id": "o1"}}, 0, 0},
		{"two orders", []map[string]any{{"revenue": 100.0}, {"total": 20.5}}, 120.5, 60.25},
		{"cents add exactly", []map[string]any{{"revenue": 0.1}, {"revenue": 0.2}}, 0.3, 0.15},
		{"refund-like negative", []map[string]any{{"revenue": 50.0}, {"revenue": -20.0}}, 30, 15},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s State
			for i, p := range tc.props {
				s.Apply(trackEvent(fmt.Sprint("m", i), atSec(i), event.OrderCompleted, p))
			}
			c := s.View().Computed
			if c.TotalRevenue != tc.want || c.AverageOrderValue != tc.aov || c.Orders != int64(len(tc.props)) {
				t.Errorf("revenue %v aov %v orders %d, want %v %v %d", c.TotalRevenue, c.AverageOrderValue, c.Orders, tc.want, tc.aov, len(tc.props))
			}
			if !c.LastOrderAt.Equal(atSec(len(tc.props) - 1)) {
				t.Errorf("last_order_at %v", c.LastOrderAt)
			}
		})
	}
	if c := stateOf(trackEvent("m", atSec(0), "Signed Up", nil)).View().Computed; c.AverageOrderValue != 0 || !c.LastOrderAt.IsZero() {
		t.Errorf("no orders: aov %v last_order_at %v", c.AverageOrderValue, c.LastOrderAt)
	}
}

func TestTraits(t *testing.T) {
	tests := []struct {
		name string
		evs  []*event.Event
		want map[string]any
	}{
		{"later wins per key", []*event.Event{
			identifyEvent("b", atSec(2), map[string]any{"name": "New", "plan": "pro"}),
			identifyEvent("a", atSec(1), map[string]any{"name": "Old", "email": "x@example.com"}),
		}, map[string]any{"name": "New", "plan": "pro", "email": "x@example.com"}},
		{"null removes", []*event.Event{
			identifyEvent("a", atSec(1), map[string]any{"name": "Ann", "plan": "pro"}),
			identifyEvent("b", atSec(2), map[string]any{"plan": nil}),
		}, map[string]any{"name": "Ann"}},
		{"older write does not resurrect a removed trait", []*event.Event{
			identifyEvent("b", atSec(2), map[string]any{"plan": nil}),
			identifyEvent("a", atSec(1), map[string]any{"plan": "pro"}),
		}, map[string]any{}},
		{"later write after removal", []*event.Event{
			identifyEvent("b", atSec(2), map[string]any{"plan": nil}),
			identifyEvent("c", atSec(3), map[string]any{"plan": "team"}),
		}, map[string]any{"plan": "team"}},
		// msgHash: m1 < m2 < m10.
		{"equal timestamps: larger messageId hash wins", []*event.Event{
			identifyEvent("m2", atSec(1), map[string]any{"name": "Two"}),
			identifyEvent("m1", atSec(1), map[string]any{"name": "One"}),
			identifyEvent("m10", atSec(1), map[string]any{"name": "Ten"}),
		}, map[string]any{"name": "Ten"}},
		{"nested objects replaced whole", []*event.Event{
			identifyEvent("a", atSec(1), map[string]any{"address": map[string]any{"city": "Paris", "zip": "75001"}}),
			identifyEvent("b", atSec(2), map[string]any{"address": map[string]any{"city": "Lyon"}}),
		}, map[string]any{"address": map[string]any{"city": "Lyon"}}},
		{"value types survive", []*event.Event{
			identifyEvent("a", atSec(1), map[string]any{"age": 42.0, "vip": true, "tags": []any{"a", 1.5, nil}, "q": `say "hi"\n`, "é": "José <&>"}),
		}, map[string]any{"age": 42.0, "vip": true, "tags": []any{"a", 1.5, nil}, "q": `say "hi"\n`, "é": "José <&>"}},
		{"only identify sets traits", []*event.Event{
			{Type: event.Track, MessageID: "a", Timestamp: atSec(1), Event: "X", Traits: map[string]any{"name": "no"}},
			{Type: event.Group, MessageID: "b", Timestamp: atSec(1), GroupID: "g", Traits: map[string]any{"name": "no"}},
		}, map[string]any{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := stateOf(tc.evs...).View().Traits
			if g, w := jsonOf(t, got), jsonOf(t, tc.want); g != w {
				t.Errorf("traits %s, want %s", g, w)
			}
			// The same events in reverse order give the same state.
			if !stateOf(reversed(tc.evs)...).Equal(stateOf(tc.evs...)) {
				t.Error("state depends on order")
			}
		})
	}
}

// TestTraitEncoding checks that stored trait values are json.Marshal's bytes
// (TraitJSON callers compare with them) and decode back.
func TestTraitEncoding(t *testing.T) {
	for _, v := range []any{"", "plain", "José", "日本", "a<b", "x&y", "q\"", `back\`, "tab\t", "line\u2028sep",
		"bad\xffutf8", "\x7f", 0.0, -1.5, 1e21, 1e-7, 123456789.0, true, false,
		map[string]any{"b": 1.0, "a": []any{"x", nil}}, []any{}} {
		got, ok := encodeTraitValue(v)
		want, _ := json.Marshal(v)
		if !ok || got != string(want) {
			t.Errorf("encodeTraitValue(%q) = %s, want %s", v, got, want)
		}
		var back any
		_ = json.Unmarshal(want, &back)
		if g, w := jsonOf(t, decodeTraitValue(got)), jsonOf(t, back); g != w {
			t.Errorf("decodeTraitValue(%s) = %s, want %s", got, g, w)
		}
	}
	if _, ok := encodeTraitValue(math.NaN()); ok {
		t.Error("NaN encoded")
	}
}

func TestRecentlyViewed(t *testing.T) {
	pv := func(msg string, sec int, props map[string]any) *event.Event {
		return trackEvent(msg, atSec(sec), event.ProductViewed, props)
	}
	tests := []struct {
		name string
		evs  []*event.Event
		want string // product_id@second, newest first
	}{
		{"newest first, max time kept", []*event.Event{
			pv("a", 1, map[string]any{"product_id": "p1"}),
			pv("b", 3, map[string]any{"product_id": "p2"}),
			pv("c", 5, map[string]any{"product_id": "p1"}),
			pv("d", 2, map[string]any{"product_id": "p1"}),
		}, "p1@5 p2@3"},
		{"ties by product id", []*event.Event{
			pv("a", 1, map[string]any{"product_id": "b"}),
			pv("b", 1, map[string]any{"product_id": "a"}),
			pv("c", 1, map[string]any{"product_id": "c"}),
		}, "a@1 b@1 c@1"},
		{"id fallbacks and numbers", []*event.Event{
			pv("a", 1, map[string]any{"sku": "S-1"}),
			pv("b", 2, map[string]any{"id": 42.0}),
			pv("c", 3, map[string]any{"product_id": 7.5, "sku": "ignored"}),
			pv("d", 4, map[string]any{"product_id": "", "sku": 1e20}),
			pv("e", 5, map[string]any{"name": "no id"}),
		}, "100000000000000000000@4 7.5@3 42@2 S-1@1"},
		{"ten most recent", func() []*event.Event {
			var evs []*event.Event
			for i := range 15 {
				evs = append(evs, pv(fmt.Sprint("m", i), i, map[string]any{"product_id": fmt.Sprintf("p%02d", i)}))
			}
			return append(evs, pv("old", 0, map[string]any{"product_id": "p14"}))
		}(), "p14@14 p13@13 p12@12 p11@11 p10@10 p09@9 p08@8 p07@7 p06@6 p05@5"},
		{"dropped product comes back", func() []*event.Event {
			var evs []*event.Event
			for i := range 11 {
				evs = append(evs, pv(fmt.Sprint("m", i), i, map[string]any{"product_id": fmt.Sprintf("p%02d", i)}))
			}
			return append(evs, pv("back", 20, map[string]any{"product_id": "p00"}))
		}(), "p00@20 p10@10 p09@9 p08@8 p07@7 p06@6 p05@5 p04@4 p03@3 p02@2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := recentString(stateOf(tc.evs...).View().Computed.RecentlyViewed); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
			if !stateOf(reversed(tc.evs)...).Equal(stateOf(tc.evs...)) {
				t.Error("state depends on order")
			}
		})
	}
}

func TestCartAndPurchases(t *testing.T) {
	c := stateOf(
		trackEvent("a", atSec(1), event.ProductAdded, map[string]any{"product_id": "p1", "category": "Hats"}),
		trackEvent("b", atSec(2), event.OrderCompleted, map[string]any{"products": []any{
			map[string]any{"product_id": "p1", "category": "Hats", "price": 10.0},
			map[string]any{"sku": "p2", "category": "Shoes", "price": 10.0},
			map[string]any{"category": "Bags"},
		}}),
		trackEvent("c", atSec(3), "Product Removed", map[string]any{"product_id": "p3"}),
	).View().Computed
	if g := recentString(c.RecentlyCarted); g != "p1@1" {
		t.Errorf("recently_carted %s", g)
	}
	if g := recentString(c.RecentlyPurchased); g != "p1@2 p2@2" {
		t.Errorf("recently_purchased %s", g)
	}
	if len(c.RecentlyViewed) != 0 || c.RecentlyViewed == nil {
		t.Errorf("recently_viewed %#v, want empty non-nil", c.RecentlyViewed)
	}
}

func TestFavouriteCategory(t *testing.T) {
	tests := []struct {
		name string
		evs  []*event.Event
		want string
	}{
		{"none", []*event.Event{trackEvent("a", atSec(1), event.ProductViewed, map[string]any{"product_id": "p"})}, ""},
		{"weights: one add beats a view", []*event.Event{
			trackEvent("a", atSec(1), event.ProductViewed, map[string]any{"category": "Shoes"}),
			trackEvent("b", atSec(2), event.ProductAdded, map[string]any{"category": "Hats"}),
		}, "Hats"},
		{"weights: a purchase beats two views", []*event.Event{
			trackEvent("a", atSec(1), event.ProductViewed, map[string]any{"category": "Shoes"}),
			trackEvent("b", atSec(2), event.ProductViewed, map[string]any{"category": "Shoes"}),
			trackEvent("c", atSec(3), event.OrderCompleted, map[string]any{"products": []any{map[string]any{"category": "Bags"}}}),
		}, "Bags"},
		{"ties go to the smallest", []*event.Event{
			trackEvent("a", atSec(1), event.ProductAdded, map[string]any{"category": "Shoes"}),
			trackEvent("b", atSec(2), event.ProductViewed, map[string]any{"category": "Hats"}),
			trackEvent("c", atSec(3), event.ProductViewed, map[string]any{"category": "Hats"}),
		}, "Hats"},
		{"order-level category is not a product", []*event.Event{
			trackEvent("a", atSec(1), event.OrderCompleted, map[string]any{"category": "Shoes"}),
		}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := stateOf(tc.evs...).View().Computed.FavouriteCategory; got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestTimezoneLocale(t *testing.T) {
	ctx := func(msg string, sec int, tz, loc any) *event.Event {
		return &event.Event{Type: event.Page, MessageID: msg, Timestamp: atSec(sec), Context: event.ContextFromMap(map[string]any{"timezone": tz, "locale": loc})}
	}
	tests := []struct {
		name       string
		evs        []*event.Event
		tz, locale string
	}{
		{"latest wins", []*event.Event{ctx("b", 2, "Europe/Paris", "fr-FR"), ctx("a", 1, "America/New_York", "en-US")}, "Europe/Paris", "fr-FR"},
		{"empty and non-strings ignored", []*event.Event{ctx("a", 1, "Europe/Paris", "fr-FR"), ctx("b", 2, "", 5.0)}, "Europe/Paris", "fr-FR"},
		{"each field separately", []*event.Event{ctx("a", 1, "Europe/Paris", "fr-FR"), ctx("b", 2, nil, "de-DE")}, "Europe/Paris", "de-DE"},
		{"equal timestamps by messageId", []*event.Event{ctx("m2", 1, "Asia/Tokyo", "ja-JP"), ctx("m1", 1, "Europe/Paris", "fr-FR")}, "Asia/Tokyo", "ja-JP"},
		{"none", []*event.Event{{Type: event.Page, MessageID: "a", Timestamp: atSec(1)}}, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, evs := range [][]*event.Event{tc.evs, reversed(tc.evs)} {
				c := stateOf(evs...).View().Computed
				if c.Timezone != tc.tz || c.Locale != tc.locale {
					t.Errorf("timezone %q locale %q, want %q %q", c.Timezone, c.Locale, tc.tz, tc.locale)
				}
			}
		})
	}
}

func TestCountsAndSeen(t *testing.T) {
	s := stateOf(
		trackEvent("a", atSec(5), event.ProductViewed, nil),
		trackEvent("b", atSec(1), event.ProductViewed, nil),
		trackEvent("c", atSec(3), "Signed Up", nil),
		&event.Event{Type: event.Page, MessageID: "d", Timestamp: atSec(9), Name: "Home"},
		identifyEvent("e", atSec(2), nil),
		&event.Event{Type: event.Track, MessageID: "f", Timestamp: atSec(4)}, // no name
		&event.Event{Type: "bogus", MessageID: "g", Timestamp: atSec(4)},
	)
	c := s.View().Computed
	want := `{"first_seen":"2025-03-01T12:00:01Z","last_seen":"2025-03-01T12:00:09Z","event_count":7,` +
		`"type_counts":{"identify":1,"page":1,"track":4},"event_counts":{"Product Viewed":2,"Signed Up":1},` +
		`"orders":0,"total_revenue":0,"average_order_value":0,"recently_viewed":[],"recently_carted":[],"recently_purchased":[]}`
	if got := jsonOf(t, c); got != want {
		t.Errorf("computed\n got %s\nwant %s", got, want)
	}
	var empty State
	want = `{"traits":{},"computed":{"event_count":0,"type_counts":{},"event_counts":{},"orders":0,"total_revenue":0,` +
		`"average_order_value":0,"recently_viewed":[],"recently_carted":[],"recently_purchased":[]}}`
	if got := jsonOf(t, empty.View()); got != want {
		t.Errorf("empty view\n got %s\nwant %s", got, want)
	}
}

func TestViewJSONShape(t *testing.T) {
	s := stateOf(
		identifyEvent("a", atSec(0), map[string]any{"email": "x@example.com"}),
		&event.Event{Type: event.Track, MessageID: "b", Timestamp: atSec(60).Add(500 * time.Millisecond), Event: event.OrderCompleted,
			Context:    event.ContextFromMap(map[string]any{"timezone": "Europe/Paris", "locale": "fr-FR"}),
			Properties: map[string]any{"revenue": 120.5, "products": []any{map[string]any{"product_id": "sku1", "category": "Shoes"}}}},
	)
	want := `{"traits":{"email":"x@example.com"},"computed":{"first_seen":"2025-03-01T12:00:00Z","last_seen":"2025-03-01T12:01:00.5Z",` +
		`"event_count":2,"type_counts":{"identify":1,"track":1},"event_counts":{"Order Completed":1},"orders":1,"total_revenue":120.5,` +
		`"average_order_value":120.5,"last_order_at":"2025-03-01T12:01:00.5Z","recently_viewed":[],"recently_carted":[],` +
		`"recently_purchased":[{"product_id":"sku1","at":"2025-03-01T12:01:00.5Z"}],"favourite_category":"Shoes",` +
		`"timezone":"Europe/Paris","locale":"fr-FR"}}`
	if got := jsonOf(t, s.View()); got != want {
		t.Errorf("view\n got %s\nwant %s", got, want)
	}
}

// TestMergeDoesNotAlias checks that a merged state shares no mutable memory
// with the state it absorbed, in either direction.
func TestMergeDoesNotAlias(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		evs := randomEvents(r, 30)
		var dst State
		src := stateOf(evs[:20]...)
		dst.Merge(src) // dst empty: takes copies
		before, _ := dst.MarshalBinary()
		srcBefore, _ := src.MarshalBinary()
		for _, e := range evs[20:] {
			src.Apply(e)
		}
		if after, _ := dst.MarshalBinary(); !bytes.Equal(before, after) {
			t.Fatal("applying to the merged-from state changed the merged-into state")
		}
		for _, e := range evs[20:] {
			dst.Apply(e)
		}
		src2 := stateOf(evs[:20]...)
		if b, _ := src2.MarshalBinary(); !bytes.Equal(b, srcBefore) {
			t.Fatal("rebuilding src differs")
		}
	}
}

// TestInvariant is the property test of State's invariant: any order and any
// split-and-merge grouping of a set of events gives Equal states with equal
// encodings, which round-trip, and whose view matches a naive reference.
// Events come from server and client sources.
func TestInvariant(t *testing.T) {
	r := rand.New(rand.NewPCG(20250301, 7))
	cases := 400
	if testing.Short() {
		cases = 50
	}
	for c := range cases {
		checkInvariant(t, r, fmt.Sprint("case ", c), randomEvents(r, 1+r.IntN(80)))
	}
}

// TestInvariantAtLimits is TestInvariant for event sets that overflow every
// per-profile limit, with trait keys and values around the size limits.
func TestInvariantAtLimits(t *testing.T) {
	r := rand.New(rand.NewPCG(20261201, 9))
	cases := 6
	if testing.Short() {
		cases = 2
	}
	for c := range cases {
		evs := randomEvents(r, 40)
		evs = append(evs, limitEvents(r, 1500, len(evs))...)
		var refused Refused
		s := new(State)
		for _, e := range evs {
			refused = refused.Add(s.Apply(e))
		}
		if len(s.traits) != MaxTraits || len(s.eventCounts) != MaxEventNames || len(s.categories) != MaxCategories ||
			refused.Traits == 0 || refused.TraitSize == 0 || refused.EventNames == 0 || refused.Categories == 0 {
			t.Fatalf("case %d does not reach every limit: %d traits, %d names, %d categories, refused %+v",
				c, len(s.traits), len(s.eventCounts), len(s.categories), refused)
		}
		checkInvariant(t, r, fmt.Sprint("limits case ", c), evs)
	}
}

// checkInvariant applies evs in several orders and groupings and checks them
// against one another and against referenceView.
func checkInvariant(t *testing.T, r *rand.Rand, name string, evs []*event.Event) {
	t.Helper()
	ref := stateOf(evs...)
	refBytes, err := ref.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if g, w := jsonOf(t, ref.View()), jsonOf(t, referenceView(evs)); g != w {
		t.Fatalf("%s: view differs from reference\n got %s\nwant %s", name, g, w)
	}
	check := func(how string, s *State) {
		t.Helper()
		if !s.Equal(ref) || !ref.Equal(s) {
			t.Fatalf("%s (%d events): %s: state not Equal\n got %s\nwant %s", name, len(evs), how, jsonOf(t, s.View()), jsonOf(t, ref.View()))
		}
		b, err := s.MarshalBinary()
		if err != nil || !bytes.Equal(b, refBytes) {
			t.Fatalf("%s: %s: encoding differs (err %v)", name, how, err)
		}
	}
	for range 3 {
		perm := slices.Clone(evs)
		r.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		check("permutation", stateOf(perm...))
	}
	for range 3 {
		parts := make([]*State, 1+r.IntN(6))
		for i := range parts {
			parts[i] = new(State)
		}
		for _, i := range r.Perm(len(evs)) {
			parts[r.IntN(len(parts))].Apply(evs[i])
		}
		for len(parts) > 1 { // merge two random states until one is left
			i, j := r.IntN(len(parts)), r.IntN(len(parts)-1)
			if j >= i {
				j++
			}
			parts[i].Merge(parts[j])
			parts = slices.Delete(parts, j, j+1)
		}
		check("split and merge", parts[0])
	}
	var back State
	if err := back.UnmarshalBinary(refBytes); err != nil {
		t.Fatalf("%s: unmarshal: %v", name, err)
	}
	check("round trip", &back)
	for _, e := range evs[:len(evs)/2] { // a decoded state keeps working
		back.Apply(e)
	}
	half := stateOf(evs...)
	half.Merge(stateOf(evs[:len(evs)/2]...))
	if !back.Equal(half) {
		t.Fatalf("%s: applying to a decoded state differs", name)
	}
}

func TestUnmarshalErrors(t *testing.T) {
	good, _ := stateOf(randomEvents(rand.New(rand.NewPCG(3, 4)), 40)...).MarshalBinary()
	for _, b := range [][]byte{nil, {}, {2}, good[:len(good)-1], append(slices.Clone(good), 0), {1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}} {
		s := stateOf(trackEvent("keep", atSec(1), "X", nil))
		if err := s.UnmarshalBinary(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("UnmarshalBinary(%x) = %v, want ErrCorrupt", b, err)
		}
		if s.View().Computed.EventCount != 1 {
			t.Error("state changed on error")
		}
	}
}

func FuzzUnmarshalBinary(f *testing.F) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 8 {
		b, _ := stateOf(randomEvents(r, r.IntN(60))...).MarshalBinary()
		f.Add(b)
	}
	f.Add([]byte{1})
	f.Add(readAnnotated(f, "testdata/state-v1.txt"))
	f.Add(readAnnotated(f, "testdata/state-v2.txt"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var s State
		if err := s.UnmarshalBinary(b); err != nil {
			return
		}
		_ = s.View()
		enc, err := s.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var again State
		if err := again.UnmarshalBinary(enc); err != nil || !again.Equal(&s) {
			t.Fatalf("re-encoding does not round-trip: %v", err)
		}
		s.Apply(trackEvent("fuzz", atSec(1), event.ProductViewed, map[string]any{"product_id": "p", "category": "c"}))
		s.Merge(&again)
	})
}

// randomEvents generates e-commerce-ish events with many equal timestamps and
// repeated products, categories and traits. MessageIDs are distinct.
func randomEvents(r *rand.Rand, n int) []*event.Event {
	pick := func(xs ...any) any { return xs[r.IntN(len(xs))] }
	product := func() map[string]any {
		p := map[string]any{}
		id := fmt.Sprintf("p%d", r.IntN(14))
		switch r.IntN(8) {
		case 0:
			p["sku"] = id
		case 1:
			p["id"] = float64(r.IntN(5))
		case 2:
		default:
			p["product_id"] = id
		}
		if r.IntN(4) > 0 {
			p["category"] = pick("Shoes", "Hats", "Bags", "Socks", "Hats & Caps")
		}
		if r.IntN(3) > 0 {
			p["price"] = float64(r.IntN(10000)) / 100
		}
		if r.IntN(3) == 0 {
			p["quantity"] = float64(1 + r.IntN(3))
		}
		return p
	}
	traitValue := func() any {
		return pick("Ann", "Bob", "zoë", 42.0, 0.1, true, false, nil, nil,
			map[string]any{"city": pick("Paris", "Lyon"), "zip": 75001.0},
			[]any{"a", 2.0}, `quote " and \`)
	}
	evs := make([]*event.Event, n)
	msgs := r.Perm(n)
	for i := range evs {
		e := &event.Event{
			MessageID: fmt.Sprintf("m%04d", msgs[i]),
			UserID:    "u1",
			Timestamp: atSec(r.IntN(12)).Add(time.Duration(r.IntN(2)) * time.Millisecond),
			Trust:     pick(event.TrustServer, event.TrustServer, event.TrustClient).(event.Trust),
		}
		if r.IntN(3) > 0 {
			e.Context = event.ContextFromMap(map[string]any{"timezone": pick("Europe/Paris", "America/New_York", "", nil), "locale": pick("fr-FR", "en-US", "")})
		}
		switch k := r.IntN(10); {
		case k < 2:
			e.Type = event.Identify
			e.Traits = map[string]any{}
			for range r.IntN(4) {
				e.Traits[pick("email", "phone", "name", "plan", "address", "tags", "age").(string)] = traitValue()
			}
		case k < 8:
			e.Type = event.Track
			e.Event = pick(event.ProductViewed, event.ProductViewed, event.ProductAdded, event.OrderCompleted, "Signed Up", "Cart Viewed").(string)
			switch e.Event {
			case event.ProductViewed, event.ProductAdded:
				e.Properties = product()
			case event.OrderCompleted:
				e.Properties = map[string]any{}
				var ps []any
				for range r.IntN(4) {
					ps = append(ps, product())
				}
				e.Properties["products"] = ps
				switch r.IntN(5) {
				case 0:
					e.Properties["revenue"] = float64(r.IntN(100000)) / 100
				case 3:
					e.Properties["revenue"] = pick(1e11, 2e15, -1e16).(float64) // at and past the clamp
				case 1:
					e.Properties["total"] = float64(r.IntN(100000)) / 100
				case 2:
					e.Properties["revenue"] = "oops"
				}
			}
		default:
			e.Type = pick(event.Page, event.Screen, event.Group, event.Alias).(event.Type)
		}
		evs[i] = e
	}
	return evs
}

// limitEvents generates n events that together overflow every per-profile
// limit: identify events with many trait keys (some over the key and value
// size limits, some exactly at them), track events with many names and
// categories. MessageIDs are distinct from randomEvents'.
func limitEvents(r *rand.Rand, n, seq int) []*event.Event {
	longKey := strings.Repeat("k", MaxTraitKeyBytes)
	atLimit := strings.Repeat("v", MaxTraitValueBytes-2) // 4 KB with its quotes
	evs := make([]*event.Event, n)
	for i := range evs {
		e := &event.Event{
			MessageID: fmt.Sprintf("L%04d", seq+i),
			UserID:    "u1",
			Timestamp: atSec(r.IntN(12)),
			Trust:     event.Trust(r.IntN(2)),
		}
		switch k := r.IntN(20); {
		case k < 2:
			e.Type = event.Identify
			e.Traits = map[string]any{}
			for range 20 + r.IntN(60) {
				var v any = fmt.Sprint("v", r.IntN(5))
				switch r.IntN(12) {
				case 0:
					v = nil
				case 1:
					v = atLimit
				case 2:
					v = atLimit + "!" // one byte over
				}
				e.Traits[fmt.Sprintf("k%03d", r.IntN(800))] = v
			}
			switch r.IntN(6) {
			case 0:
				e.Traits[longKey] = "at the key limit"
			case 1:
				e.Traits[longKey+"x"] = "over the key limit"
			case 2:
				e.Traits["email"] = fmt.Sprintf("u%d@example.com", r.IntN(3))
			case 3:
				e.Traits["phone"] = pickOne(r, "+33100000001", "+33100000002", nil)
			}
		case k < 11:
			e.Type = event.Track
			e.Event = fmt.Sprintf("e%04d", r.IntN(2000))
		default:
			e.Type = event.Track
			e.Event = event.ProductViewed
			e.Properties = map[string]any{"product_id": fmt.Sprint("p", r.IntN(40)), "category": fmt.Sprintf("c%04d", r.IntN(2000))}
		}
		evs[i] = e
	}
	return evs
}

func pickOne(r *rand.Rand, xs ...any) any { return xs[r.IntN(len(xs))] }

// referenceView computes the view naively from the whole event set: events
// sorted by (Timestamp, msgHash(MessageID)) and folded in order, identity
// traits set by a server event ignoring later client writes, and the limits
// applied at the end to everything the events named.
func referenceView(evs []*event.Event) View {
	evs = slices.Clone(evs)
	slices.SortStableFunc(evs, func(a, b *event.Event) int {
		return cmp.Or(a.Timestamp.Compare(b.Timestamp), cmp.Compare(msgHash(a.MessageID), msgHash(b.MessageID)))
	})
	v := View{Traits: map[string]any{}}
	c := &v.Computed
	c.TypeCounts, c.EventCounts = map[string]int64{}, map[string]int64{}
	revenue := new(big.Int)
	seen := [3]map[string]time.Time{{}, {}, {}}
	cats := map[string]int64{}
	written := map[string]bool{}   // keys with an accepted write, null included
	serverSet := map[string]bool{} // identity keys a server event wrote
	see := func(list int, p map[string]any, ts time.Time, w int64) {
		if id := event.ProductID(p); id != "" && ts.After(seen[list][id]) {
			seen[list][id] = ts
		}
		if s, ok := p["category"].(string); ok && s != "" {
			cats[s] += w
		}
	}
	clampMicros := func(m float64) *big.Int {
		return big.NewInt(int64(max(min(m, 1e17), -1e17)))
	}
	for i, e := range evs {
		if i == 0 {
			c.FirstSeen = e.Timestamp
		}
		c.LastSeen = e.Timestamp
		c.EventCount++
		c.TypeCounts[string(e.Type)]++
		if tz, _ := e.Context.Map()["timezone"].(string); tz != "" {
			c.Timezone = tz
		}
		if l, _ := e.Context.Map()["locale"].(string); l != "" {
			c.Locale = l
		}
		for k, x := range e.Traits {
			if e.Type != event.Identify {
				break
			}
			if b, _ := json.Marshal(x); len(k) > MaxTraitKeyBytes || len(b) > MaxTraitValueBytes {
				continue
			}
			if k == "email" || k == "phone" {
				if e.Trust == event.TrustServer {
					serverSet[k] = true
				} else if serverSet[k] {
					continue
				}
			}
			written[k] = true
			if x == nil {
				delete(v.Traits, k)
			} else {
				v.Traits[k] = x
			}
		}
		if e.Type != event.Track || e.Event == "" {
			continue
		}
		c.EventCounts[e.Event]++
		switch e.Event {
		case event.ProductViewed:
			see(0, e.Properties, e.Timestamp, 1)
		case event.ProductAdded:
			see(1, e.Properties, e.Timestamp, 2)
		case event.OrderCompleted:
			c.Orders++
			c.LastOrderAt = e.Timestamp
			ps, _ := e.Properties["products"].([]any)
			if x, ok := e.Properties["revenue"].(float64); ok {
				revenue.Add(revenue, clampMicros(math.Round(x*1e6)))
			} else if x, ok := e.Properties["total"].(float64); ok {
				revenue.Add(revenue, clampMicros(math.Round(x*1e6)))
			} else {
				var sum float64
				for _, p := range ps {
					p := p.(map[string]any)
					price, ok := p["price"].(float64)
					q, qok := p["quantity"].(float64)
					if !qok {
						q = 1
					}
					if ok {
						sum += math.Round(math.Round(price*1e6) * q)
					}
				}
				revenue.Add(revenue, clampMicros(sum))
			}
			for _, p := range ps {
				see(2, p.(map[string]any), e.Timestamp, 3)
			}
		}
	}
	if c.TypeCounts["bogus"] > 0 {
		delete(c.TypeCounts, "bogus")
	}

	// The limits keep the first keys by rank: identity traits, then by key.
	keys := slices.Collect(maps.Keys(written))
	slices.SortFunc(keys, func(a, b string) int {
		ida, idb := a == "email" || a == "phone", b == "email" || b == "phone"
		if ida != idb {
			if ida {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	for _, k := range keys[min(len(keys), MaxTraits):] {
		delete(v.Traits, k)
	}
	names := slices.Sorted(maps.Keys(c.EventCounts))
	for _, n := range names[min(len(names), MaxEventNames):] {
		delete(c.EventCounts, n)
	}
	catNames := slices.Sorted(maps.Keys(cats))
	for _, n := range catNames[min(len(catNames), MaxCategories):] {
		delete(cats, n)
	}

	f, _ := new(big.Float).SetInt(revenue).Float64()
	c.TotalRevenue = f / 1e6
	if c.Orders > 0 {
		c.AverageOrderValue = c.TotalRevenue / float64(c.Orders)
	}
	lists := [3]*[]RecentProduct{&c.RecentlyViewed, &c.RecentlyCarted, &c.RecentlyPurchased}
	for i, m := range seen {
		l := []RecentProduct{}
		for id, ts := range m {
			l = append(l, RecentProduct{id, ts})
		}
		slices.SortFunc(l, func(a, b RecentProduct) int {
			return cmp.Or(b.At.Compare(a.At), strings.Compare(a.ProductID, b.ProductID))
		})
		*lists[i] = l[:min(len(l), RecentMax)]
	}
	var best int64
	for cat, n := range cats {
		if n > best || n == best && cat < c.FavouriteCategory {
			best, c.FavouriteCategory = n, cat
		}
	}
	return v
}

func recentString(l []RecentProduct) string {
	var parts []string
	for _, r := range l {
		parts = append(parts, fmt.Sprintf("%s@%d", r.ProductID, int(r.At.Sub(baseTime).Seconds())))
	}
	return strings.Join(parts, " ")
}

func jsonOf(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// typicalProfile is a 20-event shopper: an identify with five traits, pages,
// product views over a 5,000-product catalog, adds, one order.
func typicalProfile(r *rand.Rand, user int) []*event.Event {
	ctx := map[string]any{"timezone": "Europe/Paris", "locale": "fr-FR", "ip": "203.0.113.9"}
	ts := baseTime.Add(time.Duration(r.IntN(90*24*3600)) * time.Second)
	msg := func() string {
		return fmt.Sprintf("%08x-%04x-4%03x-a%03x-%012x", r.Uint32(), r.IntN(1<<16), r.IntN(1<<12), r.IntN(1<<12), r.Uint64()&(1<<48-1))
	}
	next := func(typ event.Type, name string) *event.Event {
		ts = ts.Add(time.Duration(1+r.IntN(600)) * time.Second)
		return &event.Event{Type: typ, Event: name, MessageID: msg(), UserID: fmt.Sprint("user-", user), Timestamp: ts, Context: event.ContextFromMap(ctx)}
	}
	cat := func() string { return []string{"Shoes", "Hats", "Bags", "Socks", "Jackets", "Shirts"}[r.IntN(6)] }
	prod := func() string { return fmt.Sprintf("SKU-%05d", r.IntN(5000)) }
	var evs []*event.Event
	id := next(event.Identify, "")
	id.Traits = map[string]any{"email": fmt.Sprintf("user%d@example.com", user), "name": "Camille Martin",
		"first_name": "Camille", "plan": "free", "created_at": "2024-11-02T10:00:00Z"}
	evs = append(evs, id, next(event.Page, ""), next(event.Page, ""))
	for range 12 {
		e := next(event.Track, event.ProductViewed)
		e.Properties = map[string]any{"product_id": prod(), "category": cat(), "price": 49.9}
		evs = append(evs, e)
	}
	for range 3 {
		e := next(event.Track, event.ProductAdded)
		e.Properties = map[string]any{"product_id": prod(), "category": cat(), "price": 49.9, "quantity": 1.0}
		evs = append(evs, e)
	}
	e := next(event.Track, "Checkout Started")
	e.Properties = map[string]any{"revenue": 99.8}
	o := next(event.Track, event.OrderCompleted)
	o.Properties = map[string]any{"order_id": "o1", "revenue": 99.8, "products": []any{
		map[string]any{"product_id": prod(), "category": cat(), "price": 49.9},
		map[string]any{"product_id": prod(), "category": cat(), "price": 49.9},
	}}
	return append(evs, e, o)
}

// BenchmarkApply measures ns and allocations per event. "new-profiles"
// builds 20-event profiles from scratch (registers, lists and interned names
// being created); "live" applies events in time order to one established
// profile, so every event wins the timezone/locale registers.
func BenchmarkApply(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	var evs []*event.Event
	for u := range 200 {
		evs = append(evs, typicalProfile(r, u)...)
	}
	b.Run("new-profiles", func(b *testing.B) {
		b.ReportAllocs()
		var s State
		i := 0
		for b.Loop() {
			if i%20 == 0 {
				s = State{}
			}
			s.Apply(evs[i])
			if i++; i == len(evs) {
				i = 0
			}
		}
	})
	b.Run("live", func(b *testing.B) {
		b.ReportAllocs()
		var s State
		i, ts := 0, baseTime
		for b.Loop() {
			ts = ts.Add(time.Second)
			evs[i].Timestamp = ts
			s.Apply(evs[i])
			if i++; i == len(evs) {
				i = 0
			}
		}
	})
}

func BenchmarkMarshal(b *testing.B) {
	s := stateOf(typicalProfile(rand.New(rand.NewPCG(1, 1)), 1)...)
	enc, _ := s.MarshalBinary()
	b.ReportMetric(float64(len(enc)), "bytes/profile")
	b.ReportAllocs()
	buf := make([]byte, 0, 1024)
	for b.Loop() {
		buf, _ = s.AppendBinary(buf[:0])
	}
}

func BenchmarkUnmarshal(b *testing.B) {
	enc, _ := stateOf(typicalProfile(rand.New(rand.NewPCG(1, 1)), 1)...).MarshalBinary()
	b.ReportAllocs()
	for b.Loop() {
		var s State
		if err := s.UnmarshalBinary(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkView(b *testing.B) {
	s := stateOf(typicalProfile(rand.New(rand.NewPCG(1, 1)), 1)...)
	b.ReportAllocs()
	for b.Loop() {
		_ = s.View()
	}
}

// BenchmarkHeapPerProfile reports the live heap of typical 20-event profiles,
// built by Apply and by UnmarshalBinary (as after a restart).
func BenchmarkHeapPerProfile(b *testing.B) {
	const n = 20000
	r := rand.New(rand.NewPCG(9, 9))
	encs := make([][]byte, n)
	for i := range encs {
		encs[i], _ = stateOf(typicalProfile(r, i)...).MarshalBinary()
	}
	for _, how := range []string{"apply", "unmarshal"} {
		b.Run(how, func(b *testing.B) {
			r := rand.New(rand.NewPCG(9, 9))
			for b.Loop() {
				var evs [][]*event.Event
				if how == "apply" {
					evs = make([][]*event.Event, n)
					for i := range evs {
						evs[i] = typicalProfile(r, i)
					}
				}
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				states := make([]State, n)
				for i := range states {
					if how == "apply" {
						for _, e := range evs[i] {
							states[i].Apply(e)
						}
					} else if err := states[i].UnmarshalBinary(encs[i]); err != nil {
						b.Fatal(err)
					}
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/n, "heap-B/profile")
				runtime.KeepAlive(states)
				runtime.KeepAlive(evs)
			}
		})
	}
}

func TestMsgHashIsStable(t *testing.T) {
	// Stored states hold these hashes: the function must never change.
	if got := msgHash("m1"); got != 624182888590515051 {
		t.Fatalf("msgHash(m1) = %d", got)
	}
}
