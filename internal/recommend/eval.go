package recommend

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"tailor/internal/event"
	"tailor/internal/profile"
)

// Interaction is one row of an offline evaluation data set.
type Interaction struct {
	User, Item string
	Time       time.Time
	Type       string // "view", "cart" or "buy" (the default)
	Category   string
	Price      float64
}

// EvalOptions configure Evaluate. Zero values get the defaults stated.
type EvalOptions struct {
	K       []int         // cut-offs; default 10 and 20
	Train   float64       // share of the interactions (by time) trained on; default 0.8
	Horizon time.Duration // test purchases counted after the split; default 30 days
	Engine  Options       // the engine evaluated (DB and Now are ignored)
}

// Metrics are one row of an evaluation table.
type Metrics struct {
	Name     string
	Users    int
	Recall   []float64 // per K
	NDCG     []float64 // per K
	MAP      []float64 // per K (Evaluate) or PHR, the share of users with a hit (EvaluateBaskets)
	Coverage float64   // share of the data set's items that some user was recommended (at the largest K)
	PopBias  float64   // mean training popularity of recommended items over the mean of bought items
}

// ranker ranks items for one test user at time at.
type ranker func(user string, at time.Time, k int) []string

// Evaluate trains the engine on the interactions before a time split and
// scores, for every user who buys in the Horizon after it, the strategies
// that need no seed item and two baselines (most popular, item-KNN) on the
// items that user bought. Users with no training history count too: the
// strategies' fallbacks are part of what is measured.
func Evaluate(ctx context.Context, data []Interaction, opts EvalOptions) ([]Metrics, error) {
	if len(opts.K) == 0 {
		opts.K = []int{10, 20}
	}
	if opts.Train <= 0 || opts.Train >= 1 {
		opts.Train = 0.8
	}
	if opts.Horizon <= 0 {
		opts.Horizon = 30 * 24 * time.Hour
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("evaluate: no interactions")
	}
	data = slices.Clone(data)
	slices.SortStableFunc(data, func(a, b Interaction) int { return a.Time.Compare(b.Time) })
	split := data[int(float64(len(data))*opts.Train)].Time
	end := split.Add(opts.Horizon)

	eo := opts.Engine
	eo.DB, eo.Now = nil, func() time.Time { return split }
	e := New(eo)
	var train []Interaction
	targets := map[string][]string{}
	for _, in := range data {
		switch {
		case in.Time.Before(split):
			train = append(train, in)
		case in.Time.Before(end) && (in.Type == "" || in.Type == "buy"):
			if !slices.Contains(targets[in.User], in.Item) {
				targets[in.User] = append(targets[in.User], in.Item)
			}
		}
	}
	if len(targets) == 0 {
		return nil, fmt.Errorf("evaluate: nobody buys in the %s after the split at %s", opts.Horizon, split.Format(time.RFC3339))
	}
	Feed(e, train)
	pop, knn := newPopular(train), newItemKNN(train, 50)
	all := map[string]bool{}
	for _, in := range data {
		all[in.Item] = true
	}
	kmax := slices.Max(opts.K)
	rankers := []struct {
		name string
		rank ranker
	}{}
	for _, s := range []string{ForYou, BuyAgain, RecentlyViewed, Bestsellers, Trending} {
		rankers = append(rankers, struct {
			name string
			rank ranker
		}{s, func(user string, at time.Time, k int) []string {
			items, err := e.Recommend(ctx, Request{Strategy: s, ProfileID: user, Limit: k, At: at})
			if err != nil {
				return nil
			}
			return itemIDs(items)
		}})
	}
	rankers = append(rankers,
		struct {
			name string
			rank ranker
		}{"baseline: most popular", func(_ string, _ time.Time, k int) []string { return pop.top(k) }},
		struct {
			name string
			rank ranker
		}{"baseline: item-KNN", func(user string, _ time.Time, k int) []string { return knn.rank(user, k) }},
	)
	users := make([]string, 0, len(targets))
	for u := range targets {
		users = append(users, u)
	}
	sort.Strings(users)
	var out []Metrics
	for _, r := range rankers {
		m := newMetrics(r.name, opts.K)
		shown := map[string]bool{}
		var popSum float64
		var popN int
		for _, u := range users {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			list := r.rank(u, split, kmax)
			for _, id := range list {
				shown[id] = true
				popSum += pop.count[id]
				popN++
			}
			m.add(list, targets[u], opts.K, false)
		}
		m.finish(len(users))
		m.Coverage = float64(len(shown)) / float64(len(all))
		if popN > 0 {
			m.PopBias = popSum / float64(popN) / pop.mean()
		}
		out = append(out, m)
	}
	return out, nil
}

func newMetrics(name string, ks []int) Metrics {
	return Metrics{Name: name, Recall: make([]float64, len(ks)), NDCG: make([]float64, len(ks)), MAP: make([]float64, len(ks))}
}

