package recommend

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
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
	// At is the time the answer is for (offline evaluation replays the
	// past); zero means Options.Now.
	At time.Time
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
	reason string // empty until explain fills it (for_you, buy_again)
	// What explain needs when reason is empty: the blend part that
	// dominated, and for the "similar" part the profile's item and kind.
	part blendPart
	src  int32
	k    kind
}

// blendPart is a part of for_you (buy_again is its repeat part alone).
type blendPart uint8

const (
	partRepeat blendPart = iota
	partSimilar
	partPopular
	partTogether // also_bought / also_viewed: co-occurs with the seed src
)

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
	if r.Strategy == BundleStrategy && f.MaxPerCategory == 0 {
		// A bundle takes one product of each complementary category.
		r.Filter.MaxPerCategory = 1
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
	if !req.At.IsZero() {
		return e.recommend(ctx, req)
	}
	// A recent answer for the same profile and request is good while
	// neither the profile nor the catalog changed (answerCache).
	var kb [256]byte
	key := answerKey(kb[:0], &req)
	seq, gen, now := e.profileSeq(req.ProfileID), e.catalogGen(), e.opts.Now()
	if items, ok := e.cachedAnswer(key, req.ProfileID, seq, gen, now); ok {
		return items, nil
	}
	items, err := e.recommend(ctx, req)
	if err == nil {
		e.keepAnswer(key, seq, gen, now, items)
	}
	return items, err
}

// recommend answers a validated request.
func (e *Engine) recommend(ctx context.Context, req Request) ([]Item, error) {
	group := e.requestGroup(req)
	if req.Strategy == ForYou && req.Segment == "" && req.Trait == "" && req.ProfileID != "" {
		group = e.ownSegment(req.ProfileID)
	}
	now := e.opts.Now().Unix()
	if !req.At.IsZero() {
		now = req.At.Unix()
	}
	buf := getCands()
	e.mu.RLock()
	cands, ex, err := e.candidates(ctx, req, group, now, (*buf)[:0])
	if err != nil {
		e.mu.RUnlock()
		putCands(buf)
		return nil, err
	}
	// The candidates are copied out by meta: their slice goes back to the
	// pool, whichever strategy made it (none returns a shared one).
	defer func() { *buf = cands; putCands(buf) }()
	// Only the best few candidates are sorted; when the filters leave too
	// few of them, the rest follow. Reasons are written for the chosen.
	m := 2*req.Limit + len(ex.items) + 10
	if f := req.Filter; f.MaxPerCategory > 0 || len(f.Categories) > 0 || len(f.ExcludeCategories) > 0 || len(ex.cats) > 0 ||
		f.MinPrice > 0 || f.MaxPrice > 0 {
		// Filters that may drop many: a wider first pass rather than a
		// second one over maxCandidates.
		m = 5*req.Limit + len(ex.items) + 50
	}
	pbuf := pickedPool.Get().(*[]picked)
	defer putPicked(pbuf)
	picked := e.meta(e.top(cands, m), pbuf)
	e.mu.RUnlock()
	chosen, err := e.finish(ctx, req, picked, ex)
	if err == nil && len(chosen) < req.Limit && len(cands) > m {
		e.mu.RLock()
		picked = e.meta(e.top(cands, maxCandidates), pbuf)
		e.mu.RUnlock()
		chosen, err = e.finish(ctx, req, picked, ex)
	}
	if err != nil {
		return nil, err
	}
	out := make([]Item, len(chosen))
	e.mu.RLock()
	p := e.profiles.get(req.ProfileID)
	for i := range chosen {
		e.explain(&chosen[i].cand, p, now)
		out[i] = chosen[i].Item
		out[i].Reason = chosen[i].cand.reason
	}
	e.mu.RUnlock()
	return out, nil
}

// top returns the best m candidates, sorted. It reorders c. Caller holds
// mu for reading.
func (e *Engine) top(c []cand, m int) []cand {
	if len(c) > m && e.sorted(c) {
		// A ranking (bestsellers, trending, for_you without history)
		// comes sorted: its head is the answer.
		return c[:m]
	}
	if len(c) > m {
		// Partial selection: the m-th best score by quickselect over the
		// scores alone, then the candidates above it and, of those tied
		// with it, the first by id. A heap compared ids on every tie.
		scores := scorePool.Get().(*[]float64)
		xs := (*scores)[:0]
		for _, x := range c {
			xs = append(xs, x.score)
		}
		thr := kthLargest(xs, m)
		*scores = xs
		scorePool.Put(scores)
		above := 0
		for i := range c {
			if c[i].score > thr {
				c[above], c[i] = c[i], c[above]
				above++
			}
		}
		ties := above
		for i := above; i < len(c); i++ {
			if c[i].score == thr {
				c[ties], c[i] = c[i], c[ties]
				ties++
			}
		}
		if ties > m {
			tied := c[above:ties]
			slices.SortFunc(tied, func(a, b cand) int { return strings.Compare(e.items[a.ix].id, e.items[b.ix].id) })
		}
		c = c[:m]
	}
	sortCands(c, e.items)
	return c
}

