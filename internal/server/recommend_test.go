package server

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// recIDs asks the admin API and returns the recommended ids.
func (n *node) recIDs(query string) []string {
	n.t.Helper()
	code, body := n.get("/api/recommendations?" + query)
	if code != 200 {
		n.t.Fatalf("GET /api/recommendations?%s: %d %v", query, code, body)
	}
	var out []string
	for _, it := range body["items"].([]any) {
		m := it.(map[string]any)
		if m["reason"] == "" {
			n.t.Errorf("%s: item %v without a reason", query, m["id"])
		}
		out = append(out, m["id"].(string))
	}
	return out
}

func TestRecommendationsAPI(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir)
	now := time.Now().UTC()
	var batch []string
	line := func(user, event, props string, ago time.Duration) {
		batch = append(batch, fmt.Sprintf(`{"type":"track","userId":%q,"event":%q,"properties":%s,"timestamp":%q}`,
			user, event, props, now.Add(-ago).Format(time.RFC3339Nano)))
	}
	phone := `{"product_id":"phone","category":"Electronics > Phones","price":500}`
	phone2 := `{"product_id":"phone2","category":"Electronics > Phones","price":700}`
	order := func(items ...string) string { return `{"products":[` + strings.Join(items, ",") + `]}` }
	caseP := `{"product_id":"case","category":"Electronics > Cases","price":20}`
	for i := range 5 {
		line(fmt.Sprintf("b%d", i), "Order Completed", order(phone, caseP), time.Duration(48+i)*time.Hour)
	}
	line("b9", "Order Completed", order(phone2), 50*time.Hour)
	line("ann", "Product Viewed", phone, 2*time.Hour)
	line("ann", "Product Viewed", phone2, time.Hour)
	if code, resp := n.post("/v1/batch", `{"batch":[`+strings.Join(batch, ",")+`]}`); code != 200 {
		t.Fatalf("batch: %d %v", code, resp)
	}
	waitUntil(t, 5*time.Second, "the views to be applied", func() bool {
		return len(n.recIDs("strategy=recently_viewed&profile=ann")) == 2
	})
	if got := n.recIDs("strategy=also_bought&item=phone"); len(got) == 0 || got[0] != "case" {
		t.Errorf("also bought with the phone: %v, want the case", got)
	}
	// Ann buys the phone: at once, no strategy offers it to her again.
	if code, resp := n.post("/v1/track", fmt.Sprintf(`{"userId":"ann","event":"Order Completed","properties":%s,"timestamp":%q}`,
		order(phone), now.Format(time.RFC3339Nano))); code != 200 {
		t.Fatalf("track: %d %v", code, resp)
	}
	waitUntil(t, 5*time.Second, "the purchase to be applied", func() bool {
		return !slices.Contains(n.recIDs("strategy=recently_viewed&profile=ann"), "phone")
	})
	for _, q := range []string{"strategy=for_you&profile=ann&limit=20", "strategy=bestsellers&profile=ann&limit=20",
		"strategy=also_bought&item=case&profile=ann", "strategy=upsell&item=phone2&profile=ann"} {
		if got := n.recIDs(q); slices.Contains(got, "phone") {
			t.Errorf("%s: %v holds the phone ann just bought", q, got)
		}
	}
	if got := n.recIDs("strategy=bestsellers&profile=ann&exclude_category_days=30&limit=20"); slices.Contains(got, "phone2") {
		t.Errorf("with a category window: %v holds another phone", got)
	}
	// Bad requests name the problem.
	for q, want := range map[string]int{
		"strategy=magic":                     400,
		"strategy=also_bought":               400,
		"strategy=also_bought&item=nothing":  404,
		"strategy=trending&limit=abc":        400,
		"strategy=trending&min_price=-1":     400,
		"strategy=trending&in_stock=perhaps": 400,
	} {
		code, body := n.get("/api/recommendations?" + q)
		if code != want || body["error"] == "" {
			t.Errorf("%s: %d %v, want %d with an error", q, code, body, want)
		}
	}
	// The same answers after a restart (checkpoint, then replay).
	before := n.recIDs("strategy=also_bought&item=phone")
	n.stop()
	n = startNode(t, dir)
	if got := n.recIDs("strategy=also_bought&item=phone"); !slices.Equal(got, before) {
		t.Errorf("after a restart: %v, want %v", got, before)
	}
	if got := n.recIDs("strategy=recently_viewed&profile=" + url.QueryEscape("ann")); !slices.Equal(got, []string{"phone2"}) {
		t.Errorf("recently viewed after a restart: %v, want [phone2]", got)
	}
}
