package profile

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// View is a State in the JSON shape of the Profile "traits" and "computed"
// members (docs/API.md). It shares nothing mutable with the State.
type View struct {
	Traits   map[string]any `json:"traits"`
	Computed Computed       `json:"computed"`
}

// Computed holds the computed fields. Times are UTC and omitted when zero;
// maps and lists are never nil so they encode as {} and [].
type Computed struct {
	FirstSeen         time.Time        `json:"first_seen,omitzero"`
	LastSeen          time.Time        `json:"last_seen,omitzero"`
	EventCount        int64            `json:"event_count"`
	TypeCounts        map[string]int64 `json:"type_counts"`
	EventCounts       map[string]int64 `json:"event_counts"`
	Orders            int64            `json:"orders"`
	TotalRevenue      float64          `json:"total_revenue"`
	AverageOrderValue float64          `json:"average_order_value"`
	LastOrderAt       time.Time        `json:"last_order_at,omitzero"`
	RecentlyViewed    []RecentProduct  `json:"recently_viewed"`
	RecentlyCarted    []RecentProduct  `json:"recently_carted"`
	RecentlyPurchased []RecentProduct  `json:"recently_purchased"`
	FavouriteCategory string           `json:"favourite_category,omitempty"`
	Timezone          string           `json:"timezone,omitempty"`
	Locale            string           `json:"locale,omitempty"`
}

// RecentProduct is a product and the latest time the person was seen with it.
type RecentProduct struct {
	ProductID string    `json:"product_id"`
	At        time.Time `json:"at"`
}

// View returns the JSON-ready view of s.
func (s *State) View() View {
	v := View{Traits: make(map[string]any, len(s.traits))}
	for _, t := range s.traits {
		if t.val != "" {
			v.Traits[t.key.Value()] = decodeTraitValue(t.val)
		}
	}
	c := &v.Computed
	c.EventCount = int64(s.events)
	if s.events > 0 {
		c.FirstSeen = nanosTime(s.first)
		c.LastSeen = nanosTime(s.last)
	}
	c.TypeCounts = make(map[string]int64, numTypes)
	for i, n := range s.types {
		if n > 0 {
			c.TypeCounts[string(typeNames[i])] = int64(n)
		}
	}
	c.EventCounts = make(map[string]int64, len(s.eventCounts))
	for _, ec := range s.eventCounts {
		c.EventCounts[ec.name.Value()] = int64(ec.n)
	}
	c.Orders = int64(s.orders)
	c.TotalRevenue = float64(s.revenue) / 1e6
	if s.orders > 0 {
		c.AverageOrderValue = c.TotalRevenue / float64(s.orders)
		c.LastOrderAt = nanosTime(s.lastOrder)
	}
	for k, dst := range [numRecent]*[]RecentProduct{&c.RecentlyViewed, &c.RecentlyCarted, &c.RecentlyPurchased} {
		l, _ := s.recentList(k)
		*dst = recentView(l)
	}
	c.FavouriteCategory = s.favouriteCategory()
	if s.timezone.val != (sym{}) {
		c.Timezone = s.timezone.val.Value()
	}
	if s.locale.val != (sym{}) {
		c.Locale = s.locale.val.Value()
	}
	return v
}

// favouriteCategory is the category with the highest weighted count, ties
// going to the smallest name (the list is sorted, so the first maximum).
func (s *State) favouriteCategory() string {
	var best counter
	for _, c := range s.categories {
		if best.name == (sym{}) || c.n > best.n {
			best = c
		}
	}
	if best.name == (sym{}) {
		return ""
	}
	return best.name.Value()
}

func recentView(l []recent) []RecentProduct {
	out := make([]RecentProduct, len(l))
	for i, r := range l {
		out[i] = RecentProduct{ProductID: r.id.Value(), At: nanosTime(r.ts)}
	}
	return out
}

// nanosTime is the inverse of unixNanos: 0 is the zero time.
func nanosTime(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// decodeTraitValue decodes a stored trait value (valid JSON), taking the
// common scalar shapes without encoding/json.
func decodeTraitValue(raw string) any {
	switch raw {
	case "true":
		return true
	case "false":
		return false
	case "null":
		return nil
	}
	switch c := raw[0]; {
	case c == '"' && strings.IndexByte(raw, '\\') < 0:
		return raw[1 : len(raw)-1]
	case c == '-' || c >= '0' && c <= '9':
		if f, err := strconv.ParseFloat(raw, 64); err == nil {
			return f
		}
	}
	var v any
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		return nil // unreachable: values are validated on the way in
	}
	return v
}
