package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
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
