package catalog

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

func newTestServer(t *testing.T) (*httptest.Server, *Store) {
	t.Helper()
	s := NewStore(openDB(t))
	srv := httptest.NewServer(Handler(s))
	t.Cleanup(srv.Close)
	return srv, s
}

// do sends a request and returns the status and the decoded JSON answer,
// failing the test unless the answer is JSON.
func do(t *testing.T, srv *httptest.Server, method, path, contentType, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s %s: Content-Type %q, body %s", method, path, ct, b)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s %s: answer is not a JSON object: %s", method, path, b)
	}
	return res.StatusCode, v
}

func asJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestHTTPProduct(t *testing.T) {
	srv, _ := newTestServer(t)
	tests := []struct {
		name, method, path, body string
		status                   int
		want                     string // the answer re-encoded as JSON, keys sorted
	}{
		{"get missing", "GET", "/api/catalog/products/sku-1", "", 404, `{"code":"not_found","error":"product \"sku-1\" not found"}`},
		{"put without id", "PUT", "/api/catalog/products/sku-1", `{"name":"Jacket","price":10}`, 200,
			`{"currency":"USD","id":"sku-1","name":"Jacket","price":10}`},
		{"get", "GET", "/api/catalog/products/sku-1", "", 200, `{"currency":"USD","id":"sku-1","name":"Jacket","price":10}`},
		{"put same id", "PUT", "/api/catalog/products/sku-1", `{"id":"sku-1","name":"Jacket","price":12,"currency":"eur","stock":0}`, 200,
			`{"currency":"EUR","id":"sku-1","name":"Jacket","price":12,"stock":0}`},
		{"put other id", "PUT", "/api/catalog/products/sku-1", `{"id":"sku-2","name":"J","price":1}`, 400,
			`{"code":"invalid_product","error":"id: body has \"sku-2\" but the path has \"sku-1\""}`},
		{"put invalid", "PUT", "/api/catalog/products/sku-1", `{"name":"J","price":-3}`, 400, `{"code":"invalid_product","error":"price: must be \u003e= 0, got -3"}`},
		{"put wrong type", "PUT", "/api/catalog/products/sku-1", `{"name":"J","price":"3"}`, 400, `{"code":"invalid_product","error":"price: expected a number, got string"}`},
		{"put array", "PUT", "/api/catalog/products/sku-1", `[{"name":"J"}]`, 400, `{"code":"invalid_product","error":"not a JSON object"}`},
		{"put two", "PUT", "/api/catalog/products/sku-1", `{"name":"J"} {"name":"K"}`, 400, `{"code":"invalid_product","error":"body must be one product object, got 2 JSON values"}`},
		{"put malformed", "PUT", "/api/catalog/products/sku-1", "{\"name\":\n \"J\",,}", 400,
			`{"code":"invalid_json","error":"invalid JSON at line 2, column 6 (byte offset 14): invalid character ',' looking for beginning of object key string"}`},
		{"put empty", "PUT", "/api/catalog/products/sku-1", "", 400,
			`{"code":"invalid_json","error":"empty body: send a product object, a JSON array of products, or NDJSON (one product per line)"}`},
		{"escaped slash in id", "PUT", "/api/catalog/products/a%2Fb", `{"name":"Slash","price":1}`, 200,
			`{"currency":"USD","id":"a/b","name":"Slash","price":1}`},
		{"get escaped", "GET", "/api/catalog/products/a%2Fb", "", 200, `{"currency":"USD","id":"a/b","name":"Slash","price":1}`},
		{"delete", "DELETE", "/api/catalog/products/sku-1", "", 200, `{"deleted":true,"id":"sku-1"}`},
		{"delete again", "DELETE", "/api/catalog/products/sku-1", "", 404, `{"code":"not_found","error":"product \"sku-1\" not found"}`},
		{"get deleted", "GET", "/api/catalog/products/sku-1", "", 404, `{"code":"not_found","error":"product \"sku-1\" not found"}`},
		{"wrong method", "PATCH", "/api/catalog/products/sku-1", "", 405,
			`{"code":"method_not_allowed","error":"method PATCH not allowed on /api/catalog/products/sku-1; use GET, HEAD, PUT, DELETE"}`},
		{"wrong method on collection", "DELETE", "/api/catalog/products", "", 405,
			`{"code":"method_not_allowed","error":"method DELETE not allowed on /api/catalog/products; use GET, HEAD, POST"}`},
		{"unknown path", "GET", "/api/catalog/nope", "", 404, `{"code":"not_found","error":"no catalog endpoint GET /api/catalog/nope"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, got := do(t, srv, tt.method, tt.path, "application/json", tt.body)
			if status != tt.status || asJSON(got) != tt.want {
				t.Errorf("%s %s = %d %s\nwant %d %s", tt.method, tt.path, status, asJSON(got), tt.status, tt.want)
			}
		})
	}
}

func TestHTTPBulk(t *testing.T) {
	srv, s := newTestServer(t)
	tests := []struct {
		name, contentType, body string
		status                  int
		want                    string   // keys sorted
		stored                  []string // ids that must now exist
	}{
		{"array with bad rows keeps the good ones", "application/json",
			"[\n{\"id\":\"a\",\"name\":\"A\",\"price\":1},\n{\"id\":\"b\",\"name\":\"B\",\"price\":-3},\n{\"id\":\"c\",\"name\":\"C\",\"price\":2,\"stock\":1.5},\n42,\n{\"id\":\"d\",\"name\":\"D\"}\n]",
			200,
			`{"rejected":[{"id":"b","index":1,"line":3,"reason":"price: must be \u003e= 0, got -3"},` +
				`{"id":"c","index":2,"line":4,"reason":"stock: expected an integer, got number 1.5"},` +
				`{"index":3,"line":5,"reason":"not a JSON object"}],"upserted":2}`,
			[]string{"a", "d"}},
		{"ndjson", "application/x-ndjson",
			"{\"id\":\"e\",\"name\":\"E\"}\n\n{\"id\":\"f\",\"name\":\"\"}\r\n{\"id\":\"g\",\"name\":\"G\",\"url\":\"https://x.example/g\"}\n",
			200, `{"rejected":[{"id":"f","index":1,"line":3,"reason":"name: required"}],"upserted":2}`,
			[]string{"e", "g"}},
		{"single object", "", `{"id":"h","name":"H"}`, 200, `{"rejected":[],"upserted":1}`, []string{"h"}},
		{"all rejected", "application/json", `[{"id":"i"},{"name":"J"}]`, 400,
			`{"code":"invalid_product","error":"all 2 products were rejected","rejected":[{"id":"i","index":0,"line":1,"reason":"name: required"},{"index":1,"line":1,"reason":"id: required"}],"upserted":0}`, nil},
		{"empty array", "application/json", `[]`, 200, `{"rejected":[],"upserted":0}`, nil},
		{"malformed array stores nothing", "application/json", "[{\"id\":\"k\",\"name\":\"K\"},\n{\"id\":\"l\" \"name\":\"L\"}]", 400,
			`{"code":"invalid_json","error":"invalid JSON at line 2, column 11 (byte offset 34): invalid character '\"' after object key:value pair"}`, nil},
		{"malformed ndjson line", "application/x-ndjson", "{\"id\":\"k\",\"name\":\"K\"}\n{\"id\":\"l\",\n", 400,
			`{"code":"invalid_json","error":"invalid JSON at line 3, column 1 (byte offset 33): unexpected end of input"}`, nil},
		{"trailing garbage", "application/json", `[{"id":"k","name":"K"}] x`, 400,
			`{"code":"invalid_json","error":"invalid JSON at line 1, column 25 (byte offset 24): unexpected data after the closing ']' of the array"}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, got := do(t, srv, "POST", "/api/catalog/products", tt.contentType, tt.body)
			if status != tt.status || asJSON(got) != tt.want {
				t.Errorf("POST = %d %s\nwant %d %s", status, asJSON(got), tt.status, tt.want)
			}
			for _, id := range tt.stored {
				if _, ok, _ := s.Get(t.Context(), id); !ok {
					t.Errorf("product %q was not stored", id)
				}
			}
		})
	}
	if _, ok, _ := s.Get(t.Context(), "k"); ok {
		t.Error("a malformed body stored a product")
	}
}

