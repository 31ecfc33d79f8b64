package recommend

import (
	"math"
	"slices"
	"strings"
)

// kind is the interaction a co-occurrence counts.
type kind uint8

const (
	kindBuy kind = iota
	kindCart
	kindView
	nKinds
)

var kindNames = [nKinds]string{"buy", "cart", "view"}

// decayed is an exponentially decayed sum: V is its value at unix second T.
// Adding and reading decay lazily, from event times only.
type decayed struct {
	V float64 `json:"v"`
	T int64   `json:"t"`
}

// at is the value at unix second t.
func (d decayed) at(t int64, half float64) float64 {
	if d.V == 0 {
		return 0
	}
	return d.V * math.Exp2(-float64(t-d.T)/half)
}

// add adds x at unix second t. An event older than the last one is decayed
// to T instead, so the order of events only matters through rounding.
func (d *decayed) add(x float64, t int64, half float64) {
	switch {
	case d.V == 0:
		d.V, d.T = x, t
	case t >= d.T:
		d.V = d.at(t, half) + x
		d.T = t
	default:
		d.V += x * math.Exp2(-float64(d.T-t)/half)
	}
}

// item is everything the engine knows of one product. Name, category and
// price come from the events' product properties (the catalog, when set,
// overrides them at read time).
type item struct {
	id       string
	name     string
	category string
	price    float64
	url      string
	image    string

	// n counts the events of each kind involving the item: the norms of
	// the cosine similarity.
	n [nKinds]float64
	// co holds the co-occurrence counts with other items, per kind; at most
	// 2×Options.Neighbours entries, pruned to the best Neighbours by
	// similarity when full.
	co [nKinds]coList

	trend decayed // views + 3×carts + 5×purchases, Options.TrendingHalfLife
	sold  decayed // units sold, Options.BestsellerHalfLife

	// Repurchase gaps of the same profile buying the item again, in seconds.
	gapSum float64
	gapN   float64
}

// repurchaseInterval is the item's mean repurchase gap in seconds, 0 when
// nobody bought it twice.
func (it *item) repurchaseInterval() float64 {
	if it.gapN == 0 {
		return 0
	}
	return it.gapSum / it.gapN
}

// touch is one interaction of a profile with an item at a unix second.
type touch struct {
	Item int32 `json:"-"`
	T    int64 `json:"t"`
}

// bought is one distinct item a profile bought: how often, first and last.
type bought struct {
	Item  int32 `json:"-"`
	N     float64
	First int64
	Last  int64
}

// category is what the engine learned of one category: its items, how many
// baskets held it and which other categories were bought with it or soon
// after it.
type category struct {
	name    string
	norm    string // normPath(name)
	items   []int32
	baskets float64
	// with counts baskets holding both categories, and purchases of the
	// other category within Options.FollowWindow after this one (half
	// weight); bounded like item neighbours.
	with map[string]float64
}

// pruneCo keeps the best keep entries of m by score, ties broken by name so
// that the survivors never depend on map iteration order.
func pruneCo[K comparable, V float32 | float64](m map[K]V, keep int, score func(K, V) float64, name func(K) string) {
	if len(m) <= keep {
		return
	}
	all := make([]scored[K], 0, len(m))
	for k, v := range m {
		all = append(all, scored[K]{k, score(k, v)})
	}
	sortScored(all, name)
	for _, e := range all[keep:] {
		delete(m, e.k)
	}
}

// scored is an entry to prune and its score.
type scored[K any] struct {
	k K
	s float64
}

// sortScored sorts all by score, highest first, ties broken by name, so
// that which entries a prune keeps never depends on their order before.
func sortScored[K any](all []scored[K], name func(K) string) {
	slices.SortFunc(all, func(a, b scored[K]) int {
		switch {
		case a.s > b.s:
			return -1
		case a.s < b.s:
			return 1
		}
		return strings.Compare(name(a.k), name(b.k))
	})
}
