package recommend

import (
	"context"
	"fmt"
	"sync"
)

// generationer is a catalog that says when it last changed; *catalog.Store
// counts its writes. With one, the engine keeps the products it reads
// decoded until the next write.
type generationer interface{ Generation() uint64 }

// product is what the filters read of a catalog product.
type product struct {
	found                      bool
	outOfStock                 bool
	name, category, url, image string
	price                      float64
}

// productCache holds decoded catalog products for one catalog generation:
// a pebble read and a JSON decode per candidate were a third of a
// decision's cost.
type productCache struct {
	mu  sync.RWMutex
	gen uint64
	m   map[string]product
}

// productCacheMax bounds the cache; past it the cache starts over.
const productCacheMax = 200_000

// product reads id from the catalog, through the cache when the catalog
// says when it changes.
func (e *Engine) product(ctx context.Context, id string) (product, error) {
	g, cached := e.opts.Catalog.(generationer)
	var gen uint64
	pc := &e.products
	if cached {
		gen = g.Generation()
		pc.mu.RLock()
		p, ok := pc.m[id]
		ok = ok && pc.gen == gen
		pc.mu.RUnlock()
		if ok {
			return p, nil
		}
	}
	cp, found, err := e.opts.Catalog.Get(ctx, id)
	if err != nil {
		return product{}, fmt.Errorf("recommend: read product %q: %w", id, err)
	}
	p := product{found: found}
	if found {
		p = product{found: true, outOfStock: cp.Stock != nil && *cp.Stock <= 0, name: cp.Name, category: cp.Category,
			url: cp.URL, image: cp.ImageURL, price: cp.Price}
	}
	if !cached {
		return p, nil
	}
	pc.mu.Lock()
	defer pc.mu.Unlock()
	// The product was read after loading gen: it may be stored for gen,
	// and a newer generation starts the cache over.
	switch {
	case pc.gen > gen:
		return p, nil
	case pc.gen < gen || pc.m == nil || len(pc.m) >= productCacheMax:
		pc.m, pc.gen = make(map[string]product, 1024), gen
	}
	pc.m[id] = p
	return p, nil
}

// scratch is forYou's per-call working set, pooled so that a call does not
// allocate a map of its candidates.
type scratch struct {
	idx   map[int32]int32
	parts []part
}

// part is one for_you candidate's blend parts.
type part struct {
	ix  int32
	s   [3]float64
	src int32 // the profile's item the similar part came from (its best)
	k   kind
	pop string
	top float64
}

var scratchPool = sync.Pool{New: func() any { return &scratch{idx: make(map[int32]int32, 256)} }}

// get returns the index in parts of ix's entry, adding it.
func (s *scratch) get(ix int32) int32 {
	if i, ok := s.idx[ix]; ok {
		return i
	}
	i := int32(len(s.parts))
	s.idx[ix] = i
	s.parts = append(s.parts, part{ix: ix, src: -1})
	return i
}

func (s *scratch) release() {
	// A huge map is not worth keeping: clearing it costs its size.
	if len(s.idx) > 1<<14 {
		return
	}
	clear(s.idx)
	s.parts = s.parts[:0]
	scratchPool.Put(s)
}

// candPool recycles the candidate slices of requests.
var candPool = sync.Pool{New: func() any { s := make([]cand, 0, 256); return &s }}

func getCands() *[]cand { return candPool.Get().(*[]cand) }

func putCands(c *[]cand) {
	if c == nil || cap(*c) > 1<<16 {
		return
	}
	*c = (*c)[:0]
	candPool.Put(c)
}
