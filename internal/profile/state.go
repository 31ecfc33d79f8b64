// Package profile owns unified customer profiles: each person's derived
// State (traits, event aggregates, e-commerce computed fields) and what keeps
// it current.
package profile

import (
	"cmp"
	"encoding/json"
	"math"
	"math/big"
	"math/bits"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
	"unique"

	"tailor/internal/event"
)

// RecentMax is how many distinct products each recently_* list keeps.
const RecentMax = 10

// Category weights for favourite_category.
const (
	weightView     = 1
	weightAdd      = 2
	weightPurchase = 3
)

// Per-profile limits, so that no single profile (a bot, a misbehaving
// integration) grows without bound. Apply and Merge report what each one
// refused (see Refused).
//
// A count limit keeps the entries that rank first, never the first to
// arrive: the MaxEventNames smallest names, not the first 500 seen. Keeping
// the K smallest keys is exact under Merge, for the reason offerRecent gives:
// a key dropped from one State is outranked by K others there, which every
// superset also holds, so the State stays a function of the set of events.
const (
	// MaxTraits is how many trait keys a profile keeps, counting removed
	// traits (their tombstones keep older writes from resurrecting them).
	// The identity traits "email" and "phone" rank before every other key,
	// so a flood of keys cannot push them out; other keys rank by key.
	MaxTraits = 500
	// MaxTraitKeyBytes and MaxTraitValueBytes bound one trait: a write with
	// a longer key or a longer value (as JSON) is refused, and the trait
	// keeps its previous value.
	MaxTraitKeyBytes   = 1 << 10
	MaxTraitValueBytes = 4 << 10
	// MaxEventNames is how many distinct track event names event_counts
	// keeps (the smallest); the other names still count in event_count and
	// type_counts.
	MaxEventNames = 500
	// MaxCategories is how many categories favourite_category weighs (the
	// smallest names).
	MaxCategories = 500
)

// Identity traits must never be dropped by MaxTraits (see capTraits).
const _ = uint(MaxTraits - len(identityTraits))

// Refused counts what Apply or Merge left out of a State because a limit was
// reached, one per refused write or displaced entry (a name refused by two
// events counts twice); the zero value means nothing was. Callers add it to
// their metrics.
type Refused struct {
	Traits     int // at MaxTraits: a new key refused, or the last-ranked key it displaced
	TraitSize  int // writes over MaxTraitKeyBytes or MaxTraitValueBytes
	EventNames int // at MaxEventNames: a new name refused, or the largest it displaced
	Categories int // at MaxCategories: likewise
}

// Any reports whether anything was refused.
func (r Refused) Any() bool { return r != Refused{} }

// Add returns the sum of r and o.
func (r Refused) Add(o Refused) Refused {
	return Refused{r.Traits + o.Traits, r.TraitSize + o.TraitSize, r.EventNames + o.EventNames, r.Categories + o.Categories}
}

// State is one person's derived profile state.
//
// Invariant: a State is a deterministic function of the SET of events applied
// to it: applying the same events in any order, or applying subsets to separate
// States and Merging them in any grouping, gives Equal states. This is what lets
// partitions process concurrently, lets profiles merge when identity resolution
// links them, and makes a replay of the log rebuild identical state.
//
// Every field is therefore a commutative, associative summary of the events:
// sums, minima/maxima, last-write-wins registers under a total order of
// writes (see trait), top-K lists of per-product maxima (which stay exact
// when truncated, see offerRecent) and lists capped to their K smallest keys
// (see the limits). Revenue is summed in integer micro-units, in 128 bits so
// that no sum wraps, because float addition is not associative.
//
// The representation is canonical (slices sorted, no spare entries), so equal
// states have equal fields and equal encodings. Strings shared across
// profiles (trait keys, event names, categories, product ids, time zones) are
// interned with package unique; a State never references an Event's maps.
//
// The zero State is an empty profile ready to use. A State is not safe for
// concurrent use; its partition's processor owns it.
type State struct {
	first, last int64  // unix nanos of the earliest and latest event; valid when events > 0
	lastOrder   int64  // unix nanos of the latest Order Completed; valid when orders > 0
	revenue     int128 // total revenue in micro-units (1e-6) of the order currency
	events      uint32
	orders      uint32
	types       [numTypes]uint32 // indexed by typeIndex

	eventCounts []counter // track event name → count, sorted by name, at most MaxEventNames
	categories  []counter // category → weighted count, sorted by name, at most MaxCategories
	traits      []trait   // sorted by key; tombstones kept; at most MaxTraits

	// recents holds the recently viewed, carted and purchased lists one after
	// the other (one allocation); nrecent[k] is the length of list k. Each
	// list is newest first and at most RecentMax long.
	recents []recent
	nrecent [numRecent]uint8

	// serverIDs has identityTraits[i]'s bit 1<<i set when that trait is
	// present and its winning write came from a TrustServer event. A bitmask
	// here rather than a flag per trait keeps trait at 40 bytes.
	serverIDs uint8

	timezone, locale latest
}

