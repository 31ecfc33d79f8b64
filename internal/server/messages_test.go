package server

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"tailor/internal/message"
	"tailor/internal/track"
)

func (n *node) admin(method, path, body string) (int, map[string]any) {
	n.t.Helper()
	req, _ := http.NewRequest(method, n.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer tok")
	req.Header.Set("Content-Type", "application/json")
	return n.do(req)
}

// Templates, preview, rendering with tracking links, the open and click
// endpoints, consent through the API and one-click unsubscribe, end to end
// through the node's handlers and the log.
func TestMessagingThroughTheNode(t *testing.T) {
	n := startNode(t, t.TempDir())
	defer n.stop()
	if code, _ := n.post("/v1/identify", `{"userId":"u1","traits":{"email":"u1@example.com","first_name":"Uma","locale":"fr","email_opt_in":true}}`); code != 200 {
		t.Fatalf("identify %d", code)
	}
	n.profile("u1", 1)

	code, body := n.admin("POST", "/api/templates", `{"id":"welcome","name":"Welcome","channel":"email","subject":"Hi {{ profile.traits.first_name }}",
		"html":"<p>Hello</p>\n<p>{% if %}</p>","text":"x"}`)
	if code != 400 || body["field"] != "html" || body["line"] != 2.0 || body["column"] != 4.0 || body["code"] != "invalid_template" {
		t.Fatalf("bad template: %d %v", code, body)
	}
	code, body = n.admin("POST", "/api/templates", `{"id":"welcome","name":"Welcome","channel":"email","subject":"Hi {{ profile.traits.first_name }}",
		"html":"<a href=\"https://shop.example/new\">new</a>","text":"x","locales":{"fr":{"subject":"Salut {{ profile.traits.first_name }}"}}}`)
	if code != 201 || body["version"] != 1.0 {
		t.Fatalf("create: %d %v", code, body)
	}
	if code, body = n.admin("POST", "/api/templates/preview", `{"id":"welcome","profile":"u1"}`); code != 200 || body["subject"] != "Salut Uma" || body["to"] != "u1@example.com" {
		t.Fatalf("preview: %d %v", code, body)
	}
	if code, body = n.admin("POST", "/api/templates/preview", `{"id":"welcome","profile":"nobody"}`); code != 404 || body["code"] != "profile_not_found" {
		t.Fatalf("preview unknown profile: %d %v", code, body)
	}

	out, err := n.srv.Messages.Render(context.Background(), message.RenderRequest{Template: "welcome", Profile: "u1", SendKey: "api:1", BaseURL: n.url})
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(out.HTML, n.url+"/t/c/")
	if i < 0 {
		t.Fatalf("no click link in %s", out.HTML)
	}
	click := out.HTML[i:]
	click = click[:strings.IndexByte(click, '"')]
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(click)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 302 || resp.Header.Get("Location") != "https://shop.example/new" {
		t.Fatalf("click: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := noFollow.Get(click + "x"); resp.StatusCode != 400 {
		t.Errorf("tampered click: %d", resp.StatusCode)
	}
	waitUntil(t, 5*time.Second, "Message Clicked on the timeline", func() bool { return count(n.timelineEvents("u1"), "Message Clicked") == 1 })

	if ok, why := n.srv.Consent.Allowed(out.To, "email", "marketing"); !ok {
		t.Errorf("email_opt_in trait should allow marketing: %s", why)
	}
	if code, body = n.admin("GET", "/api/profiles/u1/consent", ""); code != 200 {
		t.Fatalf("consent: %d %v", code, body)
	}
	email := body["channels"].([]any)[0].(map[string]any)
	if email["marketing"].(map[string]any)["source"] != "trait" {
		t.Errorf("trait consent: %v", email)
	}

	unsub := strings.Trim(out.Headers["List-Unsubscribe"], "<>")
	u, _ := url.Parse(unsub)
	resp, err = http.Post(n.url+u.Path, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("one-click unsubscribe: %d", resp.StatusCode)
	}
	// It took effect before the answer.
	_, body = n.admin("GET", "/api/profiles/u1/consent", "")
	email = body["channels"].([]any)[0].(map[string]any)
	if email["allowed"].(map[string]any)["marketing"].(map[string]any)["ok"] != false {
		t.Errorf("still allowed after unsubscribe: %v", email)
	}
	if code, body = n.admin("PUT", "/api/profiles/u1/consent", `{"channel":"email","granted":true}`); code != 200 {
		t.Fatalf("grant: %d %v", code, body)
	}
	email = body["channels"].([]any)[0].(map[string]any)
	if email["allowed"].(map[string]any)["marketing"].(map[string]any)["ok"] != true {
		t.Errorf("not allowed after grant: %v", email)
	}
	if code, body = n.admin("POST", "/api/coupons/spring", `["S1","S2"]`); code != 200 || body["added"] != 2.0 {
		t.Fatalf("coupons: %d %v", code, body)
	}

	// The demo templates and pools: saved once, a second call adds nothing.
	first, err := n.srv.SaveDemoMessages()
	if err != nil || first != len(message.DemoTemplates()) {
		t.Fatalf("demo messages: %d %v", first, err)
	}
	if again, err := n.srv.SaveDemoMessages(); err != nil || again != 0 {
		t.Fatalf("demo messages again: %d %v", again, err)
	}
	if _, body = n.admin("GET", "/api/coupons/cart10", ""); body["available"] != float64(message.DemoCouponPools["cart10"]) {
		t.Errorf("demo pool: %v", body)
	}
	if code, body = n.admin("POST", "/api/templates/preview", `{"id":"cart-reminder-coupon","profile":"u1"}`); code != 200 || !strings.Contains(body["html"].(string), "PREVIEW-CART10") {
		t.Errorf("demo coupon preview: %d %v", code, body)
	}
}

// A profile's message history joins the outbox's record of each send with
// the delivery and tracking events recorded for it.
func TestProfileMessageHistoryJoinsTracking(t *testing.T) {
	n := startNode(t, t.TempDir())
	defer n.stop()
	if code, _ := n.post("/v1/identify", `{"userId":"u2","traits":{"email":"u2@example.com","first_name":"Ida"}}`); code != 200 {
		t.Fatalf("identify %d", code)
	}
	n.profile("u2", 1)
	if code, body := n.admin("POST", "/api/templates", `{"id":"note","name":"Note","channel":"inapp","title":"Hello {{ profile.traits.first_name }}","body":"x"}`); code != 201 {
		t.Fatalf("template: %d %v", code, body)
	}
	code, body := n.admin("POST", "/api/send", `{"template":"note","profile":"user_id:u2","channel":"inapp","key":"k1"}`)
	if code != 202 {
		t.Fatalf("send: %d %v", code, body)
	}
	key, id := body["key"].(string), body["profile"].(string)
	waitUntil(t, 5*time.Second, "Message Sent on the timeline", func() bool { return count(n.timelineEvents("u2"), "Message Sent") == 1 })
	open := n.srv.Signer.URL(n.url, track.Claims{Kind: track.KindOpen, Profile: id, Key: key, Channel: "inapp", Template: "note"})
	for range 2 { // the second open in the same minute is the same event
		resp, err := http.Get(open)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	waitUntil(t, 5*time.Second, "Message Opened on the timeline", func() bool { return count(n.timelineEvents("u2"), "Message Opened") == 1 })
	// Later activity pushes the message's events down the timeline: the
	// history reads back to the message, page by page.
	defer func(p int) { historyPage = p }(historyPage)
	historyPage = 3
	for i := range 10 {
		if code, _ := n.post("/v1/track", fmt.Sprintf(`{"userId":"u2","event":"Product Viewed","messageId":"later-%d"}`, i)); code != 200 {
			t.Fatal("track")
		}
	}
	waitUntil(t, 5*time.Second, "the later events on the timeline", func() bool { return count(n.timelineEvents("u2"), "Product Viewed") == 10 })

	code, body = n.admin("GET", "/api/profiles/u2/messages", "")
	if code != 200 {
		t.Fatalf("history: %d %v", code, body)
	}
	msgs := body["messages"].([]any)
	if len(msgs) != 1 {
		t.Fatalf("want 1 message, got %v", msgs)
	}
	m := msgs[0].(map[string]any)
	for k, want := range map[string]any{"key": key, "state": "sent", "channel": "inapp", "template": "note", "subject": "Hello Ida", "opens": 1.0, "clicks": 0.0} {
		if m[k] != want {
			t.Errorf("%s = %v, want %v (%v)", k, m[k], want, m)
		}
	}
	for _, k := range []string{"sent_at", "delivered_at", "opened_at"} {
		if _, ok := m[k].(string); !ok {
			t.Errorf("%s missing: %v", k, m)
		}
	}
	if _, ok := m["clicked_at"]; ok {
		t.Errorf("clicked_at without a click: %v", m)
	}
	for path, want := range map[string]int{"/api/profiles/nobody/messages": 404, "/api/profiles/u2/messages?limit=0": 400, "/api/profiles/u2/messages?limit=x": 400} {
		if code, body := n.admin("GET", path, ""); code != want {
			t.Errorf("%s: %d %v, want %d", path, code, body, want)
		}
	}
}

// A client's own "Message Opened" does not show as an open of a message.
func TestProfileMessageHistoryIgnoresClientTrackingEvents(t *testing.T) {
	n := startNode(t, t.TempDir())
	defer n.stop()
	if code, _ := n.post("/v1/identify", `{"userId":"u3","traits":{"email":"u3@example.com"}}`); code != 200 {
		t.Fatal("identify")
	}
	n.profile("u3", 1)
	if code, body := n.admin("POST", "/api/templates", `{"id":"note","name":"Note","channel":"inapp","title":"Hi","body":"x"}`); code != 201 {
		t.Fatalf("template: %d %v", code, body)
	}
	if code, body := n.admin("POST", "/api/send", `{"template":"note","profile":"user_id:u3","channel":"inapp","key":"k3"}`); code != 202 {
		t.Fatalf("send: %d %v", code, body)
	}
	if code, _ := n.post("/v1/track", `{"userId":"u3","event":"Message Opened","properties":{"message_key":"t:k3"}}`); code != 200 {
		t.Fatal("track")
	}
	waitUntil(t, 5*time.Second, "both events on the timeline", func() bool {
		names := n.timelineEvents("u3")
		return count(names, "Message Opened") == 1 && count(names, "Message Sent") == 1
	})
	_, body := n.admin("GET", "/api/profiles/u3/messages", "")
	m := body["messages"].([]any)[0].(map[string]any)
	if m["opens"] != 0.0 || m["opened_at"] != nil || m["sent_at"] == nil {
		t.Fatalf("history = %v", m)
	}
}
