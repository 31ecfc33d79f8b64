package profile

import (
	"encoding/json"
	"iter"
	"slices"
	"strconv"
	"time"

	"tailor/internal/event"
)

// Typed reads of a State for the engines (segments, recommendations,
// journeys), which read them millions of times: no JSON building and, except
// where a method says so, no allocation. Times are UTC; the zero time means
// "never". Like the State, the accessors are for its owner's goroutine.

// EventCount is the number of events applied, of every type.
func (s *State) EventCount() int { return int(s.events) }

// TypeCount is the number of events of type t.
func (s *State) TypeCount(t event.Type) int {
	if i := typeIndex(t); i >= 0 {
		return int(s.types[i])
	}
	return 0
}

// EventNameCount is the number of track events named name. Names beyond
// MaxEventNames read 0.
func (s *State) EventNameCount(name string) int {
	if i, found := slices.BinarySearchFunc(s.eventCounts, name, compareCounterName); found {
		return int(s.eventCounts[i].n)
	}
	return 0
}

// EventNameCounts yields each counted track event name and its count, by name.
func (s *State) EventNameCounts() iter.Seq2[string, int] {
	return func(yield func(string, int) bool) {
		for _, c := range s.eventCounts {
			if !yield(c.name.Value(), int(c.n)) {
				return
			}
		}
	}
}

// FirstSeen is the time of the earliest event.
func (s *State) FirstSeen() time.Time {
	if s.events == 0 {
		return time.Time{}
	}
	return nanosTime(s.first)
}

// LastSeen is the time of the latest event.
func (s *State) LastSeen() time.Time {
	if s.events == 0 {
		return time.Time{}
	}
	return nanosTime(s.last)
}

// Orders is the number of Order Completed events.
func (s *State) Orders() int { return int(s.orders) }

// LastOrderAt is the time of the latest Order Completed.
func (s *State) LastOrderAt() time.Time {
	if s.orders == 0 {
		return time.Time{}
	}
	return nanosTime(s.lastOrder)
}

// Revenue is the orders' total revenue in currency units: the float64 nearest
// the exact sum of micro-units, divided by 1e6.
func (s *State) Revenue() float64 { return s.revenue.float64() / 1e6 }

// RevenueMicros is the orders' exact total revenue in micro-units; ok is false
// when it does not fit an int64 (beyond ±9.2e12 currency units), and then
// Revenue has it approximately.
func (s *State) RevenueMicros() (micros int64, ok bool) { return s.revenue.int64() }

// AverageOrderValue is Revenue divided by Orders, 0 without orders.
func (s *State) AverageOrderValue() float64 {
	if s.orders == 0 {
		return 0
	}
	return s.Revenue() / float64(s.orders)
}

// RecentlyViewed yields the products of the latest Product Viewed events and
// when each was last viewed, newest first, at most RecentMax.
func (s *State) RecentlyViewed() iter.Seq2[string, time.Time] { return s.recentSeq(recentViewed) }

// RecentlyCarted is RecentlyViewed for Product Added.
func (s *State) RecentlyCarted() iter.Seq2[string, time.Time] { return s.recentSeq(recentCarted) }

// RecentlyPurchased is RecentlyViewed for the line items of Order Completed.
func (s *State) RecentlyPurchased() iter.Seq2[string, time.Time] {
	return s.recentSeq(recentPurchased)
}

func (s *State) recentSeq(k int) iter.Seq2[string, time.Time] {
	return func(yield func(string, time.Time) bool) {
		l, _ := s.recentList(k)
		for _, r := range l {
			if !yield(r.id.Value(), nanosTime(r.ts)) {
				return
			}
		}
	}
}

// FavouriteCategory is the category with the highest weight (see
// CategoryWeight), ties going to the smallest name; "" when none.
func (s *State) FavouriteCategory() string {
	var best counter
	for _, c := range s.categories { // sorted, so the first maximum is the smallest name
		if best.name == (sym{}) || c.n > best.n {
			best = c
		}
	}
	if best.name == (sym{}) {
		return ""
	}
	return best.name.Value()
}

// CategoryWeight is category's weighted count: 1 per product viewed, 2 per
// product added, 3 per line item purchased in it. Categories beyond
// MaxCategories read 0.
func (s *State) CategoryWeight(category string) int {
	if i, found := slices.BinarySearchFunc(s.categories, category, compareCounterName); found {
		return int(s.categories[i].n)
	}
	return 0
}

// CategoryWeights yields each weighed category and its weight, by name.
func (s *State) CategoryWeights() iter.Seq2[string, int] {
	return func(yield func(string, int) bool) {
		for _, c := range s.categories {
			if !yield(c.name.Value(), int(c.n)) {
				return
			}
		}
	}
}

// TraitJSON returns the JSON encoding of trait name (as json.Marshal writes
// it), if set.
func (s *State) TraitJSON(name string) (string, bool) {
	i, found := slices.BinarySearchFunc(s.traits, name, compareTraitKey)
	if !found || s.traits[i].val == "" {
		return "", false
	}
	return s.traits[i].val, true
}

// Trait returns the decoded value of trait name, if set: string, float64,
// bool, nil, []any or map[string]any. Boxing the value allocates; prefer
// TraitString, TraitNumber or TraitBool in hot paths.
func (s *State) Trait(name string) (any, bool) {
	j, ok := s.TraitJSON(name)
	if !ok {
		return nil, false
	}
	return decodeTraitValue(j), true
}

// TraitString returns trait name if it is set to a string. It allocates only
// for strings holding JSON escapes.
func (s *State) TraitString(name string) (string, bool) {
	j, ok := s.TraitJSON(name)
	if !ok || j[0] != '"' {
		return "", false
	}
	if v, ok := plainString(j); ok {
		return v, true
	}
	var v string
	if json.Unmarshal([]byte(j), &v) != nil {
		return "", false
	}
	return v, true
}

// TraitNumber returns trait name if it is set to a number.
func (s *State) TraitNumber(name string) (float64, bool) {
	j, ok := s.TraitJSON(name)
	if !ok || !isNumberStart(j[0]) {
		return 0, false
	}
	f, err := strconv.ParseFloat(j, 64)
	return f, err == nil
}

// TraitBool returns trait name if it is set to true or false.
func (s *State) TraitBool(name string) (v, ok bool) {
	switch j, _ := s.TraitJSON(name); j {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// Timezone is the time zone of the latest event that named one in its
// context (an IANA name as the SDK sent it), "" when none did.
func (s *State) Timezone() string { return s.timezone.value() }

// Locale is Timezone for context.locale.
func (s *State) Locale() string { return s.locale.value() }

func (l *latest) value() string {
	if l.val == (sym{}) {
		return ""
	}
	return l.val.Value()
}

// Traits yields every set trait as its key and JSON encoding, in key order
// (removed traits are not yielded).
func (s *State) Traits() iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for _, t := range s.traits {
			if t.val != "" && !yield(t.key.Value(), t.val) {
				return
			}
		}
	}
}
