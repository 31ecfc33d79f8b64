package segment

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Array columns read back every item's value once full chunks derive their
// ids from another column: where a field follows from the product in one
// chunk and not in the next, where it is missing on some items, and after
// the deciding column is dropped.
func TestItemColumnsReadBackAcrossDerivation(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	s := &stream{key: "Cart Viewed"}
	var want []map[string]any // by item
	items := 0
	for items < 2*vecChunk+vecChunk/2 {
		var elems []any
		for i := range 1 + rng.IntN(4) {
			p := rng.IntN(3000)
			note := fmt.Sprintf("n%d", p%7) // follows from the product in chunk 0 only
			if items >= vecChunk {
				note = fmt.Sprintf("n%d", rng.IntN(7))
			}
			m := map[string]any{
				"product_id": fmt.Sprintf("p%d", p),
				"sku":        fmt.Sprintf("SKU-%d", p/2), // fewer values than product_id: it decides sku, not the other way
				"price":      float64(p%40) + 0.99,
				"category":   fmt.Sprintf("c%d", p%60),
				"quantity":   float64(1 + rng.IntN(3)),
				"position":   float64(i + 1),
				"note":       note,
			}
			if p%5 == 0 {
				m["promo"] = true // missing on most items
			}
			elems = append(elems, m)
			want = append(want, m)
			items++
		}
		s.appendEvent(uint32(rng.IntN(1000)), 1_700_000_000, map[string]any{"products": elems})
	}
	fields := []string{"product_id", "sku", "price", "category", "quantity", "position", "note", "promo"}
	check := func(stage string, skip string) {
		t.Helper()
		for _, f := range fields {
			if f == skip {
				continue
			}
			c := s.cols["products[]."+f]
			for k, m := range want {
				got := c.dict.value(c.mvals.get(k))
				if fmt.Sprint(got) != fmt.Sprint(m[f]) && (got != nil || m[f] != nil) {
					t.Fatalf("%s: item %d %s = %v, want %v", stage, k, f, got, m[f])
				}
			}
		}
	}
	check("derived", "")
	derivedIn := func(f string, ci int) bool {
		v := &s.cols["products[]."+f].mvals
		return ci < len(v.derived) && v.derived[ci] != nil
	}
	for _, tc := range []struct {
		field string
		chunk int
		want  bool
	}{
		{"sku", 0, true}, {"sku", 1, true}, {"price", 0, true}, {"category", 1, true}, {"promo", 0, true},
		{"note", 0, true}, {"note", 1, false},
		{"quantity", 0, false}, {"position", 0, false},
		{"sku", 2, false}, // the last chunk is not full
	} {
		if got := derivedIn(tc.field, tc.chunk); got != tc.want {
			t.Errorf("%s derived in chunk %d: %v, want %v", tc.field, tc.chunk, got, tc.want)
		}
	}
	if sku, qty := s.cols["products[].sku"].mvals.bytes(), s.cols["products[].quantity"].mvals.bytes(); sku >= qty {
		t.Errorf("sku, derived, takes %d bytes; quantity, one byte an item, %d", sku, qty)
	}

	// Dropping the column the others derive from leaves them their values.
	var decider *column
	for _, f := range fields {
		c := s.cols["products[]."+f]
		for _, d := range c.mvals.derived {
			if d != nil {
				for _, k := range s.colOrder {
					if &k.mvals == d.from {
						decider = k
					}
				}
			}
		}
	}
	if decider == nil || decider.path != "products[].product_id" {
		t.Fatalf("deciding column %v, want products[].product_id", decider)
	}
	s.ownItems(decider)
	decider.mvals = itemvec{}
	check("after dropping "+decider.path, decider.path[len("products[]."):])

	// A rewrite of a derived item keeps the chunk's other items.
	c := s.cols["products[].sku"]
	id := c.dict.id("SKU-new")
	c.mvals.set(5, id)
	want[5]["sku"] = "SKU-new"
	check("after a rewrite", decider.path[len("products[]."):])
}

// Item columns read back from a checkpoint as they were written, derived
// chunks included, whether a checkpoint ended inside a chunk of items or
// not.
func TestPersistedItemColumnsReadBack(t *testing.T) {
	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rng := rand.New(rand.NewPCG(11, 12))
	live := NewEngine(Options{DB: db})
	checkpoint := func() {
		b := db.NewBatch()
		if err := live.Checkpoint(b); err != nil {
			t.Fatal(err)
		}
		if err := b.Commit(pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	var ids idsOnly
	for i := 0; live.ix.streams["Cart Viewed"] == nil || live.ix.streams["Cart Viewed"].arrays["products"].items < vecChunk+vecChunk/2; i++ {
		id := fmt.Sprintf("u%d", i/4)
		if i%4 == 0 {
			ids = append(ids, id)
		}
		var elems []any
		for k := range 1 + rng.IntN(5) {
			p := rng.IntN(2000)
			elems = append(elems, map[string]any{"product_id": fmt.Sprintf("p%d", p), "name": fmt.Sprintf("Product %d", p%700), "price": float64(p % 90), "position": float64(k + 1)})
		}
		ev, res := track(id, "Cart Viewed", time.Unix(genNow-int64(rng.IntN(86400*300)), 0), map[string]any{"products": elems})
		live.Apply(ev, res)
		if i == 9000 {
			checkpoint() // inside the first chunk of items
		}
	}
	checkpoint()
	back := NewEngine(Options{DB: db, Profiles: ids})
	if err := back.Load(t.Context(), nil, 0, nil); err != nil {
		t.Fatal(err)
	}
	ls, bs := live.ix.streams["Cart Viewed"], back.ix.streams["Cart Viewed"]
	if ls.n != bs.n {
		t.Fatalf("%d rows live, %d loaded", ls.n, bs.n)
	}
	derived := 0
	for _, lc := range ls.colOrder {
		bc := bs.cols[lc.path]
		for k := range ls.arrays["products"].items {
			if a, b := lc.dict.value(lc.mvals.get(k)), bc.dict.value(bc.mvals.get(k)); fmt.Sprint(a) != fmt.Sprint(b) {
				t.Fatalf("%s item %d: live %v, loaded %v", lc.path, k, a, b)
			}
		}
		for _, d := range bc.mvals.derived {
			if d != nil {
				derived++
			}
		}
	}
	if derived == 0 {
		t.Error("no loaded chunk of items derives a column")
	}
}

// Items of many unrelated fields, and fields with more values than a table
// could hold for less than their chunk, read back unchanged: past the
// columns tried as deciders, the others keep their own ids.
func TestItemColumnsOfManyFieldsReadBack(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	s := &stream{key: "Bulk"}
	var want []map[string]any
	for len(want) < vecChunk+100 {
		var elems []any
		for range 4 {
			m := map[string]any{"wide": float64(rng.IntN(200_000))}
			for f := range 30 {
				m[fmt.Sprintf("f%02d", f)] = float64(rng.IntN(10))
			}
			m["twin"] = m["f00"]
			elems = append(elems, m)
			want = append(want, m)
		}
		s.appendEvent(uint32(rng.IntN(100)), 1_700_000_000, map[string]any{"items": elems})
	}
	for path, c := range s.cols {
		f := path[len("items[]."):]
		for k, m := range want {
			if got := c.dict.value(c.mvals.get(k)); got != m[f] {
				t.Fatalf("item %d %s = %v, want %v", k, f, got, m[f])
			}
		}
	}
	if w := s.cols["items[].wide"].mvals; len(w.derived) > 0 && w.derived[0] != nil {
		t.Error("a column of 200,000 values was derived")
	}
}
