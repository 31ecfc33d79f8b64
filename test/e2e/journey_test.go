package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	analytics "github.com/segmentio/analytics-go/v3"
)

// adminDo sends a JSON body to an admin API path with the bearer token.
func (s *server) adminDo(t *testing.T, method, path, body string) (int, map[string]any) {
	t.Helper()
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	code, resp, err := s.do(method, path, b, http.Header{"Authorization": {"Bearer " + s.AdminToken}, "Content-Type": {"application/json"}})
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	var m map[string]any
	if err := json.Unmarshal(resp, &m); err != nil {
		t.Fatalf("%s %s: %d, body not JSON: %s", method, path, code, resp)
	}
	return code, m
}

// TestJourneyAbandonedCart: a cart event sent with analytics-go lets the
// profile into a live abandoned-cart journey; after its (short) wait the
// reminder is enqueued under its idempotency key, the wait's end is a
// Journey Step event on the profile's timeline, and a customer who ordered
// meanwhile converts instead of getting it.
func TestJourneyAbandonedCart(t *testing.T) {
	s := startServer(t, t.TempDir())
	code, m := s.adminDo(t, "POST", "/api/journeys", `{"id":"e2e-cart","name":"Abandoned cart","status":"live",
	  "trigger":{"type":"event","event":"Product Added"},"entry":{"rule":"every_time"},
	  "goal":{"event":"Order Completed","within":"1d"},"start":"wait",
	  "steps":[{"id":"wait","type":"wait","duration":"3s","next":"email"},
	           {"id":"email","type":"send","channel":"email","template":"cart-reminder"}]}`)
	if code != 201 {
		t.Fatalf("create journey: %d %v", code, m)
	}
	if code, m := s.adminDo(t, "POST", "/api/journeys", `{"id":"bad","name":"Bad","trigger":{"type":"event","event":"X"},"start":"a","steps":[{"id":"a","type":"wait","duration":"soon"}]}`); code != 400 || m["code"] != "invalid_journey" || m["path"] != "/steps/0/duration" {
		t.Fatalf("invalid journey: %d %v, want 400 invalid_journey at /steps/0/duration", code, m)
	}

	client, err := analytics.NewWithConfig(s.WriteKey, analytics.Config{Endpoint: s.URL, Interval: 50 * time.Millisecond, Logger: testLogger{t}})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"cart-ann", "cart-bob"} {
		if err := client.Enqueue(analytics.Track{UserId: u, Event: "Product Added", Properties: analytics.NewProperties().Set("product_id", "hat-1").Set("price", 20)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := client.Enqueue(analytics.Track{UserId: "cart-bob", Event: "Order Completed", Properties: analytics.NewProperties().Set("revenue", 35)}); err != nil {
		t.Fatal(err)
	}
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}

	deadline := time.Now().Add(20 * time.Second)
	var st map[string]any
	for {
		_, st = s.adminDo(t, "GET", "/api/journeys/e2e-cart/stats", "")
		steps, _ := st["steps"].(map[string]any)
		email, _ := steps["email"].(map[string]any)
		if email != nil && email["sent"] == 1.0 && st["converted"] == 1.0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no reminder and conversion within 20s: stats %v", st)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if st["entered"] != 2.0 || st["revenue"] != 35.0 {
		t.Fatalf("stats = %v, want 2 entered and revenue 35", st)
	}
	ann := s.waitJourneyEvents(t, "user_id:cart-ann", "Journey Entered", "Journey Step", "Journey Exited")
	var entry string
	for _, e := range ann {
		if e.Event == "Journey Step" {
			if e.Properties["journey"] != "e2e-cart" || e.Properties["step"] != "wait" {
				t.Fatalf("Journey Step = %v", e.Properties)
			}
			entry, _ = e.Properties["entry"].(string)
		}
	}
	// The reminder is in the delivery outbox under its journey key (with no
	// channel configured it cannot go out; the stats above say only ann's
	// was enqueued).
	key := fmt.Sprintf("j:e2e-cart:1:%s:email", entry)
	deadline = time.Now().Add(10 * time.Second)
	for {
		code, msg := s.adminDo(t, "GET", "/api/messages/"+url.PathEscape(key), "")
		if code == 200 {
			if msg["profile"] == nil || msg["channel"] != "email" {
				t.Fatalf("outbox message %s = %v", key, msg)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the reminder %s is not in the outbox (last answer %d %v)", key, code, msg)
		}
		time.Sleep(100 * time.Millisecond)
	}
	bob := s.waitJourneyEvents(t, "user_id:cart-bob", "Journey Entered", "Journey Converted")
	for _, e := range bob {
		if e.Event == "Journey Converted" && e.Properties["revenue"] != 35.0 {
			t.Fatalf("Journey Converted = %v", e.Properties)
		}
	}
	// The dry run replays the same day: two entered, one converted, one email.
	code, dr := s.adminDo(t, "POST", "/api/journeys/e2e-cart/dry-run", `{"days":1}`)
	if code != 200 || dr["entered"] != 2.0 || dr["converted"] != 1.0 {
		t.Fatalf("dry run: %d %v", code, dr)
	}
}

// waitJourneyEvents waits (10 s) until a profile's timeline holds events of
// every name given.
func (s *server) waitJourneyEvents(t *testing.T, identifier string, names ...string) []TimelineEvent {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		tl, err := s.timelineErr(t, identifier)
		have := map[string]bool{}
		for _, e := range tl {
			have[e.Event] = true
		}
		missing := ""
		for _, n := range names {
			if !have[n] {
				missing = n
				break
			}
		}
		if err == nil && missing == "" {
			return tl
		}
		if time.Now().After(deadline) {
			t.Fatalf("timeline of %s: no %q event after 10s (err %v, %d events)", identifier, missing, err, len(tl))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