// sorted says whether c is best first by (score, id), as sortCands orders.
func (e *Engine) sorted(c []cand) bool {
	for i := 1; i < len(c); i++ {
		a, b := c[i-1], c[i]
		if a.score < b.score || a.score == b.score && e.items[a.ix].id > e.items[b.ix].id {
			return false
		}
	}
	return true
}

var scorePool = sync.Pool{New: func() any { s := make([]float64, 0, 1024); return &s }}

// kthLargest returns the k-th largest of xs (1-based), reordering xs.
func kthLargest(xs []float64, k int) float64 {
	lo, hi, want := 0, len(xs)-1, k-1
	for lo < hi {
		// Median of three as the pivot, Hoare partition, descending.
		mid := lo + (hi-lo)/2
		a, b, c := xs[lo], xs[mid], xs[hi]
		p := max(min(a, b), min(max(a, b), c))
		i, j := lo, hi
		for i <= j {
			for xs[i] > p {
				i++
			}
			for xs[j] < p {
				j--
			}
			if i <= j {
				xs[i], xs[j] = xs[j], xs[i]
				i++
				j--
			}
		}
		switch {
		case want <= j:
			hi = j
		case want >= i:
			lo = i
		default:
			return xs[want]
		}
	}
	return xs[want]
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

// ownSegment returns the group of the first of Options.FallbackSegments
// that profile pid belongs to and whose members bought anything, "" when
// pid has a history of its own (for_you blends that) or no segment fits.
func (e *Engine) ownSegment(pid string) string {
	if len(e.opts.FallbackSegments) == 0 || e.opts.Membership == nil {
		return ""
	}
	e.mu.RLock()
	p := e.profiles.get(pid)
	history := p.prof != nil && !p.empty()
	e.mu.RUnlock()
	if history {
		return ""
	}
	for _, seg := range e.opts.FallbackSegments {
		if in, err := e.opts.Membership.Contains(seg, pid); err != nil || !in {
			continue
		}
		key := segmentGroup(seg)
		if !e.track(key) {
			continue
		}
		e.mu.RLock()
		g := e.groups[key]
		bought := g != nil && len(g.sold) > 0
		e.mu.RUnlock()
		if bought {
			return key
		}
	}
	return ""
}

// candidates runs the strategy. Caller holds mu for reading.
func (e *Engine) candidates(ctx context.Context, req Request, group string, now int64, dst []cand) ([]cand, exclusions, error) {
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
	p := e.profiles.get(req.ProfileID)
	var c []cand
	switch req.Strategy {
	case AlsoBought:
		c = e.neighbours(seed, []kindWeight{{kindBuy, 1}, {kindCart, 0.5}}, dst)
	case AlsoViewed:
		c = e.neighbours(seed, []kindWeight{{kindView, 1}, {kindCart, 0.3}}, dst)
	case Complements, BundleStrategy:
		c = e.complements(ctx, seed, req.ItemID)
	case Upsell:
		c = e.upsell(seed)
	case BuyAgain:
		c = e.buyAgain(p, now)
	case RecentlyViewed:
		c = e.recentlyViewed(p, now)
	case Trending:
		c = append(dst, e.ranked(group, true)...) // the ranking is shared; top reorders
	case Bestsellers:
		c = append(dst, e.ranked(group, false)...)
	case ForYou:
		c = e.forYou(p, group, now, dst)
	}
	return c, ex, nil
}

type kindWeight struct {
	k kind
	w float64
}

// neighbours ranks the items co-occurring with seed by shrunk cosine. The
// reasons are filled by explain, for the few shown.
func (e *Engine) neighbours(seed int32, kinds []kindWeight, dst []cand) []cand {
	it := e.items[seed]
	sc := newScratch(len(e.items))
	defer sc.release()
	for _, kw := range kinds {
		for _, oc := range it.co[kw.k] {
			sc.parts[sc.get(oc.o)].s[0] += kw.w * e.sim(kw.k, seed, oc.o, float64(oc.c))
		}
	}
	out := dst
	for _, x := range sc.parts {
		if x.s[0] > 0 {
			out = append(out, cand{ix: x.ix, score: x.s[0], part: partTogether, src: seed, k: kinds[0].k})
		}
	}
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
		out = append(out, cand{ix: o, score: 1 + pop, reason: fmt.Sprintf("a step up from %s (+%.2f), popular in %s", displayName(it), ot.price-it.price, leaf(it.category))})
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
func (e *Engine) buyAgain(p profRef, now int64) []cand {
	if p.prof == nil {
		return nil
	}
	out := make([]cand, 0, len(p.freq()))
	for _, f := range p.freq() {
		if s := e.repeatScore(f, now); s > 0 {
			out = append(out, cand{ix: f.Item, score: s, part: partRepeat})
		}
	}
	return out
}

const day = 24 * 3600

// dueWidth is how fast the buy-again score falls off, on a log scale, as a
// repurchase is early or late: at half or twice the interval the score is
// exp(-ln 2 / dueWidth), about 40 %.
const dueWidth = 0.75

// repeatScore is how much a profile wants to buy f again now.
// interval is the repurchase interval of f in seconds: the item's across
// profiles and the profile's own, averaged; 0 when unknown.
func (e *Engine) interval(f bought) float64 {
	interval := e.items[f.Item].repurchaseInterval()
	if f.N >= 2 && f.Last > f.First {
		own := float64(f.Last-f.First) / (f.N - 1)
		if interval == 0 {
			interval = own
		} else {
			interval = (interval + own) / 2
		}
	}
	return interval
}

// repeatScore is how much a profile wants to buy f again now.
func (e *Engine) repeatScore(f bought, now int64) float64 {
	interval := e.interval(f)
	elapsed := float64(max(now-f.Last, 0))
	if interval <= 0 {
		if f.N < 2 {
			// Bought once, and nobody rebuys it: a weak, fading signal.
			return 0.2 * math.Exp2(-elapsed/(60*day))
		}
		return math.Log1p(f.N) * math.Exp2(-elapsed/(60*day))
	}
	// due is 1 when a repurchase is due; the score falls off on both sides
	// (too soon, or long lapsed) on a log scale.
	due := math.Max(elapsed, day/4) / interval
	return math.Log1p(f.N) * math.Exp(-math.Abs(math.Log(due))/dueWidth)
}

// repeatHalfLife is the half-life of a purchase in for_you's repeat part.
const repeatHalfLife = 60 * day

// frequencyScore is for_you's repeat part: how often the profile bought f,
// each purchase fading with repeatHalfLife. Unlike repeatScore it ignores
// repurchase intervals: on the Ta-Feng baskets, which have no times, and
// for shoppers whose intervals are irregular, frequency and recency rank
// better (docs/recommendations.md).
func frequencyScore(f bought, now int64) float64 {
	return f.N * math.Exp2(-float64(max(now-f.Last, 0))/repeatHalfLife)
}

// repeatReason says why f is offered again.
func (e *Engine) repeatReason(f bought, now int64) string {
	ago := fmt.Sprintf("last %s ago", humanDays(float64(max(now-f.Last, 0))))
	switch interval := e.interval(f); {
	case f.N < 2:
		return "you bought it, " + ago
	case interval <= 0:
		return fmt.Sprintf("you bought it %s times, %s", trimFloat(f.N), ago)
	default:
		return fmt.Sprintf("you bought it %s times, usually every %s, %s", trimFloat(f.N), humanDays(interval), ago)
	}
}

// explain fills c's reason when the strategy left it to be computed for
// the few candidates shown. Caller holds mu for reading.
func (e *Engine) explain(c *cand, p profRef, now int64) {
	if c.reason != "" {
		return
	}
	switch c.part {
	case partRepeat:
		if p.prof != nil {
			for _, f := range p.freq() {
				if f.Item == c.ix {
					c.reason = e.repeatReason(f, now)
					return
				}
			}
		}
		c.reason = "you bought it before"
	case partSimilar:
		c.reason = fmt.Sprintf("goes with %s, which you %s", displayName(e.items[c.src]), [nKinds]string{"bought", "put in your cart", "viewed"}[c.k])
	case partTogether:
		src := e.items[c.src]
		verb := "bought together with"
		if c.k == kindView {
			verb = "viewed together with"
		}
		n := src.co[c.k].get(c.ix) + src.co[kindCart].get(c.ix)
		c.reason = fmt.Sprintf("%s %s (%s times, with carts)", verb, displayName(src), trimFloat(float64(n)))
	default:
		c.reason = "popular"
	}
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
func (e *Engine) recentlyViewed(p profRef, now int64) []cand {
	if p.prof == nil {
		return nil
	}
	lastBuy := map[int32]int64{}
	for _, b := range p.buys() {
		lastBuy[b.Item] = max(lastBuy[b.Item], b.T)
	}
	type seen struct {
		t    int64
		cart bool
	}
	last := map[int32]seen{}
	for _, v := range p.views() {
		if s := last[v.Item]; v.T >= s.t {
			last[v.Item] = seen{v.T, s.cart}
		}
	}
	for _, c := range p.carts() {
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
		out = append(out, cand{ix: ix, score: float64(s.t), reason: fmt.Sprintf("%s %s ago", what, humanDays(float64(max(now-s.t, 0))))})
	}
	sortCands(out, e.items)
	for i := range out {
		out[i].score = 1 / float64(i+1)
	}
	return out
}
