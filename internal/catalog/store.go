package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/valyala/fastjson"

	"tailor/internal/store"
)

// keyPrefix is the part of the shared Pebble keyspace the catalog owns: one key
// per product, "c/" + product id, whose value is the product as JSON. Nothing
// else writes under this prefix, and the catalog writes nowhere else.
const keyPrefix = store.PrefixCatalog

// keyUpper is the exclusive upper bound of the catalog's keys ('/'+1 == '0').
var keyUpper = store.UpperBound(store.PrefixCatalog)

// ErrNotFound is returned by Delete when the product does not exist.
var ErrNotFound = errors.New("product not found")

// DefaultListLimit is the page size of List when ListOptions.Limit is not set.
const DefaultListLimit = 100

// Store keeps the product catalog in a Pebble database shared with the rest of
// Tailor. It holds no state of its own, so it is safe for concurrent use and
// every read sees the latest synced write.
type Store struct {
	db *pebble.DB
}

// NewStore returns a Store over db. The caller owns db and closes it.
func NewStore(db *pebble.DB) *Store { return &Store{db: db} }

// generation counts the catalog writes of this process, across every Store:
// a reader that keeps decoded products (the recommendation engine) drops
// them when it moves, so that a stock or price change is seen at once.
var generation atomic.Uint64

// Generation is the number of catalog writes (Put, Delete) in this process
// so far. It moves after a write is committed: a product read after loading
// it is at least as new as that generation.
func (s *Store) Generation() uint64 { return generation.Load() }

func productKey(id string) []byte {
	k := make([]byte, 0, len(keyPrefix)+len(id))
	return append(append(k, keyPrefix...), id...)
}

// Put normalizes and validates every product, then writes them all in one
// synced batch: either all are stored or, on any error, none. Products with the
// same id replace each other; the last one wins. The caller's slice is not
// modified.
func (s *Store) Put(ctx context.Context, products []Product) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b := s.db.NewBatch()
	defer b.Close()
	for i := range products {
		p := products[i]
		p.Normalize()
		if err := p.Validate(); err != nil {
			return fmt.Errorf("product %d (id %q): %w", i, p.ID, err)
		}
		v, err := json.Marshal(&p)
		if err != nil {
			// Only attributes that JSON cannot carry (NaN, channels...) get here.
			return fmt.Errorf("product %d (id %q): attributes: %w", i, p.ID, err)
		}
		if err := b.Set(productKey(p.ID), v, nil); err != nil {
			return fmt.Errorf("catalog put: %w", err)
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("catalog put: %w", err)
	}
	generation.Add(1)
	return nil
}

// Get returns the product with id id, and false if there is none.
func (s *Store) Get(ctx context.Context, id string) (Product, bool, error) {
	if err := ctx.Err(); err != nil {
		return Product{}, false, err
	}
	v, closer, err := s.db.Get(productKey(id))
	if errors.Is(err, pebble.ErrNotFound) {
		return Product{}, false, nil
	}
	if err != nil {
		return Product{}, false, fmt.Errorf("catalog get %q: %w", id, err)
	}
	defer closer.Close()
	p, err := decodeStored(id, v)
	if err != nil {
		return Product{}, false, err
	}
	return p, true, nil
}

// decodeStored decodes a stored value. The key, not the value, is the truth
// about the id.
func decodeStored(id string, v []byte) (Product, error) {
	var p Product
	if err := json.Unmarshal(v, &p); err != nil {
		return Product{}, fmt.Errorf("catalog: stored product %q is corrupt: %w", id, err)
	}
	p.ID = id
	return p, nil
}

// Delete removes the product with id id, with a synced write. It returns
// ErrNotFound if there was none.
func (s *Store) Delete(ctx context.Context, id string) error {
	_, ok, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	if !ok {
		return ErrNotFound
	}
	if err := s.db.Delete(productKey(id), pebble.Sync); err != nil {
		return fmt.Errorf("catalog delete %q: %w", id, err)
	}
	generation.Add(1)
	return nil
}

// ListOptions selects a page of products in id order.
type ListOptions struct {
	// Category keeps the products in this category or any category below it:
	// "Apparel" matches "Apparel" and "Apparel > Outerwear > Jackets" but not
	// "Apparel Accessories". Levels are compared without case and without the
	// spaces around ">". Empty keeps all products.
	Category string
	// After is the id the page starts after (exclusive); empty starts at the
	// first product. Pass the previous page's next id to continue.
	After string
	// Limit is the page size; 0 or less means DefaultListLimit.
	Limit int
	// Query keeps the products whose id, name or brand attribute contains
	// it, without case (the dashboard's search box). Empty keeps all.
	Query string
}

