package server

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/decide"
	"tailor/internal/store"
)

// dropKeys deletes every key under prefix in the data directory dir (the
// server is stopped), as a store made before an engine existed lacks them.
func dropKeys(t *testing.T, dir, prefix string) {
	t.Helper()
	db, err := OpenDB(dir, 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.DeleteRange([]byte(prefix), store.UpperBound(prefix), pebble.Sync); err != nil {
		t.Fatal(err)
	}
}

func TestBackfillRebuildsRecommendationsOfAStoreWithoutThem(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir)
	now := time.Now().UTC()
	var batch []string
	add := func(ident, event, props string, ago time.Duration) {
		batch = append(batch, fmt.Sprintf(`{"type":"track",%s,"event":%q,"properties":%s,"timestamp":%q}`,
			ident, event, props, now.Add(-ago).Format(time.RFC3339Nano)))
	}
	prod := func(id, cat string, price int) string {
		return fmt.Sprintf(`{"product_id":%q,"category":%q,"price":%d}`, id, cat, price)
	}
	order := func(items ...string) string { return `{"products":[` + strings.Join(items, ",") + `]}` }
	phone, phone2 := prod("phone", "Electronics > Phones", 500), prod("phone2", "Electronics > Phones", 700)
	caseP, cable := prod("case", "Electronics > Cases", 20), prod("cable", "Electronics > Cables", 10)
	for i := range 6 {
		u := fmt.Sprintf(`"userId":"b%d"`, i)
		add(u, "Product Viewed", phone, time.Duration(60+i)*time.Hour)
		add(u, "Product Viewed", caseP, time.Duration(60+i)*time.Hour-time.Minute)
		add(u, "Order Completed", order(phone, caseP), time.Duration(48+i)*time.Hour)
	}
	add(`"userId":"b7"`, "Order Completed", order(phone2, cable), 30*time.Hour)
	// A visitor browses anonymously, then signs in: the views merge into
	// the user's profile.
	add(`"anonymousId":"anon-1"`, "Product Viewed", phone2, 3*time.Hour)
	add(`"anonymousId":"anon-1"`, "Product Viewed", cable, 2*time.Hour)
	add(`"anonymousId":"anon-1"`, "Placement Viewed", `{"placement_id":"hero"}`, 2*time.Hour)
	add(`"anonymousId":"anon-1"`, "Placement Clicked", `{"placement_id":"hero"}`, 2*time.Hour-time.Minute)
	add(`"userId":"b1"`, "Placement Viewed", `{"placement_id":"hero"}`, 50*time.Hour)
	if code, resp := n.post("/v1/batch", `{"batch":[`+strings.Join(batch, ",")+`]}`); code != 200 {
		t.Fatalf("batch: %d %v", code, resp)
	}
	if code, resp := n.post("/v1/identify", fmt.Sprintf(`{"userId":"ann","anonymousId":"anon-1","timestamp":%q}`,
		now.Add(-time.Hour).Format(time.RFC3339Nano))); code != 200 {
		t.Fatalf("identify: %d %v", code, resp)
	}
	// Ann's order after the anonymous click is the placement's conversion.
	if code, resp := n.post("/v1/track", fmt.Sprintf(`{"userId":"ann","event":"Order Completed","properties":%s,"timestamp":%q}`,
		order(cable), now.Add(-30*time.Minute).Format(time.RFC3339Nano))); code != 200 {
		t.Fatalf("order: %d %v", code, resp)
	}
	queries := []string{
		"strategy=recently_viewed&profile=ann",
		"strategy=also_bought&item=phone",
		"strategy=also_viewed&item=phone",
		"strategy=bestsellers&limit=20",
		"strategy=trending&limit=20",
		"strategy=for_you&profile=ann&limit=20",
	}
	figures := func() []decide.DayCounts { return n.srv.placementStats.Days("hero", now, 7) }
	conversions := func() (c uint64) {
		for _, d := range figures() {
			c += d.Conversions
		}
		return c
	}
	waitUntil(t, 5*time.Second, "the events to be applied", func() bool {
		return conversions() == 1 // the last event
	})
	want := map[string][]string{}
	for _, q := range queries {
		want[q] = n.recIDs(q)
	}
	if len(want["strategy=also_bought&item=phone"]) == 0 || len(want["strategy=bestsellers&limit=20"]) < 4 {
		t.Fatalf("the store with the engine all along answers too little to compare: %v", want)
	}
	wantFigures := figures()
	n.stop()

	// A store made before both engines: no model, no figures, no marks.
	for _, prefix := range []string{store.PrefixRecommend, store.PrefixDecide + "s", store.PrefixDecide + "c/"} {
		dropKeys(t, dir, prefix)
	}
	n = startNode(t, dir)
	for _, q := range queries {
		if got := n.recIDs(q); !slices.Equal(got, want[q]) {
			t.Errorf("%s after the backfill: %v, want %v (the engine all along)", q, got, want[q])
		}
	}
	if got := figures(); !slices.Equal(got, wantFigures) {
		t.Errorf("placement figures after the backfill: %+v, want %+v", got, wantFigures)
	}
	// Later events reach the backfilled engine as usual.
	if code, resp := n.post("/v1/track", `{"userId":"ann","event":"Product Viewed","properties":`+caseP+`}`); code != 200 {
		t.Fatalf("track: %d %v", code, resp)
	}
	waitUntil(t, 5*time.Second, "the new view", func() bool {
		return slices.Contains(n.recIDs("strategy=recently_viewed&profile=ann"), "case")
	})
	viewed := n.recIDs("strategy=recently_viewed&profile=ann")
	n.stop()

	// The state is marked present: the next start loads it, no backfill.
	n = startNode(t, dir)
	defer n.stop()
	if n.srv.Recommend.NeedsBackfill() || n.srv.placementStats.NeedsBackfill() {
		t.Error("an engine asks for a backfill again after one was done")
	}
	if got := n.recIDs("strategy=recently_viewed&profile=ann"); !slices.Equal(got, viewed) {
		t.Errorf("recently viewed after the second restart: %v, want %v", got, viewed)
	}
}
