// Package profile owns unified customer profiles: each person's derived
// State (traits, event aggregates, e-commerce computed fields) and what keeps
// it current.
package profile

import (
	"cmp"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unique"

	"tailor/internal/event"
)

// Names of the Segment e-commerce spec v2 events the computed fields read.
const (
	EventProductViewed  = "Product Viewed"
	EventProductAdded   = "Product Added"
	EventOrderCompleted = "Order Completed"
)

// RecentMax is how many distinct products each recently_* list keeps.
const RecentMax = 10

// Category weights for favourite_category.
const (
	weightView     = 1
	weightAdd      = 2
	weightPurchase = 3
)

// State is one person's derived profile state.
//
// Invariant: a State is a deterministic function of the SET of events applied
// to it: applying the same events in any order, or applying subsets to separate
// States and Merging them in any grouping, gives Equal states. This is what lets
// partitions process concurrently, lets profiles merge when identity resolution
// links them, and makes a replay of the log rebuild identical state.
//
// Every field is therefore a commutative, associative summary of the events:
// sums, minima/maxima, last-write-wins registers ordered by the total order
// (Timestamp, MessageID, value), and top-K lists of per-product maxima (which
// stay exact when truncated, see offerRecent). Revenue is summed in integer
// micro-units because float addition is not associative.
//
// The representation is canonical (slices sorted, no spare entries), so equal
// states have equal fields and equal encodings. Strings shared across
// profiles (trait keys, event names, categories, product ids, time zones) are
// interned with package unique; a State never references an Event's maps.
//
// The zero State is an empty profile ready to use. A State is not safe for
// concurrent use; its partition's processor owns it.
type State struct {
	first, last int64 // unix nanos of the earliest and latest event; valid when events > 0
	lastOrder   int64 // unix nanos of the latest Order Completed; valid when orders > 0
	revenue     int64 // total revenue in micro-units (1e-6) of the order currency
	events      uint32
	orders      uint32
	types       [numTypes]uint32 // indexed by typeIndex

	eventCounts []counter // track event name → count, sorted by name
	categories  []counter // category → weighted count, sorted by name
	traits      []trait   // sorted by key; tombstones kept

	// recents holds the recently viewed, carted and purchased lists one after
	// the other (one allocation); nrecent[k] is the length of list k. Each
	// list is newest first and at most RecentMax long.
	recents []recent
	nrecent [numRecent]uint8

	timezone, locale latest
}

// The recent lists, indexes into State.nrecent.
const (
	recentViewed = iota
	recentCarted
	recentPurchased
	numRecent
)

// sym is an interned string. The zero sym means "none".
type sym = unique.Handle[string]

type counter struct {
	name sym
	n    uint32
}

type recent struct {
	id sym
	ts int64 // unix nanos, the latest time the product was seen
}

// stamp orders writes: later Timestamp wins, equal timestamps are broken by
// the larger hash of the MessageID. Equal stamps (the same event, or a hash
// collision at the same nanosecond) fall back to the value. Keeping a 64-bit
// hash instead of the id saves about 200 bytes per profile.
type stamp struct {
	ts  int64
	msg uint64
}

// FNV-1a, 64 bits: stable across versions and platforms, which the stored
// state relies on (msgHash values are persisted).
const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

// fnv64 continues an FNV-1a hash h over s.
func fnv64(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime64
	}
	return h
}

func msgHash(s string) uint64 { return fnv64(fnvOffset64, s) }

func (a stamp) compare(b stamp) int {
	switch {
	case a.ts < b.ts:
		return -1
	case a.ts > b.ts:
		return 1
	}
	return cmp.Compare(a.msg, b.msg)
}

// trait is one trait register. val is the value as json.Marshal encodes it;
// "" is a tombstone left by a null, kept so an older write cannot resurrect the trait.
type trait struct {
	key sym
	val string
	at  stamp
}

// latest is a last-write-wins string register; unset when val is the zero sym.
type latest struct {
	val sym
	at  stamp
}

const numTypes = 6

var typeNames = [numTypes]event.Type{event.Identify, event.Track, event.Page, event.Screen, event.Group, event.Alias}

func typeIndex(t event.Type) int {
	switch t {
	case event.Identify:
		return 0
	case event.Track:
		return 1
	case event.Page:
		return 2
	case event.Screen:
		return 3
	case event.Group:
		return 4
	case event.Alias:
		return 5
	}
	return -1
}

