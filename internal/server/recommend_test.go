package server

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"tailor/internal/recommend"
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

// TestPurchaseToRecommendationLatency measures, through the real ingest,
// log and processor, the time from sending a purchase to the first answer
// that no longer offers the product (target: 50 ms at p99; asserted
// loosely, the test machine is shared).
func TestPurchaseToRecommendationLatency(t *testing.T) {
	n := startNode(t, t.TempDir())
	ctx := context.Background()
	const rounds = 40
	var lat []time.Duration
	for i := range rounds {
		user, item := fmt.Sprintf("lat-%d", i), fmt.Sprintf("sku-lat-%d", i)
		if code, resp := n.post("/v1/track", fmt.Sprintf(`{"userId":%q,"event":"Product Viewed","properties":{"product_id":%q,"price":10}}`, user, item)); code != 200 {
			t.Fatalf("view: %d %v", code, resp)
		}
		offered := func() bool {
			items, err := n.srv.Recommend.Recommend(ctx, recommend.Request{Strategy: recommend.RecentlyViewed, ProfileID: n.profileID(user)})
			return err == nil && len(items) == 1 && items[0].ID == item
		}
		waitUntil(t, 5*time.Second, "the view to be applied", offered)
		start := time.Now()
		if code, resp := n.post("/v1/track", fmt.Sprintf(`{"userId":%q,"event":"Order Completed","properties":{"products":[{"product_id":%q}]}}`, user, item)); code != 200 {
			t.Fatalf("order: %d %v", code, resp)
		}
		for offered() {
			if time.Since(start) > 5*time.Second {
				t.Fatalf("%s still offered 5 s after its purchase", item)
			}
			time.Sleep(200 * time.Microsecond)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
	t.Logf("purchase sent -> product no longer offered, %d purchases: p50 %v, p99 %v, max %v", rounds, p50, p99, lat[len(lat)-1])
	if p99 > time.Second {
		t.Errorf("p99 %v: a purchase takes far too long to reach the recommendations", p99)
	}
}

func (n *node) profileID(user string) string {
	id, _ := n.srv.lookupAnyProfile(user)
	return id
}

func TestReplenishmentDueIsRecordedOnTheTimelineOnce(t *testing.T) {
	n := startNode(t, t.TempDir())
	now := time.Now().UTC()
	beans := `{"products":[{"product_id":"beans","category":"Grocery > Coffee","price":12}]}`
	// Bought 20 and 10 days ago: every ten days, so due now.
	var batch []string
	for _, ago := range []time.Duration{20 * 24 * time.Hour, 10*24*time.Hour + time.Minute} {
		batch = append(batch, fmt.Sprintf(`{"type":"track","userId":"cat","event":"Order Completed","properties":%s,"timestamp":%q}`,
			beans, now.Add(-ago).Format(time.RFC3339Nano)))
	}
	if code, resp := n.post("/v1/batch", `{"batch":[`+strings.Join(batch, ",")+`]}`); code != 200 {
		t.Fatalf("batch: %d %v", code, resp)
	}
	waitUntil(t, 10*time.Second, "replenishment_due on cat's timeline", func() bool {
		return count(n.timelineEvents("cat"), recommend.EventReplenishmentDue) > 0
	})
	time.Sleep(2500 * time.Millisecond) // a few more ticks of the timer loop
	if c := count(n.timelineEvents("cat"), recommend.EventReplenishmentDue); c != 1 {
		t.Fatalf("%d replenishment_due events, want 1", c)
	}
}
