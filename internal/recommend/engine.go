package recommend

import (
	"context"
	"math"
	"sync"
	"time"

	"tailor/internal/arena"
	"tailor/internal/catalog"
	"tailor/internal/event"
	"tailor/internal/profile"
	"tailor/internal/rwyield"
)

// Catalog is what the engine reads of the product catalog: names, prices,
// stock, links and explicit complements. *catalog.Store implements it.
type Catalog interface {
	Get(ctx context.Context, id string) (catalog.Product, bool, error)
}

// Membership says whether a profile is in a segment; *segment.Engine
// implements it.
type Membership interface {
	Contains(segmentID, profileID string) (bool, error)
}

// Traits reads one trait of a profile as text ("" when absent).
type Traits interface {
	Trait(profileID, name string) string
}

// Defaults of Options.
const (
	DefaultHistory            = 50
	DefaultDistinct           = 100
	DefaultNeighbours         = 50
	DefaultTrendingHalfLife   = 2 * 24 * time.Hour
	DefaultBestsellerHalfLife = 30 * 24 * time.Hour
	DefaultFollowWindow       = 30 * 24 * time.Hour
	DefaultJustBought         = 24 * time.Hour
	DefaultBundleDiscount     = 0.10
	DefaultShrink             = 2.0
	DefaultGroups             = 256
)

// Options configure an Engine. Zero values get the defaults stated per field.
type Options struct {
	DB         DB         // where Checkpoint and Load persist; nil keeps the models in memory only
	Catalog    Catalog    // optional: overrides names, prices and stock, supplies explicit complements and bundle prices
	Membership Membership // optional: needed for per-segment trending and bestsellers
	Traits     Traits     // optional: needed for per-trait trending and bestsellers
	Now        func() time.Time

	History    int // views, carts and purchases kept per profile, each; default 50
	Distinct   int // distinct purchased items kept per profile for buy again; default 100
	Neighbours int // co-occurring items kept per item and kind; default 50
	Groups     int // segments and trait values with their own bestsellers; default 256

	TrendingHalfLife   time.Duration // default 2 days
	BestsellerHalfLife time.Duration // default 30 days
	// FollowWindow is how long after a purchase another purchase counts as
	// bought "soon after" it (sequences: items and categories); default 30 days.
	FollowWindow time.Duration
	// JustBought is how long an item a profile bought is never recommended
	// to it, by any strategy and whatever the filter; default 24 hours.
	JustBought time.Duration
	// BundleDiscount is the discount of a learned bundle (no catalog rule),
	// a fraction of the items' total price; default 0.10.
	BundleDiscount float64
	// Blend weighs the parts of for_you; zero gets DefaultBlend.
	Blend Blend
	// FallbackSegments are the segments whose bestsellers a profile with
	// no history gets from for_you, in order: the first it belongs to whose
	// members bought anything, else the global bestsellers. A request that
	// names a segment or trait value uses that instead. Needs Membership.
	FallbackSegments []string
	// RecordDue records replenishment_due events (see Due) to the log; nil
	// keeps no repurchase timers.
	RecordDue func(ctx context.Context, ds []Due) error
	// Shrink damps similarities resting on few co-occurrences: a pair seen
	// c times has its cosine multiplied by c/(c+Shrink); default 2.
	Shrink float64
}