// Apply folds one event into the state. e is read-only and not retained.
// Events of an unknown Type count in event_count only.
func (s *State) Apply(e *event.Event) {
	if e == nil {
		return
	}
	ts := unixNanos(e.Timestamp)
	if s.events == 0 || ts < s.first {
		s.first = ts
	}
	if s.events == 0 || ts > s.last {
		s.last = ts
	}
	s.events++
	if i := typeIndex(e.Type); i >= 0 {
		s.types[i]++
	}

	msg := msgHash(e.MessageID)
	if tz, ok := e.Context["timezone"].(string); ok && tz != "" {
		s.timezone.offer(tz, sym{}, ts, msg)
	}
	if loc, ok := e.Context["locale"].(string); ok && loc != "" {
		s.locale.offer(loc, sym{}, ts, msg)
	}

	switch e.Type {
	case event.Identify:
		for k, v := range e.Traits {
			s.setTrait(k, v, ts, msg)
		}
	case event.Track:
		if e.Event != "" {
			s.applyTrack(e.Event, e.Properties, ts)
		}
	}
}

func (s *State) applyTrack(name string, props map[string]any, ts int64) {
	s.eventCounts = bump(s.eventCounts, name, sym{}, 1)
	switch name {
	case EventProductViewed:
		if id := productID(props); id != "" {
			s.offerRecent(recentViewed, id, sym{}, ts)
		}
		if c, ok := props["category"].(string); ok && c != "" {
			s.categories = bump(s.categories, c, sym{}, weightView)
		}
	case EventProductAdded:
		if id := productID(props); id != "" {
			s.offerRecent(recentCarted, id, sym{}, ts)
		}
		if c, ok := props["category"].(string); ok && c != "" {
			s.categories = bump(s.categories, c, sym{}, weightAdd)
		}
	case EventOrderCompleted:
		if s.orders == 0 || ts > s.lastOrder {
			s.lastOrder = ts
		}
		s.orders++
		s.revenue += orderRevenue(props)
		products, _ := props["products"].([]any)
		for _, it := range products {
			p, _ := it.(map[string]any)
			if p == nil {
				continue
			}
			if id := productID(p); id != "" {
				s.offerRecent(recentPurchased, id, sym{}, ts)
			}
			if c, ok := p["category"].(string); ok && c != "" {
				s.categories = bump(s.categories, c, sym{}, weightPurchase)
			}
		}
	}
}

// offer writes v (interned as h when h is not zero) if (ts, msg, v) is later
// than the register's current write.
func (l *latest) offer(v string, h sym, ts int64, msg uint64) {
	if l.val != (sym{}) {
		c := stamp{ts, msg}.compare(l.at)
		if c < 0 || c == 0 && v <= l.val.Value() {
			return
		}
	}
	if h == (sym{}) {
		h = unique.Make(v)
	}
	l.val = h
	l.at = stamp{ts, msg}
}

func (s *State) setTrait(k string, v any, ts int64, msg uint64) {
	i, found := slices.BinarySearchFunc(s.traits, k, compareTraitKey)
	if found && (stamp{ts, msg}).compare(s.traits[i].at) < 0 {
		return // older than what we hold: skip encoding it
	}
	val, ok := encodeTraitValue(v)
	if !ok {
		return // not representable as JSON (cannot come from a decoded message)
	}
	if found {
		t := &s.traits[i]
		c := stamp{ts, msg}.compare(t.at)
		if c > 0 || c == 0 && val > t.val {
			t.val, t.at = val, stamp{ts, msg}
		}
		return
	}
	s.traits = insertAt(s.traits, i, trait{key: unique.Make(k), val: val, at: stamp{ts, msg}})
}

func compareTraitKey(t trait, k string) int { return strings.Compare(t.key.Value(), k) }

func compareCounterName(c counter, name string) int { return strings.Compare(c.name.Value(), name) }

// encodeTraitValue returns v's JSON encoding, exactly as json.Marshal writes
// it (callers may compare it with json.Marshal output), "" for null (a
// tombstone). Plain strings skip encoding/json.
func encodeTraitValue(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", true
	case bool:
		if x {
			return "true", true
		}
		return "false", true
	case string:
		if plainJSONString(x) {
			return `"` + x + `"`, true
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", false
	}
	return string(b), true
}

