package recommend

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"
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
// allocate a map of its candidates. pos and stamp are dense over the
// catalog: pos[ix] is ix's entry in parts when stamp[ix] is this call's
// epoch, so nothing needs clearing between calls.
type scratch struct {
	pos   []int32
	stamp []uint32
	epoch uint32
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

var scratchPool = sync.Pool{New: func() any { return &scratch{} }}

// newScratch returns a scratch for a catalog of n items. Caller holds mu
// for reading (n cannot grow meanwhile).
func newScratch(n int) *scratch {
	s := scratchPool.Get().(*scratch)
	if len(s.pos) < n {
		grow := n + n/4 + 64
		s.pos = make([]int32, grow)
		s.stamp = make([]uint32, grow)
		s.epoch = 0
	}
	s.epoch++
	if s.epoch == 0 {
		clear(s.stamp)
		s.epoch = 1
	}
	return s
}

// get returns the index in parts of ix's entry, adding it.
func (s *scratch) get(ix int32) int32 {
	if s.stamp[ix] == s.epoch {
		return s.pos[ix]
	}
	i := int32(len(s.parts))
	s.stamp[ix], s.pos[ix] = s.epoch, i
	s.parts = append(s.parts, part{ix: ix, src: -1})
	return i
}

func (s *scratch) release() {
	clear(s.parts) // drop the strings it holds
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

// answerCache keeps recent answers per profile and request. An answer is
// good until the profile's next event (its seq moves), the next catalog
// write, or answerMaxAge (anonymous visitors: answerMaxAgeAnon, as long
// as the global rankings themselves are reused); the models' other
// changes (other profiles' events) reach it within that age.
type answerCache struct {
	mu sync.RWMutex
	m  map[string]answer
}

type answer struct {
	seq   uint64
	gen   uint64
	at    time.Time
	items []Item
}

const (
	answerMaxAge     = 5 * time.Second
	answerMaxAgeAnon = rankMaxAge
	answerCacheMax   = 50_000 // about 1 KB each with 10 items: at most ~60 MB
)

// answerKey appends the cache key of req to b.
func answerKey(b []byte, req *Request) []byte {
	f := &req.Filter
	for _, s := range [...]string{req.ProfileID, req.Strategy, req.ItemID, req.Segment, req.Trait} {
		b = append(append(b, s...), 0)
	}
	b = strconv.AppendInt(b, int64(req.Limit), 10)
	b = strconv.AppendBool(append(b, 0), f.ExcludePurchased)
	b = strconv.AppendBool(append(b, 0), f.InStockOnly)
	b = strconv.AppendInt(append(b, 0), int64(f.ExcludeCategoryFor), 10)
	b = strconv.AppendFloat(append(b, 0), f.MinPrice, 'g', -1, 64)
	b = strconv.AppendFloat(append(b, 0), f.MaxPrice, 'g', -1, 64)
	b = strconv.AppendInt(append(b, 0), int64(f.MaxPerCategory), 10)
	for _, c := range f.Categories {
		b = append(append(b, "\x00+"...), c...)
	}
	for _, c := range f.ExcludeCategories {
		b = append(append(b, "\x00-"...), c...)
	}
	return b
}

// catalogGen is the catalog's generation, 0 without one that counts.
func (e *Engine) catalogGen() uint64 {
	if g, ok := e.opts.Catalog.(generationer); ok {
		return g.Generation()
	}
	return 0
}

// profileSeq is the profile's change number, 0 when the engine has none.
func (e *Engine) profileSeq(pid string) uint64 {
	if pid == "" {
		return 0
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if p := e.profiles.get(pid); p.prof != nil {
		return p.seq
	}
	return 0
}

// cachedAnswer returns a copy of a good cached answer for key.
func (e *Engine) cachedAnswer(key []byte, pid string, seq, gen uint64, now time.Time) ([]Item, bool) {
	ac := &e.answers
	ac.mu.RLock()
	a, ok := ac.m[string(key)]
	ac.mu.RUnlock()
	maxAge := answerMaxAge
	if pid == "" {
		maxAge = answerMaxAgeAnon
	}
	// Age on the engine's clock: an answer is for a moment (just-bought
	// windows, repurchase timing), and the clock may be set (tests, replays).
	if age := now.Sub(a.at); !ok || a.seq != seq || a.gen != gen || age < 0 || age > maxAge {
		return nil, false
	}
	return slices.Clone(a.items), true
}

// keepAnswer caches items for key, computed for seq and gen.
func (e *Engine) keepAnswer(key []byte, seq, gen uint64, now time.Time, items []Item) {
	ac := &e.answers
	ac.mu.Lock()
	defer ac.mu.Unlock()
	if ac.m == nil || len(ac.m) >= answerCacheMax {
		ac.m = make(map[string]answer, 1024)
	}
	ac.m[string(key)] = answer{seq: seq, gen: gen, at: now, items: slices.Clone(items)}
}
