package catalog

import (
	"bytes"
	"fmt"
	"net/http/httptest"
	"testing"
)

// bulkBody is a JSON array of n products, one per line, as exports write them.
func bulkBody(n int) []byte {
	var b bytes.Buffer
	b.WriteString("[\n")
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, `{"id":"sku-%06d","name":"Product %d","category":"Apparel > Outerwear > Jackets","price":%d.5,"currency":"usd","stock":%d,"url":"https://shop.example.com/p/%d","attributes":{"brand":"Acme","color":"red"}}`, i, i, i%300, i%50, i)
	}
	b.WriteString("\n]\n")
	return b.Bytes()
}

// BenchmarkBulkImport posts a catalog of 1k and 10k products to the bulk
// endpoint. Its time per product must not grow with the size of the body.
func BenchmarkBulkImport(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("products=%d", n), func(b *testing.B) {
			body := bulkBody(n)
			h := Handler(NewStore(openDB(b)))
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				req := httptest.NewRequest("POST", "/api/catalog/products", bytes.NewReader(body))
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatalf("status %d: %.300s", w.Code, w.Body)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/product")
		})
	}
}

// BenchmarkDecodeProducts isolates the decoding of a bulk body (no storage,
// whose fsync dominates and varies).
func BenchmarkDecodeProducts(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("products=%d", n), func(b *testing.B) {
			body := bulkBody(n)
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				items, err := decodeProducts(body, false)
				if err != nil || len(items) != n {
					b.Fatalf("%d items, %v", len(items), err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/product")
		})
	}
}
