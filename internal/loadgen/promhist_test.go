package loadgen

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
)

// TestPromHistogram: buckets are read in any order and summed across
// label sets, le is found only as a label of its own, and a quantile is the
// bound of the bucket that holds it.
func TestPromHistogram(t *testing.T) {
	text := `# TYPE x_seconds histogram
x_seconds_bucket{handle="a",le="0.1"} 2
x_seconds_bucket{handle="a",le="+Inf"} 4
x_seconds_bucket{handle="a",le="0.01"} 1
x_seconds_bucket{le="0.01",handle="b"} 9
x_seconds_bucket{le="0.1",handle="b"} 95
x_seconds_bucket{le="+Inf",handle="b"} 96
x_seconds_sum 7.5
x_seconds_count 100
x_seconds_bucketx{le="1"} 1000
`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(text))
	}))
	defer srv.Close()
	h, err := ReadPromHistogram(context.Background(), srv.URL+"/metrics", "x_seconds")
	if err != nil {
		t.Fatal(err)
	}
	if want := []float64{0.01, 0.1, math.Inf(1)}; !slices.Equal(h.Bounds, want) {
		t.Fatalf("bounds %v, want %v", h.Bounds, want)
	}
	if want := []float64{10, 97, 100}; !slices.Equal(h.Counts, want) || h.Sum != 7.5 {
		t.Fatalf("counts %v sum %v, want %v and 7.5", h.Counts, h.Sum, want)
	}
	for _, tc := range []struct{ q, want float64 }{{0.05, 0.01}, {0.5, 0.1}, {0.97, 0.1}, {0.99, math.Inf(1)}, {1, math.Inf(1)}} {
		if got := h.Quantile(tc.q); got != tc.want {
			t.Errorf("quantile %v = %v, want %v", tc.q, got, tc.want)
		}
	}
	before := PromHistogram{Bounds: h.Bounds, Counts: []float64{5, 90, 90}, Sum: 5}
	d := h.Minus(before)
	if d.Total() != 10 || d.Quantile(0.5) != 0.01 || d.Quantile(0.6) != 0.1 || d.Quantile(1) != math.Inf(1) || d.Sum != 2.5 {
		t.Errorf("since the earlier reading: %+v", d)
	}
	if d := h.Minus(PromHistogram{}); d.Total() != 100 {
		t.Errorf("minus a reading without the histogram: total %v, want all 100", d.Total())
	}
	if _, err := ReadPromHistogram(context.Background(), srv.URL+"/nothing", "x_seconds"); err == nil {
		t.Error("a 404 read as an empty histogram")
	}
	if _, ok := labelValue([]byte(`x_bucket{handle="y"} 1`), "le"); ok {
		t.Error("le found inside handle")
	}
}
