package recommend

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
)

// Blend weighs the three parts of for_you; each part is scaled to [0, 1]
// over the candidates before weighting.
type Blend struct {
	Repeat  float64 // buy again
	Similar float64 // co-occurrence with the profile's recent items
	Popular float64 // bestsellers of the request's group, else global
}

// DefaultBlend is tuned with `tailor eval recommend` on the demo store and
// the Ta-Feng baskets (docs/recommendations.md).
var DefaultBlend = Blend{Repeat: 1, Similar: 0.3, Popular: 0.6}

// complements ranks the items of the categories that go with the seed's:
// explicit complements from the catalog first, then categories learned from
// baskets and sequences (lift), each category's items by popularity and by
// co-purchase with the seed.
func (e *Engine) complements(ctx context.Context, seed int32, seedID string) []cand {
	it := e.items[seed]
	type compCat struct {
		path   string
		weight float64
		why    string
	}
	var cats []compCat
	if e.opts.Catalog != nil {
		if p, ok, err := e.opts.Catalog.Get(ctx, seedID); err == nil && ok {
			list, _ := p.Attrs["complements"].([]any)
			for i, v := range list {
				if s, _ := v.(string); s != "" {
					cats = append(cats, compCat{s, 2 - float64(i)*0.1, fmt.Sprintf("goes with %s (catalog)", displayName(it))})
				}
			}
		}
	}
	if c := e.cats[it.category]; c != nil {
		type lc struct {
			name string
			lift float64
		}
		var learned []lc
		for o, v := range c.with {
			if l := e.lift(c, o, v); l > 1 {
				learned = append(learned, lc{o, l})
			}
		}
		slices.SortFunc(learned, func(a, b lc) int {
			if a.lift != b.lift {
				if a.lift > b.lift {
					return -1
				}
				return 1
			}
			return strings.Compare(a.name, b.name)
		})
		for i, l := range learned[:min(len(learned), 6)] {
			cats = append(cats, compCat{l.name, 1 - float64(i)*0.1,
				fmt.Sprintf("%s is often bought with or soon after %s (lift %.1f)", leaf(l.name), leaf(it.category), l.lift)})
		}
	}
	half := e.opts.BestsellerHalfLife.Seconds()
	best := map[int32]cand{}
	for _, cc := range cats {
		// A learned complement is a category by name; a catalog one may
		// be a parent path, matched against every category.
		matches := []*category{e.cats[cc.path]}
		if matches[0] == nil {
			matches = matches[:0]
			want := normPath(cc.path)
			for _, c := range e.cats {
				if c.norm == want || strings.HasPrefix(c.norm, want+">") {
					matches = append(matches, c)
				}
			}
		}
		for _, c := range matches {
			if c.name == it.category {
				continue
			}
			var top float64
			for _, o := range c.items {
				top = math.Max(top, e.items[o].sold.at(e.latest, half))
			}
			for _, o := range c.items {
				pop := 0.0
				if top > 0 {
					pop = e.items[o].sold.at(e.latest, half) / top
				}
				s := cc.weight * (0.5 + 0.5*pop)
				if co := it.co[kindBuy].get(o); co > 0 {
					s += e.sim(kindBuy, seed, o, float64(co))
				}
				if s > best[o].score {
					best[o] = cand{ix: o, score: s, reason: cc.why}
				}
			}
		}
	}
	out := make([]cand, 0, len(best))
	for _, c := range best {
		out = append(out, c)
	}
	sortCands(out, e.items)
	return out
}

// rankCache holds the global trending and bestseller rankings: rebuilding
// them scans every item, so a large catalog reuses a ranking for up to
// rankMaxAge while events keep arriving (small ones rebuild at once).
type rankCache struct {
	mu      sync.Mutex
	version [2]uint64
	at      [2]time.Time
	list    [2][]cand
}

const (
	rankTop      = 1000
	rankMaxAge   = 200 * time.Millisecond
	rankSmallSet = 5000
)