// TestHTTPAnswersReadable checks answers are not HTML-escaped JSON, so
// categories and reasons read as written.
func TestHTTPAnswersReadable(t *testing.T) {
	srv, _ := newTestServer(t)
	res, err := srv.Client().Post(srv.URL+"/api/catalog/products", "application/json",
		strings.NewReader(`[{"id":"a","name":"A","category":"Home > Garden"},{"id":"b","name":"B","price":-1}]`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if want := `{"upserted":1,"rejected":[{"index":1,"line":1,"id":"b","reason":"price: must be >= 0, got -1"}]}` + "\n"; string(b) != want {
		t.Errorf("answer %s\nwant   %s", b, want)
	}
	res, err = srv.Client().Get(srv.URL + "/api/catalog/products/a")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(b), `"category":"Home > Garden"`) {
		t.Errorf("answer %s", b)
	}
}

func TestHTTPBodyLimit(t *testing.T) {
	srv, _ := newTestServer(t)
	big := `[{"id":"a","name":"` + strings.Repeat("x", MaxBulkBody) + `"}]`
	status, got := do(t, srv, "POST", "/api/catalog/products", "application/json", big)
	if status != http.StatusRequestEntityTooLarge {
		t.Errorf("POST %d bytes = %d %v, want 413", len(big), status, got)
	}
	// Without a Content-Length the limit holds too.
	req, _ := http.NewRequest("POST", srv.URL+"/api/catalog/products", io.MultiReader(strings.NewReader(big)))
	req.ContentLength = -1
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked POST = %d, want 413", res.StatusCode)
	}
}

