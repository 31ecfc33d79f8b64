package catalog

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/store/storetest"
)

// openDB opens a real Pebble database in a temporary directory.
func openDB(t testing.TB) *pebble.DB {
	t.Helper()
	return storetest.DiskDB(t)
}

func TestStoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := NewStore(openDB(t))
	in := []Product{
		{ID: "sku-1", Name: "Rain jacket", Category: "Apparel > Outerwear", Price: 89.5, Currency: "eur",
			Stock: ptr[int64](4), URL: "https://shop.example/sku-1",
			Attrs: map[string]any{"brand": "Acme", "sizes": []any{"S", "M"}, "weight": 0.7}},
		{ID: "sku/2 ü", Name: "Hat", Price: 0},
	}
	if err := s.Put(ctx, in); err != nil {
		t.Fatal(err)
	}
	if in[0].Currency != "eur" || in[1].Currency != "" {
		t.Errorf("Put modified the caller's products: %+v", in)
	}
	want0 := in[0]
	want0.Currency = "EUR"
	want1 := in[1]
	want1.Currency = "USD"
	for _, want := range []Product{want0, want1} {
		got, ok, err := s.Get(ctx, want.ID)
		if err != nil || !ok {
			t.Fatalf("Get(%q) = %v, %v", want.ID, ok, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Get(%q) =\n%+v\nwant\n%+v", want.ID, got, want)
		}
	}
	if n, err := s.Count(ctx); err != nil || n != 2 {
		t.Errorf("Count = %d, %v; want 2", n, err)
	}

	// Replace.
	repl := want1
	repl.Price = 12
	if err := s.Put(ctx, []Product{repl}); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := s.Get(ctx, repl.ID); got.Price != 12 {
		t.Errorf("after replace price = %v, want 12", got.Price)
	}

	if err := s.Delete(ctx, "sku-1"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Get(ctx, "sku-1"); ok || err != nil {
		t.Errorf("Get after Delete = %v, %v; want absent", ok, err)
	}
	if err := s.Delete(ctx, "sku-1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Delete = %v, want ErrNotFound", err)
	}
	if n, _ := s.Count(ctx); n != 1 {
		t.Errorf("Count after delete = %d, want 1", n)
	}
}

func TestStorePutAllOrNothing(t *testing.T) {
	ctx := context.Background()
	s := NewStore(openDB(t))
	err := s.Put(ctx, []Product{
		{ID: "a", Name: "A", Price: 1},
		{ID: "b", Name: "B", Price: -3},
	})
	if err == nil || err.Error() != `product 1 (id "b"): price: must be >= 0, got -3` {
		t.Fatalf("Put = %v", err)
	}
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "price" {
		t.Errorf("Put error %v does not carry the FieldError", err)
	}
	if n, _ := s.Count(ctx); n != 0 {
		t.Errorf("Count = %d after a failed Put, want 0", n)
	}
}

// TestStoreKeyspace checks the catalog neither reads nor disturbs the keys of
// other parts of Tailor around its prefix.
func TestStoreKeyspace(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	for _, k := range []string{"b/x", "c", "c0", "c0/x", "d/x"} {
		if err := db.Set([]byte(k), []byte("not json"), pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	s := NewStore(db)
	if err := s.Put(ctx, []Product{{ID: "p", Name: "P"}}); err != nil {
		t.Fatal(err)
	}
	got, next, err := s.List(ctx, ListOptions{})
	if err != nil || len(got) != 1 || got[0].ID != "p" || next != "" {
		t.Fatalf("List = %v, %q, %v", got, next, err)
	}
	if n, _ := s.Count(ctx); n != 1 {
		t.Errorf("Count = %d, want 1", n)
	}
}

func TestStoreList(t *testing.T) {
	ctx := context.Background()
	s := NewStore(openDB(t))
	cats := []string{"Apparel > Outerwear > Jackets", "Apparel", "Shoes", "Apparel Accessories", "apparel>outerwear", ""}
	var all []Product
	for i := 0; i < 30; i++ {
		all = append(all, Product{ID: fmt.Sprintf("p%02d", i), Name: "n", Category: cats[i%len(cats)]})
	}
	if err := s.Put(ctx, all); err != nil {
		t.Fatal(err)
	}
	ids := func(ps []Product) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.ID)
		}
		return out
	}
	// pages walks the whole listing and returns the ids per page.
	pages := func(opts ListOptions) [][]string {
		var out [][]string
		for i := 0; i < 100; i++ {
			ps, next, err := s.List(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, ids(ps))
			if next == "" {
				return out
			}
			opts.After = next
		}
		t.Fatal("List does not end")
		return nil
	}
	tests := []struct {
		name string
		opts ListOptions
		want [][]string
	}{
		{"page of 12", ListOptions{Limit: 12}, [][]string{
			{"p00", "p01", "p02", "p03", "p04", "p05", "p06", "p07", "p08", "p09", "p10", "p11"},
			{"p12", "p13", "p14", "p15", "p16", "p17", "p18", "p19", "p20", "p21", "p22", "p23"},
			{"p24", "p25", "p26", "p27", "p28", "p29"}}},
		{"exact pages leave no empty page", ListOptions{Limit: 15}, [][]string{
			{"p00", "p01", "p02", "p03", "p04", "p05", "p06", "p07", "p08", "p09", "p10", "p11", "p12", "p13", "p14"},
			{"p15", "p16", "p17", "p18", "p19", "p20", "p21", "p22", "p23", "p24", "p25", "p26", "p27", "p28", "p29"}}},
		{"after an absent id", ListOptions{After: "p27x"}, [][]string{{"p28", "p29"}}},
		{"after the last", ListOptions{After: "p29"}, [][]string{nil}},
		{"category subtree", ListOptions{Category: "Apparel > Outerwear", Limit: 3}, [][]string{
			{"p00", "p04", "p06"}, {"p10", "p12", "p16"}, {"p18", "p22", "p24"}, {"p28"}}},
		{"category root, any case", ListOptions{Category: "APPAREL", Limit: 100}, [][]string{
			{"p00", "p01", "p04", "p06", "p07", "p10", "p12", "p13", "p16", "p18", "p19", "p22", "p24", "p25", "p28"}}},
		{"category leaf", ListOptions{Category: "Shoes"}, [][]string{{"p02", "p08", "p14", "p20", "p26"}}},
		{"unknown category", ListOptions{Category: "Toys"}, [][]string{nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pages(tt.opts); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("pages = %v\nwant %v", got, tt.want)
			}
		})
	}
	if ps, _, _ := s.List(ctx, ListOptions{}); len(ps) != 30 {
		t.Errorf("default limit listed %d, want all 30", len(ps))
	}
}