// plainJSONString reports whether json.Marshal would quote s without
// escaping anything: valid UTF-8 without control characters, '"', '\\', the
// HTML characters <, >, & or U+2028/U+2029.
func plainJSONString(s string) bool {
	ascii := true
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return ascii || utf8.ValidString(s) && !strings.Contains(s, "\u2028") && !strings.Contains(s, "\u2029")
}

// bump adds by to name's counter in the sorted list cs.
func bump(cs []counter, name string, h sym, by uint32) []counter {
	i, found := slices.BinarySearchFunc(cs, name, compareCounterName)
	if found {
		cs[i].n += by
		return cs
	}
	if h == (sym{}) {
		h = unique.Make(name)
	}
	return insertAt(cs, i, counter{name: h, n: by})
}

// ranksBefore orders recent lists: newest first, ties by product id.
func ranksBefore(ts int64, id string, r recent) bool {
	return ts > r.ts || ts == r.ts && id < r.id.Value()
}

// recentList returns list k, sharing s.recents' memory, and its offset.
func (s *State) recentList(k int) ([]recent, int) {
	lo := 0
	for i := range k {
		lo += int(s.nrecent[i])
	}
	hi := lo + int(s.nrecent[k])
	return s.recents[lo:hi:hi], lo
}

// offerRecent records that product id was seen at ts in list k (interned as
// h when h is not zero). A list holds the RecentMax products with the
// greatest (latest time seen, -id). Truncating is exact under Merge: a
// product dropped from a list is outranked by RecentMax others there, whose
// latest times can only grow, so it cannot belong to the top of any superset.
func (s *State) offerRecent(k int, id string, h sym, ts int64) {
	l, lo := s.recentList(k)
	at := -1
	for i := range l {
		if l[i].id.Value() == id {
			at = i
			break
		}
	}
	if at >= 0 {
		if ts <= l[at].ts {
			return
		}
		l[at].ts = ts
		for at > 0 && ranksBefore(l[at].ts, id, l[at-1]) {
			l[at], l[at-1] = l[at-1], l[at]
			at--
		}
		return
	}
	pos := len(l)
	for pos > 0 && ranksBefore(ts, id, l[pos-1]) {
		pos--
	}
	if pos >= RecentMax {
		return
	}
	if h == (sym{}) {
		h = unique.Make(id)
	}
	r := recent{id: h, ts: ts}
	if len(l) == RecentMax {
		copy(l[pos+1:], l[pos:RecentMax-1])
		l[pos] = r
		return
	}
	s.recents = insertAt(s.recents, lo+pos, r)
	s.nrecent[k]++
}

// insertAt inserts v at i, growing capacity by an eighth (so exactly, up to
// eight elements): per-profile lists are small, and slack times a million
// profiles is memory.
func insertAt[T any](s []T, i int, v T) []T {
	if len(s) == cap(s) {
		n := make([]T, len(s), len(s)+1+len(s)/8)
		copy(n, s)
		s = n
	}
	s = s[:len(s)+1]
	copy(s[i+1:], s[i:])
	s[i] = v
	return s
}

// productID returns properties.product_id, else sku, else id, as a string;
// numbers print as integers when integral.
func productID(m map[string]any) string {
	for _, k := range [...]string{"product_id", "sku", "id"} {
		switch v := m[k].(type) {
		case string:
			if v != "" {
				return v
			}
		case float64:
			if !math.IsInf(v, 0) && !math.IsNaN(v) {
				if v == 0 {
					return "0" // also -0
				}
				return strconv.FormatFloat(v, 'f', -1, 64)
			}
		case int:
			return strconv.Itoa(v)
		case int64:
			return strconv.FormatInt(v, 10)
		case json.Number:
			if f, err := v.Float64(); err == nil {
				return productID(map[string]any{"id": f})
			}
		}
	}
	return ""
}

// number reads a JSON number; ok is false for anything else (and NaN, ±Inf).
func number(v any) (float64, bool) {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case json.Number:
		var err error
		if f, err = x.Float64(); err != nil {
			return 0, false
		}
	default:
		return 0, false
	}
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// orderRevenue is an Order Completed's revenue in micro-units: properties.revenue,
// else properties.total, else the sum of products[].price × quantity (default 1).
func orderRevenue(props map[string]any) int64 {
	if v, ok := number(props["revenue"]); ok {
		return micros(v)
	}
	if v, ok := number(props["total"]); ok {
		return micros(v)
	}
	var sum int64
	products, _ := props["products"].([]any)
	for _, it := range products {
		p, _ := it.(map[string]any)
		price, ok := number(p["price"])
		if !ok {
			continue
		}
		q := 1.0
		if v, ok := number(p["quantity"]); ok {
			q = v
		}
		sum += micros(price * q)
	}
	return sum
}

