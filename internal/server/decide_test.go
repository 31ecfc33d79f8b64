package server

import (
	"fmt"
	"testing"
	"time"

	"tailor/internal/decide"
)

// A returning customer's decision follows the placement's spend rules, its
// products come from the recommendation engine (trending: the most viewed
// first), and a click sent back on a token lands on the customer's
// timeline through the log.
func TestDecideThroughTheServerAndClicksReachTheProfile(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir)
	defer func() { n.stop() }()
	code, resp := n.admin("POST", "/api/catalog/products", `[{"id":"sku-1","name":"Hat","price":20,"category":"Hats"},{"id":"sku-2","name":"Gloves","price":30,"category":"Gloves"}]`)
	if code/100 != 2 {
		t.Fatalf("catalog: %d %v", code, resp)
	}
	code, resp = n.admin("POST", "/api/placements", `{"id":"exit","name":"Exit offer","default":"free_shipping",
		"variants":[{"id":"free_shipping","content":{"headline":"Free shipping"}},{"id":"ten","content":{"headline":"10% off"}}],
		"rules":[{"computed":"orders","value":1,"variant":"ten"}],
		"recommendations":{"strategy":"trending","limit":2}}`)
	if code != 201 {
		t.Fatalf("placement: %d %v", code, resp)
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	view := func(user, sku string) string {
		return fmt.Sprintf(`{"type":"track","userId":%q,"event":"Product Viewed","properties":{"product_id":%q},"timestamp":%q}`, user, sku, now)
	}
	code, resp = n.post("/v1/batch", `{"batch":[`+view("v-1", "sku-1")+","+view("v-2", "sku-1")+","+view("v-3", "sku-1")+","+view("v-1", "sku-2")+`]}`)
	if code != 200 {
		t.Fatalf("views: %d %v", code, resp)
	}
	code, resp = n.post("/v1/batch", fmt.Sprintf(`{"batch":[{"type":"track","userId":"u-1","messageId":"o1","event":"Order Completed","properties":{"order_id":"o1","revenue":50},"timestamp":%q}]}`, now))
	if code != 200 {
		t.Fatalf("batch: %d %v", code, resp)
	}
	var a map[string]any
	// The recommendations apply behind the profiles (processor.RegisterBehind),
	// so the order may reach the rules a moment before the views reach the
	// rankings: wait for both.
	waitUntil(t, 5*time.Second, "the order and the views applied", func() bool {
		code, a = n.post("/v1/decide", `{"userId":"u-1","placements":["exit"]}`)
		p := a["placements"].([]any)[0].(map[string]any)
		items, _ := p["items"].([]any)
		return code == 200 && p["variant"].(map[string]any)["id"] == "ten" && len(items) == 2
	})
	code, fresh := n.post("/v1/decide", `{"anonymousId":"new-1","placements":["exit"]}`)
	if v := fresh["placements"].([]any)[0].(map[string]any)["variant"].(map[string]any)["id"]; code != 200 || v != "free_shipping" {
		t.Fatalf("new visitor: %d %v", code, fresh)
	}
	p := a["placements"].([]any)[0].(map[string]any)
	items := p["items"].([]any)
	if len(items) != 2 || items[0].(map[string]any)["id"] != "sku-1" {
		t.Fatalf("items: %v", items)
	}
	tok := items[1].(map[string]any)["token"].(string)
	code, resp = n.post("/v1/decide/events", fmt.Sprintf(`{"events":[{"token":%q,"type":"click"},{"token":%q,"type":"impression"}]}`, tok, p["token"]))
	if code != 200 || resp["accepted"] != 2.0 {
		t.Fatalf("events: %d %v", code, resp)
	}
	waitUntil(t, 5*time.Second, "the click on the timeline", func() bool {
		names := n.timelineEvents("u-1")
		return count(names, decide.EventClicked) == 1 && count(names, decide.EventViewed) == 1
	})
	// The placement's figures count what came back on its tokens, and
	// the customer's next order is the clicked placement's conversion.
	code, resp = n.post("/v1/batch", fmt.Sprintf(`{"batch":[{"type":"track","userId":"u-1","messageId":"o2","event":"Order Completed","properties":{"order_id":"o2","revenue":70},"timestamp":%q}]}`, time.Now().UTC().Format(time.RFC3339Nano)))
	if code != 200 {
		t.Fatalf("batch: %d %v", code, resp)
	}
	var day map[string]any
	waitUntil(t, 5*time.Second, "the figures", func() bool {
		_, st := n.get("/api/placements/exit/stats?days=1")
		day = st["days"].([]any)[0].(map[string]any)
		return day["clicks"] == 1.0 && day["impressions"] == 1.0 && day["conversions"] == 1.0
	})
	if day["revenue"] != 70.0 {
		t.Errorf("figures: %v", day)
	}
	// After a restart (checkpoint, then replay of the tail) each event is
	// still counted once.
	n.stop()
	n = startNode(t, dir)
	_, st := n.get("/api/placements/exit/stats?days=1")
	again := st["days"].([]any)[0].(map[string]any)
	for _, k := range []string{"impressions", "clicks", "conversions", "revenue"} {
		if again[k] != day[k] {
			t.Errorf("after a restart %s = %v, before %v", k, again[k], day[k])
		}
	}
}