func TestHTTPList(t *testing.T) {
	srv, s := newTestServer(t)
	var ps []Product
	for i := 0; i < 7; i++ {
		cat := "Apparel > Shirts"
		if i%2 == 1 {
			cat = "Home"
		}
		ps = append(ps, Product{ID: fmt.Sprintf("p/%d?&", i), Name: "n", Category: cat})
	}
	if err := s.Put(t.Context(), ps); err != nil {
		t.Fatal(err)
	}
	walk := func(query string) [][]string {
		var pages [][]string
		cursor := ""
		for i := 0; i < 20; i++ {
			path := "/api/catalog/products?" + query
			if cursor != "" {
				path += "&cursor=" + cursor
			}
			status, got := do(t, srv, "GET", path, "", "")
			if status != 200 {
				t.Fatalf("GET %s = %d %v", path, status, got)
			}
			var page []string
			for _, p := range got["products"].([]any) {
				page = append(page, p.(map[string]any)["id"].(string))
			}
			pages = append(pages, page)
			cursor = got["next_cursor"].(string)
			if cursor == "" {
				return pages
			}
		}
		t.Fatal("listing does not end")
		return nil
	}
	tests := []struct {
		query string
		want  [][]string
	}{
		{"limit=3", [][]string{{"p/0?&", "p/1?&", "p/2?&"}, {"p/3?&", "p/4?&", "p/5?&"}, {"p/6?&"}}},
		{"category=Apparel&limit=2", [][]string{{"p/0?&", "p/2?&"}, {"p/4?&", "p/6?&"}}},
		{"category=Home", [][]string{{"p/1?&", "p/3?&", "p/5?&"}}},
		{"category=Nothing", [][]string{nil}},
	}
	for _, tt := range tests {
		if got := walk(tt.query); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("GET ?%s pages = %q, want %q", tt.query, got, tt.want)
		}
	}
	status, got := do(t, srv, "GET", "/api/catalog/products?category=Nothing", "", "")
	if status != 200 || asJSON(got) != `{"next_cursor":"","products":[]}` {
		t.Errorf("empty listing = %d %s", status, asJSON(got))
	}
	for _, q := range []string{"limit=0", "limit=1001", "limit=x", "cursor=%3D%3D", "cursor=!!"} {
		if status, got := do(t, srv, "GET", "/api/catalog/products?"+q, "", ""); status != 400 || got["error"] == nil {
			t.Errorf("GET ?%s = %d %v, want 400 with an error", q, status, got)
		}
	}
}

// TestHTTPInternalErrorNotEchoed checks that a fault of the server (here a
// corrupt stored product) is answered 500 with a generic text and code: the
// store's own error text stays in the log.
func TestHTTPInternalErrorNotEchoed(t *testing.T) {
	db := openDB(t)
	srv := httptest.NewServer(Handler(NewStore(db)))
	t.Cleanup(srv.Close)
	if err := db.Set(productKey("bad"), []byte("{not json"), nil); err != nil {
		t.Fatal(err)
	}
	status, got := do(t, srv, "GET", "/api/catalog/products/bad", "", "")
	if status != http.StatusInternalServerError || asJSON(got) != `{"code":"internal","error":"internal error"}` {
		t.Errorf("GET corrupt product = %d %s, want 500 with a generic error", status, asJSON(got))
	}
}