// maxMicros bounds one amount (1e11 currency units) so sums stay far from
// overflow; integer sums, unlike float sums, do not depend on order.
const maxMicros = 1e17

func micros(v float64) int64 {
	m := math.Round(v * 1e6)
	switch {
	case math.IsNaN(m):
		return 0
	case m > maxMicros:
		return maxMicros
	case m < -maxMicros:
		return -maxMicros
	}
	return int64(m)
}

// unixNanos converts t to unix nanoseconds, 0 for the zero time, clamped to
// the representable range (years 1678–2262).
func unixNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	switch sec := t.Unix(); {
	case sec < -9223372036:
		return math.MinInt64
	case sec > 9223372035:
		return math.MaxInt64
	}
	return t.UnixNano()
}

// Merge absorbs o into s. The events behind o and s must be disjoint (counts
// add up). o is not modified and s keeps no reference to o's slices.
func (s *State) Merge(o *State) {
	if o == nil || o == s {
		return
	}
	if o.events > 0 {
		if s.events == 0 || o.first < s.first {
			s.first = o.first
		}
		if s.events == 0 || o.last > s.last {
			s.last = o.last
		}
	}
	s.events += o.events
	for i := range s.types {
		s.types[i] += o.types[i]
	}
	if o.orders > 0 && (s.orders == 0 || o.lastOrder > s.lastOrder) {
		s.lastOrder = o.lastOrder
	}
	s.orders += o.orders
	s.revenue += o.revenue

	s.eventCounts = mergeCounters(s.eventCounts, o.eventCounts)
	s.categories = mergeCounters(s.categories, o.categories)
	s.traits = mergeTraits(s.traits, o.traits)
	for k := range numRecent {
		l, _ := o.recentList(k)
		for _, r := range l {
			s.offerRecent(k, r.id.Value(), r.id, r.ts)
		}
	}

	for _, p := range [...]struct{ dst, src *latest }{{&s.timezone, &o.timezone}, {&s.locale, &o.locale}} {
		if p.src.val != (sym{}) {
			p.dst.offer(p.src.val.Value(), p.src.val, p.src.at.ts, p.src.at.msg)
		}
	}
}

func mergeCounters(a, b []counter) []counter {
	return mergeSorted(a, b, func(c counter) string { return c.name.Value() },
		func(x, y counter) counter { return counter{name: x.name, n: x.n + y.n} })
}

func mergeTraits(a, b []trait) []trait {
	return mergeSorted(a, b, func(t trait) string { return t.key.Value() },
		func(x, y trait) trait {
			if c := y.at.compare(x.at); c > 0 || c == 0 && y.val > x.val {
				return y
			}
			return x
		})
}

// mergeSorted merges two lists sorted by key into a new one, combining the
// elements whose keys are equal. a is returned as is when b is empty.
func mergeSorted[T any](a, b []T, key func(T) string, combine func(x, y T) T) []T {
	if len(b) == 0 {
		return a
	}
	if len(a) == 0 {
		return slices.Clone(b)
	}
	out := make([]T, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch c := strings.Compare(key(a[i]), key(b[j])); {
		case c < 0:
			out = append(out, a[i])
			i++
		case c > 0:
			out = append(out, b[j])
			j++
		default:
			out = append(out, combine(a[i], b[j]))
			i++
			j++
		}
	}
	out = append(out, a[i:]...)
	out = append(out, b[j:]...)
	return slices.Clip(out)
}

// Equal reports whether s and o hold the same state.
func (s *State) Equal(o *State) bool {
	if s == o {
		return true
	}
	if s == nil || o == nil {
		return false
	}
	return s.first == o.first && s.last == o.last && s.lastOrder == o.lastOrder &&
		s.revenue == o.revenue && s.events == o.events && s.orders == o.orders &&
		s.types == o.types &&
		slices.Equal(s.eventCounts, o.eventCounts) &&
		slices.Equal(s.categories, o.categories) &&
		slices.Equal(s.traits, o.traits) &&
		s.nrecent == o.nrecent && slices.Equal(s.recents, o.recents) &&
		s.timezone == o.timezone && s.locale == o.locale
}