// add scores one user's list against the target. nbr selects the
// next-basket protocol: NDCG's ideal over all target items, and hit rate
// (PHR) instead of MAP.
func (m *Metrics) add(list, target []string, ks []int, nbr bool) {
	m.Users++
	for ki, k := range ks {
		var hits, dcg, ap float64
		for i, id := range list[:min(k, len(list))] {
			if slices.Contains(target, id) {
				hits++
				dcg += 1 / math.Log2(float64(i)+2)
				ap += hits / float64(i+1)
			}
		}
		ideal := len(target)
		if !nbr {
			ideal = min(ideal, k)
		}
		var idcg float64
		for i := range ideal {
			idcg += 1 / math.Log2(float64(i)+2)
		}
		m.Recall[ki] += hits / float64(len(target))
		m.NDCG[ki] += dcg / idcg
		if nbr {
			if hits > 0 {
				m.MAP[ki]++
			}
		} else {
			m.MAP[ki] += ap / float64(min(len(target), k))
		}
	}
}

func (m *Metrics) finish(users int) {
	for i := range m.Recall {
		m.Recall[i] /= float64(users)
		m.NDCG[i] /= float64(users)
		m.MAP[i] /= float64(users)
	}
}

// Feed applies interactions to the engine as the events Tailor would have
// received: views, cart additions, and one order per user and time.
func Feed(e *Engine, data []Interaction) {
	type orderKey struct {
		user string
		t    int64
	}
	var order []any
	var cur orderKey
	flush := func() {
		if len(order) > 0 {
			e.Apply(&event.Event{Type: event.Track, Event: event.OrderCompleted, UserID: cur.user, Timestamp: time.Unix(cur.t, 0).UTC(),
				Properties: map[string]any{"products": order}}, profile.Resolution{Profile: cur.user})
			order = nil
		}
	}
	for _, in := range data {
		p := map[string]any{"product_id": in.Item}
		if in.Category != "" {
			p["category"] = in.Category
		}
		if in.Price > 0 {
			p["price"] = in.Price
		}
		switch in.Type {
		case "view", "cart":
			flush()
			name := event.ProductViewed
			if in.Type == "cart" {
				name = event.ProductAdded
			}
			e.Apply(&event.Event{Type: event.Track, Event: name, UserID: in.User, Timestamp: in.Time, Properties: p}, profile.Resolution{Profile: in.User})
		default:
			k := orderKey{in.User, in.Time.Unix()}
			if k != cur {
				flush()
				cur = k
			}
			order = append(order, p)
		}
	}
	flush()
}

// popular is the most-popular baseline: purchases counted, not decayed.
type popular struct {
	count  map[string]float64
	ranked []string
}

func newPopular(train []Interaction) *popular {
	p := &popular{count: map[string]float64{}}
	for _, in := range train {
		if in.Type == "" || in.Type == "buy" {
			p.count[in.Item]++
		}
	}
	for id := range p.count {
		p.ranked = append(p.ranked, id)
	}
	slices.SortFunc(p.ranked, func(a, b string) int {
		if p.count[a] != p.count[b] {
			return int(math.Copysign(1, p.count[b]-p.count[a]))
		}
		return strings.Compare(a, b)
	})
	return p
}

func (p *popular) top(k int) []string { return p.ranked[:min(k, len(p.ranked))] }

func (p *popular) mean() float64 {
	var s float64
	for _, c := range p.count {
		s += c
	}
	return s / float64(max(len(p.count), 1))
}

// itemKNN is the item-KNN baseline: cosine similarity of items over the
// users who bought or carted them, a user's score for an item the sum of
// its similarities with the user's items, no recency, no shrinkage.
type itemKNN struct {
	user map[string][]string
	nb   map[string]map[string]float64
	pop  *popular
}

func newItemKNN(train []Interaction, keep int) *itemKNN {
	k := &itemKNN{user: map[string][]string{}, nb: map[string]map[string]float64{}, pop: newPopular(train)}
	for _, in := range train {
		if in.Type == "view" || slices.Contains(k.user[in.User], in.Item) {
			continue
		}
		k.user[in.User] = append(k.user[in.User], in.Item)
	}
	n := map[string]float64{}
	co := map[[2]string]float64{}
	for _, items := range k.user {
		items = items[max(0, len(items)-100):]
		for i, a := range items {
			n[a]++
			for _, b := range items[i+1:] {
				if a < b {
					co[[2]string{a, b}]++
				} else {
					co[[2]string{b, a}]++
				}
			}
		}
	}
	for p, c := range co {
		s := c / math.Sqrt(n[p[0]]*n[p[1]])
		for _, d := range [2][2]string{{p[0], p[1]}, {p[1], p[0]}} {
			m := k.nb[d[0]]
			if m == nil {
				m = map[string]float64{}
				k.nb[d[0]] = m
			}
			m[d[1]] = s
		}
	}
	for a, m := range k.nb {
		pruneCo(m, keep, func(_ string, v float64) float64 { return v }, func(s string) string { return s })
		k.nb[a] = m
	}
	return k
}