// clone returns a copy of s that shares no slice with it: State's other
// fields are values (interned handles, numbers).
func (s *State) clone() State {
	c := *s
	c.eventCounts = slices.Clone(s.eventCounts)
	c.categories = slices.Clone(s.categories)
	c.traits = slices.Clone(s.traits)
	c.recents = slices.Clone(s.recents)
	return c
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
//
// Writes of one trait are totally ordered, so the winner does not depend on
// the order they arrive in: for the identity traits, a write from a
// TrustServer event beats any write from a TrustClient event (a public
// client key must not replace the email a backend vouched for); then the
// later stamp wins; then the greater value.
type trait struct {
	key sym
	val string
	at  stamp
}

// identityTraits are the traits whose writes are ordered by trust first.
var identityTraits = [...]sym{unique.Make("email"), unique.Make("phone")}

// identityBit is key's bit in State.serverIDs, 0 for other traits.
func identityBit(key string) uint8 {
	for i, k := range identityTraits {
		if key == k.Value() {
			return 1 << i
		}
	}
	return 0
}

// symBit is identityBit for an interned key: a pointer comparison.
func symBit(key sym) uint8 {
	for i, k := range identityTraits {
		if key == k {
			return 1 << i
		}
	}
	return 0
}

// compareWrites orders two writes of one trait, ignoring their values.
// server is only ever true for identity traits.
func compareWrites(aServer bool, a stamp, bServer bool, b stamp) int {
	if aServer != bServer {
		if aServer {
			return 1
		}
		return -1
	}
	return a.compare(b)
}

// latest is a last-write-wins string register; unset when val is the zero sym.
type latest struct {
	val sym
	at  stamp
}

// int128 is a two's complement 128-bit integer. Revenue sums in it are exact:
// at most 2^32 orders of at most event.MaxMicros each stay far below 2^127.
type int128 struct {
	hi int64
	lo uint64
}

func int128Of(v int64) int128 { return int128{hi: v >> 63, lo: uint64(v)} }

func (a int128) add(b int128) int128 {
	lo, carry := bits.Add64(a.lo, b.lo, 0)
	return int128{hi: a.hi + b.hi + int64(carry), lo: lo}
}

// int64 returns a, and whether it fits an int64.
func (a int128) int64() (int64, bool) { return int64(a.lo), a.hi == int64(a.lo)>>63 }

// float64 returns the float64 nearest to a.
func (a int128) float64() float64 {
	if v, ok := a.int64(); ok {
		return float64(v)
	}
	// Only sums beyond ±9.2e12 currency units get here; big rounds correctly.
	x := new(big.Int).Lsh(big.NewInt(a.hi), 64)
	x.Add(x, new(big.Int).SetUint64(a.lo))
	f, _ := new(big.Float).SetInt(x).Float64()
	return f
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

// Apply folds one event into the state and reports what the limits refused.
// e is read-only and not retained. Events of an unknown Type count in
// event_count only.
func (s *State) Apply(e *event.Event) Refused {
	var ref Refused
	if e == nil {
		return ref
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
	if tz := e.Context.Timezone; tz != "" {
		s.timezone.offer(tz, sym{}, ts, msg)
	}
	if loc := e.Context.Locale; loc != "" {
		s.locale.offer(loc, sym{}, ts, msg)
	}

	switch e.Type {
	case event.Identify:
		// Any level other than TrustServer is trusted less, like a client.
		server := e.Trust == event.TrustServer
		for k, v := range e.Traits {
			s.setTrait(k, v, ts, msg, server, &ref)
		}
	case event.Track:
		if e.Event != "" {
			s.applyTrack(e.Event, e.Properties, ts, &ref)
		}
	}
	return ref
}

func (s *State) applyTrack(name string, props map[string]any, ts int64, ref *Refused) {
	s.eventCounts = bump(s.eventCounts, name, sym{}, 1, MaxEventNames, &ref.EventNames)
	switch name {
	case event.ProductViewed:
		s.seeProduct(recentViewed, event.ProductID(props), event.Category(props), ts, weightView, ref)
	case event.ProductAdded:
		s.seeProduct(recentCarted, event.ProductID(props), event.Category(props), ts, weightAdd, ref)
	case event.OrderCompleted:
		if s.orders == 0 || ts > s.lastOrder {
			s.lastOrder = ts
		}
		s.orders++
		s.revenue = s.revenue.add(int128Of(event.OrderRevenue(props)))
		for it := range event.LineItems(props) {
			s.seeProduct(recentPurchased, it.ProductID, it.Category, ts, weightPurchase, ref)
		}
	}
}

// seeProduct records product id ("" for none) in recent list k and weighs
// its category ("" for none).
func (s *State) seeProduct(k int, id, category string, ts int64, weight uint32, ref *Refused) {
	if id != "" {
		s.offerRecent(k, id, sym{}, ts)
	}
	if category != "" {
		s.categories = bump(s.categories, category, sym{}, weight, MaxCategories, &ref.Categories)
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

// traitServer reports whether the write held for trait i came from a
// TrustServer event (always false for traits other than the identity ones).
func (s *State) traitServer(i int) bool {
	return s.serverIDs&symBit(s.traits[i].key) != 0
}

func (s *State) setServer(bit uint8, server bool) {
	if server {
		s.serverIDs |= bit
	} else {
		s.serverIDs &^= bit
	}
}

func (s *State) setTrait(k string, v any, ts int64, msg uint64, server bool, ref *Refused) {
	if len(k) > MaxTraitKeyBytes {
		ref.TraitSize++
		return
	}
	bit := identityBit(k)
	server = server && bit != 0
	at := stamp{ts, msg}
	i, found := slices.BinarySearchFunc(s.traits, k, compareTraitKey)
	if found && compareWrites(server, at, s.traitServer(i), s.traits[i].at) < 0 {
		return // loses to what we hold: skip encoding it
	}
	val, ok := encodeTraitValue(v)
	if !ok {
		return // not representable as JSON (cannot come from a decoded message)
	}
	if len(val) > MaxTraitValueBytes {
		ref.TraitSize++
		return
	}
	if found {
		t := &s.traits[i]
		c := compareWrites(server, at, s.traitServer(i), t.at)
		if c > 0 || c == 0 && val > t.val {
			t.val, t.at = val, at
			s.setServer(bit, server)
		}
		return
	}
	if len(s.traits) >= MaxTraits {
		ref.Traits++
		w := lastRanked(s.traits)
		if compareRank(k, bit != 0, s.traits[w].key) > 0 {
			return
		}
		s.setServer(symBit(s.traits[w].key), false)
		s.traits = slices.Delete(s.traits, w, w+1)
		i, _ = slices.BinarySearchFunc(s.traits, k, compareTraitKey)
	}
	s.traits = insertAt(s.traits, i, trait{key: unique.Make(k), val: val, at: at})
	s.setServer(bit, server)
}

// compareRank orders trait keys for MaxTraits: identity traits first, then by key.
func compareRank(a string, aIdentity bool, b sym) int {
	if bIdentity := symBit(b) != 0; aIdentity != bIdentity {
		if aIdentity {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b.Value())
}

// lastRanked returns the index of the trait that ranks last for MaxTraits:
// the last that is not an identity trait (the list is sorted by key).
func lastRanked(ts []trait) int {
	for i := len(ts) - 1; i >= 0; i-- {
		if symBit(ts[i].key) == 0 {
			return i
		}
	}
	return len(ts) - 1
}

// capTraits drops the traits that rank after the first MaxTraits, in place,
// and returns how many it dropped. It never drops an identity trait.
func capTraits(ts []trait) ([]trait, int) {
	if len(ts) <= MaxTraits {
		return ts, 0
	}
	others := MaxTraits
	for _, t := range ts {
		if symBit(t.key) != 0 {
			others--
		}
	}
	out := ts[:0]
	for _, t := range ts {
		switch {
		case symBit(t.key) != 0:
			out = append(out, t)
		case others > 0:
			others--
			out = append(out, t)
		}
	}
	return slices.Clone(out), len(ts) - len(out)
}

// capCounters keeps the max smallest names of the sorted list cs, and returns
// how many it dropped.
func capCounters(cs []counter, max int) ([]counter, int) {
	if len(cs) <= max {
		return cs, 0
	}
	return slices.Clone(cs[:max]), len(cs) - max
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

// bump adds by to name's counter in the sorted list cs, which keeps the max
// smallest names: a new name beyond them is refused, one among them displaces
// the largest. Either way one name is dropped and counted in refused.
func bump(cs []counter, name string, h sym, by uint32, max int, refused *int) []counter {
	i, found := slices.BinarySearchFunc(cs, name, compareCounterName)
	if found {
		cs[i].n += by
		return cs
	}
	if len(cs) >= max {
		*refused++
		if i >= max {
			return cs
		}
		cs = cs[:max-1]
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

// Merge absorbs o into s and reports what the limits dropped. The events
// behind o and s must be disjoint (counts add up). o is not modified and s
// keeps no reference to o's slices.
func (s *State) Merge(o *State) Refused {
	var ref Refused
	if o == nil || o == s {
		return ref
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
	s.revenue = s.revenue.add(o.revenue)

	s.eventCounts, ref.EventNames = capCounters(mergeCounters(s.eventCounts, o.eventCounts), MaxEventNames)
	s.categories, ref.Categories = capCounters(mergeCounters(s.categories, o.categories), MaxCategories)
	ref.Traits = s.mergeTraits(o)
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
	return ref
}

func mergeCounters(a, b []counter) []counter {
	return mergeSorted(a, b, func(c counter) string { return c.name.Value() },
		func(x, y counter) counter { return counter{name: x.name, n: x.n + y.n} })
}

// mergeTraits merges o's traits into s's, each key's winning write by the
// order trait describes, and returns how many keys MaxTraits dropped.
func (s *State) mergeTraits(o *State) int {
	if len(o.traits) == 0 {
		return 0
	}
	sm, om := s.serverIDs, o.serverIDs
	var both, won uint8 // identity bits present on both sides, and those a server write won
	merged := mergeSorted(s.traits, o.traits, func(t trait) string { return t.key.Value() },
		func(x, y trait) trait {
			bit := symBit(x.key)
			xs, ys := sm&bit != 0, om&bit != 0
			both |= bit
			if c := compareWrites(ys, y.at, xs, x.at); c > 0 || c == 0 && y.val > x.val {
				x, xs = y, ys
			}
			if xs {
				won |= bit
			}
			return x
		})
	// A bit set on one side only belongs to a key present on that side only.
	s.serverIDs = (sm|om)&^both | won
	var dropped int
	s.traits, dropped = capTraits(merged)
	return dropped
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
		s.serverIDs == o.serverIDs && s.timezone == o.timezone && s.locale == o.locale
}