// ranked returns the trending (or bestselling) items of group, global when
// group is "", best first. The global list is shared between readers: do
// not modify it. Caller holds mu for reading.
func (e *Engine) ranked(group string, trending bool) []cand {
	half := e.opts.BestsellerHalfLife.Seconds()
	what, where := "bestseller", ""
	if trending {
		half = e.opts.TrendingHalfLife.Seconds()
		what = "trending"
	}
	if group != "" {
		g := e.groups[group]
		if g == nil {
			return nil
		}
		m := g.sold
		if trending {
			m = g.trend
		}
		where = " among " + groupLabel(group)
		out := make([]cand, 0, len(m))
		for ix, d := range m {
			out = append(out, cand{ix: ix, score: d.at(e.latest, half), reason: what + where})
		}
		sortCands(out, e.items)
		return out
	}
	w := 0
	if trending {
		w = 1
	}
	rc := &e.rank
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.list[w] != nil && (rc.version[w] == e.version || len(e.items) > rankSmallSet && time.Since(rc.at[w]) < rankMaxAge) {
		return rc.list[w]
	}
	out := make([]cand, 0, len(e.items))
	for ix, it := range e.items {
		d := it.sold
		if trending {
			d = it.trend
		}
		if s := d.at(e.latest, half); s > 0 {
			out = append(out, cand{ix: int32(ix), score: s, reason: what})
		}
	}
	sortCands(out, e.items)
	out = out[:min(len(out), rankTop)]
	rc.list[w], rc.version[w], rc.at[w] = out, e.version, time.Now()
	return out
}

func groupLabel(key string) string {
	if s, ok := strings.CutPrefix(key, "seg:"); ok {
		return "segment " + s
	}
	return strings.TrimPrefix(key, "trait:")
}

// forYou blends, for a profile: items due to be bought again, items that
// co-occur with what it recently viewed, carted and bought (recent counting
// more), and the bestsellers of its group (else global), which are all a new
// visitor gets.
func (e *Engine) forYou(p profRef, group string, now int64, dst []cand) []cand {
	if p.prof != nil && p.empty() {
		p = profRef{}
	}
	pop := e.ranked(group, false)
	if group != "" && len(pop) == 0 && p.prof == nil {
		// An empty group falls back to the global bestsellers.
		return e.forYou(p, "", now, dst)
	}
	if p.prof == nil {
		// No history: the popular part alone, whose order is the
		// ranking's; nothing to blend.
		pop = pop[:min(forYouPopular, len(pop))]
		w := e.opts.Blend.Popular
		if len(pop) == 0 || pop[0].score <= 0 || w <= 0 {
			return dst
		}
		for _, c := range pop {
			dst = append(dst, cand{ix: c.ix, score: w * c.score / pop[0].score, part: partPopular, reason: c.reason})
		}
		return dst
	}
	sc := newScratch(len(e.items))
	defer sc.release()
	var maxS [3]float64
	for _, f := range p.freq() {
		if s := frequencyScore(f, now); s > 0 {
			sc.parts[sc.get(f.Item)].s[partRepeat] = s
			maxS[partRepeat] = math.Max(maxS[partRepeat], s)
		}
	}
	const recent = 20
	seeds := [...]struct {
		list  []touch
		w     float64
		kinds []kind
	}{
		{p.buys(), 3, []kind{kindBuy}},
		{p.carts(), 2, []kind{kindCart, kindBuy}},
		{p.views(), 1, []kind{kindView}},
	}
	for _, sd := range seeds {
		for i := len(sd.list) - 1; i >= max(0, len(sd.list)-recent); i-- {
			t := sd.list[i]
			rw := sd.w * math.Exp2(-float64(max(now-t.T, 0))/(14*day))
			src := e.items[t.Item]
			for _, k := range sd.kinds {
				for _, oc := range src.co[k] {
					o := oc.o
					s := rw * e.sim(k, t.Item, o, float64(oc.c))
					if s <= 0 {
						continue
					}
					x := &sc.parts[sc.get(o)]
					x.s[partSimilar] += s
					if s > x.top {
						x.top, x.src, x.k = s, t.Item, k
					}
					maxS[partSimilar] = math.Max(maxS[partSimilar], x.s[partSimilar])
				}
			}
		}
	}
	for _, c := range pop[:min(forYouPopular, len(pop))] {
		x := &sc.parts[sc.get(c.ix)]
		x.s[partPopular], x.pop = c.score, c.reason
		maxS[partPopular] = math.Max(maxS[partPopular], c.score)
	}
	if group != "" && len(sc.parts) == 0 {
		return e.forYou(p, "", now, dst)
	}
	weights := [3]float64{e.opts.Blend.Repeat, e.opts.Blend.Similar, e.opts.Blend.Popular}
	out := dst
	for i := range sc.parts {
		x := &sc.parts[i]
		var total, top float64
		c := cand{ix: x.ix}
		for k := range x.s {
			if maxS[k] == 0 {
				continue
			}
			v := weights[k] * x.s[k] / maxS[k]
			total += v
			if v > top {
				top, c.part = v, blendPart(k)
			}
		}
		c.score = total
		switch c.part {
		case partSimilar:
			c.src, c.k = x.src, x.k
		case partPopular:
			c.reason = x.pop
		}
		out = append(out, c)
	}
	return out
}

