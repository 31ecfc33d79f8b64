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

// View returns the JSON-ready view of s, built on the accessors.
func (s *State) View() View {
	v := View{Traits: make(map[string]any, len(s.traits))}
	for _, t := range s.traits {
		if t.val != "" {
			v.Traits[t.key.Value()] = decodeTraitValue(t.val)
		}
	}
	c := &v.Computed
	c.FirstSeen, c.LastSeen = s.FirstSeen(), s.LastSeen()
	c.EventCount = int64(s.EventCount())
	c.TypeCounts = make(map[string]int64, numTypes)
	for _, t := range typeNames {
		if n := s.TypeCount(t); n > 0 {
			c.TypeCounts[string(t)] = int64(n)
		}
	}
	c.EventCounts = make(map[string]int64, len(s.eventCounts))
	for name, n := range s.EventNameCounts() {
		c.EventCounts[name] = int64(n)
	}
	c.Orders = int64(s.Orders())
	c.TotalRevenue = s.Revenue()
	c.AverageOrderValue = s.AverageOrderValue()
	c.LastOrderAt = s.LastOrderAt()
	c.RecentlyViewed = s.recentView(recentViewed)
	c.RecentlyCarted = s.recentView(recentCarted)
	c.RecentlyPurchased = s.recentView(recentPurchased)
	c.FavouriteCategory = s.FavouriteCategory()
	c.Timezone = s.Timezone()
	c.Locale = s.Locale()
	return v
}

// recentView collects recent list k, never nil so it encodes as [].
func (s *State) recentView(k int) []RecentProduct {
	l, _ := s.recentList(k)
	out := make([]RecentProduct, 0, len(l))
	for id, at := range s.recentSeq(k) {
		out = append(out, RecentProduct{ProductID: id, At: at})
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

// DecodeTrait decodes a trait's JSON as State.Traits yields it, as
// State.Trait does. Appliers that index traits call it.
func DecodeTrait(raw string) any { return decodeTraitValue(raw) }

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
	if v, ok := plainString(raw); ok {
		return v
	}
	if isNumberStart(raw[0]) {
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

// plainString returns the string a JSON string literal without escapes
// holds, sharing raw's memory.
func plainString(raw string) (string, bool) {
	if len(raw) >= 2 && raw[0] == '"' && strings.IndexByte(raw, '\\') < 0 {
		return raw[1 : len(raw)-1], true
	}
	return "", false
}

func isNumberStart(c byte) bool { return c == '-' || c >= '0' && c <= '9' }
