package catalog

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestSearchAndCategories(t *testing.T) {
	srv, s := newTestServer(t)
	stock := func(n int64) *int64 { return &n }
	if err := s.Put(context.Background(), []Product{
		{ID: "jk-1", Name: "Rain Jacket", Category: "Apparel > Outerwear > Jackets", Price: 90, Stock: stock(3), Attrs: map[string]any{"brand": "Northwind"}},
		{ID: "jk-2", Name: "Down Jacket", Category: "Apparel>Outerwear>Jackets", Price: 150, Stock: stock(4)},
		{ID: "ts-1", Name: "Plain Tee", Category: "Apparel > Tops", Price: 15, Attrs: map[string]any{"brand": "northwind"}},
		{ID: "mug-1", Name: "Mug", Category: "Home > Kitchen", Price: 8, Stock: stock(0)},
		{ID: "x-1", Name: "Loose Item", Price: 1},
	}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		query string
		want  string // ids in order
	}{
		{"?q=jacket", "jk-1,jk-2"},
		{"?q=NORTHWIND", "jk-1,ts-1"}, // the brand, without case
		{"?q=mug-", "mug-1"},          // the id
		{"?q=jacket&category=Apparel%20%3E%20Tops", ""},
		{"?q=northwind&category=apparel+>+outerwear", "jk-1"},
		{"?q=nothing-like-it", ""},
	} {
		code, v := do(t, srv, "GET", "/api/catalog/products"+tc.query, "", "")
		if code != 200 {
			t.Errorf("GET %s: %d %v", tc.query, code, v)
			continue
		}
		var ids []string
		for _, p := range v["products"].([]any) {
			ids = append(ids, p.(map[string]any)["id"].(string))
		}
		if got := strings.Join(ids, ","); got != tc.want {
			t.Errorf("GET %s: %q, want %q", tc.query, got, tc.want)
		}
	}
	if code, v := do(t, srv, "GET", "/api/catalog/products?q="+strings.Repeat("a", 201), "", ""); code != 400 || !strings.Contains(fmt.Sprint(v), "q: at most 200 bytes") {
		t.Errorf("long q: %d %v, want 400 naming q", code, v)
	}

	code, v := do(t, srv, "GET", "/api/catalog/categories", "", "")
	if code != 200 {
		t.Fatalf("categories: %d %v", code, v)
	}
	want := `[{"path":"","products":1,"stock":0},{"path":"Apparel \u003e Outerwear \u003e Jackets","products":2,"stock":7},` +
		`{"path":"Apparel \u003e Tops","products":1,"stock":0},{"path":"Home \u003e Kitchen","products":1,"stock":0}]`
	if got := asJSON(v["categories"]); got != want {
		t.Errorf("categories:\n got %s\nwant %s", got, want)
	}
}

// BenchmarkBrowse is the catalog page's first render at the largest demo
// catalog (20,000 products, what serve --demo makes for a million
// customers): the category tree and a search, each a scan of the catalog,
// against the first page of the unfiltered list, which is not.
func BenchmarkBrowse(b *testing.B) {
	h := Handler(NewStore(openDB(b)))
	req := httptest.NewRequest("POST", "/api/catalog/products", bytes.NewReader(bulkBody(20000)))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 200 {
		b.Fatalf("import: %d %.300s", w.Code, w.Body)
	}
	for _, path := range []string{"/api/catalog/products?limit=50", "/api/catalog/categories", "/api/catalog/products?limit=50&q=product+1999"} {
		b.Run(path[len("/api/catalog/"):], func(b *testing.B) {
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
				if w.Code != 200 {
					b.Fatalf("%s: %d", path, w.Code)
				}
			}
		})
	}
}