// forYouPopular is how many bestsellers for_you blends in.
const forYouPopular = 200

// Bundle is a seed product with complements offered together at a price.
type Bundle struct {
	Seed   Item    `json:"seed"`
	Items  []Item  `json:"items"`  // the complements, without the seed
	Total  float64 `json:"total"`  // sum of the prices, seed included
	Price  float64 `json:"price"`  // the bundle price
	Saving float64 `json:"saving"` // Total - Price
	Rule   string  `json:"rule"`   // "catalog" (the product's bundle attributes) or "learned"
}

// bundleSize is how many complements a learned bundle holds.
const bundleSize = 3

// Bundle returns the bundle of a product. A catalog rule (the product's
// attributes bundle_items, a list of product ids, and bundle_price) wins;
// otherwise the bundle is its top complements, one per category, in stock,
// at Options.BundleDiscount off the total.
func (e *Engine) Bundle(ctx context.Context, itemID string) (Bundle, error) {
	if itemID == "" {
		return Bundle{}, fmt.Errorf("%w: a bundle is built around a product; give its id", ErrNeedItem)
	}
	seed, ok := e.item(itemID)
	if e.opts.Catalog != nil {
		p, found, err := e.opts.Catalog.Get(ctx, itemID)
		if err != nil {
			return Bundle{}, fmt.Errorf("recommend: read product %q: %w", itemID, err)
		}
		if found {
			ok = true
			seed = Item{ID: p.ID, Name: p.Name, Category: p.Category, URL: p.URL, Image: p.ImageURL, Price: p.Price}
			if b, ok, err := e.catalogBundle(ctx, seed, p.Attrs); err != nil || ok {
				return b, err
			}
		}
	}
	if !ok {
		return Bundle{}, fmt.Errorf("%w %q", ErrUnknownItem, itemID)
	}
	items, err := e.Recommend(ctx, Request{Strategy: BundleStrategy, ItemID: itemID, Limit: bundleSize,
		Filter: Filter{InStockOnly: true, MaxPerCategory: 1}})
	if err != nil {
		return Bundle{}, err
	}
	b := Bundle{Seed: seed, Items: items, Rule: "learned"}
	b.Total = seed.Price
	for _, it := range items {
		b.Total += it.Price
	}
	if len(items) > 0 {
		b.Price = math.Round(b.Total*(1-e.opts.BundleDiscount)*100) / 100
	} else {
		b.Price = b.Total
	}
	b.Saving = math.Round((b.Total-b.Price)*100) / 100
	return b, nil
}

func (e *Engine) catalogBundle(ctx context.Context, seed Item, attrs map[string]any) (Bundle, bool, error) {
	ids, _ := attrs["bundle_items"].([]any)
	price, ok := attrs["bundle_price"].(float64)
	if len(ids) == 0 || !ok || price <= 0 {
		return Bundle{}, false, nil
	}
	b := Bundle{Seed: seed, Total: seed.Price, Price: price, Rule: "catalog"}
	for _, v := range ids {
		id, _ := v.(string)
		p, found, err := e.opts.Catalog.Get(ctx, id)
		if err != nil {
			return Bundle{}, false, fmt.Errorf("recommend: read bundle product %q: %w", id, err)
		}
		if !found {
			continue
		}
		b.Items = append(b.Items, Item{ID: p.ID, Name: p.Name, Category: p.Category, URL: p.URL, Image: p.ImageURL,
			Price: p.Price, Reason: fmt.Sprintf("in the %s bundle (catalog)", seed.Name), Strategy: BundleStrategy})
		b.Total += p.Price
	}
	b.Saving = math.Round((b.Total-b.Price)*100) / 100
	return b, true, nil
}

// item returns the engine's view of a product.
func (e *Engine) item(id string) (Item, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	ix, ok := e.ids[id]
	if !ok {
		return Item{}, false
	}
	it := e.items[ix]
	return Item{ID: it.id, Name: it.name, Category: it.category, URL: it.url, Image: it.image, Price: it.price}, true
}