// List returns up to opts.Limit products in id order, and the id to pass as
// After for the next page, or "" when there are no more matching products.
func (s *Store) List(ctx context.Context, opts ListOptions) ([]Product, string, error) {
	limit := opts.Limit
	if limit <= 0 {
		limit = DefaultListLimit
	}
	want := categoryPath(opts.Category)
	query := strings.ToLower(strings.TrimSpace(opts.Query))
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte(keyPrefix), UpperBound: keyUpper})
	if err != nil {
		return nil, "", fmt.Errorf("catalog list: %w", err)
	}
	defer it.Close()

	var ok bool
	if opts.After == "" {
		ok = it.First()
	} else {
		// The smallest key after After's own key is that key followed by 0x00.
		ok = it.SeekGE(append(productKey(opts.After), 0))
	}
	out := make([]Product, 0, min(limit, 1024))
	next := ""
	var fp fastjson.Parser
	for n := 0; ok; ok = it.Next() {
		if n++; n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, "", err
			}
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, "", fmt.Errorf("catalog list: %w", err)
		}
		id := it.Key()[len(keyPrefix):]
		if len(want) > 0 || query != "" {
			// Filters read a few fields of every product: those are
			// picked out of the JSON, and only matches are decoded whole.
			f, err := scanStored(&fp, id, v)
			if err != nil {
				return nil, "", err
			}
			if len(want) > 0 && !inCategory(categoryPath(string(f.category)), want) || query != "" && !f.matches(query) {
				continue
			}
		}
		p, err := decodeStored(string(id), v)
		if err != nil {
			return nil, "", err
		}
		if len(out) == limit {
			// One more match exists, so there is a next page.
			next = out[len(out)-1].ID
			break
		}
		out = append(out, p)
	}
	if err := it.Error(); err != nil {
		return nil, "", fmt.Errorf("catalog list: %w", err)
	}
	return out, next, nil
}

// scanned is what a scan of the catalog reads of each product.
type scanned struct {
	id, category []byte
	name, brand  []byte
	stock        int64
	stockTracked bool
}

// scanStored picks the fields scans filter and count on out of a stored
// product, without decoding it whole. The slices point into p's buffers:
// valid until p's next Parse.
func scanStored(p *fastjson.Parser, id, v []byte) (scanned, error) {
	o, err := p.ParseBytes(v)
	if err != nil {
		return scanned{}, fmt.Errorf("catalog: stored product %q is corrupt: %w", id, err)
	}
	f := scanned{id: id, category: o.GetStringBytes("category"), name: o.GetStringBytes("name"),
		brand: o.GetStringBytes("attributes", "brand")}
	if s := o.Get("stock"); s != nil && s.Type() == fastjson.TypeNumber {
		f.stock, f.stockTracked = s.GetInt64(), true
	}
	return f, nil
}

// matches reports whether the product's id, name or brand contains q
// (lower case).
func (f scanned) matches(q string) bool {
	for _, s := range [][]byte{f.id, f.name, f.brand} {
		if len(s) >= len(q) && strings.Contains(strings.ToLower(string(s)), q) {
			return true
		}
	}
	return false
}

// Category is one category path with its products: Products counts those
// filed exactly under Path, Stock adds up their tracked stock.
type Category struct {
	Path     string `json:"path"`
	Products int    `json:"products"`
	Stock    int64  `json:"stock"`
}

// Categories returns every category path products are filed under, by
// path: the leaves of the category tree (a client adds up the levels
// above). It reads the whole catalog.
func (s *Store) Categories(ctx context.Context) ([]Category, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte(keyPrefix), UpperBound: keyUpper})
	if err != nil {
		return nil, fmt.Errorf("catalog categories: %w", err)
	}
	defer it.Close()
	byPath := make(map[string]*Category)
	var fp fastjson.Parser
	for n, ok := 0, it.First(); ok; ok = it.Next() {
		if n++; n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("catalog categories: %w", err)
		}
		f, err := scanStored(&fp, it.Key()[len(keyPrefix):], v)
		if err != nil {
			return nil, err
		}
		c := byPath[string(f.category)] // no allocation for the lookup
		if c == nil {
			c = &Category{Path: strings.Join(categoryPath(string(f.category)), " > ")}
			byPath[string(f.category)] = c
		}
		c.Products++
		c.Stock += f.stock
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("catalog categories: %w", err)
	}
	// Spellings of one path ("A>B", "A > B") are counted apart above,
	// and merged here.
	merged := make(map[string]*Category, len(byPath))
	for _, c := range byPath {
		if m := merged[c.Path]; m != nil {
			m.Products += c.Products
			m.Stock += c.Stock
		} else {
			merged[c.Path] = c
		}
	}
	out := make([]Category, 0, len(merged))
	for _, c := range merged {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b Category) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

// Count returns the number of products in the catalog.
func (s *Store) Count(ctx context.Context) (int, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte(keyPrefix), UpperBound: keyUpper})
	if err != nil {
		return 0, fmt.Errorf("catalog count: %w", err)
	}
	defer it.Close()
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		if n++; n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
		}
	}
	if err := it.Error(); err != nil {
		return 0, fmt.Errorf("catalog count: %w", err)
	}
	return n, nil
}

// categoryPath splits "Apparel > Outerwear" into its trimmed levels.
func categoryPath(c string) []string {
	if strings.TrimSpace(c) == "" {
		return nil
	}
	parts := strings.Split(c, ">")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// inCategory reports whether path is want or below it.
func inCategory(path, want []string) bool {
	if len(path) < len(want) {
		return false
	}
	for i := range want {
		if !strings.EqualFold(path[i], want[i]) {
			return false
		}
	}
	return true
}
