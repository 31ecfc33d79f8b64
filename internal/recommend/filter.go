package recommend

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"
)

// exclusions are what a request's profile must not be shown: items (just
// bought, ever bought when asked, the seed) and categories of recent
// purchases.
type exclusions struct {
	items map[int32]bool
	cats  []string
}

// exclusions computes the request's exclusions. Caller holds mu for reading.
func (e *Engine) exclusions(req Request, now int64) exclusions {
	ex := exclusions{items: map[int32]bool{}}
	p := e.profiles.get(req.ProfileID)
	if p.prof == nil {
		return ex
	}
	just := now - int64(e.opts.JustBought.Seconds())
	catSince := now - int64(req.Filter.ExcludeCategoryFor/time.Second)
	for _, b := range p.buys() {
		if b.T >= just || req.Filter.ExcludePurchased {
			ex.items[b.Item] = true
		}
		if req.Filter.ExcludeCategoryFor > 0 && b.T >= catSince {
			if c := e.items[b.Item].category; c != "" && !slicesContains(ex.cats, c) {
				ex.cats = append(ex.cats, c)
			}
		}
	}
	if req.Filter.ExcludePurchased {
		for _, f := range p.freq() {
			ex.items[f.Item] = true
		}
	}
	return ex
}

// picked is a candidate with the engine's view of the product, copied out
// under the read lock so the catalog is read without it.
type picked struct {
	cand
	Item
}

// pickedPool recycles meta's copies: a request's candidates, copied out
// of the model, were most of what a decision allocated.
var pickedPool = sync.Pool{New: func() any { s := make([]picked, 0, 64); return &s }}

func putPicked(p *[]picked) {
	if cap(*p) > maxCandidates {
		return
	}
	clear(*p) // drop the strings it holds
	*p = (*p)[:0]
	pickedPool.Put(p)
}

// maxCandidates bounds the candidates a request filters: enough for any
// limit after heavy filtering, without copying a whole catalog.
const maxCandidates = 2000

// meta copies the candidates' product data. Caller holds mu for reading.
func (e *Engine) meta(c []cand, buf *[]picked) []picked {
	c = c[:min(len(c), maxCandidates)]
	out := slices.Grow((*buf)[:0], len(c))[:len(c)]
	*buf = out
	for i, x := range c {
		it := e.items[x.ix]
		out[i] = picked{x, Item{ID: it.id, Name: it.name, Category: it.category, URL: it.url, Image: it.image,
			Price: it.price, Score: x.score}}
	}
	return out
}

// finish overlays the catalog and applies the filters, keeping at most
// req.Limit items.
func (e *Engine) finish(ctx context.Context, req Request, cands []picked, ex exclusions) ([]picked, error) {
	f := req.Filter
	out := make([]picked, 0, req.Limit)
	perCat := map[string]int{}
	for _, c := range cands {
		if len(out) == req.Limit {
			break
		}
		if ex.items[c.ix] {
			continue
		}
		it := c.Item
		if e.opts.Catalog != nil {
			p, err := e.product(ctx, it.ID)
			if err != nil {
				return nil, err
			}
			if p.found {
				if f.InStockOnly && p.outOfStock {
					continue
				}
				it.Name, it.Price = p.name, p.price
				it.Category = or(p.category, it.Category)
				it.URL, it.Image = or(p.url, it.URL), or(p.image, it.Image)
			}
		}
		switch {
		case slicesContains(ex.cats, it.Category):
		case f.MinPrice > 0 && it.Price < f.MinPrice, f.MaxPrice > 0 && it.Price > f.MaxPrice:
		case len(f.Categories) > 0 && !inAny(it.Category, f.Categories):
		case inAny(it.Category, f.ExcludeCategories):
		case f.MaxPerCategory > 0 && perCat[it.Category] >= f.MaxPerCategory:
		default:
			perCat[it.Category]++
			it.Strategy = req.Strategy
			out = append(out, picked{c.cand, it})
		}
	}
	return out, nil
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// inAny says whether category path cat is one of want or under one of them
// ("Apparel" holds "Apparel > Outerwear > Jackets"), ignoring case and the
// spaces around ">".
func inAny(cat string, want []string) bool {
	if len(want) == 0 {
		return false
	}
	c := normPath(cat)
	for _, w := range want {
		w = normPath(w)
		if w != "" && (c == w || strings.HasPrefix(c, w+">")) {
			return true
		}
	}
	return false
}

func normPath(p string) string {
	parts := strings.Split(p, ">")
	for i := range parts {
		parts[i] = strings.ToLower(strings.TrimSpace(parts[i]))
	}
	return strings.Join(parts, ">")
}
