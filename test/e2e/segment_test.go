package e2e

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	analytics "github.com/segmentio/analytics-go/v3"
)

func (s *server) admin(t *testing.T, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body)
	}
	code, resp, err := s.do(method, path, b, http.Header{"Authorization": {"Bearer " + s.AdminToken}, "Content-Type": {"application/json"}})
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	var m map[string]any
	_ = json.Unmarshal(resp, &m)
	return code, m
}

func countEvents(tl []TimelineEvent, name string) int {
	n := 0
	for _, e := range tl {
		if e.Event == name {
			n++
		}
	}
	return n
}

// waitEvents waits until identifier's timeline holds exactly the given
// number of events of each name.
func (s *server) waitEvents(t *testing.T, identifier string, want map[string]int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		tl, err := s.timelineErr(t, identifier)
		ok := err == nil
		for name, n := range want {
			if ok && countEvents(tl, name) != n {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			var names []string
			for _, e := range tl {
				names = append(names, e.Event)
			}
			t.Fatalf("timeline of %s: %v (err %v), want counts %v", identifier, names, err, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *server) members(t *testing.T, seg string) []string {
	t.Helper()
	code, m := s.admin(t, "GET", "/api/segments/"+seg+"/members?limit=1000", nil)
	if code != 200 {
		t.Fatalf("members of %s: %d %v", seg, code, m)
	}
	var out []string
	for _, v := range m["members"].([]any) {
		out = append(out, v.(string))
	}
	return out
}

// TestSegmentsLive defines segments through the admin API (rule tree and
// text form), sends events with the real analytics-go client, and checks
// that membership changes land on the customers' timelines as
// segment_entered / segment_exited, that preview, members and explain
// agree, and that a kill -9 and restart keep memberships without recording
// any change twice.
func TestSegmentsLive(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	if code, m := s.admin(t, "POST", "/api/segments", map[string]any{
		"id": "cart-abandoners", "name": "Cart abandoners",
		"text": `did "Product Added" in last 1h and not did "Order Completed" in last 1h`,
	}); code != 201 {
		t.Fatalf("create cart-abandoners: %d %v", code, m)
	}
	if code, m := s.admin(t, "POST", "/api/segments", map[string]any{
		"id": "big-spenders", "name": "Big spenders",
		"rule": map[string]any{"computed": "total_spend", "op": "gt", "value": 100},
	}); code != 201 {
		t.Fatalf("create big-spenders: %d %v", code, m)
	}

	cb := &goCallback{}
	client, err := analytics.NewWithConfig(s.WriteKey, analytics.Config{Endpoint: s.URL, BatchSize: 1, Callback: cb, Logger: testLogger{t}})
	if err != nil {
		t.Fatal(err)
	}
	send := func(m analytics.Message) {
		if err := client.Enqueue(m); err != nil {
			t.Fatal(err)
		}
	}
	send(analytics.Track{UserId: "ann", Event: "Product Added", Properties: analytics.NewProperties().Set("category", "Hats").Set("price", 25)})
	send(analytics.Track{UserId: "bob", Event: "Product Added", Properties: analytics.NewProperties().Set("category", "Shoes").Set("price", 150)})
	time.Sleep(300 * time.Millisecond) // bob's order comes after his cart
	send(analytics.Track{UserId: "bob", Event: "Order Completed", Properties: analytics.NewProperties().Set("revenue", 150).Set("order_id", "o-1")})
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}

	s.waitEvents(t, "ann", map[string]int{"Product Added": 1, "segment_entered": 1})
	// bob entered cart-abandoners, left it with his order, entered big-spenders.
	s.waitEvents(t, "bob", map[string]int{"Order Completed": 1, "segment_entered": 2, "segment_exited": 1})
	if got := s.members(t, "cart-abandoners"); len(got) != 1 {
		t.Fatalf("cart-abandoners = %v, want ann only", got)
	}
	ann := s.waitProfile(t, "ann", 5*time.Second, func(*Profile) error { return nil })
	code, ex := s.admin(t, "GET", "/api/segments/cart-abandoners/explain/user_id:ann", nil)
	if code != 200 || ex["member"] != true || ex["profile"] != ann.ID {
		t.Fatalf("explain ann: %d %v", code, ex)
	}
	code, pv := s.admin(t, "POST", "/api/segments/preview", map[string]any{
		"text": `did "Product Added" where price >= 100`, "against": "cart-abandoners"})
	if code != 200 || pv["count"] != 1.0 {
		t.Fatalf("preview: %d %v", code, pv)
	}
	if e := pv["entering"].(map[string]any); e["count"] != 1.0 {
		t.Fatalf("preview entering = %v, want bob", e)
	}

	// kill -9, restart: the same members, and no transition recorded twice.
	// No wait for a checkpoint: the replay must re-derive the same changes.
	s.kill(t)
	s = startServer(t, dir)
	if got := s.members(t, "big-spenders"); len(got) != 1 {
		t.Fatalf("after restart big-spenders = %v", got)
	}
	if got := s.members(t, "cart-abandoners"); len(got) != 1 {
		t.Fatalf("after restart cart-abandoners = %v", got)
	}
	time.Sleep(500 * time.Millisecond)
	for who, want := range map[string][2]int{"ann": {1, 0}, "bob": {2, 1}} {
		tl := s.timeline(t, who)
		if in, out := countEvents(tl, "segment_entered"), countEvents(tl, "segment_exited"); in != want[0] || out != want[1] {
			t.Errorf("%s after restart: %d entered, %d exited; want %v", who, in, out, want)
		}
	}
	code, list := s.admin(t, "GET", "/api/segments", nil)
	if code != 200 || len(list["segments"].([]any)) != 2 {
		t.Fatalf("list after restart: %d %v", code, list)
	}
}
