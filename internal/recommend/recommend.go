package recommend

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Strategies, by the name requests use.
const (
	AlsoBought     = "also_bought"
	AlsoViewed     = "also_viewed"
	Complements    = "complements"
	BundleStrategy = "bundle"
	Upsell         = "upsell"
	BuyAgain       = "buy_again"
	RecentlyViewed = "recently_viewed"
	Trending       = "trending"
	Bestsellers    = "bestsellers"
	ForYou         = "for_you"
)

// Strategies lists every strategy name, item strategies first.
var Strategies = []string{AlsoBought, AlsoViewed, Complements, BundleStrategy, Upsell, BuyAgain, RecentlyViewed, Trending, Bestsellers, ForYou}

// itemStrategies need Request.ItemID.
var itemStrategies = []string{AlsoBought, AlsoViewed, Complements, BundleStrategy, Upsell}

// IsItemStrategy says whether strategy needs a seed item.
func IsItemStrategy(strategy string) bool { return slices.Contains(itemStrategies, strategy) }

// Errors callers branch on (the API maps them to 4xx).
var (
	ErrUnknownStrategy = errors.New("unknown strategy")
	ErrNeedItem        = errors.New("this strategy needs an item")
	ErrUnknownItem     = errors.New("unknown item")
	ErrBadRequest      = errors.New("bad request")
)

// Limits of Request.Limit.
const (
	DefaultLimit = 10
	MaxLimit     = 100
)

// Request asks for recommendations.
type Request struct {
	Strategy  string // one of Strategies
	ProfileID string // resolved profile id; may be empty for anonymous or new visitors
	ItemID    string // seed product of item strategies
	Segment   string // optional: trending, bestsellers and the for_you fallback within this segment
	Trait     string // optional: "name=value", like Segment for the profiles with that trait value
	Limit     int    // default 10, at most 100
	Filter    Filter
}

// Filter holds the business rules every strategy's answer goes through.
// Whatever the filter, an item the profile bought within Options.JustBought
// is never recommended, nor is the seed item.
type Filter struct {
	ExcludePurchased   bool          // nothing the profile ever bought (as far as its history reaches)
	ExcludeCategoryFor time.Duration // nothing in the category of a purchase this recent
	InStockOnly        bool          // nothing the catalog says is out of stock
	MinPrice, MaxPrice float64       // price band; 0 means no bound
	Categories         []string      // only these categories (and their sub-categories)
	ExcludeCategories  []string      // none of these categories (and their sub-categories)
	MaxPerCategory     int           // diversity: at most this many per category; 0 means no cap
}

// Item is one recommended product.
type Item struct {
	ID       string  `json:"id"`
	Name     string  `json:"name,omitempty"`
	Category string  `json:"category,omitempty"`
	URL      string  `json:"url,omitempty"`
	Image    string  `json:"image,omitempty"`
	Price    float64 `json:"price"`
	Score    float64 `json:"score"`
	Reason   string  `json:"reason"` // why, in words
	Strategy string  `json:"strategy"`
}

// cand is a scored candidate before filtering.
type cand struct {
	ix     int32
	score  float64
	reason string
}

func sortCands(c []cand, items []*item) {
	slices.SortFunc(c, func(a, b cand) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return strings.Compare(items[a.ix].id, items[b.ix].id)
	})
}

// Validate checks a request and fills its defaults.
func (r *Request) Validate() error {
	if !slices.Contains(Strategies, r.Strategy) {
		return fmt.Errorf("%w %q: use one of %s", ErrUnknownStrategy, r.Strategy, strings.Join(Strategies, ", "))
	}
	if IsItemStrategy(r.Strategy) && r.ItemID == "" {
		return fmt.Errorf("%w: %s recommends for a product; give its id", ErrNeedItem, r.Strategy)
	}
	switch {
	case r.Limit < 0 || r.Limit > MaxLimit:
		return fmt.Errorf("%w: limit %d is not within 1..%d", ErrBadRequest, r.Limit, MaxLimit)
	case r.Limit == 0:
		r.Limit = DefaultLimit
	}
	f := r.Filter
	if f.MinPrice < 0 || f.MaxPrice < 0 || f.MaxPrice > 0 && f.MaxPrice < f.MinPrice {
		return fmt.Errorf("%w: price band %v..%v is not a band", ErrBadRequest, f.MinPrice, f.MaxPrice)
	}
	if f.MaxPerCategory < 0 || f.ExcludeCategoryFor < 0 {
		return fmt.Errorf("%w: max per category and category window cannot be negative", ErrBadRequest)
	}
	if r.Trait != "" {
		if n, _, ok := splitTrait(r.Trait); !ok || n == "" {
			return fmt.Errorf("%w: trait %q is not name=value", ErrBadRequest, r.Trait)
		}
	}
	return nil
}