func (o *Options) ensureDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.History, DefaultHistory)
	def(&o.Distinct, DefaultDistinct)
	def(&o.Neighbours, DefaultNeighbours)
	def(&o.Groups, DefaultGroups)
	defD := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	defD(&o.TrendingHalfLife, DefaultTrendingHalfLife)
	defD(&o.BestsellerHalfLife, DefaultBestsellerHalfLife)
	defD(&o.FollowWindow, DefaultFollowWindow)
	defD(&o.JustBought, DefaultJustBought)
	if o.BundleDiscount <= 0 || o.BundleDiscount >= 1 {
		o.BundleDiscount = DefaultBundleDiscount
	}
	if o.Blend == (Blend{}) {
		o.Blend = DefaultBlend
	}
	if o.Shrink <= 0 {
		o.Shrink = DefaultShrink
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Engine holds the recommendation models. Apply (the processor goroutine)
// is the only writer; every reader takes mu for reading.
type Engine struct {
	opts Options

	mu       rwyield.RWMutex
	ids      map[string]int32 // product id -> index in items
	items    []*item
	profiles profTable
	cats     map[string]*category
	groups   map[string]*group // "seg:<id>" / "trait:<name>=<value>" -> bestsellers of its members
	traits   map[string]bool   // trait names whose values have groups
	latest   int64             // latest event time seen, unix seconds
	// catBaskets is the sum of every category's baskets.
	catBaskets float64
	version    uint64 // bumped by every Apply that changed a model
	present    bool   // Load found a checkpoint (see NeedsBackfill)
	// Changed since the last checkpoint: items, profiles, categories, and
	// profiles merged away.
	dirtyItems map[int32]struct{}
	dirtyProfs map[string]int32 // the profile's index in profiles: a checkpoint's pause need not look it up
	dirtyCats  map[string]struct{}
	deleted    []string
	// cpMu orders the two parts of checkpoints; frozen is the change set
	// whose second part has not run yet (see CheckpointSplit).
	cpMu   sync.Mutex
	frozen *changeSet

	// norm[k][ix] is items[ix].n[k], kept dense: similarity reads it for
	// every neighbour of every seed, and chasing item pointers for it was
	// most of for_you's time.
	norm [nKinds][]float64

	dues   dueHeap     // replenishment timers, under mu
	dueIDs arena.Bytes // the timers' profile ids (dueTimer), under mu
	// profSeq numbers profile changes (prof.seq), across profiles so that
	// a profile made anew never reuses an old number.
	profSeq uint64
	answers answerCache

	rank     rankCache
	products productCache
}

// New returns an empty engine; call Load to restore a checkpoint.
func New(opts Options) *Engine {
	opts.ensureDefaults()
	return &Engine{
		opts:     opts,
		ids:      map[string]int32{},
		profiles: newProfTable(),
		cats:     map[string]*category{},
		groups:   map[string]*group{},
		traits:   map[string]bool{},

		dirtyItems: map[int32]struct{}{},
		dirtyProfs: map[string]int32{},
		dirtyCats:  map[string]struct{}{},
	}
}

// Name names the applier in logs.
func (e *Engine) Name() string { return "recommend" }

// Apply folds one event into the models: Product Viewed, Product Added and
// Order Completed (with products[]); merges fold the merged profiles'
// histories into the surviving one. Other events are ignored.
func (e *Engine) Apply(ev *event.Event, r profile.Resolution) {
	e.ApplyPrepared(ev, r, e.Prepare(ev, r))
}

// Prepare implements processor.BehindApplier: for an order, the keys of
// the tracked groups (segments, trait values) its profile belongs to at the
// order's position in the log, which the segment engine and the profiles
// have just brought up to it; nil for other events.
func (e *Engine) Prepare(ev *event.Event, r profile.Resolution) any {
	if ev.Type != event.Track || ev.Event != event.OrderCompleted || r.Profile == "" {
		return nil
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if len(e.groups) == 0 && len(e.traits) == 0 {
		return nil
	}
	return e.orderGroups(r.Profile)
}

// ApplyPrepared implements processor.BehindApplier: Apply, with the groups
// Prepare found.
func (e *Engine) ApplyPrepared(ev *event.Event, r profile.Resolution, prep any) {
	if len(r.Merged) == 0 && ev.Type != event.Track {
		return
	}
	var k kind
	switch ev.Event {
	case event.ProductViewed:
		k = kindView
	case event.ProductAdded:
		k = kindCart
	case event.OrderCompleted:
		k = kindBuy
	default:
		if len(r.Merged) == 0 {
			return
		}
		k = nKinds
	}
	t := ev.Timestamp.Unix()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, m := range r.Merged {
		e.merge(m, r.Profile)
	}
	if ev.Type != event.Track || k == nKinds {
		return
	}
	if t > e.latest {
		e.latest = t
	}
	e.version++
	if k == kindBuy {
		var basket []int32
		var qty []float64
		for li := range event.LineItems(ev.Properties) {
			if ix := e.learnLine(li, nil); ix >= 0 && !containsItem(basket, ix) {
				basket = append(basket, ix)
				qty = append(qty, math.Max(li.Quantity, 1))
				e.items[ix].sold.add(qty[len(qty)-1], t, e.opts.BestsellerHalfLife.Seconds())
			}
		}
		e.order(r.Profile, basket, t)
		if keys, ok := prep.([]string); ok {
			e.groupOrder(keys, basket, qty, t)
		}
		return
	}
	ix := e.learnLine(event.Product(ev.Properties), ev.Properties)
	if ix < 0 {
		return
	}
	e.interact(r.Profile, k, ix, t)
}

// learnLine records the product of a line item (and the name, url and
// image of a product event's properties) and returns its index, -1 when the
// line names no product.
func (e *Engine) learnLine(li event.LineItem, props map[string]any) int32 {
	if li.ProductID == "" {
		return -1
	}
	ix := e.index(li.ProductID)
	it := e.items[ix]
	if li.Category != "" && li.Category != it.category {
		e.setCategory(ix, li.Category)
	}
	if li.Price > 0 {
		if p := float64(li.Price) / 1e6; p != it.price {
			it.price = p
			e.markItem(ix)
		}
	}
	if props != nil {
		if s, _ := props["name"].(string); s != "" && s != it.name {
			it.name = s
			e.markItem(ix)
		}
		if s, _ := props["url"].(string); s != "" && s != it.url {
			it.url = s
			e.markItem(ix)
		}
		if s, _ := props["image_url"].(string); s != "" && s != it.image {
			it.image = s
			e.markItem(ix)
		}
	}
	return ix
}

// index returns the index of product id, adding it when new.
func (e *Engine) index(id string) int32 {
	if ix, ok := e.ids[id]; ok {
		return ix
	}
	ix := int32(len(e.items))
	e.ids[id] = ix
	it := &item{id: id}
	e.items = append(e.items, it)
	for k := range e.norm {
		e.norm[k] = append(e.norm[k], 0)
	}
	e.markItem(ix)
	return ix
}

func (e *Engine) setCategory(ix int32, name string) {
	it := e.items[ix]
	if old := e.cats[it.category]; it.category != "" && old != nil {
		if i := indexOf(old.items, ix); i >= 0 {
			old.items = append(old.items[:i], old.items[i+1:]...)
		}
	}
	it.category = name
	e.markItem(ix)
	e.category(name).items = append(e.category(name).items, ix)
}

func (e *Engine) category(name string) *category {
	c := e.cats[name]
	if c == nil {
		c = &category{name: name, norm: normPath(name), with: map[string]float64{}}
		e.cats[name] = c
	}
	return c
}

// profile returns the profile of id, made when new, marked changed.
func (e *Engine) profile(id string) profRef {
	ix := e.profiles.find(id)
	if ix < 0 {
		// Room for a first few events: most profiles have a handful.
		ix = e.profiles.add(id, 4)
	}
	p := e.profiles.at(ix)
	e.dirtyProfs[id] = ix
	e.profSeq++
	p.seq = e.profSeq
	return p
}

// Co-occurrence windows: a view pairs with the profile's views of the last
// hour, a cart addition with its additions of the last day (a session and
// a shopping trip), each with at most pairLast of them.
const (
	viewWindow = 3600
	cartWindow = 24 * 3600
	pairLast   = 10
)

// interact records a view or a cart addition of item ix by profile pid.
func (e *Engine) interact(pid string, k kind, ix int32, t int64) {
	it := e.items[ix]
	it.n[k]++
	e.norm[k][ix] = it.n[k]
	w := 1.0
	if k == kindCart {
		w = 3
	}
	it.trend.add(w, t, e.opts.TrendingHalfLife.Seconds())
	e.markItem(ix)
	if pid == "" {
		return
	}
	p := e.profile(pid)
	sec, window := secViews, int64(viewWindow)
	if k == kindCart {
		sec, window = secCarts, cartWindow
	}
	list := p.section(sec)
	seen := make([]int32, 0, pairLast)
	for i := len(list) - 1; i >= 0 && len(seen) < pairLast; i-- {
		o := list[i]
		if t-o.T > window || o.T > t {
			break
		}
		if o.Item == ix || containsItem(seen, o.Item) {
			continue
		}
		seen = append(seen, o.Item)
		e.pair(k, ix, o.Item, 1)
	}
	p.push(sec, touch{Item: ix, T: t}, e.opts.History)
}

// order records a completed order of basket (distinct items) by pid.
func (e *Engine) order(pid string, basket []int32, t int64) {
	half := e.opts.TrendingHalfLife.Seconds()
	cats := make([]string, 0, len(basket))
	for _, ix := range basket {
		it := e.items[ix]
		it.n[kindBuy]++
		e.norm[kindBuy][ix] = it.n[kindBuy]
		it.trend.add(5, t, half)
		e.markItem(ix)
		if it.category != "" && !slicesContains(cats, it.category) {
			cats = append(cats, it.category)
		}
	}
	for i, a := range basket {
		for _, b := range basket[i+1:] {
			e.pair(kindBuy, a, b, 1)
		}
	}
	for _, a := range cats {
		c := e.category(a)
		c.baskets++
		e.catBaskets++
		e.dirtyCats[a] = struct{}{}
		for _, b := range cats {
			if a != b {
				e.catPair(c, b, 1)
			}
		}
	}
	if pid == "" {
		return
	}
	p := e.profile(pid)
	// Sequences: what this profile bought within FollowWindow before pairs
	// with this basket at half weight, items and categories alike.
	window := int64(e.opts.FollowWindow.Seconds())
	var prev []int32
	var prevCats []string
	buys := p.buys()
	for i := len(buys) - 1; i >= 0 && len(prev) < pairLast; i-- {
		o := buys[i]
		if t-o.T > window || o.T >= t {
			continue
		}
		if containsItem(basket, o.Item) || containsItem(prev, o.Item) {
			continue
		}
		prev = append(prev, o.Item)
		if c := e.items[o.Item].category; c != "" && !slicesContains(prevCats, c) && !slicesContains(cats, c) {
			prevCats = append(prevCats, c)
		}
	}
	for _, a := range prev {
		for _, b := range basket {
			e.pair(kindBuy, a, b, 0.5)
		}
	}
	for _, a := range prevCats {
		c := e.category(a)
		e.dirtyCats[a] = struct{}{}
		for _, b := range cats {
			e.catPair(c, b, 0.5)
		}
	}
	for _, ix := range basket {
		p.push(secBuys, touch{Item: ix, T: t}, e.opts.History)
		e.count(p, ix, t)
		e.scheduleDue(pid, p, ix)
	}
}

// count adds one purchase of ix to the profile's distinct purchases and the
// item's repurchase gaps.
func (e *Engine) count(p profRef, ix int32, t int64) {
	freq := p.freq()
	for i := range freq {
		f := &freq[i]
		if f.Item != ix {
			continue
		}
		// Re-buying on the same day is one shopping trip, not a repurchase.
		if t-f.Last >= 24*3600 {
			it := e.items[ix]
			it.gapSum += float64(t - f.Last)
			it.gapN++
		}
		f.N++
		f.Last = max(f.Last, t)
		return
	}
	if len(freq) >= e.opts.Distinct {
		// Forget the item bought longest ago.
		old := 0
		for i := range freq {
			if freq[i].Last < freq[old].Last {
				old = i
			}
		}
		p.removeFreq(old)
	}
	p.addFreq(bought{Item: ix, N: 1, First: t, Last: t})
}

// pair adds w to the co-occurrence of a and b, both ways.
func (e *Engine) pair(k kind, a, b int32, w float32) {
	e.pairOne(k, a, b, w)
	e.pairOne(k, b, a, w)
}

func (e *Engine) pairOne(k kind, a, b int32, w float32) {
	it := e.items[a]
	it.co[k] = it.co[k].add(b, w)
	e.markItem(a)
	if len(it.co[k]) > 2*e.opts.Neighbours {
		it.co[k] = it.co[k].prune(e.opts.Neighbours, func(o int32, c float32) float64 {
			return e.sim(k, a, o, float64(c))
		}, func(o int32) string { return e.items[o].id })
	}
}

// sim is the shrunk cosine similarity of a and b for c co-occurrences.
func (e *Engine) sim(k kind, a, b int32, c float64) float64 {
	na, nb := e.norm[k][a], e.norm[k][b]
	if na == 0 || nb == 0 || c <= 0 {
		return 0
	}
	return c / math.Sqrt(na*nb) * c / (c + e.opts.Shrink)
}

func (e *Engine) catPair(c *category, other string, w float64) {
	c.with[other] += w
	if len(c.with) > 2*e.opts.Neighbours {
		pruneCo(c.with, e.opts.Neighbours, func(o string, v float64) float64 { return e.lift(c, o, v) },
			func(o string) string { return o })
	}
}

// lift is how much more often category o is bought with (or soon after)
// c than on its own, shrunk like sim.
func (e *Engine) lift(c *category, o string, v float64) float64 {
	oc := e.cats[o]
	total := e.totalBaskets()
	if oc == nil || c.baskets == 0 || oc.baskets == 0 || total == 0 {
		return 0
	}
	return v / c.baskets / (oc.baskets / total) * v / (v + e.opts.Shrink)
}

// totalBaskets is the sum of the categories' basket counts: more than the
// number of baskets, which as a normaliser of lift only scales every score
// alike. Kept as a running sum (catBaskets).
func (e *Engine) totalBaskets() float64 { return e.catBaskets }

// merge folds profile from into into.
func (e *Engine) merge(from, into string) {
	// f keeps its array until the fold is done: growing into's array could
	// otherwise reuse it.
	f, ok := e.profiles.remove(from)
	if !ok {
		return
	}
	defer e.profiles.release(f)
	delete(e.dirtyProfs, from)
	e.deleted = append(e.deleted, from)
	p := e.profile(into)
	for _, s := range []int{secViews, secCarts, secBuys} {
		p.set(s, mergeTouches(p.section(s), f.section(s), e.opts.History))
	}
	for _, b := range f.freq() {
		found := false
		freq := p.freq()
		for i := range freq {
			if freq[i].Item == b.Item {
				freq[i].N += b.N
				freq[i].First = min(freq[i].First, b.First)
				freq[i].Last = max(freq[i].Last, b.Last)
				found = true
				break
			}
		}
		if !found && len(freq) < e.opts.Distinct {
			p.addFreq(b)
		}
	}
}

func mergeTouches(a, b []touch, limit int) []touch {
	out := make([]touch, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		if j >= len(b) || i < len(a) && a[i].T <= b[j].T {
			out = append(out, a[i])
			i++
		} else {
			out = append(out, b[j])
			j++
		}
	}
	if len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out
}

func containsItem(s []int32, v int32) bool { return indexOf(s, v) >= 0 }

func indexOf(s []int32, v int32) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func (e *Engine) markItem(ix int32) { e.dirtyItems[ix] = struct{}{} }

// LockWaited reports how often writers of the recommendation models (the processor, an
// admin write) found its lock held, and how long they waited in all.
func (e *Engine) LockWaited() (uint64, time.Duration) { return e.mu.Waited() }
