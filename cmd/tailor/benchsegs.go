package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// benchSegmentTemplates are the kinds of segments `bench ingest --segments`
// keeps live while it drives load: event windows with property filters,
// sums, traits, computed fields, models, recency audiences and a segment of
// segments, over the demo shop's vocabulary. %d takes a varying threshold.
var benchSegmentTemplates = []string{
	`did "Product Viewed" at least %d times in last 30d`,
	`did "Product Added" where category contains "accessories" at least 1 times in last %dd`,
	`did "Order Completed" sum(revenue) > %d in last 90d`,
	`country in ("FR", "DE", "US") and total_spend > %d`,
	`did $page in last 1d and not did "Order Completed" in last %dd`,
	`orders >= %d`,
	`last_seen less_than_ago %dd`,
	`did "Product Added" in last %dh and not did "Order Completed" in last 1h`,
	`lifecycle = "active" and event_count > %d`,
	`in segment "bench-0" and orders >= %d`,
}

// createBenchSegments saves n segments of mixed kinds on the server.
func createBenchSegments(ctx context.Context, target, token string, n int) error {
	for i := range n {
		tmpl := benchSegmentTemplates[i%len(benchSegmentTemplates)]
		if i == 0 {
			tmpl = benchSegmentTemplates[0]
		}
		body, _ := json.Marshal(map[string]any{
			"id":   fmt.Sprintf("bench-%d", i),
			"text": fmt.Sprintf(tmpl, 1+i/len(benchSegmentTemplates)),
		})
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, fmt.Sprintf("%s/api/segments/bench-%d", target, i), bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("create segment %d: %w", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("create segment %d: %s: %s", i, resp.Status, b)
		}
	}
	return nil
}

// histogram is a Prometheus histogram read from the text exposition.
type histogram struct {
	bounds []float64 // upper bounds, ascending; the last is +Inf
	counts []float64 // cumulative
	sum    float64
}

// readHistogram reads a histogram without labels from a metrics endpoint.
func readHistogram(ctx context.Context, url, name string) (histogram, error) {
	var h histogram
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return h, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return h, err
	}
	defer resp.Body.Close()
	type bucket struct{ le, n float64 }
	var bs []bucket
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, name+"_bucket{le=\""):
			rest := strings.TrimPrefix(line, name+"_bucket{le=\"")
			le, val, ok := strings.Cut(rest, "\"} ")
			if !ok {
				continue
			}
			b := bucket{le: math.Inf(1)}
			if le != "+Inf" {
				b.le, _ = strconv.ParseFloat(le, 64)
			}
			b.n, _ = strconv.ParseFloat(val, 64)
			bs = append(bs, b)
		case strings.HasPrefix(line, name+"_sum "):
			h.sum, _ = strconv.ParseFloat(strings.TrimPrefix(line, name+"_sum "), 64)
		}
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].le < bs[j].le })
	for _, b := range bs {
		h.bounds, h.counts = append(h.bounds, b.le), append(h.counts, b.n)
	}
	return h, sc.Err()
}

// total is the number of observations.
func (h histogram) total() float64 {
	if len(h.counts) == 0 {
		return 0
	}
	return h.counts[len(h.counts)-1]
}

// quantile is the upper bound of the bucket holding quantile q: an upper
// estimate, as precise as the buckets.
func (h histogram) quantile(q float64) float64 {
	want := q * h.total()
	for i, c := range h.counts {
		if c >= want {
			return h.bounds[i]
		}
	}
	return math.Inf(1)
}

// minus is h's observations since an earlier reading.
func (h histogram) minus(o histogram) histogram {
	if len(o.counts) != len(h.counts) {
		return h
	}
	d := histogram{bounds: h.bounds, counts: make([]float64, len(h.counts)), sum: h.sum - o.sum}
	for i := range h.counts {
		d.counts[i] = h.counts[i] - o.counts[i]
	}
	return d
}