// Recommend answers a request: the strategy's candidates, best first, through
// the filters, at most req.Limit of them.
func (e *Engine) Recommend(ctx context.Context, req Request) ([]Item, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	group := e.requestGroup(req)
	now := e.opts.Now().Unix()
	e.mu.RLock()
	cands, ex, err := e.candidates(req, group, now)
	picked := e.meta(cands)
	e.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	return e.finish(ctx, req, picked, ex)
}

// requestGroup returns the group key of the request, "" for global, making
// sure the group is tracked.
func (e *Engine) requestGroup(req Request) string {
	key := ""
	switch {
	case req.Segment != "":
		key = segmentGroup(req.Segment)
	case req.Trait != "":
		n, v, _ := splitTrait(req.Trait)
		key = traitGroup(n, v)
	default:
		return ""
	}
	if !e.track(key) {
		return ""
	}
	return key
}

// candidates runs the strategy. Caller holds mu for reading.
func (e *Engine) candidates(req Request, group string, now int64) ([]cand, exclusions, error) {
	ex := e.exclusions(req, now)
	var seed int32 = -1
	if IsItemStrategy(req.Strategy) {
		ix, ok := e.ids[req.ItemID]
		if !ok {
			return nil, ex, fmt.Errorf("%w %q: no event named it yet", ErrUnknownItem, req.ItemID)
		}
		seed = ix
		ex.items[ix] = true
	}
	p := e.profiles[req.ProfileID]
	var c []cand
	switch req.Strategy {
	case AlsoBought:
		c = e.neighbours(seed, []kindWeight{{kindBuy, 1}, {kindCart, 0.5}}, "bought together with")
	case AlsoViewed:
		c = e.neighbours(seed, []kindWeight{{kindView, 1}, {kindCart, 0.3}}, "viewed together with")
	case Complements, BundleStrategy:
		c = e.complements(seed, req.ItemID)
	case Upsell:
		c = e.upsell(seed)
	case BuyAgain:
		c = e.buyAgain(p, now)
	case RecentlyViewed:
		c = e.recentlyViewed(p, now)
	case Trending:
		c = e.ranked(group, true)
	case Bestsellers:
		c = e.ranked(group, false)
	case ForYou:
		c = e.forYou(p, group, now)
	}
	return c, ex, nil
}

type kindWeight struct {
	k kind
	w float64
}

// neighbours ranks the items co-occurring with seed by shrunk cosine.
func (e *Engine) neighbours(seed int32, kinds []kindWeight, verb string) []cand {
	it := e.items[seed]
	score := map[int32]float64{}
	count := map[int32]float32{}
	for _, kw := range kinds {
		for o, c := range it.co[kw.k] {
			score[o] += kw.w * e.sim(kw.k, seed, o, float64(c))
			count[o] += c
		}
	}
	out := make([]cand, 0, len(score))
	name := displayName(it)
	for o, s := range score {
		if s > 0 {
			out = append(out, cand{o, s, fmt.Sprintf("%s %s (%s times)", verb, name, trimFloat(float64(count[o])))})
		}
	}
	sortCands(out, e.items)
	return out
}

func displayName(it *item) string {
	if it.name != "" {
		return it.name
	}
	return it.id
}

func trimFloat(f float64) string { return strings.TrimSuffix(fmt.Sprintf("%.1f", f), ".0") }

// upsell ranks the items of the seed's category priced 15 % to 300 % above
// it by popularity.
func (e *Engine) upsell(seed int32) []cand {
	it := e.items[seed]
	c := e.cats[it.category]
	if c == nil || it.price <= 0 {
		return nil
	}
	half := e.opts.BestsellerHalfLife.Seconds()
	var out []cand
	for _, o := range c.items {
		ot := e.items[o]
		if o == seed || ot.price < it.price*1.15 || ot.price > it.price*3 {
			continue
		}
		pop := ot.sold.at(e.latest, half) + 0.1*ot.trend.at(e.latest, half)
		out = append(out, cand{o, 1 + pop, fmt.Sprintf("a step up from %s (+%.2f), popular in %s", displayName(it), ot.price-it.price, leaf(it.category))})
	}
	sortCands(out, e.items)
	return out
}