// rank scores the user's neighbours; users without history get the most
// popular items, as every baseline of the literature does.
func (k *itemKNN) rank(user string, n int) []string {
	score := map[string]float64{}
	for _, a := range k.user[user] {
		for b, s := range k.nb[a] {
			score[b] += s
		}
	}
	out := make([]string, 0, len(score))
	for id := range score {
		out = append(out, id)
	}
	slices.SortFunc(out, func(a, b string) int {
		if score[a] != score[b] {
			return int(math.Copysign(1, score[b]-score[a]))
		}
		return strings.Compare(a, b)
	})
	out = out[:min(n, len(out))]
	for _, id := range k.pop.top(n + len(out)) {
		if len(out) == n {
			break
		}
		if _, ok := score[id]; !ok {
			out = append(out, id)
		}
	}
	return out
}

func itemIDs(items []Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}

// basketGap is the time between two baskets of a user in a next-basket
// data set, which has their order but no times.
const basketGap = 7 * 24 * time.Hour

// EvaluateBaskets runs the next-basket protocol (A Next Basket
// Recommendation Reality Check, Li et al. 2023): for every user the last
// basket is the target and the others are history; Recall, NDCG (ideal over
// all target items) and PHR (in Metrics.MAP) at each K, for G-TopFreq
// (global most frequent), P-TopFreq, GP-TopFreq (own most frequent, then
// global) and the engine's for_you. Baskets get one time each, basketGap
// apart, every user's history starting at the same time.
func EvaluateBaskets(ctx context.Context, users map[string][][]string, ks []int, eo Options) ([]Metrics, error) {
	if len(ks) == 0 {
		ks = []int{10, 20}
	}
	base := time.Date(2000, 11, 1, 0, 0, 0, 0, time.UTC)
	names := make([]string, 0, len(users))
	for u := range users {
		names = append(names, u)
	}
	sort.Strings(names)
	var train []Interaction
	for _, u := range names {
		bs := users[u]
		if len(bs) < 2 {
			return nil, fmt.Errorf("evaluate baskets: user %s has %d baskets, need a history and a target", u, len(bs))
		}
		for i, b := range bs[:len(bs)-1] {
			for _, it := range b {
				train = append(train, Interaction{User: u, Item: it, Time: base.Add(time.Duration(i) * basketGap)})
			}
		}
	}
	slices.SortStableFunc(train, func(a, b Interaction) int { return a.Time.Compare(b.Time) })
	eo.DB, eo.Now = nil, nil
	e := New(eo)
	Feed(e, train)
	pop := newPopular(train)
	// own counts items by basket, ties by first purchase (P-TopFreq).
	own := func(u string) []string {
		count := map[string]int{}
		var order []string
		bs := users[u]
		for _, b := range bs[:len(bs)-1] {
			for _, it := range b {
				if count[it] == 0 {
					order = append(order, it)
				}
				count[it]++
			}
		}
		slices.SortStableFunc(order, func(a, b string) int { return count[b] - count[a] })
		return order
	}
	kmax := slices.Max(ks)
	rankers := []struct {
		name string
		rank func(u string) []string
	}{
		{"G-TopFreq", func(string) []string { return pop.top(kmax) }},
		{"P-TopFreq", func(u string) []string { l := own(u); return l[:min(kmax, len(l))] }},
		{"GP-TopFreq (baseline)", func(u string) []string {
			l := own(u)
			l = l[:min(kmax, len(l))]
			for _, id := range pop.top(kmax + len(l)) {
				if len(l) == kmax {
					break
				}
				if !slices.Contains(l, id) {
					l = append(l, id)
				}
			}
			return l
		}},
		{"Tailor for_you", func(u string) []string {
			at := base.Add(time.Duration(len(users[u])-1) * basketGap)
			items, err := e.Recommend(ctx, Request{Strategy: ForYou, ProfileID: u, Limit: kmax, At: at})
			if err != nil {
				return nil
			}
			return itemIDs(items)
		}},
	}
	var out []Metrics
	for _, r := range rankers {
		m := newMetrics(r.name, ks)
		shown := map[string]bool{}
		for _, u := range names {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			list := r.rank(u)
			for _, id := range list {
				shown[id] = true
			}
			bs := users[u]
			target := slices.Compact(slices.Sorted(slices.Values(bs[len(bs)-1])))
			m.add(list, target, ks, true)
		}
		m.finish(len(names))
		m.Coverage = float64(len(shown)) / float64(max(len(pop.count), 1))
		out = append(out, m)
	}
	return out, nil
}