// leaf is the last part of a category path.
func leaf(path string) string {
	if i := strings.LastIndex(path, ">"); i >= 0 {
		return strings.TrimSpace(path[i+1:])
	}
	return path
}

// buyAgain ranks the profile's purchases: bought more often, and due by the
// item's typical repurchase interval (else the profile's own), first.
func (e *Engine) buyAgain(p *prof, now int64) []cand {
	if p == nil {
		return nil
	}
	out := make([]cand, 0, len(p.freq))
	for _, f := range p.freq {
		s, why := e.repeatScore(f, now)
		if s > 0 {
			out = append(out, cand{f.Item, s, why})
		}
	}
	sortCands(out, e.items)
	return out
}

const day = 24 * 3600

// dueWidth is how fast the buy-again score falls off, on a log scale, as a
// repurchase is early or late: at half or twice the interval the score is
// exp(-ln 2 / dueWidth), about 40 %.
const dueWidth = 0.75

// repeatScore is how much a profile wants to buy f again now.
func (e *Engine) repeatScore(f bought, now int64) (float64, string) {
	interval := e.items[f.Item].repurchaseInterval()
	if f.N >= 2 && f.Last > f.First {
		own := float64(f.Last-f.First) / (f.N - 1)
		if interval == 0 {
			interval = own
		} else {
			interval = (interval + own) / 2
		}
	}
	elapsed := float64(max(now-f.Last, 0))
	ago := fmt.Sprintf("last %s ago", humanDays(elapsed))
	if interval <= 0 {
		if f.N < 2 {
			// Bought once, and nobody rebuys it: a weak, fading signal.
			return 0.2 * math.Exp2(-elapsed/(60*day)), fmt.Sprintf("you bought it, %s", ago)
		}
		return math.Log1p(f.N) * math.Exp2(-elapsed/(60*day)), fmt.Sprintf("you bought it %s times, %s", trimFloat(f.N), ago)
	}
	// due is 1 when a repurchase is due; the score falls off on both sides
	// (too soon, or long lapsed) on a log scale.
	due := math.Max(elapsed, day/4) / interval
	fit := math.Exp(-math.Abs(math.Log(due)) / dueWidth)
	return math.Log1p(f.N) * fit, fmt.Sprintf("you bought it %s times, usually every %s, %s", trimFloat(f.N), humanDays(interval), ago)
}

func humanDays(sec float64) string {
	switch d := sec / day; {
	case d < 1:
		return fmt.Sprintf("%.0f hours", math.Max(sec/3600, 1))
	case d < 1.5:
		return "1 day"
	default:
		return fmt.Sprintf("%.0f days", d)
	}
}

// recentlyViewed lists what the profile viewed or put in its cart and has
// not bought since, most recent first.
func (e *Engine) recentlyViewed(p *prof, now int64) []cand {
	if p == nil {
		return nil
	}
	lastBuy := map[int32]int64{}
	for _, b := range p.buys {
		lastBuy[b.Item] = max(lastBuy[b.Item], b.T)
	}
	type seen struct {
		t    int64
		cart bool
	}
	last := map[int32]seen{}
	for _, v := range p.views {
		if s := last[v.Item]; v.T >= s.t {
			last[v.Item] = seen{v.T, s.cart}
		}
	}
	for _, c := range p.carts {
		if s := last[c.Item]; c.T >= s.t {
			last[c.Item] = seen{c.T, true}
		}
	}
	out := make([]cand, 0, len(last))
	for ix, s := range last {
		if lastBuy[ix] >= s.t {
			continue
		}
		what := "you viewed it"
		if s.cart {
			what = "you put it in your cart"
		}
		out = append(out, cand{ix, float64(s.t), fmt.Sprintf("%s %s ago", what, humanDays(float64(max(now-s.t, 0))))})
	}
	sortCands(out, e.items)
	for i := range out {
		out[i].score = 1 / float64(i+1)
	}
	return out
}
